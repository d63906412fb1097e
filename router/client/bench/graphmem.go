package bench

import (
	"context"
	"slices"
	"sync"
)

// MemGraph answers the graph queries from memory in one process: the floor a distributed
// store is measured against. It holds the out-adjacency in compressed sparse rows, each
// vertex's neighbours sorted, and walks it with per-query scratch marks, so a query costs
// the edges it reads and nothing else.
type MemGraph struct {
	off     []int // vertex v's neighbours are adj[off[v]:off[v+1]]
	adj     []int32
	scratch sync.Pool
}

var _ GraphStore = (*MemGraph)(nil)

// NewMemGraph builds the in-memory form of g.
func NewMemGraph(g *Graph) *MemGraph {
	n := g.Spec.Vertices
	m := &MemGraph{off: make([]int, n+1), adj: make([]int32, len(g.Edges))}
	for _, e := range g.Edges {
		m.off[e.Src+1]++
	}
	for v := range n {
		m.off[v+1] += m.off[v]
	}
	next := slices.Clone(m.off[:n])
	for _, e := range g.Edges {
		m.adj[next[e.Src]] = e.Dst
		next[e.Src]++
	}
	for v := range n {
		slices.Sort(m.adj[m.off[v]:m.off[v+1]])
	}
	m.scratch.New = func() any { return &memScratch{mark: make([]uint32, n)} }
	return m
}

// memScratch is one query's working memory: mark[v] == gen means v is marked in the
// current pass.
type memScratch struct {
	mark       []uint32
	gen        uint32
	cur, next  []int32
	secondHops []int32
}

// pass starts a new marking pass: every vertex unmarked.
func (s *memScratch) pass() {
	s.gen++
	if s.gen == 0 { // wrapped: old marks could read as current
		clear(s.mark)
		s.gen = 1
	}
}

// markNew marks v and reports whether it was unmarked in this pass.
func (s *memScratch) markNew(v int32) bool {
	if s.mark[v] == s.gen {
		return false
	}
	s.mark[v] = s.gen
	return true
}

func (m *MemGraph) out(v int32) []int32 { return m.adj[m.off[v]:m.off[v+1]] }

func (m *MemGraph) hasEdge(src, dst int32) bool {
	_, ok := slices.BinarySearch(m.out(src), dst)
	return ok
}

// Query answers q as its openCypher form does: a vertex id outside the graph matches
// nothing (no rows, a count of 0, no path).
func (m *MemGraph) Query(_ context.Context, q GraphQuery, from, to int64) (GraphAnswer, error) {
	n := int64(len(m.off) - 1)
	if from < 0 || from >= n || (q == Shortest && (to < 0 || to >= n || to == from)) {
		if q == Shortest {
			return GraphAnswer{Value: NoPath}, nil
		}
		return GraphAnswer{}, nil
	}
	s := m.scratch.Get().(*memScratch)
	defer m.scratch.Put(s)
	a := int32(from)
	switch q {
	case OneHop:
		return GraphAnswer{Value: int64(len(m.out(a)))}, nil
	case TwoHop:
		return GraphAnswer{Value: m.twoHop(s, a)}, nil
	case ThreeHop:
		return GraphAnswer{Value: m.threeHop(s, a)}, nil
	default:
		return GraphAnswer{Value: m.shortest(s, a, int32(to))}, nil
	}
}

// ErrorKind names an error; MemGraph's queries do not fail.
func (*MemGraph) ErrorKind(error) string { return "error" }

// twoHop counts the distinct ends of a→x→c. Its two edges are always distinct (there are no
// self-loops), as openCypher requires of one pattern's relationships.
func (m *MemGraph) twoHop(s *memScratch, a int32) int64 {
	s.pass()
	var n int64
	for _, x := range m.out(a) {
		for _, c := range m.out(x) {
			if s.markNew(c) {
				n++
			}
		}
	}
	return n
}

// threeHop counts the distinct ends of a→x→y→c whose three edges are distinct. Without
// self-loops only the first and last can be the same edge, when y = a and c = x: so every
// neighbour of every y ≠ a of the second hop counts, and a neighbour c of a reached through
// y = a counts only if some x ≠ c has the edges a→x and x→a.
func (m *MemGraph) threeHop(s *memScratch, a int32) int64 {
	s.pass()
	s.secondHops = s.secondHops[:0]
	for _, x := range m.out(a) {
		for _, y := range m.out(x) {
			if s.markNew(y) {
				s.secondHops = append(s.secondHops, y)
			}
		}
	}
	backThrough := s.mark[a] == s.gen // a itself is a second hop
	s.pass()
	var n int64
	for _, y := range s.secondHops {
		if y == a {
			continue
		}
		for _, c := range m.out(y) {
			if s.markNew(c) {
				n++
			}
		}
	}
	if backThrough {
		var returners []int32 // the x with a→x→a; at most two are needed
		for _, x := range m.out(a) {
			if m.hasEdge(x, a) {
				if returners = append(returners, x); len(returners) == 2 {
					break
				}
			}
		}
		for _, c := range m.out(a) {
			if (len(returners) > 1 || returners[0] != c) && s.markNew(c) {
				n++
			}
		}
	}
	return n
}

// shortest is the length of a shortest path from a to b (a ≠ b) of at most MaxPathLength
// edges, or NoPath: a breadth-first search that stops at b.
func (m *MemGraph) shortest(s *memScratch, a, b int32) int64 {
	s.pass()
	s.markNew(a)
	s.cur = append(s.cur[:0], a)
	for depth := int64(1); depth <= MaxPathLength && len(s.cur) > 0; depth++ {
		s.next = s.next[:0]
		for _, v := range s.cur {
			for _, w := range m.out(v) {
				if w == b {
					return depth
				}
				if s.markNew(w) {
					s.next = append(s.next, w)
				}
			}
		}
		s.cur, s.next = s.next, s.cur
	}
	return NoPath
}
