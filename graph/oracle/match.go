package oracle

import (
	"slices"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/value"
)

// match runs MATCH and OPTIONAL MATCH: every way the clause's patterns fit the graph
// consistently with each input row, filtered by WHERE. Within the clause's patterns a
// relationship is used at most once (openCypher's relationship isomorphism); nodes may
// repeat. OPTIONAL MATCH keeps a row that found nothing, with its new variables null.
func (ev *evaluator) match(c *cypher.Match, rows []row, sc scope) ([]row, scope, error) {
	vars, err := patternVars(c.Patterns, sc)
	if err != nil {
		return nil, nil, err
	}
	nsc := sc.add(vars...)
	for _, p := range c.Patterns {
		if err := checkPatternExprs(p, nsc); err != nil {
			return nil, nil, err
		}
	}
	if c.Where != nil {
		if err := checkVars(c.Where, nsc); err != nil {
			return nil, nil, err
		}
	}
	var out []row
	for _, r := range rows {
		found := false
		err := ev.matchPatterns(c.Patterns, r, func(m row) error {
			if c.Where != nil {
				ok, err := ev.truth(c.Where, m)
				if err != nil || !ok {
					return err
				}
			}
			found = true
			out = append(out, m)
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		if !found && c.Optional {
			m := r.clone()
			for _, v := range vars {
				if _, bound := m[v]; !bound {
					m[v] = nil
				}
			}
			out = append(out, m)
		}
	}
	return out, nsc, nil
}

// patternVars returns the variables patterns name, in order, and refuses one name used
// for two kinds of thing (a node and a relationship, a path and a node, ...).
func patternVars(pats []*cypher.Pattern, sc scope) ([]string, error) {
	kinds := map[string]string{}
	var vars []string
	note := func(name, kind string, pos cypher.Pos) error {
		if name == "" {
			return nil
		}
		if k, ok := kinds[name]; ok && (k != kind || kind != "node") {
			return errAt(pos, "variable %s is already bound as a %s", name, k)
		}
		if kind == "path" && sc.has(name) {
			return errAt(pos, "variable %s is already declared", name)
		}
		kinds[name] = kind
		vars = append(vars, name)
		return nil
	}
	for _, p := range pats {
		for _, n := range p.Nodes() {
			if err := note(n.Var, "node", n.Pos); err != nil {
				return nil, err
			}
		}
		for _, rp := range p.Rels() {
			if err := note(rp.Var, "relationship", rp.Pos); err != nil {
				return nil, err
			}
		}
		if err := note(p.PathVar, "path", p.Pos); err != nil {
			return nil, err
		}
	}
	return scope(nil).add(vars...), nil
}

// checkPatternExprs checks the variables of a pattern's property maps.
func checkPatternExprs(p *cypher.Pattern, sc scope) error {
	for _, el := range p.Elements {
		var props cypher.Expr
		switch el := el.(type) {
		case *cypher.NodePattern:
			props = el.Props
		case *cypher.RelPattern:
			props = el.Props
		}
		if err := checkVars(props, sc); err != nil {
			return err
		}
	}
	return nil
}

// matcher extends one row with the bindings of a set of patterns, by backtracking.
type matcher struct {
	ev   *evaluator
	vars row            // the input row's variables and those bound so far
	used map[int64]bool // the relationships the clause's patterns use so far
}

// matchPatterns calls emit with each match of pats extending in, in a deterministic order.
func (ev *evaluator) matchPatterns(pats []*cypher.Pattern, in row, emit func(row) error) error {
	m := &matcher{ev: ev, vars: in.clone(), used: map[int64]bool{}}
	return m.patterns(pats, func() error { return emit(m.vars.clone()) })
}

func (m *matcher) patterns(pats []*cypher.Pattern, done func() error) error {
	if len(pats) == 0 {
		return done()
	}
	pat := pats[0]
	rest := func() error { return m.patterns(pats[1:], done) }
	if pat.Shortest != cypher.NotShortest {
		return m.shortest(pat, rest)
	}
	nodes := pat.Nodes()
	cands, err := m.candidates(nodes[0])
	if err != nil {
		return err
	}
	for _, id := range cands {
		err := m.node(nodes[0], id, func() error {
			return m.chain(pat, 0, []int64{id}, nil, rest)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// chain matches the pattern's relationships from the k-th on; nodes and rels are the path
// so far, which ends at the node matching Nodes()[k].
func (m *matcher) chain(pat *cypher.Pattern, k int, nodes []int64, rels []*Edge, rest func() error) error {
	patNodes, patRels := pat.Nodes(), pat.Rels()
	if k == len(patRels) {
		return m.bind(pat.PathVar, pathValue(nodes, rels), rest)
	}
	rp, np := patRels[k], patNodes[k+1]
	cur := nodes[len(nodes)-1]
	if rp.VarLength == nil {
		steps, err := m.steps(cur, rp)
		if err != nil {
			return err
		}
		for _, s := range steps {
			err := m.use([]*Edge{s.e}, func() error {
				return m.bind(rp.Var, relRef(s.e), func() error {
					return m.node(np, s.to, func() error {
						return m.chain(pat, k+1, append(slices.Clone(nodes), s.to), append(slices.Clone(rels), s.e), rest)
					})
				})
			})
			if err != nil {
				return err
			}
		}
		return nil
	}
	if _, bound := m.vars[rp.Var]; bound && rp.Var != "" {
		return errAt(rp.Pos, "variable-length relationship %s is already bound: not supported", rp.Var)
	}
	return m.varLength(rp, 0, cur, nil, nil, func(end int64, vnodes []int64, vrels []*Edge) error {
		list := make([]any, len(vrels))
		for i, e := range vrels {
			list[i] = relRef(e)
		}
		return m.bind(rp.Var, list, func() error {
			return m.node(np, end, func() error {
				return m.chain(pat, k+1, append(slices.Clone(nodes), vnodes...), append(slices.Clone(rels), vrels...), rest)
			})
		})
	})
}

// varLength walks every trail of Min to Max relationships from cur (depth first, shorter
// first), none used twice in the clause, and calls found with each trail's end, its nodes
// after cur and its relationships.
func (m *matcher) varLength(rp *cypher.RelPattern, depth int64, cur int64, vnodes []int64, vrels []*Edge,
	found func(end int64, vnodes []int64, vrels []*Edge) error) error {
	if depth >= rp.VarLength.Min {
		if err := found(cur, slices.Clone(vnodes), slices.Clone(vrels)); err != nil {
			return err
		}
	}
	if depth == rp.VarLength.Max {
		return nil
	}
	steps, err := m.steps(cur, rp)
	if err != nil {
		return err
	}
	for _, s := range steps {
		m.used[s.e.ID] = true
		err := m.varLength(rp, depth+1, s.to, append(vnodes, s.to), append(vrels, s.e), found)
		delete(m.used, s.e.ID)
		if err != nil {
			return err
		}
	}
	return nil
}

// step is one relationship from a node and the node it leads to.
type step struct {
	e  *Edge
	to int64
}

// steps lists the relationships a relationship pattern can take from the node id (its types,
// direction and properties; not yet used by the clause), in ascending id order: outgoing
// then incoming for an undirected pattern, a self-loop once.
func (m *matcher) steps(id int64, rp *cypher.RelPattern) ([]step, error) {
	g := m.ev.g
	var out []step
	if rp.Dir != cypher.DirIn {
		for _, eid := range g.out[id] {
			out = append(out, step{g.edges[eid], g.edges[eid].End})
		}
	}
	if rp.Dir != cypher.DirOut {
		for _, eid := range g.in[id] {
			if e := g.edges[eid]; rp.Dir == cypher.DirIn || e.Start != e.End {
				out = append(out, step{e, e.Start})
			}
		}
	}
	props, err := m.props(rp.Props)
	if err != nil {
		return nil, err
	}
	kept := out[:0]
	for _, s := range out {
		if !m.used[s.e.ID] && (len(rp.Types) == 0 || slices.Contains(rp.Types, s.e.Type)) && propsMatch(s.e.Props, props) {
			kept = append(kept, s)
		}
	}
	return kept, nil
}

// candidates are the nodes a pattern's first node can be: its variable's node if bound,
// else every vertex, ascending.
func (m *matcher) candidates(np *cypher.NodePattern) ([]int64, error) {
	if v, bound := m.vars[np.Var]; bound && np.Var != "" {
		switch n := v.(type) {
		case nil:
			return nil, nil
		case *value.Node:
			return []int64{int64(n.ID)}, nil
		}
		return nil, errAt(np.Pos, "variable %s is %s, not a node", np.Var, value.WithArticle(v))
	}
	return m.ev.g.vertexIDs(), nil
}

// node matches the vertex id against a node pattern (labels, properties, and the
// variable's binding), binds the variable and calls next.
func (m *matcher) node(np *cypher.NodePattern, id int64, next func() error) error {
	v, ok := m.ev.g.vertices[id]
	if !ok {
		return nil
	}
	for _, l := range np.Labels {
		if !hasLabel(v, l) {
			return nil
		}
	}
	props, err := m.props(np.Props)
	if err != nil || !propsMatch(v.Props, props) {
		return err
	}
	return m.bind(np.Var, nodeRef(id), next)
}

// props evaluates a pattern's property map (nil without one).
func (m *matcher) props(e cypher.Expr) (map[string]any, error) {
	if e == nil {
		return nil, nil
	}
	v, err := m.ev.eval(e, m.vars)
	if err != nil {
		return nil, err
	}
	pm, ok := v.(map[string]any)
	if !ok {
		return nil, errAt(e.Position(), "a pattern's properties must be a MAP, found %s", value.WithArticle(v))
	}
	return pm, nil
}

// propsMatch reports whether every wanted property equals the entity's (a null wanted
// value equals nothing).
func propsMatch(have, want map[string]any) bool {
	for k, w := range want {
		if value.Equal(have[k], w) != true {
			return false
		}
	}
	return true
}

// bind binds name to v for the duration of next: if name is already bound it must be the
// same entity (or, for a relationship list, the same list); "" binds nothing.
func (m *matcher) bind(name string, v any, next func() error) error {
	if name == "" {
		return next()
	}
	if have, bound := m.vars[name]; bound {
		if have == nil || value.Equal(have, v) != true {
			return nil
		}
		return next()
	}
	m.vars[name] = v
	err := next()
	delete(m.vars, name)
	return err
}

// use marks relationships used by the clause for the duration of next; a relationship
// already used fails the match.
func (m *matcher) use(es []*Edge, next func() error) error {
	for i, e := range es {
		if m.used[e.ID] {
			for _, u := range es[:i] {
				delete(m.used, u.ID)
			}
			return nil
		}
		m.used[e.ID] = true
	}
	err := next()
	for _, e := range es {
		delete(m.used, e.ID)
	}
	return err
}

func pathValue(nodes []int64, rels []*Edge) *value.Path {
	p := &value.Path{Nodes: make([]*value.Node, len(nodes)), Rels: make([]*value.Relationship, len(rels))}
	for i, id := range nodes {
		p.Nodes[i] = nodeRef(id)
	}
	for i, e := range rels {
		p.Rels[i] = relRef(e)
	}
	return p
}

func hasLabel(v *Vertex, l string) bool {
	_, ok := slices.BinarySearch(v.Labels, l)
	return ok
}
