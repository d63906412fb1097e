package router

import (
	"encoding/json"
	"io"
)

// maxNodeJSON bounds a node's JSON answer (a listing of 10,000 keys of 1 KiB, with room).
const maxNodeJSON = 32 << 20

func decodeJSON(r io.Reader, v any) error {
	return json.NewDecoder(io.LimitReader(r, maxNodeJSON)).Decode(v)
}
