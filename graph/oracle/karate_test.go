package oracle

import (
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// karateAdjacency reads testdata/karate.txt on its own (not through Karate) into an
// undirected adjacency list, for the plain computations the Cypher answers are checked
// against.
func karateAdjacency(t *testing.T) map[int64][]int64 {
	t.Helper()
	data, err := os.ReadFile("testdata/karate.txt")
	if err != nil {
		t.Fatal(err)
	}
	adj := map[int64][]int64{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 || strings.HasPrefix(line, "#") {
			continue
		}
		a, _ := strconv.ParseInt(f[0], 10, 64)
		b, _ := strconv.ParseInt(f[1], 10, 64)
		adj[a] = append(adj[a], b)
		adj[b] = append(adj[b], a)
	}
	return adj
}

// bfs returns the distances from src in an undirected adjacency list.
func bfs(adj map[int64][]int64, src int64) map[int64]int64 {
	dist := map[int64]int64{src: 0}
	queue := []int64{src}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		for _, v := range adj[u] {
			if _, seen := dist[v]; !seen {
				dist[v] = dist[u] + 1
				queue = append(queue, v)
			}
		}
	}
	return dist
}

// The karate club's published facts (Zachary 1977): 34 members, 78 friendships, member 1
// (the instructor) has 16 friends and member 34 (the administrator) 17, the diameter is 5
// and the mean distance 2.4082; the Cypher answers are checked against these and against a
// plain BFS over the file.
func TestKarate(t *testing.T) {
	g := Karate()
	if g.NumVertices() != 34 || g.NumEdges() != 78 {
		t.Fatalf("karate has %d vertices and %d edges, want 34 and 78", g.NumVertices(), g.NumEdges())
	}
	res := mustEval(t, g, `MATCH (n:Member) WITH count(n) AS v MATCH ()-[r:FRIEND]->() RETURN v, count(r) AS e`, nil)
	if !sameRows(res.Rows, [][]any{{int64(34), int64(78)}}) {
		t.Fatalf("counts = %s, want 34, 78", show(res.Rows))
	}
	for id, want := range map[int64]int64{1: 16, 34: 17} {
		res := mustEval(t, g, `MATCH (:Member {id: $id})-[:FRIEND]-(f) RETURN count(f) AS d`, map[string]any{"id": id})
		if !sameRows(res.Rows, [][]any{{want}}) {
			t.Errorf("degree of %d = %s, want %d", id, show(res.Rows), want)
		}
	}

	adj := karateAdjacency(t)
	res = mustEval(t, g, `MATCH (n:Member) OPTIONAL MATCH (n)-[:FRIEND]-(m) RETURN n.id AS id, count(m) AS d ORDER BY id`, nil)
	if len(res.Rows) != 34 {
		t.Fatalf("degrees: %d rows, want 34", len(res.Rows))
	}
	for _, row := range res.Rows {
		id, d := row[0].(int64), row[1].(int64)
		if d != int64(len(adj[id])) {
			t.Errorf("degree of %d: Cypher %d, BFS's adjacency %d", id, d, len(adj[id]))
		}
	}

	// Every pair's distance by shortestPath, as a histogram, against BFS from every vertex.
	res = mustEval(t, g, `MATCH (a:Member), (b:Member) WHERE a.id < b.id
		MATCH p = shortestPath((a)-[:FRIEND*..10]-(b))
		RETURN length(p) AS d, count(*) AS pairs ORDER BY d`, nil)
	want := map[int64]int64{}
	sum, pairs, diameter := int64(0), int64(0), int64(0)
	for a := int64(1); a <= 34; a++ {
		for b, d := range bfs(adj, a) {
			if a < b {
				want[d]++
				sum += d
				pairs++
				diameter = max(diameter, d)
			}
		}
	}
	got := map[int64]int64{}
	for _, row := range res.Rows {
		got[row[0].(int64)] = row[1].(int64)
	}
	if len(got) != len(want) {
		t.Fatalf("distance histogram = %v, BFS %v", got, want)
	}
	for d, n := range want {
		if got[d] != n {
			t.Fatalf("distance histogram = %v, BFS %v", got, want)
		}
	}
	if pairs != 34*33/2 || diameter != 5 || got[5] == 0 || got[6] != 0 {
		t.Fatalf("pairs %d, diameter %d: want 561 connected pairs and diameter 5", pairs, diameter)
	}
	if mean := float64(sum) / float64(pairs); math.Abs(mean-2.4082) > 0.0001 {
		t.Fatalf("mean distance %.4f, want 2.4082", mean)
	}

	// Variable-length expansion: the members within two hops of member 1.
	res = mustEval(t, g, `MATCH (a:Member {id: 1})-[:FRIEND*1..2]-(b) WHERE b <> a RETURN count(DISTINCT b) AS n`, nil)
	within := int64(0)
	for _, d := range bfs(adj, 1) {
		if d == 1 || d == 2 {
			within++
		}
	}
	if !sameRows(res.Rows, [][]any{{within}}) {
		t.Fatalf("within two hops of 1: %s, BFS %d", show(res.Rows), within)
	}
}
