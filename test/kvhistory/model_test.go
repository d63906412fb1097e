package kvhistory

import (
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// TestModel checks the model and checker on small hand-made histories: what must pass
// passes, and lost, stale and invented values are caught.
func TestModel(t *testing.T) {
	put := func(c int, key, value string, call, ret int64, rev uint64) Record {
		return Record{Client: c, In: Input{Op: OpPut, Key: key, Value: value}, Out: Output{Result: ResOK, Rev: rev}, Call: call, Return: ret}
	}
	lostPut := func(c int, key, value string, call int64) Record {
		return Record{Client: c, In: Input{Op: OpPut, Key: key, Value: value}, Out: Output{Result: ResUnknown}, Call: call, Return: call + 1}
	}
	cas := func(c int, key, value string, match uint64, call, ret int64, res Result, rev uint64) Record {
		return Record{Client: c, In: Input{Op: OpCAS, Key: key, Value: value, Match: match}, Out: Output{Result: res, Rev: rev}, Call: call, Return: ret}
	}
	get := func(c int, key, value string, call, ret int64, rev uint64) Record {
		out := Output{Result: ResOK, Value: value, Rev: rev}
		if value == "" {
			out = Output{Result: ResNotFound}
		}
		return Record{Client: c, In: Input{Op: OpGet, Key: key}, Out: out, Call: call, Return: ret}
	}
	tests := []struct {
		name string
		ops  []Record
		want bool
	}{
		{"sequential", []Record{get(0, "a", "", 0, 1, 0), put(0, "a", "x", 2, 3, 5), get(0, "a", "x", 4, 5, 5), cas(0, "a", "y", 5, 6, 7, ResOK, 9), get(1, "a", "y", 8, 9, 9)}, true},
		{"stale read", []Record{put(0, "a", "x", 0, 1, 5), put(0, "a", "y", 2, 3, 6), get(1, "a", "x", 4, 5, 5)}, false},
		{"concurrent reads either side", []Record{put(0, "a", "x", 0, 1, 5), put(0, "a", "y", 2, 10, 6), get(1, "a", "x", 3, 4, 5), get(2, "a", "y", 5, 6, 6)}, true},
		{"read goes back", []Record{put(0, "a", "x", 0, 1, 5), put(0, "a", "y", 2, 10, 6), get(1, "a", "y", 3, 4, 6), get(2, "a", "x", 5, 6, 5)}, false},
		{"revision goes back", []Record{put(0, "a", "x", 0, 1, 5), put(0, "a", "y", 2, 3, 4)}, false},
		{"wrong revision read", []Record{put(0, "a", "x", 0, 1, 5), get(1, "a", "x", 2, 3, 6)}, false},
		{"invented value", []Record{put(0, "a", "x", 0, 1, 5), get(1, "a", "z", 2, 3, 6)}, false},
		{"unknown write seen later", []Record{put(0, "a", "x", 0, 1, 5), lostPut(0, "a", "y", 2), get(1, "a", "y", 10, 11, 8), get(1, "a", "y", 12, 13, 8)}, true},
		{"unknown write never applied", []Record{put(0, "a", "x", 0, 1, 5), lostPut(0, "a", "y", 2), get(1, "a", "x", 10, 11, 5)}, true},
		{"unknown write undone", []Record{put(0, "a", "x", 0, 1, 5), lostPut(0, "a", "y", 2), get(1, "a", "y", 10, 11, 8), get(1, "a", "x", 12, 13, 5)}, false},
		{"cas conflict", []Record{put(0, "a", "x", 0, 1, 5), put(1, "a", "y", 2, 3, 6), cas(0, "a", "z", 5, 4, 5, ResFailed, 0), get(0, "a", "y", 6, 7, 6)}, true},
		{"cas lost update", []Record{put(0, "a", "x", 0, 1, 5), put(1, "a", "y", 2, 3, 6), cas(0, "a", "z", 5, 4, 5, ResOK, 7)}, false},
		{"cas after unknown write", []Record{put(0, "a", "x", 0, 1, 5), lostPut(1, "a", "y", 2), cas(0, "a", "z", 5, 4, 5, ResFailed, 0), get(0, "a", "y", 6, 7, 6)}, true},
		{"keys are independent", []Record{put(0, "a", "x", 0, 1, 5), put(1, "b", "x", 0, 1, 3), get(0, "b", "x", 2, 3, 3), get(1, "a", "x", 2, 3, 5)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New()
			for _, r := range tt.ops {
				h.Add(r)
			}
			res, _ := porcupine.CheckOperationsVerbose(Model, h.Operations(), 10*time.Second)
			if got := res == porcupine.Ok; got != tt.want {
				t.Errorf("linearizable = %v (%s), want %v", got, res, tt.want)
			}
		})
	}

	// The lost-write check on its own: an acknowledged write followed, in real time, by a final
	// read of an earlier value.
	h := New()
	for _, r := range []Record{put(0, "a", "x", 0, 1, 5), put(0, "a", "y", 2, 3, 6), put(0, "b", "z", 0, 1, 2), lostPut(0, "c", "w", 0)} {
		h.Add(r)
	}
	lost := h.LostWrites(map[string]Output{
		"a": {Result: ResOK, Value: "x", Rev: 5},
		"b": {Result: ResNotFound},
		"c": {Result: ResNotFound},
	})
	if len(lost) != 2 || !strings.HasPrefix(lost[0], "a ") || !strings.HasPrefix(lost[1], "b ") {
		t.Errorf("lost writes %q, want one for a and one for b", lost)
	}
	if got := len(h.Operations()); got != 4 {
		t.Errorf("%d operations, want 4", got)
	}
}
