package shardmap

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// MaxEncodedSize bounds a shard map document: 4096 shards x RF 7 with long node names fits well inside.
const MaxEncodedSize = 16 << 20

// Decode parses and validates a shard map document. Unknown fields are ignored so that an
// older reader accepts a newer writer's map; anything else that is wrong is an error.
func Decode(data []byte) (*Map, error) {
	if len(data) > MaxEncodedSize {
		return nil, fmt.Errorf("shard map is %d bytes, more than the %d allowed", len(data), MaxEncodedSize)
	}
	var m Map
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode shard map: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("decode shard map: trailing data after the JSON document")
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("invalid shard map: %w", err)
	}
	return &m, nil
}

// Encode returns m as indented JSON with a trailing newline. It does not validate.
func Encode(m *Map) ([]byte, error) {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}
