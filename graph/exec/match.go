package exec

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/shardapi"
	"github.com/torua/torua/graph/value"
)

// MATCH: each pattern is anchored at its cheapest node (a bound variable, a primary key, an
// index, a label scan, a full scan) and expanded from there, hop by hop, in both directions.
// A hop is one round: every row's current vertex is grouped by shard, and each shard gets one
// request with all of its vertices. A node reached by a hop is known by id only; its labels and
// properties are checked (and loaded, when a later clause reads them) in the next hop's
// request, which reads the vertices it expands anyway, or in one last round.

// hidden is the prefix of the columns a MATCH uses for anonymous nodes and relationships; a
// variable's name never holds a NUL.
const hidden = "\x00"

// mrow is a row being matched: its origin (the input row it came from, for OPTIONAL MATCH) and
// the relationships this MATCH has bound in it (each at most once, as openCypher requires).
type mrow struct {
	row    Row
	origin int
	used   []layout.ID
}

// nodeSpec is what a node of a pattern asks: its column, its labels and the predicates the
// nodes check, and whether a later clause reads it whole (then it is loaded).
type nodeSpec struct {
	col    int
	name   string
	filter shardapi.VertexFilter
	needed bool
}

func (n *nodeSpec) hasFilter() bool { return len(n.filter.Labels) > 0 || len(n.filter.Props.Preds) > 0 }

// relSpec is what a relationship of a pattern asks.
type relSpec struct {
	col    int
	types  []string
	dir    cypher.Direction
	filter shardapi.PropFilter
	varLen *cypher.Range
	// keep is true when the relationship's value is bound (a named variable, or part of a
	// named path); an anonymous one only takes part in relationship uniqueness.
	keep bool
	// reverse is set when the relationship is traversed from its right node: a variable
	// length's list is then built from its end, and is reversed to the pattern's order.
	reverse bool
	// bound is set when an earlier clause bound the relationship's variable (name): the hop
	// takes that relationship only.
	bound bool
	name  string
	at    cypher.Pos
}

// colState is what a MATCH knows of a node column's values in every row.
type colState struct {
	// pending is the filter the column's vertices still have to pass (nil: none).
	pending *shardapi.VertexFilter
	// loaded is true when the values are loaded vertices.
	loaded bool
	// needed is true when the vertices must be loaded by the end of the MATCH.
	needed bool
}

// matcher is the state of one MATCH clause.
type matcher struct {
	r      *run
	scope  *Scope
	input  *Scope // the scope before the MATCH
	rows   []*mrow
	cols   map[int]*colState
	nodes  map[string]*nodeSpec // by variable (named and hidden)
	pushed map[string][]*pushed
	// residual are the WHERE conjuncts the router evaluates after the MATCH.
	residual []cypher.Expr
	// prefetched are candidates found ahead, for patterns of one node found in one round.
	prefetched map[*nodeSpec][]*value.Node
	// onPath are the relationship variables of named paths.
	onPath map[string]bool
	// relPreds are each relationship's predicates the nodes check (its property map and its
	// pushed WHERE conjuncts), worked out once by plan.
	relPreds map[string][]shardapi.Pred
	// boundRels are the relationship variables an earlier clause bound (relSpec.bound).
	boundRels map[string]bool
	// set is non-nil when the clause after the MATCH does not count rows (rowset.go).
	set *rowSet
	// pred is the pattern predicate the matcher computes, nil for a MATCH clause
	// (predicate.go): its variables are its own, and only its WHERE reads them.
	pred *cypher.PatternPredicate
}

func (r *run) match(rows []Row, scope *Scope, m *cypher.Match) ([]Row, *Scope, error) {
	mt := r.newMatcher(scope)
	for i, row := range rows {
		mt.rows = append(mt.rows, &mrow{row: row, origin: i})
	}
	out, err := mt.matchRows(m)
	if err != nil {
		return nil, nil, err
	}
	if m.Optional {
		out = mt.optional(rows, out)
	}
	return mt.project(out)
}

