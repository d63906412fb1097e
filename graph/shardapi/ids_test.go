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
		if !slices.Equal(out.Ends, PackedIDs(ids)) && len(ids) > 0 {
			t.Fatalf("%s decoded to %v, want %v", b, out.Ends, ids)
		}
	}
	for _, bad := range []string{`12`, `"%%"`, `"gA=="`} { // not a string, not base64, not 8 bytes
		var out struct {
			Ends PackedIDs `json:"ends"`
		}
		if err := json.Unmarshal([]byte(`{"ends":`+bad+`}`), &out); err == nil {
			t.Errorf("%s decoded without an error", bad)
		}
	}
}
