package exec

import (
	"slices"

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
	rel := mt.relSpecOf(rels[0], false)
	all := p.Shortest == cypher.AllShortestPath
	pathCol := -1
	if p.PathVar != "" {
		pathCol, _ = mt.scope.Index(p.PathVar)
	}
	if !all && rel.varLen.Min <= 1 {
		return mt.bidirectional(p, from, to, rel, pathCol)
	}
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
		exp, err := mt.r.expand(ids, rel, nil, false, nil)
		if err != nil {
			return err
		}
		for _, s := range searches {
			if s.found {
				continue
			}
			var next []layout.ID
			for _, v := range s.frontier {
				for _, h := range exp.halves[v] {
					if loopTwice(h, rel.dir) {
						continue
					}
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
			row, err := mt.pathRow(s.row, from, to, rel, pathCol, way)
			if err != nil {
				return err
			}
			out = append(out, row)
		}
	}
	mt.rows = out
	return mt.loadPaths(p, pathCol)
}

// loadPaths loads the inner nodes of the shortest paths of p (references until then) when a
// later clause reads the path whole.
func (mt *matcher) loadPaths(p *cypher.Pattern, pathCol int) error {
	if pathCol < 0 || !mt.nodes[mt.nodeVar(p.Nodes()[0])].needed {
		return nil
	}
	return mt.loadPathNodes(pathCol)
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

// bidirectional finds one shortest path per row by searching from both ends at once: each
// level expands the smaller frontier (from a along the relationship's direction, or from b
// against it), one round per level, until the frontiers meet. On a graph whose degrees are
// skewed this reads far fewer vertices than a search from one end.
func (mt *matcher) bidirectional(p *cypher.Pattern, from, to *nodeSpec, rel *relSpec, pathCol int) error {
	type step struct {
		next layout.ID // the neighbour one step further from the search's own end
		half *shardapi.Half
	}
	type side struct {
		depth    map[layout.ID]int64
		parent   map[layout.ID]step // toward the side's end
		frontier []layout.ID
		level    int64
	}
	type search struct {
		row      *mrow
		fwd, bwd *side
		meet     layout.ID
		done     bool
		found    bool
	}
	newSide := func(at layout.ID) *side {
		return &side{depth: map[layout.ID]int64{at: 0}, parent: map[layout.ID]step{}, frontier: []layout.ID{at}}
	}
	var searches []*search
	for _, row := range mt.rows {
		a, ok1 := nodeID(row.row[from.col])
		b, ok2 := nodeID(row.row[to.col])
		if !ok1 || !ok2 {
			continue
		}
		s := &search{row: row, fwd: newSide(a), bwd: newSide(b)}
		if a == b {
			s.done = true
			s.found, s.meet = rel.varLen.Min == 0, a
		}
		searches = append(searches, s)
	}
	back := &relSpec{col: rel.col, types: rel.types, filter: rel.filter, varLen: rel.varLen}
	switch rel.dir {
	case cypher.DirOut:
		back.dir = cypher.DirIn
	case cypher.DirIn:
		back.dir = cypher.DirOut
	default:
		back.dir = cypher.DirBoth
	}
	for {
		// Each open search picks its smaller frontier; one round per direction in use.
		var fwdIDs, bwdIDs []layout.ID
		picks := map[*search]bool{} // true: forward
		for _, s := range searches {
			if s.done {
				continue
			}
			if s.fwd.level+s.bwd.level >= rel.varLen.Max || len(s.fwd.frontier) == 0 || len(s.bwd.frontier) == 0 {
				s.done = true
				continue
			}
			fw := len(s.fwd.frontier) <= len(s.bwd.frontier)
			picks[s] = fw
			if fw {
				fwdIDs = append(fwdIDs, s.fwd.frontier...)
			} else {
				bwdIDs = append(bwdIDs, s.bwd.frontier...)
			}
		}
		if len(picks) == 0 {
			break
		}
		var fexp, bexp *expansion
		var err error
		if len(fwdIDs) > 0 {
			if fexp, err = mt.r.expand(fwdIDs, rel, nil, false, nil); err != nil {
				return err
			}
		}
		if len(bwdIDs) > 0 {
			if bexp, err = mt.r.expand(bwdIDs, back, nil, false, nil); err != nil {
				return err
			}
		}
		for s, fw := range picks {
			this, other, exp, d := s.fwd, s.bwd, fexp, rel.dir
			if !fw {
				this, other, exp, d = s.bwd, s.fwd, bexp, back.dir
			}
			this.level++
			var next []layout.ID
			best := int64(-1)
			for _, v := range this.frontier {
				for _, h := range exp.halves[v] {
					if loopTwice(h, d) {
						continue
					}
					w := h.Other
					if _, seen := this.depth[w]; !seen {
						this.depth[w] = this.level
						this.parent[w] = step{next: v, half: h}
						next = append(next, w)
					}
					if od, ok := other.depth[w]; ok && this.depth[w] == this.level {
						if total := this.level + od; best < 0 || total < best {
							best, s.meet = total, w
						}
					}
				}
			}
			this.frontier = next
			if best >= 0 && best <= rel.varLen.Max {
				s.done, s.found = true, true
			}
		}
	}
	var out []*mrow
	for _, s := range searches {
		if !s.found {
			continue
		}
		// From a to the meeting vertex along the forward parents, then on to b along the
		// backward ones.
		var halves []*shardapi.Half
		for at := s.meet; s.fwd.depth[at] > 0; at = s.fwd.parent[at].next {
			halves = append(halves, s.fwd.parent[at].half)
		}
		slices.Reverse(halves)
		for at := s.meet; s.bwd.depth[at] > 0; at = s.bwd.parent[at].next {
			halves = append(halves, s.bwd.parent[at].half)
		}
		row, err := mt.pathRow(s.row, from, to, rel, pathCol, halves)
		if err != nil {
			return err
		}
		out = append(out, row)
	}
	mt.rows = out
	return mt.loadPaths(p, pathCol)
}

// pathRow extends row with the shortest path of halves from the from node to the to node: the
// relationship list in rel's column and, when pathCol is not -1, the path.
func (mt *matcher) pathRow(row *mrow, from, to *nodeSpec, rel *relSpec, pathCol int, halves []*shardapi.Half) (*mrow, error) {
	nr := row.row.Extend(mt.scope.Len())
	start := nr[from.col].(*value.Node)
	path := &value.Path{Nodes: []*value.Node{start}}
	list := make([]any, len(halves))
	at := layout.ID(start.ID)
	for i, h := range halves {
		rv, err := mt.r.rel(h)
		if err != nil {
			return nil, err
		}
		list[i] = rv
		path.Rels = append(path.Rels, rv)
		at = otherEnd(rv, at) // the vertex after at along this relationship
		path.Nodes = append(path.Nodes, mt.r.ref(at))
	}
	path.Nodes[len(path.Nodes)-1] = nr[to.col].(*value.Node)
	nr[rel.col] = list
	if pathCol >= 0 {
		nr[pathCol] = path
	}
	return &mrow{row: nr, origin: row.origin, used: row.used}, nil
}

// otherEnd is the end of relationship r that is not at (either, for a loop).
func otherEnd(r *value.Relationship, at layout.ID) layout.ID {
	if layout.ID(r.Start) == at {
		return layout.ID(r.End)
	}
	return layout.ID(r.Start)
}
