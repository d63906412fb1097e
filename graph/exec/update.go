package exec

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/shardapi"
	"github.com/torua/torua/graph/value"
)

// SET, REMOVE, DELETE and MERGE.

// entityChange accumulates a clause's changes to one vertex or relationship, in row order.
type change struct {
	node *value.Node
	rel  *value.Relationship
	m    *mutation
}

// changes collects a clause's mutations, one per row and item, keeping their order.
type changes struct {
	r    *run
	list []change
}

// vertex adds u, a change of n, and makes it in memory at once: openCypher applies SET and
// REMOVE item by item and row by row, so the clause's later items and rows read it
// (SET n.a = 1, n.b = n.a + 1). The shard applies the changes in the same order, and run
// replaces the node with the shard's answer.
func (c *changes) vertex(n *value.Node, u *shardapi.UpdateVertex) {
	n.Props = changedProps(n.Props, u.Replace, u.Set, u.Remove)
	for _, l := range u.AddLabels {
		if !slices.Contains(n.Labels, l) {
			n.Labels = append(slices.Clip(n.Labels), l)
		}
	}
	if len(u.RemoveLabels) > 0 {
		n.Labels = slices.DeleteFunc(slices.Clone(n.Labels), func(l string) bool { return slices.Contains(u.RemoveLabels, l) })
	}
	u.ID = layout.ID(n.ID)
	c.list = append(c.list, change{node: n, m: &mutation{shard: c.r.x.c.ShardOf(c.r.graph, u.ID), out: &shardapi.Outcome{},
		m: shardapi.Mutation{UpdateVertex: u}}})
}

// edge is vertex for a relationship.
func (c *changes) edge(rel *value.Relationship, u *shardapi.UpdateEdge) {
	rel.Props = changedProps(rel.Props, u.Replace, u.Set, u.Remove)
	u.ID, u.Src, u.Dst, u.Type = layout.ID(rel.ID), layout.ID(rel.Start), layout.ID(rel.End), rel.Type
	c.list = append(c.list, change{rel: rel, m: &mutation{shard: c.r.x.c.ShardOf(c.r.graph, u.Src), out: &shardapi.Outcome{},
		m: shardapi.Mutation{UpdateEdge: u}}})
}

// changedProps is props with a change made (value.ChangeProps), or props itself when the
// change holds none of its properties (a change of labels only).
func changedProps(props map[string]any, replace bool, set map[string]any, remove []string) map[string]any {
	if !replace && len(set) == 0 && len(remove) == 0 {
		return props
	}
	return value.ChangeProps(props, replace, set, remove)
}

// run applies the changes and updates the entities the rows hold.
func (c *changes) run() error {
	muts := make([]*mutation, len(c.list))
	for i, ch := range c.list {
		muts[i] = ch.m
	}
	if err := c.r.apply(muts); err != nil {
		return err
	}
	for _, ch := range c.list {
		switch {
		case ch.m.out.Vertex != nil:
			if _, err := c.r.load(ch.m.out.Vertex); err != nil {
				return err
			}
			if n := c.r.nodes[layout.ID(ch.node.ID)]; n != ch.node {
				*ch.node = *n // a reference a MATCH did not load
			}
		case ch.m.out.Half != nil:
			props, err := value.DecodeProps(ch.m.out.Half.Props)
			if err != nil {
				return err
			}
			ch.rel.Props = props
			if shared, ok := c.r.rels[ch.m.out.Half.Edge]; ok {
				shared.Props = props
			}
		}
	}
	return nil
}

// entity evaluates variable name in a row: a node, a relationship, or null (nothing to do).
func entity(pos cypher.Pos, name string, s *Scope, row Row) (*value.Node, *value.Relationship, error) {
	col, ok := s.Index(name)
	if !ok {
		return nil, nil, errorf(pos, "variable %s is not defined", name)
	}
	switch v := row[col].(type) {
	case nil:
		return nil, nil, nil
	case *value.Node:
		return v, nil, nil
	case *value.Relationship:
		return nil, v, nil
	}
	return nil, nil, errorf(pos, "%s is %s, not a node or relationship", name, value.WithArticle(row[col]))
}

func (r *run) set(rows []Row, s *Scope, items []cypher.SetItem) error {
	c := &changes{r: r}
	for _, row := range rows {
		if err := r.setRow(c, s, row, items); err != nil {
			return err
		}
	}
	return c.run()
}

