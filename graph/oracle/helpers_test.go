package oracle

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/value"
)

// socialQuery builds the small graph most tables run on (ids in creation order):
//
//	1 Ann:Person {age 30}   2 Bob:Person {age 25}   3 Cid:Person:Admin {age 35}   4 Acme:Company
//	edges: 1 Ann-KNOWS{since 2010}->Bob, 2 Bob-KNOWS{since 2015}->Cid, 3 Ann-WORKS_AT->Acme,
//	       4 Cid-WORKS_AT->Acme, 5 Cid-KNOWS->Ann
const socialQuery = `CREATE (a:Person {name: 'Ann', age: 30}), (b:Person {name: 'Bob', age: 25}),
	(c:Person:Admin {name: 'Cid', age: 35}), (d:Company {name: 'Acme'}),
	(a)-[:KNOWS {since: 2010}]->(b), (b)-[:KNOWS {since: 2015}]->(c), (a)-[:WORKS_AT]->(d),
	(c)-[:WORKS_AT]->(d), (c)-[:KNOWS]->(a)`

// diamondQuery: s has two shortest paths to t, through x and through y.
const diamondQuery = `CREATE (s {n: 's'})-[:E]->(x {n: 'x'})-[:E]->(t {n: 't'}), (s)-[:E]->(y {n: 'y'})-[:E]->(t)`

// evalCase is one query with its hand-computed answer.
type evalCase struct {
	name   string
	graph  string   // "" (empty), "social" or "diamond"
	pre    []string // queries run first, each must succeed
	q      string
	params map[string]any
	cols   []string // checked when not nil
	want   [][]any  // Go values, normalised; compared in order iff q has ORDER BY
	err    string   // the error must contain this; then want is not checked
}

func fixture(t *testing.T, name string) *Graph {
	t.Helper()
	g := New()
	switch name {
	case "":
	case "social":
		mustEval(t, g, socialQuery, nil)
	case "diamond":
		mustEval(t, g, diamondQuery, nil)
	default:
		t.Fatalf("no fixture %q", name)
	}
	return g
}

func evalString(g *Graph, q string, params map[string]any) (*Result, error) {
	pq, err := cypher.Parse(q)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	return Eval(g, pq, params)
}

func mustEval(t *testing.T, g *Graph, q string, params map[string]any) *Result {
	t.Helper()
	res, err := evalString(g, q, params)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return res
}

func runCases(t *testing.T, cases []evalCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := fixture(t, tc.graph)
			for _, p := range tc.pre {
				mustEval(t, g, p, nil)
			}
			res, err := evalString(g, tc.q, tc.params)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if tc.cols != nil && !slices.Equal(res.Columns, tc.cols) {
				t.Errorf("columns = %q, want %q", res.Columns, tc.cols)
			}
			want := &Result{Columns: res.Columns}
			for _, r := range tc.want {
				nr, err := value.Normalize(r)
				if err != nil {
					t.Fatalf("want row %v: %v", r, err)
				}
				want.Rows = append(want.Rows, nr.([]any))
			}
			got := res
			if !strings.Contains(strings.ToUpper(tc.q), "ORDER BY") {
				got, want = got.Canonical(), want.Canonical()
			}
			if !sameRows(got.Rows, want.Rows) {
				t.Errorf("rows = %s\nwant   %s", show(got.Rows), show(want.Rows))
			}
		})
	}
}

func sameRows(a, b [][]any) bool {
	return slices.EqualFunc(a, b, func(x, y []any) bool { return slices.EqualFunc(x, y, same) })
}

// same is exact equality of values: of one type (1 is not 1.0), floats bit for bit (NaN
// equals NaN), entities with their ids, labels, types and properties.
func same(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool, int64, string:
		return a == b
	case float64:
		y, ok := b.(float64)
		return ok && (math.Float64bits(x) == math.Float64bits(y) || math.IsNaN(x) && math.IsNaN(y))
	case []any:
		y, ok := b.([]any)
		return ok && slices.EqualFunc(x, y, same)
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !same(v, w) {
				return false
			}
		}
		return true
	case *value.Node:
		y, ok := b.(*value.Node)
		return ok && x.ID == y.ID && slices.Equal(x.Labels, y.Labels) && same(x.Props, y.Props)
	case *value.Relationship:
		y, ok := b.(*value.Relationship)
		return ok && x.ID == y.ID && x.Type == y.Type && x.Start == y.Start && x.End == y.End && same(x.Props, y.Props)
	case *value.Path:
		y, ok := b.(*value.Path)
		return ok && slices.EqualFunc(x.Nodes, y.Nodes, func(m, n *value.Node) bool { return same(m, n) }) &&
			slices.EqualFunc(x.Rels, y.Rels, func(m, n *value.Relationship) bool { return same(m, n) })
	}
	return false
}

func show(rows [][]any) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString("[")
		for i, v := range r {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s:%v", value.TypeName(v), v)
		}
		b.WriteString("] ")
	}
	return b.String()
}

func rows(rs ...[]any) [][]any { return rs }

func r(vs ...any) []any { return vs }
