package shardapi

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/torua/torua/graph/layout"
)

func TestPackedIDsRoundTrip(t *testing.T) {
	for _, ids := range [][]layout.ID{nil, {7}, {9, 3, 1 << 62, 3 + 1<<40, layout.MaxID}} {
		b, err := json.Marshal(struct {
			Ends PackedIDs `json:"ends"`
		}{ids})
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Ends PackedIDs `json:"ends"`
		}
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		want := slices.Sorted(slices.Values(ids))
		if !slices.Equal(out.Ends, want) && len(ids) > 0 {
			t.Fatalf("%s decoded to %v, want %v", b, out.Ends, want)
		}
	}
	var p PackedIDs
	for _, bad := range []string{`12`, `"%%"`, `"gA=="`} { // not a string, not base64, a cut varint
		if err := p.UnmarshalJSON([]byte(bad)); err == nil {
			t.Errorf("%s decoded without an error", bad)
		}
	}
}