func (r *run) setRow(c *changes, s *Scope, row Row, items []cypher.SetItem) error {
	for _, it := range items {
		switch it := it.(type) {
		case *cypher.SetProperty:
			n, rel, err := entity(it.Pos, it.Var, s, row)
			if err != nil || (n == nil && rel == nil) {
				return err
			}
			v, err := r.env.Eval(it.Value, s, row)
			if err != nil {
				return err
			}
			if v != nil {
				if err := value.CheckProperty(v); err != nil {
					return errorf(it.Value.Position(), "property %s: %v", it.Key, err)
				}
			}
			set := map[string]any{it.Key: v}
			r.stats.PropertiesSet++
			if n != nil {
				c.vertex(n, &shardapi.UpdateVertex{Set: set})
			} else {
				c.edge(rel, &shardapi.UpdateEdge{Set: set})
			}
		case *cypher.SetProperties:
			n, rel, err := entity(it.Pos, it.Var, s, row)
			if err != nil || (n == nil && rel == nil) {
				return err
			}
			props, err := r.props(it.Value, s, row)
			if err != nil {
				return err
			}
			r.stats.PropertiesSet += len(props)
			if n != nil {
				c.vertex(n, &shardapi.UpdateVertex{Set: props, Replace: !it.Merge})
			} else {
				c.edge(rel, &shardapi.UpdateEdge{Set: props, Replace: !it.Merge})
			}
		case *cypher.SetLabels:
			n, rel, err := entity(it.Pos, it.Var, s, row)
			if err != nil || (n == nil && rel == nil) {
				return err
			}
			if rel != nil {
				return errorf(it.Pos, "%s is a relationship: it has a type, not labels", it.Var)
			}
			for _, l := range it.Labels {
				if !hasLabel(n, l) {
					r.stats.LabelsAdded++
				}
			}
			c.vertex(n, &shardapi.UpdateVertex{AddLabels: it.Labels})
		}
	}
	return nil
}

func (r *run) remove(rows []Row, s *Scope, items []cypher.RemoveItem) error {
	c := &changes{r: r}
	for _, row := range rows {
		for _, it := range items {
			switch it := it.(type) {
			case *cypher.RemoveProperty:
				n, rel, err := entity(it.Pos, it.Var, s, row)
				if err != nil {
					return err
				}
				if n != nil {
					c.vertex(n, &shardapi.UpdateVertex{Remove: []string{it.Key}})
				} else if rel != nil {
					c.edge(rel, &shardapi.UpdateEdge{Remove: []string{it.Key}})
				}
			case *cypher.RemoveLabels:
				n, rel, err := entity(it.Pos, it.Var, s, row)
				if err != nil {
					return err
				}
				if rel != nil {
					return errorf(it.Pos, "%s is a relationship: it has a type, not labels", it.Var)
				}
				if n != nil {
					for _, l := range it.Labels {
						if hasLabel(n, l) {
							r.stats.LabelsRemoved++
						}
					}
					c.vertex(n, &shardapi.UpdateVertex{RemoveLabels: it.Labels})
				}
			}
		}
	}
	return c.run()
}

// delete runs DELETE and DETACH DELETE: the relationships first (one round), then the
// vertices (one more). A vertex that still has relationships is refused by its shard unless
// DETACH deletes them.
func (r *run) delete(rows []Row, s *Scope, d *cypher.Delete) error {
	var edges, verts []*mutation
	seenE, seenV := map[uint64]bool{}, map[uint64]bool{}
	addRel := func(rel *value.Relationship) {
		if seenE[rel.ID] {
			return
		}
		seenE[rel.ID] = true
		src := layout.ID(rel.Start)
		edges = append(edges, &mutation{shard: r.x.c.ShardOf(r.graph, src), out: &shardapi.Outcome{},
			m: shardapi.Mutation{DeleteEdge: &shardapi.DeleteEdge{ID: layout.ID(rel.ID), Src: src, Dst: layout.ID(rel.End), Type: rel.Type}}})
	}
	addNode := func(n *value.Node) {
		if seenV[n.ID] {
			return
		}
		seenV[n.ID] = true
		id := layout.ID(n.ID)
		verts = append(verts, &mutation{shard: r.x.c.ShardOf(r.graph, id), out: &shardapi.Outcome{},
			m: shardapi.Mutation{DeleteVertex: &shardapi.DeleteVertex{ID: id, Detach: d.Detach}}})
	}
	for _, row := range rows {
		for _, e := range d.Exprs {
			v, err := r.env.Eval(e, s, row)
			if err != nil {
				return err
			}
			switch v := v.(type) {
			case nil:
			case *value.Node:
				addNode(v)
			case *value.Relationship:
				addRel(v)
			case *value.Path:
				for _, rel := range v.Rels {
					addRel(rel)
				}
				for _, n := range v.Nodes {
					addNode(n)
				}
			default:
				return errorf(e.Position(), "DELETE deletes nodes, relationships and paths, not %s", value.WithArticle(v))
			}
		}
	}
	if err := r.apply(edges); err != nil {
		return err
	}
	for _, m := range edges {
		if m.out.Found {
			r.stats.RelationshipsDeleted++
		}
	}
	if err := r.apply(verts); err != nil {
		return err
	}
	// A relationship between two vertices both detached is removed once.
	detached := map[layout.ID]bool{}
	for _, m := range verts {
		if m.out.Found {
			r.stats.NodesDeleted++
		}
		for _, e := range m.out.Detached {
			detached[e] = true
		}
	}
	r.stats.RelationshipsDeleted += len(detached)
	// What the query deleted has no properties or labels for its later clauses.
	for id := range seenV {
		r.deleted[deletedKey{id: id}] = true
	}
	for id := range seenE {
		r.deleted[deletedKey{id: id, rel: true}] = true
	}
	for id := range detached {
		r.deleted[deletedKey{id: uint64(id), rel: true}] = true
	}
	return nil
}

