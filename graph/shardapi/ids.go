package shardapi

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/torua/torua/graph/layout"
)

// PackedIDs is a set of vertex ids that travels as one JSON string: the ids in ascending
// order, each as the unsigned varint of its difference from the one before, in base64. A hop
// that reaches thousands of vertices answers with a few bytes per vertex, which decode far
// faster than as many JSON numbers.
type PackedIDs []layout.ID

// MarshalJSON encodes the ids (sorted; the order is not kept).
func (p PackedIDs) MarshalJSON() ([]byte, error) {
	ids := slices.Clone(p)
	slices.Sort(ids)
	b := make([]byte, 0, len(ids)*9)
	var prev layout.ID
	for _, id := range ids {
		b = binary.AppendUvarint(b, uint64(id-prev))
		prev = id
	}
	out := make([]byte, 0, base64.StdEncoding.EncodedLen(len(b))+2)
	out = append(out, '"')
	out = base64.StdEncoding.AppendEncode(out, b)
	return append(out, '"'), nil
}

// UnmarshalJSON decodes what MarshalJSON encoded.
func (p *PackedIDs) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("packed ids: %w", err)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return fmt.Errorf("packed ids: %w", err)
	}
	ids := make([]layout.ID, 0, len(b)/4)
	var prev layout.ID
	for len(b) > 0 {
		d, n := binary.Uvarint(b)
		if n <= 0 {
			return fmt.Errorf("packed ids: a truncated or overlong varint")
		}
		prev += layout.ID(d)
		ids = append(ids, prev)
		b = b[n:]
	}
	*p = ids
	return nil
}
