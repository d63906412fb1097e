package exec

import (
	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/shardapi"
	"github.com/torua/torua/graph/value"
)

// shortest matches p = shortestPath((a)-[...*min..max]->(b)) or allShortestPaths(...): a
// breadth-first search from a, one round per level over every row's frontier, until b is
// reached or max levels are done. Both ends are bound first (looked up like anchors when the
// pattern is their first mention).
func (mt *matcher) shortest(p *cypher.Pattern) error {
	nodes, rels := p.Nodes(), p.Rels()
	if len(rels) != 1 || rels[0].VarLength == nil {
		return errorf(p.Pos, "a shortest path is a pattern of one variable-length relationship between two nodes, like shortestPath((a)-[:T*..6]->(b))")
	}
	from, to := mt.nodes[mt.nodeVar(nodes[0])], mt.nodes[mt.nodeVar(nodes[1])]
	for _, s := range []*nodeSpec{from, to} {
		if err := mt.bindAnchor(s); err != nil {
			return err
		}
	}
	// The ends' filters are checked before the search: its result depends on them.
	if err := mt.verify(map[int]*colState{from.col: mt.state(from.col), to.col: mt.state(to.col)}); err != nil {
		return err
	}
	rel, err := mt.relSpecOf(rels[0], false)
	if err != nil {
		return err
	}
	all := p.Shortest == cypher.AllShortestPath
	type parent struct {
		from layout.ID
		half *shardapi.Half
	}
	type search struct {
		row      *mrow
		target   layout.ID
		depth    map[layout.ID]int64
		parents  map[layout.ID][]parent
		frontier []layout.ID
		found    bool
	}
	var searches []*search
	for _, row := range mt.rows {
		a, ok1 := nodeID(row.row[from.col])
		b, ok2 := nodeID(row.row[to.col])
		if !ok1 || !ok2 {
			continue
		}
		s := &search{row: row, target: b, depth: map[layout.ID]int64{a: 0}, parents: map[layout.ID][]parent{}, frontier: []layout.ID{a}}
		s.found = a == b && rel.varLen.Min == 0
		searches = append(searches, s)
	}
	for level := int64(1); level <= rel.varLen.Max; level++ {
		var ids []layout.ID
		for _, s := range searches {
			if !s.found {
				ids = append(ids, s.frontier...)
			}
		}
		if len(ids) == 0 {
			break
		}
		exp, err := mt.r.expand(ids, rel, nil, false)
		if err != nil {
			return err
		}
		for _, s := range searches {
			if s.found {
				continue
			}
			var next []layout.ID
			for _, v := range s.frontier {
				for _, h := range live(exp.halves[v], rel.dir) {
					d, seen := s.depth[h.Other]
					switch {
					case !seen:
						s.depth[h.Other] = level
						s.parents[h.Other] = []parent{{v, h}}
						next = append(next, h.Other)
					case d == level && all:
						s.parents[h.Other] = append(s.parents[h.Other], parent{v, h})
					}
				}
			}
			s.frontier = next
			if d, ok := s.depth[s.target]; ok && d == level && level >= rel.varLen.Min {
				s.found = true
			}
		}
	}
	pathCol, hasPath := -1, p.PathVar != ""
	if hasPath {
		pathCol, _ = mt.scope.Index(p.PathVar)
	}
	var out []*mrow
	for _, s := range searches {
		if !s.found {
			continue
		}
		// Walk the parents back from the target: every way for allShortestPaths, the first
		// for shortestPath.
		var walk func(at layout.ID) ([][]*shardapi.Half, error)
		walk = func(at layout.ID) ([][]*shardapi.Half, error) {
			if s.depth[at] == 0 {
				return [][]*shardapi.Half{nil}, nil
			}
			var ways [][]*shardapi.Half
			for _, par := range s.parents[at] {
				prefixes, err := walk(par.from)
				if err != nil {
					return nil, err
				}
				for _, pre := range prefixes {
					ways = append(ways, append(append([]*shardapi.Half(nil), pre...), par.half))
				}
				if !all {
					break
				}
			}
			return ways, mt.r.checkRows(len(ways))
		}
		ways, err := walk(s.target)
		if err != nil {
			return err
		}
		for _, way := range ways {
			nr := s.row.row.Extend(mt.scope.Len())
			list := make([]any, len(way))
			path := &value.Path{Nodes: []*value.Node{nr[from.col].(*value.Node)}}
			for i, h := range way {
				rv, err := mt.r.rel(h)
				if err != nil {
					return err
				}
				list[i] = rv
				path.Rels = append(path.Rels, rv)
				path.Nodes = append(path.Nodes, mt.r.ref(h.Other))
			}
			path.Nodes[len(path.Nodes)-1] = nr[to.col].(*value.Node)
			nr[rel.col] = list
			if hasPath {
				nr[pathCol] = path
			}
			out = append(out, &mrow{row: nr, origin: s.row.origin, used: s.row.used})
		}
	}
	mt.rows = out
	// A path's inner nodes are references: load them if the path is read whole.
	if hasPath && mt.nodes[mt.nodeVar(nodes[0])].needed {
		return mt.loadPathNodes(pathCol)
	}
	return nil
}

// loadPathNodes loads the nodes of the paths in column col, in one round.
func (mt *matcher) loadPathNodes(col int) error {
	var ids []layout.ID
	for _, row := range mt.rows {
		for _, n := range row.row[col].(*value.Path).Nodes {
			if _, ok := mt.r.nodes[layout.ID(n.ID)]; !ok {
				ids = append(ids, layout.ID(n.ID))
			}
		}
	}
	if err := mt.r.loadAll(ids); err != nil {
		return err
	}
	for _, row := range mt.rows {
		p := row.row[col].(*value.Path)
		for i, n := range p.Nodes {
			if loaded, ok := mt.r.nodes[layout.ID(n.ID)]; ok {
				p.Nodes[i] = loaded
			}
		}
	}
	return nil
}