// deletedKey names a vertex (rel false) or an edge the query deleted.
type deletedKey struct {
	id  uint64
	rel bool
}

// wasDeleted reports whether v is a node or relationship the query deleted (Env.Deleted).
func (r *run) wasDeleted(v any) bool {
	switch v := v.(type) {
	case *value.Node:
		return r.deleted[deletedKey{id: v.ID}]
	case *value.Relationship:
		return r.deleted[deletedKey{id: v.ID, rel: true}]
	}
	return false
}

// merge runs MERGE row by row (each row sees what the earlier ones created, as openCypher
// says): a single vertex whose label declares a primary key is one atomic conditional write
// on its shard; any other pattern is matched, and created whole when it is not found (not
// atomic against a concurrent MERGE of the same pattern: give its label a primary key).
func (r *run) merge(rows []Row, s *Scope, m *cypher.Merge) ([]Row, *Scope, error) {
	if els := m.Pattern.Elements; len(els) == 1 {
		if n, ok := els[0].(*cypher.NodePattern); ok && n.Var != "" && s.Has(n.Var) {
			return nil, nil, errorf(n.Pos, "variable %s is already bound: MERGE (%s) alone would only find it", n.Var, n.Var)
		}
	}
	var out []Row
	var outScope *Scope
	for _, row := range rows {
		got, gs, created, err := r.mergeRow(row, s, m.Pattern)
		if err != nil {
			return nil, nil, err
		}
		items := m.OnMatch
		if created {
			items = m.OnCreate
		}
		if len(items) > 0 {
			if err := r.set(got, gs, items); err != nil {
				return nil, nil, err
			}
		}
		out, outScope = append(out, got...), gs
		if err := r.checkRows(len(out)); err != nil {
			return nil, nil, err
		}
	}
	if outScope == nil { // no input rows
		outScope = s
		for _, n := range m.Pattern.Elements {
			switch el := n.(type) {
			case *cypher.NodePattern:
				if el.Var != "" {
					outScope, _ = outScope.With(el.Var)
				}
			case *cypher.RelPattern:
				if el.Var != "" {
					outScope, _ = outScope.With(el.Var)
				}
			}
		}
		if m.Pattern.PathVar != "" {
			outScope, _ = outScope.With(m.Pattern.PathVar)
		}
	}
	return out, outScope, nil
}

func (r *run) mergeRow(row Row, s *Scope, p *cypher.Pattern) ([]Row, *Scope, bool, error) {
	if nodes := p.Nodes(); len(nodes) == 1 && (nodes[0].Var == "" || !s.Has(nodes[0].Var)) {
		n := nodes[0]
		props, err := r.mergeProps(n.Props, s, row)
		if err != nil {
			return nil, nil, false, err
		}
		for _, l := range n.Labels {
			if _, ok := r.cat.PrimaryKeyOf(l); ok {
				return r.mergeKeyed(row, s, p, n, props)
			}
		}
	}
	// Match the pattern with this row's bindings; create it if it is not there. The
	// pattern's maps read the row, so they are evaluated into literals first.
	lit, err := r.literalPattern(p, s, row)
	if err != nil {
		return nil, nil, false, err
	}
	saved := r.at
	got, gs, err := r.match([]Row{row}, s, &cypher.Match{At: cypher.At{Pos: p.Pos}, Patterns: []*cypher.Pattern{lit}})
	r.at = saved
	if err != nil {
		return nil, nil, false, err
	}
	if len(got) > 0 {
		return got, gs, false, nil
	}
	created, cs, err := r.create([]Row{row}, s, []*cypher.Pattern{lit})
	return created, cs, true, err
}

