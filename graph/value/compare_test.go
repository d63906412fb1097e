package value

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"testing"
)

var (
	nan  = math.NaN()
	inf  = math.Inf(1)
	ninf = math.Inf(-1)
	n1   = &Node{ID: 1, Labels: []string{"A"}}
	n1b  = &Node{ID: 1, Labels: []string{"B"}, Props: map[string]any{"x": int64(1)}} // n1 under another view
	n2   = &Node{ID: 2}
	r7   = &Relationship{ID: 7, Type: "T", Start: 1, End: 2}
	r8   = &Relationship{ID: 8, Type: "T", Start: 2, End: 1}
	p12  = &Path{Nodes: []*Node{n1, n2}, Rels: []*Relationship{r7}}
	p21  = &Path{Nodes: []*Node{n2, n1}, Rels: []*Relationship{r8}}
	p1   = &Path{Nodes: []*Node{n1}}
)

func l(vs ...any) []any { return vs }

type pair struct {
	a, b any
	want any
}

func show(v any) string {
	switch x := v.(type) {
	case *Node:
		return fmt.Sprintf("node%d", x.ID)
	case *Relationship:
		return fmt.Sprintf("rel%d", x.ID)
	case *Path:
		return fmt.Sprintf("path%v", x.Nodes)
	}
	return fmt.Sprintf("%#v", v)
}

// TestEqual follows openCypher equality (CIP2016-06-14 "Equality"; TCK Comparison1).
func TestEqual(t *testing.T) {
	for name, cases := range map[string][]pair{
		"null = anything is null (Comparison1 [15])": {
			{nil, nil, nil}, {nil, int64(1), nil}, {"a", nil, nil}, {l(), nil, nil},
		},
		"numbers compare numerically across types (Comparison1 [9]: 1 = 1.0 is true)": {
			{int64(1), 1.0, true}, {1.0, int64(1), true}, {int64(1), 1.5, false}, {0.0, math.Copysign(0, -1), true},
			{int64(0), math.Copysign(0, -1), true}, {inf, inf, true}, {inf, ninf, false},
		},
		"exactly, never through a rounded float (Comparison1 [10]-[13])": {
			{int64(1<<53 + 1), float64(1 << 53), false}, {int64(1 << 53), float64(1 << 53), true},
			{int64(4611686018427387905), int64(4611686018427387900), false},
			{int64(math.MaxInt64), float64(1 << 63), false}, {int64(math.MinInt64), -float64(1 << 63), true},
		},
		"NaN equals nothing, itself included (Comparison1 [8])": {
			{nan, nan, false}, {nan, int64(1), false}, {nan, 1.0, false}, {nan, "a", false},
		},
		"different types are not equal (Comparison1 [9]: '1' = 1 is false)": {
			{"1", int64(1), false}, {"1.0", 1.0, false}, {true, int64(1), false}, {l(int64(1)), int64(1), false},
			{map[string]any{}, l(), false}, {n1, r7, false}, {p1, l(n1), false}, {n1, map[string]any{}, false},
		},
		"lists: same size and pairwise equal, ternary AND (Comparison1 [6])": {
			{l(int64(1), int64(2)), l(int64(1)), false}, {l(nil), l(int64(1)), nil}, {l("a"), l(int64(1)), false},
			{l(l(int64(1))), l(l(int64(1)), l(nil)), false}, {l(l(int64(1)), l(int64(2))), l(l(int64(1)), l(nil)), nil},
			{l(l(int64(1)), l(int64(2), int64(3))), l(l(int64(1)), l(nil)), false}, {l(), l(), true},
			{l(int64(1), 2.0), l(1.0, int64(2)), true}, {l(nil), l(nil), nil}, {l(int64(1), nil), l(int64(2), nil), false},
		},
		"maps: same keys and pairwise equal (Comparison1 [7])": {
			{map[string]any{}, map[string]any{}, true},
			{map[string]any{"k": 1.0}, map[string]any{"k": 1.0}, true},
			{map[string]any{"k": "a", "l": int64(2)}, map[string]any{"k": "a", "l": int64(2)}, true},
			{map[string]any{}, map[string]any{"k": nil}, false},
			{map[string]any{"k": int64(1)}, map[string]any{"k": int64(1), "l": nil}, false},
			{map[string]any{"k": nil, "l": int64(1)}, map[string]any{"l": int64(1)}, false},
			{map[string]any{"k": nil}, map[string]any{"k": nil, "l": nil}, false},
			{map[string]any{"k": nil}, map[string]any{"k": nil}, nil},
			{map[string]any{"k": int64(1)}, map[string]any{"k": nil}, nil},
			{map[string]any{"k": int64(1), "l": nil}, map[string]any{"k": nil, "l": int64(1)}, nil},
			{map[string]any{"k": int64(1), "l": nil}, map[string]any{"k": int64(1), "l": int64(1)}, nil},
			{map[string]any{"k": int64(1), "l": nil}, map[string]any{"k": int64(2), "l": nil}, false},
		},
		"nodes and relationships by id (Comparison1 [4], [5]); paths by their elements": {
			{n1, n1b, true}, {n1, n2, false}, {r7, r7, true}, {r7, r8, false},
			{p12, &Path{Nodes: []*Node{n1b, n2}, Rels: []*Relationship{r7}}, true}, {p12, p21, false}, {p12, p1, false},
		},
		"strings and booleans": {
			{"a", "a", true}, {"a", "A", false}, {"", "", true}, {true, true, true}, {true, false, false},
		},
	} {
		for _, c := range cases {
			if got := Equal(c.a, c.b); got != c.want {
				t.Errorf("%s: %s = %s is %v, want %v", name, show(c.a), show(c.b), got, c.want)
			}
			if got := Equal(c.b, c.a); got != c.want {
				t.Errorf("%s: symmetric: %s = %s is %v, want %v", name, show(c.b), show(c.a), got, c.want)
			}
		}
	}
}

