package oracle

import (
	"reflect"
	"strings"
	"testing"

	"github.com/torua/torua/graph/value"
)

func TestGraphMutators(t *testing.T) {
	g := New()
	a, err := g.AddVertex([]string{"B", "A", "B"}, map[string]any{"x": 1, "gone": nil})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := g.Vertex(a); !reflect.DeepEqual(v, Vertex{ID: 1, Labels: []string{"A", "B"}, Props: map[string]any{"x": int64(1)}}) {
		t.Fatalf("vertex = %+v: want labels a sorted set, ints normalised, nulls left out", v)
	}
	if err := g.AddVertexWithID(10, nil, nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := g.AddVertex(nil, nil); b != 11 {
		t.Fatalf("next id = %d, want 11 (above the highest used)", b)
	}
	for name, err := range map[string]error{
		"id 0":           g.AddVertexWithID(0, nil, nil),
		"id in use":      g.AddVertexWithID(10, nil, nil),
		"map property":   g.AddVertexWithID(20, nil, map[string]any{"m": map[string]any{}}),
		"unknown start":  g.AddEdgeWithID(1, "T", 99, 1, nil),
		"unknown end":    g.AddEdgeWithID(1, "T", 1, 99, nil),
		"no type":        g.AddEdgeWithID(1, "", 1, 10, nil),
		"edge id 0":      g.AddEdgeWithID(0, "T", 1, 10, nil),
		"unsupported Go": g.SetVertexProp(1, "c", make(chan int)),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	e, err := g.AddEdge("T", a, 10, map[string]any{"w": 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.DeleteVertex(a, false); err == nil || !strings.Contains(err.Error(), "DETACH") {
		t.Fatalf("DeleteVertex with an edge: %v", err)
	}
	if err := g.SetEdgeProp(e, "w", nil); err != nil {
		t.Fatal(err)
	}
	if ed, _ := g.Edge(e); len(ed.Props) != 0 {
		t.Fatalf("edge props = %v after setting null", ed.Props)
	}
	if err := g.DeleteVertex(a, true); err != nil {
		t.Fatal(err)
	}
	if g.NumVertices() != 2 || g.NumEdges() != 0 {
		t.Fatalf("%d vertices, %d edges after DETACH DELETE", g.NumVertices(), g.NumEdges())
	}
	if ids := []int64{g.Vertices()[0].ID, g.Vertices()[1].ID}; ids[0] != 10 || ids[1] != 11 {
		t.Fatalf("Vertices in order %v, want [10 11]", ids)
	}
	// Copies: changing what an accessor returned changes nothing.
	v, _ := g.Vertex(10)
	v.Props["x"] = int64(5)
	if w, _ := g.Vertex(10); len(w.Props) != 0 {
		t.Fatalf("a returned copy aliased the graph: %v", w.Props)
	}
}

// The CREATE export round-trips: evaluating it on an empty graph gives the graph again, ids
// included, and so do the batched statements.
func TestCreateExportRoundTrip(t *testing.T) {
	for name, g := range map[string]*Graph{
		"karate":    Karate(),
		"random":    Random(3, 40, 150, Options{SelfLoops: true, Parallel: true}),
		"power law": PowerLaw(3, 40, 150, Options{}),
	} {
		t.Run(name, func(t *testing.T) {
			one := New()
			mustEval(t, one, g.CreateQuery(), nil)
			sameGraph(t, one, g)
			stmts, err := g.CreateStatements("id", 16)
			if err != nil {
				t.Fatal(err)
			}
			if want := (g.NumVertices()+15)/16 + (g.NumEdges()+15)/16; len(stmts) != want {
				t.Fatalf("%d statements, want %d", len(stmts), want)
			}
			batched := New()
			for _, s := range stmts {
				mustEval(t, batched, s, nil)
			}
			sameGraph(t, batched, g)
		})
	}
	g := New()
	if g.CreateQuery() != "" {
		t.Fatal("the empty graph's CREATE query is not empty")
	}
	mustEval(t, g, `CREATE ({id: 1}), ({id: 1.0}), ({x: 2})`, nil)
	if _, err := g.CreateStatements("x", 10); err == nil {
		t.Fatal("CreateStatements with a missing key: no error")
	}
	if _, err := g.CreateStatements("id", 10); err == nil {
		t.Fatal("CreateStatements with equal keys 1 and 1.0: no error")
	}
}

func sameGraph(t *testing.T, got, want *Graph) {
	t.Helper()
	if !reflect.DeepEqual(got.Vertices(), want.Vertices()) {
		t.Fatal("the vertices differ")
	}
	if !reflect.DeepEqual(got.Edges(), want.Edges()) {
		t.Fatal("the edges differ")
	}
}

func TestCanonical(t *testing.T) {
	res := &Result{Columns: []string{"a"}, Rows: [][]any{{"b"}, {int64(2)}, {nil}, {"a"}, {1.0}}}
	got := res.Canonical()
	want := [][]any{{"a"}, {"b"}, {1.0}, {int64(2)}, {nil}}
	if !sameRows(got.Rows, want) {
		t.Fatalf("Canonical = %s, want %s", show(got.Rows), show(want))
	}
	if !sameRows(res.Rows, [][]any{{"b"}, {int64(2)}, {nil}, {"a"}, {1.0}}) {
		t.Fatal("Canonical changed its receiver")
	}
}

func TestEvalParameters(t *testing.T) {
	g := New()
	if _, err := evalString(g, `RETURN $p AS p`, map[string]any{"p": struct{}{}}); err == nil {
		t.Fatal("a parameter outside the value model: no error")
	}
	res := mustEval(t, g, `RETURN $p AS p`, map[string]any{"p": map[string]int{"a": 1}})
	if !sameRows(res.Rows, [][]any{{map[string]any{"a": int64(1)}}}) {
		t.Fatalf("rows = %s", show(res.Rows))
	}
	res = mustEval(t, g, `CREATE (n $props) RETURN n`, map[string]any{"props": map[string]any{"k": []string{"x"}}})
	want := &value.Node{ID: 1, Labels: []string{}, Props: map[string]any{"k": []any{"x"}}}
	if len(res.Rows) != 1 || !same(res.Rows[0][0], want) {
		t.Fatalf("rows = %s", show(res.Rows))
	}
}
