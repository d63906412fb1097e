package shardapi

import (
	"math"
	"testing"

	"github.com/torua/torua/graph/value"
)

// The pushed-down predicates give openCypher's answers: a node keeps exactly the vertices the
// router's WHERE would keep (true passes; false and null do not).
func TestPredicates(t *testing.T) {
	props := map[string]any{"i": int64(3), "f": 2.5, "s": "ada lovelace", "b": true, "l": []any{int64(1), int64(2)}}
	w := func(v any) value.Wire { return value.Wire{V: v} }
	for _, tc := range []struct {
		p    Pred
		want any
	}{
		{Pred{Key: "i", Op: OpEq, Value: w(3.0)}, true}, // 3 = 3.0
		{Pred{Key: "i", Op: OpEq, Value: w("3")}, false},
		{Pred{Key: "i", Op: OpNe, Value: w(int64(4))}, true},
		{Pred{Key: "x", Op: OpEq, Value: w(int64(1))}, nil}, // a missing property is null
		{Pred{Key: "x", Op: OpNe, Value: w(int64(1))}, nil},
		{Pred{Key: "f", Op: OpLt, Value: w(int64(3))}, true},
		{Pred{Key: "f", Op: OpLe, Value: w(2.5)}, true},
		{Pred{Key: "f", Op: OpGt, Value: w(2.5)}, false},
		{Pred{Key: "f", Op: OpGe, Value: w(math.NaN())}, false},
		{Pred{Key: "s", Op: OpLt, Value: w(int64(1))}, nil}, // incomparable
		{Pred{Key: "i", Op: OpIn, Value: w([]any{int64(1), 3.0})}, true},
		{Pred{Key: "i", Op: OpIn, Value: w([]any{int64(1), nil})}, nil},
		{Pred{Key: "i", Op: OpIn, Value: w([]any{})}, false},
		{Pred{Key: "x", Op: OpIsNull}, true},
		{Pred{Key: "i", Op: OpIsNull}, false},
		{Pred{Key: "i", Op: OpIsNotNull}, true},
		{Pred{Key: "s", Op: OpStartsWith, Value: w("ada")}, true},
		{Pred{Key: "s", Op: OpEndsWith, Value: w("lace")}, true},
		{Pred{Key: "s", Op: OpContains, Value: w("love")}, true},
		{Pred{Key: "s", Op: OpContains, Value: w(int64(1))}, nil},
		{Pred{Key: "i", Op: OpStartsWith, Value: w("3")}, nil},
		{Pred{Key: "l", Op: OpEq, Value: w([]any{1.0, int64(2)})}, true},
		{Pred{Key: "b", Op: OpEq, Value: w(true)}, true},
	} {
		got, err := tc.p.eval(props)
		if err != nil || got != tc.want {
			t.Errorf("%s %s %v on %v: %v, %v; want %v", tc.p.Key, tc.p.Op, tc.p.Value.V, props[tc.p.Key], got, err, tc.want)
		}
	}
	if _, err := (Pred{Key: "i", Op: OpIn, Value: w(int64(1))}).eval(props); err == nil {
		t.Error("IN a non-list: no error")
	}
	if _, err := (Pred{Key: "i", Op: "~"}).eval(props); err == nil {
		t.Error("an unknown operator: no error")
	}
}

func TestFilters(t *testing.T) {
	enc, err := value.EncodeProps(map[string]any{"age": int64(40), "name": "bob"})
	if err != nil {
		t.Fatal(err)
	}
	v := &Vertex{ID: 1, Labels: []string{"Admin", "Person"}, Props: enc}
	for _, tc := range []struct {
		f    *VertexFilter
		want bool
	}{
		{nil, true},
		{&VertexFilter{}, true},
		{&VertexFilter{Labels: []string{"Person"}}, true},
		{&VertexFilter{Labels: []string{"Person", "Robot"}}, false},
		{&VertexFilter{Props: PropFilter{Preds: []Pred{{Key: "age", Op: OpGt, Value: value.Wire{V: int64(30)}}}}}, true},
		{&VertexFilter{Labels: []string{"Admin"}, Props: PropFilter{Preds: []Pred{
			{Key: "age", Op: OpGt, Value: value.Wire{V: int64(30)}}, {Key: "name", Op: OpEq, Value: value.Wire{V: "ann"}}}}}, false},
	} {
		if got, err := tc.f.Match(v); err != nil || got != tc.want {
			t.Errorf("%+v: %v, %v; want %v", tc.f, got, err, tc.want)
		}
	}
	if _, err := (&PropFilter{Preds: []Pred{{Key: "a", Op: OpEq}}}).Match([]byte{9, 9}); err == nil {
		t.Error("corrupt properties: no error")
	}
}

func TestRangeContains(t *testing.T) {
	w := func(v any) value.Wire { return value.Wire{V: v} }
	for _, tc := range []struct {
		r    Range
		v    any
		want bool
	}{
		{Range{Eq: w(int64(2))}, 2.0, true},
		{Range{Eq: w(int64(2))}, int64(3), false},
		{Range{Lower: w(int64(2)), LowerInclusive: true}, int64(2), true},
		{Range{Lower: w(int64(2))}, int64(2), false},
		{Range{Lower: w(int64(2))}, 2.5, true},
		{Range{Upper: w(10.0), UpperInclusive: true}, int64(10), true},
		{Range{Upper: w(10.0)}, int64(10), false},
		{Range{Lower: w(int64(1)), Upper: w(int64(5))}, "3", false}, // another type
		{Range{Lower: w("b"), Upper: w("d")}, "c", true},
	} {
		if got := tc.r.Contains(tc.v); got != tc.want {
			t.Errorf("%+v contains %v: %v, want %v", tc.r, tc.v, got, tc.want)
		}
	}
}