// TestLess follows openCypher comparability (CIP2016-06-14 "Comparability"; TCK Comparison2).
func TestLess(t *testing.T) {
	for name, cases := range map[string][]pair{
		"null is incomparable with any value, null included": {
			{nil, nil, nil}, {nil, int64(1), nil}, {int64(1), nil, nil},
		},
		"numbers of different types compare as if arbitrary-precision (Comparison2 [3], [6])": {
			{int64(1), 3.14, true}, {3.14, int64(1), false}, {int64(1), 1.0, false}, {1.0, int64(1), false},
			{int64(1<<53 + 1), float64(1 << 53), false}, {float64(1 << 53), int64(1<<53 + 1), true},
			{int64(math.MaxInt64), float64(1 << 63), true}, {-float64(1 << 63), int64(math.MinInt64), false},
			{int64(math.MinInt64), -float64(1 << 63), false}, {-1e300, int64(math.MinInt64), true},
			{int64(-1), -0.5, true}, {-0.5, int64(0), true}, {int64(0), 1e-300, true}, {-1e-300, int64(0), true},
		},
		"infinities are greater (less) than any other number": {
			{int64(math.MaxInt64), inf, true}, {ninf, int64(math.MinInt64), true}, {inf, inf, false}, {ninf, -math.MaxFloat64, true},
		},
		"NaN compared with a number is false, with another type null (Comparison2 [5])": {
			{nan, int64(1), false}, {int64(1), nan, false}, {nan, 1.0, false}, {nan, nan, false}, {nan, inf, false},
			{nan, "a", nil}, {"a", nan, nil},
		},
		"different types are incomparable (Comparison2 [3], [6])": {
			{"1", int64(1), nil}, {"1.0", 1.0, nil}, {true, int64(1), nil}, {"string", true, nil},
			{l(), "a", nil}, {n1, r7, nil}, {n1, int64(1), nil}, {p1, l(n1), nil},
		},
		"strings in dictionary order by code point: 'a' < 'aa'": {
			{"a", "aa", true}, {"aa", "a", false}, {"", "a", true}, {"B", "a", true}, {"z", "é", true}, {"é", "😀", true}, {"a", "a", false},
		},
		"booleans: false < true": {
			{false, true, true}, {true, false, false}, {false, false, false},
		},
		"lists in dictionary order; a shorter prefix is less: [1] < [1, 0]": {
			{l(int64(1)), l(int64(1), int64(0)), true}, {l(), l(nil), true}, {l(int64(1), int64(2)), l(int64(2)), true},
			{l(int64(2)), l(1.5, "x"), false}, {l("a"), l(int64(1)), nil}, {l(int64(1), "a"), l(int64(2), int64(1)), true},
		},
		"lists holding null: the first undecided pair decides (Comparison2 [4])": {
			{l(int64(1)), l(int64(1), nil), true},                   // [1, null] >= [1] is true
			{l(int64(1), nil), l(int64(1), int64(2)), nil},          // [1, 2] >= [1, null] is null
			{l(int64(1), int64(2)), l(int64(1), nil), nil},          //
			{l(int64(1), nil), l(int64(1), "a"), nil},               // [1, 'a'] >= [1, null] is null
			{l(int64(3), nil), l(int64(1), int64(2)), false},        // [1, 2] >= [3, null] is false
			{l(int64(1), int64(2)), l(int64(3), nil), true},         //
			{l(map[string]any{}), l(map[string]any{}), false},       // equal maps: a prefix, not less
			{l(map[string]any{"a": nil}), l(map[string]any{}), nil}, // unequal maps are incomparable
		},
		"regular maps: order left to implementations; Torua answers null": {
			{map[string]any{}, map[string]any{"a": int64(1)}, nil}, {map[string]any{"a": int64(1)}, map[string]any{"a": int64(2)}, nil},
		},
		"nodes and relationships by id, paths as alternating lists": {
			{n1, n2, true}, {n2, n1, false}, {n1, n1b, false}, {r7, r8, true}, {p12, p21, true}, {p1, p12, true}, {p12, p1, false},
		},
	} {
		for _, c := range cases {
			if got := Less(c.a, c.b); got != c.want {
				t.Errorf("%s: %s < %s is %v, want %v", name, show(c.a), show(c.b), got, c.want)
			}
		}
	}
}

