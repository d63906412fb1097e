package bench

import (
	"fmt"
	"math"
	"math/bits"
	mathrand "math/rand/v2"
)

// GraphSpec describes a generated graph: how many vertices and edges, and the seed that
// makes it.
type GraphSpec struct {
	// Vertices is the number of vertices; their ids are 0..Vertices-1.
	Vertices int `json:"vertices"`
	// Edges is the exact number of edges.
	Edges int `json:"edges"`
	// Seed picks the graph: the same spec gives the same graph, on any machine.
	Seed uint64 `json:"seed"`
}

// Edge is a directed edge between two vertex ids.
type Edge struct{ Src, Dst int32 }

// Graph is a generated directed graph: simple (no self-loops, at most one edge from one
// vertex to another), its edges in the order they were drawn.
type Graph struct {
	Spec  GraphSpec
	Edges []Edge
}

// R-MAT's quadrant probabilities (the Graph500 benchmark's): an edge falls into the
// top-left quarter of the adjacency matrix with probability rmatA, and so on recursively,
// which gives in- and out-degrees a heavy (power-law-like) tail.
const (
	rmatA = 0.57
	rmatB = 0.19
	rmatC = 0.19
)

// maxDensity bounds Edges / (Vertices·(Vertices−1)): rejecting repeated edges stays cheap
// below it.
const maxDensity = 0.25

// Validate reports the first setting that cannot make a graph.
func (s GraphSpec) Validate() error {
	switch {
	case s.Vertices < 2 || s.Vertices > math.MaxInt32:
		return fmt.Errorf("vertices %d: want 2..%d", s.Vertices, math.MaxInt32)
	case s.Edges < 0:
		return fmt.Errorf("edges %d: want 0 or more", s.Edges)
	case float64(s.Edges) > maxDensity*float64(s.Vertices)*float64(s.Vertices-1):
		return fmt.Errorf("edges %d: at most %.0f for %d vertices (a quarter of all ordered pairs)",
			s.Edges, math.Floor(maxDensity*float64(s.Vertices)*float64(s.Vertices-1)), s.Vertices)
	}
	return nil
}

// GenerateGraph draws spec's graph with R-MAT (Chakrabarti, Zhan and Faloutsos 2004) on the
// smallest power-of-two square that holds Vertices, dropping draws that fall outside it,
// self-loops and repeated edges, until exactly Edges edges are drawn. Should R-MAT's skew
// make distinct pairs scarce (tiny, dense graphs), the remaining edges are drawn uniformly.
//
// The result depends on spec alone: the random numbers come from a PCG generator seeded by
// spec.Seed, read as raw 64-bit words (the algorithm math/rand/v2 fixes), never through
// helpers whose output Go might change.
func GenerateGraph(spec GraphSpec) (*Graph, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	rng := mathrand.NewPCG(spec.Seed, 0x746f727561) // "torua"
	scale := bits.Len(uint(spec.Vertices - 1))
	g := &Graph{Spec: spec, Edges: make([]Edge, 0, spec.Edges)}
	seen := make(map[uint64]struct{}, spec.Edges)
	add := func(src, dst uint64) {
		if src == dst || src >= uint64(spec.Vertices) || dst >= uint64(spec.Vertices) {
			return
		}
		k := src<<32 | dst
		if _, dup := seen[k]; dup {
			return
		}
		seen[k] = struct{}{}
		g.Edges = append(g.Edges, Edge{Src: int32(src), Dst: int32(dst)})
	}
	// Thresholds on a uniform 64-bit word for the quadrants A, A+B, A+B+C.
	ta, tb, tc := threshold(rmatA), threshold(rmatA+rmatB), threshold(rmatA+rmatB+rmatC)
	attempts := 64 * spec.Edges
	for i := 0; len(g.Edges) < spec.Edges && i < attempts; i++ {
		var src, dst uint64
		for range scale {
			src, dst = src<<1, dst<<1
			switch r := rng.Uint64(); {
			case r < ta:
			case r < tb:
				dst |= 1
			case r < tc:
				src |= 1
			default:
				src, dst = src|1, dst|1
			}
		}
		add(src, dst)
	}
	for len(g.Edges) < spec.Edges {
		add(rng.Uint64()%uint64(spec.Vertices), rng.Uint64()%uint64(spec.Vertices))
	}
	return g, nil
}

// threshold is the uint64 below which a uniform 64-bit word falls with probability p < 1.
func threshold(p float64) uint64 { return uint64(p * math.Exp2(64)) }

// OutDegrees returns each vertex's number of out-edges.
func (g *Graph) OutDegrees() []int {
	d := make([]int, g.Spec.Vertices)
	for _, e := range g.Edges {
		d[e.Src]++
	}
	return d
}

// InDegrees returns each vertex's number of in-edges.
func (g *Graph) InDegrees() []int {
	d := make([]int, g.Spec.Vertices)
	for _, e := range g.Edges {
		d[e.Dst]++
	}
	return d
}
