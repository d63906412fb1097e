package oracle

import (
	"fmt"
	"testing"

	"github.com/torua/torua/graph/value"
)

// On generated graphs, Cypher answers agree with the same facts computed directly from
// Vertices and Edges: counts, grouping, sums, k-hop neighbourhoods and shortest distances.
// (The graphs have no self-loops and no parallel edges, so walks of one or two steps are
// trails and match what a plain adjacency walk finds.)
func TestEvalAgreesWithDirectComputation(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		for name, g := range map[string]*Graph{
			"random":    Random(seed, 120, 400, Options{}),
			"power law": PowerLaw(seed, 120, 400, Options{}),
		} {
			t.Run(fmt.Sprintf("%s/%d", name, seed), func(t *testing.T) {
				checkAgainstDirect(t, g)
			})
		}
	}
}

func checkAgainstDirect(t *testing.T, g *Graph) {
	vs, es := g.Vertices(), g.Edges()
	out := map[int64][]int64{}
	byType := map[string]int64{}
	for _, e := range es {
		out[e.Start] = append(out[e.Start], e.End)
		byType[e.Type]++
	}

	res := mustEval(t, g, `MATCH ()-[r]->() RETURN type(r) AS t, count(*) AS n`, nil)
	if len(res.Rows) != len(byType) {
		t.Fatalf("types: %s, want %v", show(res.Rows), byType)
	}
	for _, row := range res.Rows {
		if byType[row[0].(string)] != row[1].(int64) {
			t.Fatalf("types: %s, want %v", show(res.Rows), byType)
		}
	}

	// Grouping by name (missing names group as null), with sums of a float of eighths.
	type agg struct {
		n     int64
		score float64
	}
	groups := map[string]agg{}
	for _, v := range vs {
		k := value.Key(v.Props["name"])
		a := groups[k]
		a.n++
		if s, ok := v.Props["score"].(float64); ok {
			a.score += s
		}
		groups[k] = a
	}
	res = mustEval(t, g, `MATCH (n) RETURN n.name AS name, count(*) AS n, sum(n.score) AS s`, nil)
	if len(res.Rows) != len(groups) {
		t.Fatalf("groups: %d rows, want %d", len(res.Rows), len(groups))
	}
	for _, row := range res.Rows {
		a := groups[value.Key(row[0])]
		if row[1].(int64) != a.n || value.Equal(row[2], a.score) != true {
			t.Fatalf("group %v: %s, want %d and %v", row[0], show([][]any{row}), a.n, a.score)
		}
	}

	for _, src := range []int64{1, 7, 60, 119} {
		// Distinct vertices one or two steps out.
		reach := map[int64]bool{}
		for _, b := range out[src] {
			reach[b] = true
			for _, c := range out[b] {
				reach[c] = true
			}
		}
		res = mustEval(t, g, `MATCH (a {id: $id})-[*1..2]->(b) RETURN count(DISTINCT b) AS n`, map[string]any{"id": src})
		if !sameRows(res.Rows, [][]any{{int64(len(reach))}}) {
			t.Fatalf("two hops from %d: %s, want %d", src, show(res.Rows), len(reach))
		}
		// Directed distances by shortestPath against BFS.
		dist := map[int64]int64{src: 0}
		queue := []int64{src}
		for len(queue) > 0 {
			u := queue[0]
			queue = queue[1:]
			for _, v := range out[u] {
				if _, seen := dist[v]; !seen {
					dist[v] = dist[u] + 1
					queue = append(queue, v)
				}
			}
		}
		res = mustEval(t, g, `MATCH (a {id: $id}), (b) WHERE b <> a MATCH p = shortestPath((a)-[*..30]->(b)) RETURN b.id AS b, length(p) AS d`,
			map[string]any{"id": src})
		if len(res.Rows) != len(dist)-1 {
			t.Fatalf("shortest paths from %d: %d rows, BFS reaches %d", src, len(res.Rows), len(dist)-1)
		}
		for _, row := range res.Rows {
			if d, ok := dist[row[0].(int64)]; !ok || d != row[1].(int64) {
				t.Fatalf("distance %d to %v: Cypher %v, BFS %d", src, row[0], row[1], d)
			}
		}
	}
}