// newMatcher returns a matcher of rows of scope, which the caller then gives it.
func (r *run) newMatcher(scope *Scope) *matcher {
	return &matcher{r: r, scope: scope, input: scope, cols: map[int]*colState{}, nodes: map[string]*nodeSpec{},
		pushed: map[string][]*pushed{}, prefetched: map[*nodeSpec][]*value.Node{}, onPath: map[string]bool{},
		relPreds: map[string][]shardapi.Pred{}, boundRels: map[string]bool{}}
}

// matchRows matches m's patterns in every row and returns the matches its WHERE is true of.
func (mt *matcher) matchRows(m *cypher.Match) ([]*mrow, error) {
	if err := mt.plan(m); err != nil {
		return nil, err
	}
	mt.planRowSet(m)
	if err := mt.prefetch(mt.loneNodes(m.Patterns)); err != nil {
		return nil, err
	}
	for _, p := range m.Patterns {
		var err error
		if p.Shortest != cypher.NotShortest {
			err = mt.shortest(p)
		} else {
			err = mt.pattern(p)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := mt.settle(); err != nil {
		return nil, err
	}
	if err := mt.paths(m.Patterns); err != nil {
		return nil, err
	}
	out, err := mt.filter()
	if err != nil {
		return nil, err
	}
	if mt.set != nil && !slices.Contains(mt.set.keep, mt.set.distinct) {
		out = mergeRows(out, mt.set.keep, false)
	}
	return out, nil
}

// loneNodes are the patterns of one unbound node named nowhere else in the clause: their
// candidates do not depend on each other, so they are found together, in one round.
func (mt *matcher) loneNodes(patterns []*cypher.Pattern) []*nodeSpec {
	mentions := map[string]int{}
	for _, p := range patterns {
		for _, n := range p.Nodes() {
			mentions[mt.nodeVar(n)]++
		}
	}
	var out []*nodeSpec
	for _, p := range patterns {
		if len(p.Elements) != 1 || p.Shortest != cypher.NotShortest {
			continue
		}
		s := mt.nodes[mt.nodeVar(p.Nodes()[0])]
		if mentions[s.name] == 1 && !mt.bound(s) {
			out = append(out, s)
		}
	}
	if len(out) < 2 {
		return nil
	}
	return out
}

// plan names the columns of the clause's variables, splits WHERE into what the nodes check
// and what the router does, and works out which nodes must be loaded.
func (mt *matcher) plan(m *cypher.Match) error {
	// A conjunct is pushed down to a node or relationship of the patterns only: one on a
	// path, or on a variable the query never binds, is evaluated (and refused) as written.
	named := map[string]bool{}
	for _, p := range m.Patterns {
		for _, el := range p.Elements {
			switch el := el.(type) {
			case *cypher.NodePattern:
				named[el.Var] = el.Var != ""
			case *cypher.RelPattern:
				named[el.Var] = el.Var != ""
			}
		}
	}
	for _, c := range conjuncts(m.Where) {
		p, ok, err := mt.r.pushable(c)
		if err != nil {
			return err
		}
		if ok && !mt.input.Has(p.Var) && named[p.Var] {
			mt.pushed[p.Var] = append(mt.pushed[p.Var], p)
		} else {
			mt.residual = append(mt.residual, c)
		}
	}
	for _, p := range m.Patterns {
		for _, el := range p.Elements {
			var err error
			switch el := el.(type) {
			case *cypher.NodePattern:
				err = mt.addNode(el)
			case *cypher.RelPattern:
				err = mt.addRel(el)
			}
			if err != nil {
				return err
			}
		}
		if p.PathVar != "" {
			for _, rel := range p.Rels() {
				mt.onPath[relVar(rel)] = true
			}
			if mt.scope.Has(p.PathVar) {
				return errorf(p.Pos, "variable %s is already bound", p.PathVar)
			}
			mt.scope, _ = mt.scope.With(p.PathVar)
		}
	}
	// A property map that reads another variable (b {name: a.name}) joins the residual WHERE
	// when its node is added: the nodes it reads, added before or after, are loaded too.
	for _, spec := range mt.nodes {
		spec.needed = spec.needed || mt.readsWhole(spec.name)
	}
	// Nodes on a path a later clause reads whole are loaded too.
	for _, p := range m.Patterns {
		if p.PathVar != "" && mt.readsWhole(p.PathVar) {
			for _, n := range p.Nodes() {
				mt.nodes[mt.nodeVar(n)].needed = true
			}
		}
	}
	return nil
}

// nodeVar is the variable of node pattern n (a hidden one for an anonymous node, named on the
// pattern the first time it is met).
func (mt *matcher) nodeVar(n *cypher.NodePattern) string {
	if n.Var != "" {
		return n.Var
	}
	return hidden + "n" + strconv.Itoa(n.Pos.Line) + ":" + strconv.Itoa(n.Pos.Column)
}

func relVar(rel *cypher.RelPattern) string {
	if rel.Var != "" {
		return rel.Var
	}
	return hidden + "r" + strconv.Itoa(rel.Pos.Line) + ":" + strconv.Itoa(rel.Pos.Column)
}

func (mt *matcher) addNode(n *cypher.NodePattern) error {
	name := mt.nodeVar(n)
	spec, ok := mt.nodes[name]
	if !ok {
		var col int
		mt.scope, col = mt.scope.With(name)
		spec = &nodeSpec{col: col, name: name}
		mt.nodes[name] = spec
		if n.Var != "" {
			spec.needed = mt.readsWhole(name)
			for _, p := range mt.pushed[name] {
				spec.filter.Labels = append(spec.filter.Labels, p.Labels...)
				if p.Pred != nil {
					spec.filter.Props.Preds = append(spec.filter.Props.Preds, *p.Pred)
				}
			}
		}
	}
	spec.filter.Labels = append(spec.filter.Labels, n.Labels...)
	preds, err := mt.inlineProps(name, n.Props)
	if err != nil {
		return err
	}
	spec.filter.Props.Preds = append(spec.filter.Props.Preds, preds...)
	return nil
}

func (mt *matcher) addRel(rel *cypher.RelPattern) error {
	name := relVar(rel)
	switch {
	case mt.input.Has(name) && rel.VarLength != nil:
		return errorf(rel.Pos, "variable-length relationship %s is bound before this MATCH: matching a bound list of relationships is not supported by Torua", name)
	case mt.input.Has(name) && !mt.boundRels[name]:
		// Bound by an earlier clause: the pattern matches that relationship (the hop checks it).
		mt.boundRels[name] = true
	case mt.scope.Has(name):
		return errorf(rel.Pos, "relationship variable %s is already bound: a relationship appears once in a MATCH", name)
	default:
		mt.scope, _ = mt.scope.With(name)
	}
	preds, err := mt.inlineProps(name, rel.Props)
	if err != nil {
		return err
	}
	for _, p := range mt.pushed[name] {
		if len(p.Labels) > 0 {
			return errorf(rel.Pos, "%s is a relationship: it has a type, not labels", name)
		}
		preds = append(preds, *p.Pred)
	}
	if rel.VarLength != nil && len(preds) > 0 && rel.Var != "" && len(mt.pushed[name]) > 0 {
		// A predicate on a variable-length relationship's variable reads its list: the router
		// evaluates it.
		return errorf(rel.Pos, "a WHERE predicate on the properties of variable-length relationship %s is not supported: filter with a property map", name)
	}
	mt.relPreds[name] = preds
	return nil
}

// inlineProps turns a pattern's property map into predicates: constant values become node-side
// equality checks; the others (reading other variables) join the residual WHERE.
func (mt *matcher) inlineProps(name string, props cypher.Expr) ([]shardapi.Pred, error) {
	if props == nil {
		return nil, nil
	}
	var preds []shardapi.Pred
	switch p := props.(type) {
	case *cypher.MapLit:
		for _, it := range p.Items {
			if constant(it.Value) {
				v, err := mt.r.env.Eval(it.Value, NewScope(), nil)
				if err != nil {
					return nil, err
				}
				preds = append(preds, shardapi.Pred{Key: it.Key, Op: shardapi.OpEq, Value: value.Wire{V: v}})
				continue
			}
			mt.residual = append(mt.residual, &cypher.Binary{At: it.At, Op: cypher.OpEq,
				L: &cypher.Property{At: it.At, Expr: &cypher.Variable{At: it.At, Name: name}, Key: it.Key}, R: it.Value})
		}
	default:
		v, err := mt.r.env.Eval(props, NewScope(), nil)
		if err != nil {
			return nil, err
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, errorf(props.Position(), "a pattern's properties must be a map, got %s", value.TypeName(v))
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			preds = append(preds, shardapi.Pred{Key: k, Op: shardapi.OpEq, Value: value.Wire{V: m[k]}})
		}
	}
	return preds, nil
}

// relSpecOf is the spec of relationship rel as traversed from its left node (reverse: from
// its right node).
func (mt *matcher) relSpecOf(rel *cypher.RelPattern, reverse bool) *relSpec {
	name := relVar(rel)
	col, _ := mt.scope.Index(name)
	s := &relSpec{col: col, types: rel.Types, dir: rel.Dir, varLen: rel.VarLength, keep: rel.Var != "" || mt.onPath[name],
		reverse: reverse, bound: mt.boundRels[name], name: name, at: rel.Pos}
	if reverse {
		switch rel.Dir {
		case cypher.DirOut:
			s.dir = cypher.DirIn
		case cypher.DirIn:
			s.dir = cypher.DirOut
		}
	}
	s.filter.Preds = mt.relPreds[name]
	return s

}

// bound reports whether the node column already has values in the rows.
func (mt *matcher) bound(spec *nodeSpec) bool {
	if mt.input.Has(spec.name) {
		return true
	}
	_, ok := mt.cols[spec.col]
	return ok
}

// pattern matches one (non-shortest) pattern in every row.
func (mt *matcher) pattern(p *cypher.Pattern) error {
	nodes, rels := p.Nodes(), p.Rels()
	specs := make([]*nodeSpec, len(nodes))
	for i, n := range nodes {
		specs[i] = mt.nodes[mt.nodeVar(n)]
	}
	a := mt.anchorOf(specs)
	if err := mt.bindAnchor(specs[a]); err != nil {
		return err
	}
	for i := a; i < len(rels); i++ {
		if err := mt.hop(specs[i], mt.relSpecOf(rels[i], false), specs[i+1]); err != nil {
			return err
		}
	}
	for i := a; i > 0; i-- {
		if err := mt.hop(specs[i], mt.relSpecOf(rels[i-1], true), specs[i-1]); err != nil {
			return err
		}
	}
	return nil
}

// anchor costs, cheapest first.
const (
	costBound = iota
	costKey
	costIndex
	costLabel
	costScan
)

// anchorOf picks the node to start a pattern from: the cheapest to find.
func (mt *matcher) anchorOf(specs []*nodeSpec) int {
	best, bestCost := 0, costScan+1
	for i, s := range specs {
		if c := mt.cost(s); c < bestCost {
			best, bestCost = i, c
		}
	}
	return best
}

func (mt *matcher) cost(s *nodeSpec) int {
	if mt.bound(s) {
		return costBound
	}
	if _, ok := mt.keyLookup(s); ok {
		return costKey
	}
	if _, _, ok := mt.indexLookup(s); ok {
		return costIndex
	}
	if len(s.filter.Labels) > 0 {
		return costLabel
	}
	return costScan
}

// keyLookup returns the id a node's primary-key equality names.
func (mt *matcher) keyLookup(s *nodeSpec) (layout.ID, bool) {
	for _, l := range s.filter.Labels {
		pk, ok := mt.r.cat.PrimaryKeyOf(l)
		if !ok {
			continue
		}
		for _, p := range s.filter.Props.Preds {
			if p.Key == pk && p.Op == shardapi.OpEq && p.Value.V != nil {
				if id, err := layout.PrimaryKeyID(mt.r.graph, l, p.Value.V); err == nil {
					return id, true
				}
			}
		}
	}
	return 0, false
}

// indexLookup returns the ready index and the range a node's predicates give it.
func (mt *matcher) indexLookup(s *nodeSpec) (shardapi.Index, shardapi.Range, bool) {
	for _, l := range s.filter.Labels {
		for _, p := range s.filter.Props.Preds {
			x, ok := mt.r.cat.IndexOn(l, p.Key)
			if !ok || x.State != shardapi.IndexReady || p.Value.V == nil {
				continue
			}
			switch p.Op {
			case shardapi.OpEq:
				return x, shardapi.Range{Eq: p.Value}, true
			case shardapi.OpLt, shardapi.OpLe:
				return x, shardapi.Range{Upper: p.Value, UpperInclusive: p.Op == shardapi.OpLe}, true
			case shardapi.OpGt, shardapi.OpGe:
				return x, shardapi.Range{Lower: p.Value, LowerInclusive: p.Op == shardapi.OpGe}, true
			}
		}
	}
	return shardapi.Index{}, shardapi.Range{}, false
}

// bindAnchor gives every row its candidates for the anchor node: a bound node is checked
// against the pattern's filter when it has one; an unbound one is looked up once and joined
// with every row.
func (mt *matcher) bindAnchor(s *nodeSpec) error {
	if mt.bound(s) {
		if s.hasFilter() {
			mt.require(s.col, &s.filter)
		}
		if s.needed {
			mt.state(s.col).needed = true
		}
		return nil
	}
	if _, ok := mt.prefetched[s]; !ok && mt.cost(s) == costKey {
		// A primary key names the vertex: bind it by id and let the next request to its shard
		// (the first hop's, or the last round's) check and read it: a round saved.
		id, _ := mt.keyLookup(s)
		ref := mt.r.ref(id)
		for _, row := range mt.rows {
			row.row = row.row.Extend(mt.scope.Len())
			row.row[s.col] = ref
		}
		f := s.filter
		mt.cols[s.col] = &colState{pending: &f, needed: s.needed}
		return nil
	}
	cands, err := mt.candidates(s)
	if err != nil {
		return err
	}
	var out []*mrow
	for _, row := range mt.rows {
		for _, v := range cands {
			if len(out) >= mt.r.x.cfg.MaxRows {
				return mt.r.checkRows(len(out) + 1)
			}
			nr := row.row.Extend(mt.scope.Len())
			nr[s.col] = v
			out = append(out, &mrow{row: nr, origin: row.origin, used: row.used})
		}
	}
	mt.rows = out
	mt.cols[s.col] = &colState{loaded: true, needed: s.needed}
	return nil
}

// lookup is one request of a node's candidate lookup: shard's part of it.
type lookup struct {
	spec  *nodeSpec
	shard int
	req   *shardapi.ReadRequest
	found []*shardapi.Vertex
}

// lookups are the requests that find a pattern node's candidates on their own: one point
// read for a primary key, else one request per shard (an index lookup, a label or full scan).
func (mt *matcher) lookups(s *nodeSpec) []*lookup {
	r := mt.r
	filter := &s.filter
	stale := r.x.cfg.Stale
	switch mt.cost(s) {
	case costKey:
		id, _ := mt.keyLookup(s)
		return []*lookup{{spec: s, shard: r.x.c.ShardOf(r.graph, id), req: &shardapi.ReadRequest{Stale: stale,
			Vertices: &shardapi.VerticesRequest{IDs: []layout.ID{id}, Filter: filter}}}}
	case costIndex:
		x, rng, _ := mt.indexLookup(s)
		var out []*lookup
		for _, shard := range r.allShards() {
			out = append(out, &lookup{spec: s, shard: shard, req: &shardapi.ReadRequest{Stale: stale,
				Index: &shardapi.IndexRequest{Label: x.Label, Property: x.Property, Range: rng, Limit: r.x.cfg.MaxRows + 1, Fetch: true, Filter: filter}}})
		}
		return out
	}
	label := ""
	if len(s.filter.Labels) > 0 {
		label = s.filter.Labels[0]
	}
	var out []*lookup
	for _, shard := range r.allShards() {
		out = append(out, &lookup{spec: s, shard: shard, req: &shardapi.ReadRequest{Stale: stale,
			Scan: &shardapi.ScanRequest{Label: label, Limit: batchSize, Filter: filter}}})
	}
	return out
}

// run sends the lookup (a scan page by page) and keeps what it found.
func (l *lookup) run(ctx context.Context, r *run) error {
	for {
		res, err := r.x.c.Read(ctx, r.graph, l.shard, l.req)
		if err != nil {
			return err
		}
		l.found = append(l.found, res.Vertices...)
		l.found = append(l.found, res.Scanned...)
		if l.req.Scan == nil || !res.More || len(res.Scanned) == 0 {
			return nil
		}
		if len(l.found) > r.x.cfg.MaxRows {
			return r.checkRows(len(l.found))
		}
		next := *l.req.Scan
		next.After = res.Scanned[len(res.Scanned)-1].ID
		l.req = &shardapi.ReadRequest{Stale: l.req.Stale, Scan: &next}
	}
}

// prefetch finds the candidates of several pattern nodes in one round.
func (mt *matcher) prefetch(specs []*nodeSpec) error {
	var all []*lookup
	for _, s := range specs {
		all = append(all, mt.lookups(s)...)
	}
	if err := mt.r.parallel(len(all), func(ctx context.Context, i int) error { return all[i].run(ctx, mt.r) }); err != nil {
		return err
	}
	for _, s := range specs {
		var found []*shardapi.Vertex
		for _, l := range all {
			if l.spec == s {
				found = append(found, l.found...)
			}
		}
		if err := mt.r.checkRows(len(found)); err != nil {
			return err
		}
		slices.SortFunc(found, func(a, b *shardapi.Vertex) int { return compareIDs(a.ID, b.ID) })
		nodes := make([]*value.Node, 0, len(found))
		for _, v := range found {
			n, err := mt.r.load(v)
			if err != nil {
				return err
			}
			nodes = append(nodes, n)
		}
		mt.prefetched[s] = nodes
	}
	return nil
}

// candidates are the vertices a pattern node matches on its own: loaded and filtered.
func (mt *matcher) candidates(s *nodeSpec) ([]*value.Node, error) {
	if c, ok := mt.prefetched[s]; ok {
		delete(mt.prefetched, s)
		return c, nil
	}
	if err := mt.prefetch([]*nodeSpec{s}); err != nil {
		return nil, err
	}
	c := mt.prefetched[s]
	delete(mt.prefetched, s)
	return c, nil
}

func compareIDs(a, b layout.ID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// state returns the column's state, creating it for a column bound before this MATCH (loaded,
// as every clause leaves its nodes).
func (mt *matcher) state(col int) *colState {
	st, ok := mt.cols[col]
	if !ok {
		st = &colState{loaded: true}
		mt.cols[col] = st
	}
	return st
}

// require adds filter to what the column's vertices must pass.
func (mt *matcher) require(col int, f *shardapi.VertexFilter) {
	st := mt.state(col)
	if st.pending == nil {
		st.pending = &shardapi.VertexFilter{}
	}
	st.pending.Labels = append(st.pending.Labels, f.Labels...)
	st.pending.Props.Preds = append(st.pending.Props.Preds, f.Props.Preds...)
}

// load returns the shared *value.Node of v, updated to v.
func (r *run) load(v *shardapi.Vertex) (*value.Node, error) {
	props, err := value.DecodeProps(v.Props)
	if err != nil {
		return nil, fmt.Errorf("vertex %d: %w", v.ID, err)
	}
	r.inc[v.ID] = v.Incarnation
	n, ok := r.nodes[v.ID]
	if !ok {
		n = &value.Node{ID: uint64(v.ID)}
		r.nodes[v.ID] = n
	}
	if props == nil {
		props = map[string]any{} // loaded: never nil (see ref)
	}
	n.Labels = slices.Clone(v.Labels)
	n.Props = props
	return n, nil
}

// ref returns the node value for id: the loaded one, or a reference by id only (a node a
// later round checks or loads), which has nil Props (a loaded node never has).
func (r *run) ref(id layout.ID) *value.Node {
	if n, ok := r.nodes[id]; ok {
		return n
	}
	if n, ok := r.refs[id]; ok {
		return n
	}
	n := &value.Node{ID: uint64(id)}
	r.refs[id] = n
	return n
}

func nodeID(v any) (layout.ID, bool) {
	n, ok := v.(*value.Node)
	if !ok {
		return 0, false
	}
	return layout.ID(n.ID), true
}