// TestLessEqual: <= is < OR =, which keeps comparability aligned with equality ("expr1 = expr2
// if and only if expr1 >= expr2 && expr1 <= expr2") and gives the TCK's answers.
func TestLessEqual(t *testing.T) {
	for _, c := range []pair{
		{int64(1), 1.0, true}, {nan, nan, false}, {nan, int64(1), false}, {int64(1), int64(2), true}, {int64(2), int64(1), false},
		{nil, int64(1), nil}, {"1", int64(1), nil},
		{l(int64(1)), l(int64(1), nil), true},            // [1, null] >= [1] is true (Comparison2 [4])
		{l(int64(1), nil), l(int64(1), int64(2)), nil},   // [1, 2] >= [1, null] is null
		{l(int64(1), nil), l(int64(1), "a"), nil},        // [1, 'a'] >= [1, null] is null
		{l(int64(3), nil), l(int64(1), int64(2)), false}, // [1, 2] >= [3, null] is false
		{l(int64(1)), l(int64(0), int64(1)), false},
		{map[string]any{"a": int64(1)}, map[string]any{"a": int64(1)}, true},
		{map[string]any{"a": int64(1)}, map[string]any{"a": int64(2)}, nil},
	} {
		if got := LessEqual(c.a, c.b); got != c.want {
			t.Errorf("%s <= %s is %v, want %v", show(c.a), show(c.b), got, c.want)
		}
	}
}

// TestCompareGlobalOrder: orderability's ascending global sort order of types and its order
// inside each type (CIP2016-06-14 "Orderability"). Each value is strictly less than the next.
func TestCompareGlobalOrder(t *testing.T) {
	ascending := []any{
		map[string]any{}, map[string]any{"a": int64(1)}, map[string]any{"a": int64(2)}, map[string]any{"a": int64(2), "b": nil},
		map[string]any{"b": int64(0)}, // regular maps
		n1, n2,                        // nodes
		r7, r8, // relationships
		l(), l(map[string]any{}), l(int64(1)), l(int64(1), nil), l(int64(2)), l(nil), // lists
		p1, p12, p21, // paths
		"", "a", "aa", "b", "é", // strings
		false, true, // booleans
		ninf, int64(math.MinInt64), int64(-3), -2.5, int64(-2), -1e-300, int64(0), 1e-300, 0.5, int64(1), 1.5,
		float64(1 << 53), int64(1<<53 + 1), int64(math.MaxInt64), float64(1 << 63), inf, nan, // numbers; NaN last
		nil, // null
	}
	for i := range ascending {
		for j := range ascending {
			if got, want := Compare(ascending[i], ascending[j]), cmpInt(i, j); got != want {
				t.Errorf("Compare(%s, %s) = %d, want %d", show(ascending[i]), show(ascending[j]), got, want)
			}
		}
	}
}

func cmpInt(i, j int) int {
	switch {
	case i < j:
		return -1
	case i > j:
		return 1
	}
	return 0
}

