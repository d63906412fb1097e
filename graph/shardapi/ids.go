package shardapi

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"

	"github.com/torua/torua/graph/layout"
)

// PackedIDs is a list of vertex ids that travels as one JSON string: each id as 8 bytes,
// little-endian, in base64. A hop that reaches thousands of vertices answers with 11 bytes
// per vertex, which encode and decode far faster than as many JSON numbers (ids are random
// 63-bit numbers: sorting them to send differences would save nothing).
type PackedIDs []layout.ID

// MarshalText encodes the ids, in their order (encoding/json writes the text as a string).
func (p PackedIDs) MarshalText() ([]byte, error) {
	raw := make([]byte, 0, 8*len(p))
	for _, id := range p {
		raw = binary.LittleEndian.AppendUint64(raw, uint64(id))
	}
	return base64.StdEncoding.AppendEncode(nil, raw), nil
}

// UnmarshalText decodes what MarshalText encoded.
func (p *PackedIDs) UnmarshalText(text []byte) error {
	raw, err := base64.StdEncoding.AppendDecode(nil, text)
	if err != nil {
		return fmt.Errorf("packed ids: %w", err)
	}
	if len(raw)%8 != 0 {
		return fmt.Errorf("packed ids: %d bytes, not a whole number of ids", len(raw))
	}
	ids := make([]layout.ID, len(raw)/8)
	for i := range ids {
		ids[i] = layout.ID(binary.LittleEndian.Uint64(raw[8*i:]))
	}
	*p = ids
	return nil
}
