package httpx

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/torua/torua/internal/wire"
)

// CheckWireRequest checks a wire protocol request as the HTTP API checks the same request
// before acting on it: a key operation, a valid key, a value only on a PUT, within maxValue
// bytes.
func CheckWireRequest(req *wire.Request, maxValue int64) error {
	if req.Op != wire.OpGet && req.Op != wire.OpPut && req.Op != wire.OpDelete {
		return fmt.Errorf("%w: %s is not a key operation", ErrBadRequest, req.Op)
	}
	if err := CheckKey(req.Key); err != nil {
		return err
	}
	if req.Op != wire.OpPut && len(req.Value) > 0 {
		return fmt.Errorf("%w: a %s carries no value", ErrBadRequest, req.Op)
	}
	if int64(len(req.Value)) > maxValue {
		return fmt.Errorf("%w: the value is %d bytes, over the limit of %d", ErrTooLarge, len(req.Value), maxValue)
	}
	return nil
}

// WireError is the wire protocol's answer to req failing with err: the status and JSON body
// WriteError gives err. Internal errors (500) are logged with the request and answered with
// a generic message.
func WireError(log *slog.Logger, req *wire.Request, err error) wire.Response {
	status, body := Describe(err)
	if status == http.StatusInternalServerError {
		log.Error("Request failed", "op", req.Op.String(), "key", req.Key, "err", err)
	}
	b, _ := json.Marshal(body)
	return wire.Response{Status: status, Body: b}
}
