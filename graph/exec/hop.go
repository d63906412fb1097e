package exec

import (
	"fmt"
	"slices"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/shardapi"
	"github.com/torua/torua/graph/value"
)

// dirs are the adjacency directions a relationship traversed in direction d reads on the
// vertex it leaves from.
func dirs(d cypher.Direction) []layout.Direction {
	switch d {
	case cypher.DirOut:
		return []layout.Direction{layout.Out}
	case cypher.DirIn:
		return []layout.Direction{layout.In}
	}
	return []layout.Direction{layout.Out, layout.In}
}

// expansion is one round of hops: the halves of each vertex, by vertex (or, asked for ends
// only, the distinct vertices reached).
type expansion struct {
	halves map[layout.ID][]*shardapi.Half
	ends   []layout.ID // ascending, distinct
	// passed is the set of source vertices that passed the round's source filter (nil when
	// there was none).
	passed map[layout.ID]bool
}

// endsOnly asks a round for the distinct vertices it reaches instead of the halves, without the
// edges exclude lists for each vertex.
type endsOnly struct {
	exclude map[layout.ID][]layout.ID
}

// expand runs one round: the vertices of ids, grouped by shard, one request per shard. With
// filter, only the vertices that pass it are expanded; with load, they are loaded too. With
// ends, the round finds the vertices reached, not the halves.
func (r *run) expand(ids []layout.ID, rel *relSpec, filter *shardapi.VertexFilter, load bool, ends *endsOnly) (*expansion, error) {
	out := &expansion{halves: map[layout.ID][]*shardapi.Half{}}
	if filter != nil || load {
		out.passed = map[layout.ID]bool{}
	}
	groups := r.byShard(ids)
	var ef *shardapi.PropFilter
	if len(rel.filter.Preds) > 0 {
		ef = &rel.filter
	}
	parts := make(map[int]*shardapi.ReadRequest, len(groups))
	for shard, ids := range groups {
		req := &shardapi.ExpandRequest{IDs: ids, SourceFilter: filter, Sources: load, Dirs: dirs(rel.dir),
			Types: rel.types, EdgeFilter: ef, Limit: expandLimit}
		if ends != nil {
			req.Ends = true
			for _, id := range req.IDs {
				if ex := ends.exclude[id]; len(ex) > 0 {
					if req.Exclude == nil {
						req.Exclude = map[layout.ID][]layout.ID{}
					}
					req.Exclude[id] = ex
				}
			}
		}
		parts[shard] = &shardapi.ReadRequest{Stale: r.x.cfg.Stale, Expand: req}
	}
	answers, err := r.reads(parts)
	if err != nil {
		return nil, err
	}
	if ends != nil {
		// Each shard's ends come sorted and distinct: merged, they need no set.
		runs := make([][]layout.ID, 0, len(answers))
		for _, res := range answers {
			runs = append(runs, res.Ends)
		}
		out.ends = layout.MergeIDs(runs)
	}
	for shard, res := range answers {
		if res.More {
			return nil, fmt.Errorf("%w: a hop from %d vertices of shard %d found more than %d relationships", ErrTooManyRows, len(groups[shard]), shard, expandLimit)
		}
		for _, h := range res.Halves {
			out.halves[h.Vertex] = append(out.halves[h.Vertex], h)
		}
		for _, id := range res.Passed {
			out.passed[id] = true
		}
		for _, v := range res.Sources {
			out.passed[v.ID] = true
			if load {
				if _, err := r.load(v); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// rel returns the relationship value of half h (shared per edge id, like nodes).
func (r *run) rel(h *shardapi.Half) (*value.Relationship, error) {
	if rel, ok := r.rels[h.Edge]; ok {
		return rel, nil
	}
	props, err := value.DecodeProps(h.Props)
	if err != nil {
		return nil, fmt.Errorf("edge %d: %w", h.Edge, err)
	}
	rel := &value.Relationship{ID: uint64(h.Edge), Type: h.Type, Start: uint64(h.Source()), End: uint64(h.Target()), Props: props}
	r.rels[h.Edge] = rel
	return rel, nil
}

// loopTwice reports whether h is the in-half of a loop met in an undirected traversal, which
// the loop's out-half on the same vertex already gives: a loop matches an undirected
// relationship once.
func loopTwice(h *shardapi.Half, d cypher.Direction) bool {
	return d == cypher.DirBoth && h.Dir == layout.In && h.Other == h.Vertex
}

// hop extends every row from node from along rel to node to.
func (mt *matcher) hop(from *nodeSpec, rel *relSpec, to *nodeSpec) error {
	if rel.varLen != nil {
		return mt.varHop(from, rel, to)
	}
	r := mt.r
	toBound := mt.bound(to)
	last := false
	if mt.set != nil {
		mt.set.hopsLeft--
		if last = mt.set.hopsLeft == 0; last {
			extra := []int{from.col}
			if toBound {
				extra = append(extra, to.col)
			}
			mt.rows = mergeRows(mt.rows, mt.keyCols(extra...), true)
		}
	}
	var ends *endsOnly
	if last && !toBound && !rel.keep {
		ends = mt.endsOnly(from, rel)
	}
	st := mt.state(from.col)
	ids := mt.ids(from.col)
	load := st.needed && !st.loaded
	exp, err := r.expand(ids, rel, st.pending, load, ends)
	if err != nil {
		return err
	}
	mt.passed(from.col, exp, load)
	if ends != nil {
		return mt.reachedEnds(exp, to)
	}
	// After the last hop of a MATCH whose rows are a set, rows that agree on the columns
	// read later (and those still to check) are one.
	var seen map[string]bool
	var dedup []int
	var key []byte
	if last {
		seen = map[string]bool{}
		if to.hasFilter() || to.needed {
			dedup = mt.keyCols(to.col)
		} else {
			dedup = mt.keyCols()
		}
	}
	var out []*mrow
	for _, row := range mt.rows {
		id, ok := nodeID(row.row[from.col])
		if !ok {
			continue
		}
		for _, h := range exp.halves[id] {
			if loopTwice(h, rel.dir) {
				continue
			}
			if slices.Contains(row.used, h.Edge) {
				continue
			}
			if rel.bound {
				v := row.row[rel.col]
				want, ok := v.(*value.Relationship)
				if !ok && v != nil {
					return errorf(rel.at, "variable %s is %s, not a relationship", rel.name, value.WithArticle(v))
				}
				if !ok || want.ID != uint64(h.Edge) {
					continue
				}
			}
			if toBound {
				if other, ok := nodeID(row.row[to.col]); !ok || other != h.Other {
					continue
				}
			}
			nr := row.row.Extend(mt.scope.Len())
			if rel.keep {
				rv, err := r.rel(h)
				if err != nil {
					return err
				}
				nr[rel.col] = rv
			}
			if !toBound {
				nr[to.col] = r.ref(h.Other)
			}
			if last {
				m := &mrow{row: nr, origin: row.origin}
				if key = rowKey(key[:0], m, dedup); !seen[string(key)] {
					seen[string(key)] = true
					out = append(out, m)
				}
				continue
			}
			out = append(out, &mrow{row: nr, origin: row.origin, used: append(slices.Clip(row.used), h.Edge)})
			if mt.set != nil {
				mt.set.edges[h.Edge] = [2]layout.ID{h.Source(), h.Target()}
			}
		}
		if err := r.checkRows(len(out)); err != nil {
			return err
		}
	}
	mt.rows = out
	mt.reached(to, toBound)
	return nil
}

// ids are the distinct vertex ids of a node column over the rows.
func (mt *matcher) ids(col int) []layout.ID {
	seen := map[layout.ID]bool{}
	var out []layout.ID
	for _, row := range mt.rows {
		if id, ok := nodeID(row.row[col]); ok && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// passed applies an expansion's source filter to the rows: a row whose vertex did not pass
// is dropped, and a loaded vertex replaces its reference.
func (mt *matcher) passed(col int, exp *expansion, load bool) {
	st := mt.state(col)
	if exp.passed == nil {
		return
	}
	mt.rows = slices.DeleteFunc(mt.rows, func(row *mrow) bool {
		id, ok := nodeID(row.row[col])
		return !ok || !exp.passed[id]
	})
	st.pending = nil
	if load {
		for _, row := range mt.rows {
			id, _ := nodeID(row.row[col])
			row.row[col] = mt.r.nodes[id]
		}
		st.loaded = true
	}
}

// reached records the state of a node column a hop bound: references, to check against the
// node's filter and load if needed.
func (mt *matcher) reached(to *nodeSpec, wasBound bool) {
	if wasBound {
		if to.hasFilter() {
			mt.require(to.col, &to.filter)
		}
		if to.needed {
			mt.state(to.col).needed = true
		}
		return
	}
	st := &colState{needed: to.needed}
	if to.hasFilter() {
		f := to.filter
		st.pending = &f
	}
	mt.cols[to.col] = st
}

// varHop extends every row along a variable-length relationship: level by level, one round
// per level over every row's paths, each relationship at most once per row.
func (mt *matcher) varHop(from *nodeSpec, rel *relSpec, to *nodeSpec) error {
	r := mt.r
	type state struct {
		row  *mrow
		path []any // *value.Relationship
		at   layout.ID
	}
	st := mt.state(from.col)
	toBound := mt.bound(to)
	var out []*mrow
	emit := func(s *state) {
		if toBound {
			if other, ok := nodeID(s.row.row[to.col]); !ok || other != s.at {
				return
			}
		}
		nr := s.row.row.Extend(mt.scope.Len())
		nr[rel.col] = slices.Clone(s.path)
		if rel.reverse {
			slices.Reverse(nr[rel.col].([]any)) // in the pattern's order, from its left node
		}
		if !toBound {
			nr[to.col] = r.ref(s.at)
		}
		used := slices.Clip(s.row.used)
		for _, rv := range s.path {
			used = append(used, layout.ID(rv.(*value.Relationship).ID))
		}
		out = append(out, &mrow{row: nr, origin: s.row.origin, used: used})
	}
	// Level 0: the rows themselves, once the source filter has been checked.
	var states []*state
	if st.pending != nil || (st.needed && !st.loaded) {
		if err := mt.verify(map[int]*colState{from.col: st}); err != nil {
			return err
		}
	}
	for _, row := range mt.rows {
		if id, ok := nodeID(row.row[from.col]); ok {
			states = append(states, &state{row: row, at: id})
		}
	}
	if rel.varLen.Min == 0 {
		for _, s := range states {
			emit(s)
		}
	}
	for level := int64(1); level <= rel.varLen.Max && len(states) > 0; level++ {
		ids := make([]layout.ID, 0, len(states))
		for _, s := range states {
			ids = append(ids, s.at)
		}
		exp, err := r.expand(ids, rel, nil, false, nil)
		if err != nil {
			return err
		}
		var next []*state
		for _, s := range states {
			for _, h := range exp.halves[s.at] {
				if loopTwice(h, rel.dir) {
					continue
				}
				if slices.Contains(s.row.used, h.Edge) || slices.ContainsFunc(s.path, func(v any) bool {
					return v.(*value.Relationship).ID == uint64(h.Edge)
				}) {
					continue
				}
				rv, err := r.rel(h)
				if err != nil {
					return err
				}
				ns := &state{row: s.row, path: append(slices.Clip(s.path), rv), at: h.Other}
				next = append(next, ns)
				if level >= rel.varLen.Min {
					emit(ns)
				}
			}
			if err := r.checkRows(len(next) + len(out)); err != nil {
				return err
			}
		}
		states = next
	}
	mt.rows = out
	mt.reached(to, toBound)
	return nil
}

// verify checks the pending filters of the given columns and loads the needed ones, in one
// round: one request per shard and column.
func (mt *matcher) verify(cols map[int]*colState) error {
	r := mt.r
	type job struct {
		shard int
		col   int
		ids   []layout.ID
	}
	var jobs []job
	for col, st := range cols {
		if st.pending == nil && (st.loaded || !st.needed) {
			continue
		}
		for shard, ids := range r.byShard(mt.ids(col)) {
			for i := 0; i < len(ids); i += batchSize {
				jobs = append(jobs, job{shard: shard, col: col, ids: ids[i:min(i+batchSize, len(ids))]})
			}
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	passed := map[int]map[layout.ID]bool{}
	for col := range cols {
		passed[col] = map[layout.ID]bool{}
	}
	// One round per job of each shard (one, unless several columns or more than batchSize
	// vertices fall on a shard); each round's parts go one request per node (run.reads).
	for len(jobs) > 0 {
		parts := map[int]*shardapi.ReadRequest{}
		taken := map[int]job{}
		var rest []job
		for _, j := range jobs {
			if _, dup := taken[j.shard]; dup {
				rest = append(rest, j)
				continue
			}
			taken[j.shard] = j
			parts[j.shard] = &shardapi.ReadRequest{Stale: r.x.cfg.Stale,
				Vertices: &shardapi.VerticesRequest{IDs: j.ids, Filter: cols[j.col].pending}}
		}
		answers, err := r.reads(parts)
		if err != nil {
			return err
		}
		for shard, res := range answers {
			j := taken[shard]
			for _, v := range res.Vertices {
				passed[j.col][v.ID] = true
				if _, err := r.load(v); err != nil {
					return err
				}
			}
		}
		jobs = rest
	}
	for col, st := range cols {
		if st.pending == nil && (st.loaded || !st.needed) {
			continue
		}
		mt.rows = slices.DeleteFunc(mt.rows, func(row *mrow) bool {
			id, ok := nodeID(row.row[col])
			return !ok || !passed[col][id]
		})
		for _, row := range mt.rows {
			id, _ := nodeID(row.row[col])
			row.row[col] = r.nodes[id]
		}
		st.pending, st.loaded = nil, true
	}
	return nil
}

// settle ends the MATCH's rounds: the nodes still to check or load are, in one round.
func (mt *matcher) settle() error {
	return mt.verify(mt.cols)
}
