package oracle

import (
	"slices"

	"github.com/torua/torua/graph/cypher"
)

// shortest matches shortestPath((a)-[r:T*lo..hi]->(b)) and allShortestPaths(...): for each
// pair of nodes matching the two node patterns, the shortest paths from a to b of lo to hi
// relationships that the relationship pattern allows (types, direction, properties), found
// by breadth-first search. shortestPath gives one of them (the first in the search's
// order: ascending ids), allShortestPaths every one; a pair without such a path gives
// nothing. A shortest path from a to b != a never repeats a node, so it is a trail and
// needs no uniqueness check of its own; the relationships other patterns of the clause use
// are not taken. As in Neo4j, the lower bound is 0 or 1; a == b gives the path of length 0
// when lo is 0 and nothing otherwise. Without *, the pattern is one relationship and r
// binds a relationship, not a list.
func (m *matcher) shortest(pat *cypher.Pattern, rest func() error) error {
	nodes, rels := pat.Nodes(), pat.Rels()
	n0, n1, rp := nodes[0], nodes[1], rels[0]
	lo, hi := int64(1), int64(1)
	if rp.VarLength != nil {
		lo, hi = rp.VarLength.Min, rp.VarLength.Max
	}
	if lo > 1 {
		return errAt(pat.Pos, "a shortest path's minimum length must be 0 or 1, found %d", lo)
	}
	if _, bound := m.vars[rp.Var]; bound && rp.Var != "" {
		return errAt(rp.Pos, "variable %s is already declared", rp.Var)
	}
	starts, err := m.candidates(n0)
	if err != nil {
		return err
	}
	for _, a := range starts {
		err := m.node(n0, a, func() error {
			ends, err := m.candidates(n1)
			if err != nil {
				return err
			}
			for _, b := range ends {
				err := m.node(n1, b, func() error {
					paths, err := m.bfs(a, b, rp, lo, hi, pat.Shortest == cypher.AllShortestPath)
					if err != nil {
						return err
					}
					for _, p := range paths {
						var rv any
						if rp.VarLength == nil {
							rv = relRef(p.rels[0])
						} else {
							list := make([]any, len(p.rels))
							for i, e := range p.rels {
								list[i] = relRef(e)
							}
							rv = list
						}
						err := m.use(p.rels, func() error {
							return m.bind(rp.Var, rv, func() error {
								return m.bind(pat.PathVar, pathValue(p.nodes, p.rels), rest)
							})
						})
						if err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// trail is a path found by the search: its nodes from start to end and its relationships.
type trail struct {
	nodes []int64
	rels  []*Edge
}

// bfs returns the shortest paths from a to b of lo (0 or 1) to hi relationships: all of
// them with all, else the first.
func (m *matcher) bfs(a, b int64, rp *cypher.RelPattern, lo, hi int64, all bool) ([]trail, error) {
	if a == b {
		if lo == 0 {
			return []trail{{nodes: []int64{a}}}, nil
		}
		return nil, nil
	}
	// preds[v] are the relationships reaching v from a node one level closer to a.
	type pred struct {
		from int64
		e    *Edge
	}
	dist := map[int64]int64{a: 0}
	preds := map[int64][]pred{}
	frontier := []int64{a}
	for d := int64(1); d <= hi && len(frontier) > 0; d++ {
		if _, ok := dist[b]; ok {
			break
		}
		var next []int64
		for _, u := range frontier {
			steps, err := m.steps(u, rp)
			if err != nil {
				return nil, err
			}
			for _, s := range steps {
				dd, seen := dist[s.to]
				if !seen {
					dist[s.to] = d
					next = append(next, s.to)
				}
				if !seen || dd == d {
					preds[s.to] = append(preds[s.to], pred{u, s.e})
				}
			}
		}
		frontier = next
	}
	if _, ok := dist[b]; !ok {
		return nil, nil
	}
	var out []trail
	// back walks from v towards a; nodes and rels are the path from v to b, reversed.
	var back func(v int64, nodes []int64, rels []*Edge)
	back = func(v int64, nodes []int64, rels []*Edge) {
		if v == a {
			t := trail{nodes: slices.Clone(nodes), rels: slices.Clone(rels)}
			slices.Reverse(t.nodes)
			slices.Reverse(t.rels)
			out = append(out, t)
			return
		}
		for _, p := range preds[v] {
			if !all && len(out) > 0 {
				return
			}
			back(p.from, append(nodes, p.from), append(rels, p.e))
		}
	}
	back(b, []int64{b}, nil)
	return out, nil
}