// mergeKeyed merges a single vertex with a primary key: one conditional write.
func (r *run) mergeKeyed(row Row, s *Scope, p *cypher.Pattern, n *cypher.NodePattern, props map[string]any) ([]Row, *Scope, bool, error) {
	id, err := r.vertexID(n.Pos, n.Labels, props)
	if err != nil {
		return nil, nil, false, err
	}
	m := &mutation{shard: r.x.c.ShardOf(r.graph, id), out: &shardapi.Outcome{},
		m: shardapi.Mutation{CreateVertex: &shardapi.CreateVertex{ID: id, Labels: n.Labels, Props: props, Merge: true}}}
	if err := r.apply([]*mutation{m}); err != nil {
		return nil, nil, false, err
	}
	v, err := r.load(m.out.Vertex)
	if err != nil {
		return nil, nil, false, err
	}
	// A vertex found by its key must also have the pattern's other labels and properties.
	if m.out.Found {
		ok := true
		for _, l := range n.Labels {
			ok = ok && hasLabel(v, l)
		}
		for k, x := range props {
			ok = ok && value.Equal(v.Props[k], x) == true
		}
		if !ok {
			return nil, nil, false, errorf(n.Pos, "MERGE found vertex %d by its primary key, but it does not have every label and property of the pattern", id)
		}
	} else {
		r.stats.NodesCreated++
		r.stats.LabelsAdded += len(n.Labels)
		r.stats.PropertiesSet += countSet(props)
	}
	out := row
	scope := s
	if n.Var != "" {
		var col int
		scope, col = s.With(n.Var)
		out = row.Extend(scope.Len())
		out[col] = v
	}
	if p.PathVar != "" {
		var col int
		scope, col = scope.With(p.PathVar)
		out = out.Extend(scope.Len())
		out[col] = &value.Path{Nodes: []*value.Node{v}}
	}
	return []Row{out}, scope, !m.out.Found, nil
}

// mergeProps is props for a MERGE pattern, which refuses a null value: {num: null} can
// never match (null equals nothing), so a MERGE would create a vertex at every run.
func (r *run) mergeProps(e cypher.Expr, s *Scope, row Row) (map[string]any, error) {
	props, err := r.props(e, s, row)
	if err != nil {
		return nil, err
	}
	null, found := "", false // the first key with a null value, for a message that does not vary
	for k, v := range props {
		if v == nil && (!found || k < null) {
			null, found = k, true
		}
	}
	if found {
		return nil, errorf(e.Position(), "cannot MERGE with a null property value (%s)", null)
	}
	return props, nil
}

// literalPattern copies p with its property maps evaluated in row.
func (r *run) literalPattern(p *cypher.Pattern, s *Scope, row Row) (*cypher.Pattern, error) {
	out := *p
	out.Elements = make([]cypher.Element, len(p.Elements))
	lit := func(e cypher.Expr) (cypher.Expr, error) {
		if e == nil {
			return nil, nil
		}
		props, err := r.mergeProps(e, s, row)
		if err != nil {
			return nil, err
		}
		m := &cypher.MapLit{At: cypher.At{Pos: e.Position()}}
		for k, v := range props {
			m.Items = append(m.Items, &cypher.MapItem{At: m.At, Key: k, Value: &cypher.Literal{At: m.At, Value: v}})
		}
		return m, nil
	}
	for i, el := range p.Elements {
		switch el := el.(type) {
		case *cypher.NodePattern:
			n := *el
			var err error
			if n.Props, err = lit(el.Props); err != nil {
				return nil, err
			}
			out.Elements[i] = &n
		case *cypher.RelPattern:
			rel := *el
			var err error
			if rel.Props, err = lit(el.Props); err != nil {
				return nil, err
			}
			out.Elements[i] = &rel
		}
	}
	return &out, nil
}

// loadAll loads the vertices of ids not loaded yet, in one round.
func (r *run) loadAll(ids []layout.ID) error {
	groups := r.byShard(ids)
	var mu sync.Mutex
	return r.fanout(slices.Collect(maps.Keys(groups)), func(ctx context.Context, shard int) error {
		res, err := r.x.c.Read(ctx, r.graph, shard, &shardapi.ReadRequest{Stale: r.x.cfg.Stale,
			Vertices: &shardapi.VerticesRequest{IDs: groups[shard]}})
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, v := range res.Vertices {
			if _, err := r.load(v); err != nil {
				return err
			}
		}
		return nil
	})
}