// TestCompareEquivalence: values that orderability puts in one place are equivalent: null and
// null, NaN and NaN, 1 and 1.0, [null] and [null], nodes with one id.
func TestCompareEquivalence(t *testing.T) {
	for _, c := range [][2]any{
		{nil, nil}, {nan, nan}, {nan, -nan}, {int64(1), 1.0}, {0.0, math.Copysign(0, -1)}, {l(nil), l(nil)},
		{l(int64(1), nan), l(1.0, nan)}, {map[string]any{"k": nil}, map[string]any{"k": nil}}, {n1, n1b},
		{int64(math.MinInt64), -float64(1 << 63)},
	} {
		if got := Compare(c[0], c[1]); got != 0 {
			t.Errorf("Compare(%s, %s) = %d, want 0", show(c[0]), show(c[1]), got)
		}
		if Key(c[0]) != Key(c[1]) {
			t.Errorf("Key(%s) != Key(%s)", show(c[0]), show(c[1]))
		}
	}
	// The CIP's example: UNWIND [1, true, '', 3.14, {}, [2], null] ... ORDER BY.
	vs := []any{int64(1), true, "", 3.14, map[string]any{}, l(int64(2)), nil}
	slices.SortFunc(vs, Compare)
	want := []any{map[string]any{}, l(int64(2)), "", true, int64(1), 3.14, nil}
	for i := range vs {
		if Compare(vs[i], want[i]) != 0 || TypeName(vs[i]) != TypeName(want[i]) {
			t.Errorf("ORDER BY gives %v, want %v", vs, want)
			break
		}
	}
}

// TestCompareProperties checks the contracts that tie the four notions together on random
// values: Compare is a total order (antisymmetric, transitive), Key is its equivalence and its
// byte order, and Equal and Less never disagree with it where they decide.
func TestCompareProperties(t *testing.T) {
	g := newGen(t, 1)
	vs := make([]any, 3000)
	for i := range vs {
		vs[i] = g.value(2)
	}
	slices.SortFunc(vs, Compare)
	keys := make([]string, len(vs))
	for i, v := range vs {
		keys[i] = Key(v)
	}
	for i := 1; i < len(vs); i++ {
		// Sorted by Compare, neighbours are in order; the keys must sort identically and be
		// equal exactly where Compare says equivalent (transitivity follows from sortedness
		// being checked through the keys, which are totally ordered).
		c := Compare(vs[i-1], vs[i])
		if c > 0 {
			t.Fatalf("not sorted: %s then %s", show(vs[i-1]), show(vs[i]))
		}
		if kc := bytes.Compare([]byte(keys[i-1]), []byte(keys[i])); kc != c {
			t.Fatalf("Compare(%s, %s) = %d but the keys compare %d", show(vs[i-1]), show(vs[i]), c, kc)
		}
	}
	for range 20000 {
		a, b := vs[g.r.IntN(len(vs))], vs[g.r.IntN(len(vs))]
		c := Compare(a, b)
		if Compare(b, a) != -c {
			t.Fatalf("Compare not antisymmetric on %s, %s", show(a), show(b))
		}
		if kc := bytes.Compare([]byte(Key(a)), []byte(Key(b))); kc != c {
			t.Fatalf("Compare(%s, %s) = %d but the keys compare %d", show(a), show(b), c, kc)
		}
		if Equal(a, b) == true && c != 0 {
			t.Fatalf("%s = %s but Compare = %d", show(a), show(b), c)
		}
		if Less(a, b) == true && c >= 0 {
			t.Fatalf("%s < %s but Compare = %d", show(a), show(b), c)
		}
		if Equal(a, b) != Equal(b, a) {
			t.Fatalf("Equal not symmetric on %s, %s", show(a), show(b))
		}
		if Less(a, b) == true && Less(b, a) == true {
			t.Fatalf("%s < %s and the reverse", show(a), show(b))
		}
	}
}

// TestNotModelPanics: the comparisons take values of the model only; a Go int is a bug in the
// caller (it should have gone through Normalize).
func TestNotModelPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"Equal":   func() { Equal(1, int64(1)) },
		"Less":    func() { Less(int32(1), int64(1)) },
		"Compare": func() { Compare(struct{}{}, int64(1)) },
		"Key":     func() { Key([]string{"a"}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			f()
		}()
	}
}
