package oracle

import (
	"fmt"
	"math/rand/v2"
)

// Options shape the generated graphs. The zero value is a simple directed graph (no
// self-loops, at most one edge per ordered pair of vertices) with the default vocabulary.
type Options struct {
	// Labels are the vertex labels drawn from; nil means Person, Company, City.
	Labels []string
	// Types are the edge types drawn from; nil means KNOWS, LIKES, WORKS_AT.
	Types []string
	// SelfLoops allows edges from a vertex to itself.
	SelfLoops bool
	// Parallel allows several edges (of any types) from one vertex to another.
	Parallel bool
}

func (o Options) labels() []string {
	if len(o.Labels) > 0 {
		return o.Labels
	}
	return []string{"Person", "Company", "City"}
}

func (o Options) types() []string {
	if len(o.Types) > 0 {
		return o.Types
	}
	return []string{"KNOWS", "LIKES", "WORKS_AT"}
}

// The attributes the generators give, so that queries have something to filter, group and
// sort on. Each vertex has ids 1..n and the property id equal to its vertex id (a key that
// survives loading into a store that assigns its own ids); about 10% have no label and 20%
// two; name (one of a few, so that groups form), age (INTEGER), score (FLOAT), active
// (BOOLEAN) and tags (a list of strings) are each missing on some vertices. Edges have
// weight (FLOAT) and since (INTEGER), each missing on some. Every FLOAT is a multiple of
// 1/8 below 2^20, so sums of up to 2^30 of them are exact in any order: a store that adds
// in another order still answers exactly the same.
var names = []string{"ann", "bob", "cid", "dee", "eve", "fay", "gus", "hal"}

func vertexAttrs(rng *rand.Rand, id int64, o Options) ([]string, map[string]any) {
	ls := o.labels()
	var labels []string
	switch p := rng.IntN(10); {
	case p == 0:
	case p <= 2 && len(ls) > 1:
		i := rng.IntN(len(ls))
		j := (i + 1 + rng.IntN(len(ls)-1)) % len(ls)
		labels = []string{ls[i], ls[j]}
	default:
		labels = []string{ls[rng.IntN(len(ls))]}
	}
	props := map[string]any{"id": id}
	if rng.IntN(10) < 9 {
		props["name"] = names[rng.IntN(len(names))]
	}
	if rng.IntN(10) < 8 {
		props["age"] = int64(rng.IntN(100))
	}
	if rng.IntN(10) < 7 {
		props["score"] = float64(rng.IntN(800)) / 8
	}
	if rng.IntN(10) < 8 {
		props["active"] = rng.IntN(2) == 0
	}
	if rng.IntN(10) < 3 {
		tags := []any{}
		for range rng.IntN(4) {
			tags = append(tags, names[rng.IntN(len(names))])
		}
		props["tags"] = tags
	}
	return labels, props
}

func edgeAttrs(rng *rand.Rand, o Options) (string, map[string]any) {
	ts := o.types()
	props := map[string]any{}
	if rng.IntN(10) < 8 {
		props["weight"] = float64(rng.IntN(80)) / 8
	}
	if rng.IntN(10) < 7 {
		props["since"] = int64(1990 + rng.IntN(35))
	}
	return ts[rng.IntN(len(ts))], props
}

func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// addVertices adds vertices 1..n with generated attributes.
func addVertices(g *Graph, rng *rand.Rand, n int, o Options) {
	for id := int64(1); id <= int64(n); id++ {
		labels, props := vertexAttrs(rng, id, o)
		if err := g.AddVertexWithID(id, labels, props); err != nil {
			panic(err) // generated values are always valid: a bug
		}
	}
}

// capacity is how many edges n vertices can hold under o, or -1 for no limit.
func capacity(n int, o Options) int {
	if o.Parallel {
		if n == 0 || n == 1 && !o.SelfLoops {
			return 0
		}
		return -1
	}
	c := n * (n - 1)
	if o.SelfLoops {
		c += n
	}
	return c
}

// Random returns an Erdős–Rényi-style G(n, m) directed graph: n vertices (ids 1..n) and m
// edges (ids 1..m), each between two vertices drawn uniformly (redrawn if o forbids the
// pair), with the attributes described above. The same arguments give the same graph. It
// panics if the graph cannot hold m edges.
func Random(seed uint64, n, m int, o Options) *Graph {
	if c := capacity(n, o); c >= 0 && m > c {
		panic(fmt.Sprintf("oracle.Random: %d vertices hold at most %d edges, not %d", n, c, m))
	}
	rng := newRand(seed)
	g := New()
	addVertices(g, rng, n, o)
	type pair struct{ s, t int64 }
	have := map[pair]bool{}
	for g.NumEdges() < m {
		s, t := 1+rng.Int64N(int64(n)), 1+rng.Int64N(int64(n))
		if s == t && !o.SelfLoops || have[pair{s, t}] && !o.Parallel {
			continue
		}
		have[pair{s, t}] = true
		typ, props := edgeAttrs(rng, o)
		if _, err := g.AddEdge(typ, s, t, props); err != nil {
			panic(err)
		}
	}
	return g
}

// PowerLaw returns a preferential-attachment graph (Barabási–Albert, written here, not
// gonum's) with a heavy-tailed degree distribution: vertices join one at a time (ids
// 1..n), and each new vertex links to existing ones chosen with probability proportional to
// their degree + 1, as many links each as spreads m edges evenly (ids 1..m); each link's
// direction is drawn at random, so in- and out-degrees are both heavy-tailed. Attributes are
// as Random's. With o.SelfLoops a new vertex may also link to itself; without o.Parallel it
// links to a vertex at most once. The same arguments give the same graph. It panics if the
// graph cannot hold m edges.
func PowerLaw(seed uint64, n, m int, o Options) *Graph {
	// Vertex i (0-based) can link to the i vertices before it (and itself with self-loops).
	room := func(i int) int {
		switch {
		case o.Parallel && (i > 0 || o.SelfLoops):
			return m
		case o.SelfLoops:
			return i + 1
		}
		return i
	}
	// suffix[i] is how many edges vertices i.. can take in all.
	suffix := make([]int, n+1)
	for i := n - 1; i >= 0; i-- {
		suffix[i] = suffix[i+1] + min(room(i), m)
	}
	if suffix[0] < m {
		panic(fmt.Sprintf("oracle.PowerLaw: %d vertices hold at most %d edges, not %d", n, suffix[0], m))
	}
	rng := newRand(seed)
	g := New()
	addVertices(g, rng, n, o)
	// ends lists each vertex once, plus once per edge end: a uniform draw from it picks a
	// vertex with probability proportional to its degree + 1.
	var ends []int64
	left := m
	for i := range n {
		v := int64(i + 1)
		ends = append(ends, v)
		// An even share of what is left, or more if the later vertices could not take the
		// rest; never more than this vertex can take (left <= suffix[i] holds throughout).
		k := min(room(i), max((left+n-i-1)/(n-i), left-suffix[i+1]))
		linked := map[int64]bool{}
		for range k {
			var u int64
			for {
				u = ends[rng.IntN(len(ends))]
				if (u != v || o.SelfLoops) && (!linked[u] || o.Parallel) {
					break
				}
			}
			linked[u] = true
			s, t := v, u
			if rng.IntN(2) == 0 {
				s, t = u, v
			}
			typ, props := edgeAttrs(rng, o)
			if _, err := g.AddEdge(typ, s, t, props); err != nil {
				panic(err)
			}
			ends = append(ends, s, t)
		}
		left -= k
	}
	return g
}
