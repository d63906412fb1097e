package value

import (
	"encoding/json"
	"fmt"
)

// Wire carries one value through encoding/json exactly, as a JSON string holding the base64 of
// EncodeValue: an integer stays an integer and a float a float, which plain JSON cannot
// promise. The router and the nodes use it in the bodies of the nodes' graph API.
type Wire struct{ V any }

// MarshalJSON encodes w.V with EncodeValue.
func (w Wire) MarshalJSON() ([]byte, error) {
	b, err := EncodeValue(w.V)
	if err != nil {
		return nil, err
	}
	return json.Marshal(b)
}

// UnmarshalJSON decodes what MarshalJSON wrote.
func (w *Wire) UnmarshalJSON(data []byte) error {
	var b []byte
	if err := json.Unmarshal(data, &b); err != nil {
		return fmt.Errorf("%w: wire value: %v", ErrCorrupt, err)
	}
	v, err := DecodeValue(b)
	if err != nil {
		return err
	}
	w.V = v
	return nil
}

// WireMap is a map of values carried exactly through encoding/json, as Wire carries one.
type WireMap map[string]any

// MarshalJSON encodes m as one map value.
func (m WireMap) MarshalJSON() ([]byte, error) { return Wire{V: map[string]any(m)}.MarshalJSON() }

// UnmarshalJSON decodes what MarshalJSON wrote; null leaves m nil.
func (m *WireMap) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*m = nil
		return nil
	}
	var w Wire
	if err := w.UnmarshalJSON(data); err != nil {
		return err
	}
	mm, ok := w.V.(map[string]any)
	if !ok {
		return fmt.Errorf("%w: wire map: got %s", ErrCorrupt, WithArticle(w.V))
	}
	*m = mm
	return nil
}
