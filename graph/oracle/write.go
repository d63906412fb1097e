package oracle

import (
	"fmt"
	"maps"
	"slices"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/value"
)

// The updating clauses run row by row, in row order, each seeing what earlier rows wrote.

// create runs CREATE: for each row, each pattern's new nodes and relationships. A node whose
// variable is bound (earlier, or earlier in the same CREATE) is reused and may not carry
// labels or properties; a relationship is always new.
func (ev *evaluator) create(c *cypher.Create, rows []row, sc scope) ([]row, scope, error) {
	nsc := sc
	for _, p := range c.Patterns {
		if err := checkPatternExprs(p, nsc.add(patternNames(p)...)); err != nil {
			return nil, nil, err
		}
		// Refused whatever the rows: a bound node given labels or properties, or alone.
		seen := nsc
		for _, el := range p.Elements {
			if np, ok := el.(*cypher.NodePattern); ok && np.Var != "" && seen.has(np.Var) {
				if len(np.Labels) > 0 || np.Props != nil {
					return nil, nil, errAt(np.Pos, "variable %s is already declared: it cannot take labels or properties here", np.Var)
				}
				if len(p.Elements) == 1 {
					return nil, nil, errAt(np.Pos, "variable %s is already declared: CREATE of it alone makes nothing", np.Var)
				}
			}
			if np, ok := el.(*cypher.NodePattern); ok {
				seen = seen.add(np.Var)
			}
		}
		nsc = nsc.add(patternNames(p)...)
	}
	out := make([]row, len(rows))
	for i, r := range rows {
		r = r.clone()
		for _, p := range c.Patterns {
			if err := ev.createPattern(p, r); err != nil {
				return nil, nil, err
			}
		}
		out[i] = r
	}
	return out, nsc, nil
}

// patternNames are the variables a pattern names.
func patternNames(p *cypher.Pattern) []string {
	var names []string
	for _, el := range p.Elements {
		switch el := el.(type) {
		case *cypher.NodePattern:
			names = append(names, el.Var)
		case *cypher.RelPattern:
			names = append(names, el.Var)
		}
	}
	return append(names, p.PathVar)
}

// createPattern creates a pattern's new parts and binds their variables in r.
func (ev *evaluator) createPattern(p *cypher.Pattern, r row) error {
	nodes, rels := p.Nodes(), p.Rels()
	ids := make([]int64, len(nodes))
	for i, np := range nodes {
		id, err := ev.createNode(np, r)
		if err != nil {
			return err
		}
		ids[i] = id
	}
	edges := make([]*Edge, len(rels))
	for i, rp := range rels {
		if _, bound := r[rp.Var]; bound && rp.Var != "" {
			return errAt(rp.Pos, "variable %s is already declared: CREATE makes new relationships only", rp.Var)
		}
		props, err := ev.propMap(rp.Props, r, false)
		if err != nil {
			return err
		}
		start, end := ids[i], ids[i+1]
		if rp.Dir == cypher.DirIn {
			start, end = end, start
		}
		id, err := ev.g.AddEdge(rp.Types[0], start, end, props)
		if err != nil {
			return errAt(rp.Pos, "%v", err)
		}
		edges[i] = ev.g.edges[id]
		if rp.Var != "" {
			r[rp.Var] = relRef(edges[i])
		}
	}
	if p.PathVar != "" {
		r[p.PathVar] = pathValue(ids, edges)
	}
	return nil
}

// createNode returns the node a CREATE or MERGE pattern names: the bound one, or a new one.
func (ev *evaluator) createNode(np *cypher.NodePattern, r row) (int64, error) {
	if v, bound := r[np.Var]; bound && np.Var != "" {
		n, ok := v.(*value.Node)
		switch {
		case !ok:
			return 0, errAt(np.Pos, "variable %s is %s, not a node", np.Var, value.WithArticle(v))
		case len(np.Labels) > 0 || np.Props != nil:
			return 0, errAt(np.Pos, "variable %s is already declared: it cannot take labels or properties here", np.Var)
		}
		if _, err := ev.vertexOf(n); err != nil {
			return 0, errAt(np.Pos, "%v", err)
		}
		return int64(n.ID), nil
	}
	props, err := ev.propMap(np.Props, r, false)
	if err != nil {
		return 0, err
	}
	id, err := ev.g.AddVertex(np.Labels, props)
	if err != nil {
		return 0, errAt(np.Pos, "%v", err)
	}
	if np.Var != "" {
		r[np.Var] = nodeRef(id)
	}
	return id, nil
}

// propMap evaluates a pattern's property map for writing. With merge a null value is an
// error (MERGE cannot match on null); otherwise it is left out.
func (ev *evaluator) propMap(e cypher.Expr, r row, merge bool) (map[string]any, error) {
	if e == nil {
		return nil, nil
	}
	v, err := ev.eval(e, r)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errAt(e.Position(), "properties must be a MAP, found %s", value.WithArticle(v))
	}
	for k, x := range m {
		if x == nil && merge {
			return nil, errAt(e.Position(), "cannot MERGE with a null property value (%s)", k)
		}
	}
	return m, nil
}

// merge runs MERGE: for each row, every match of the whole pattern (then ON MATCH SET), or
// if there is none the pattern created as CREATE would (then ON CREATE SET). An undirected
// relationship matches either way and is created left to right.
func (ev *evaluator) merge(c *cypher.Merge, rows []row, sc scope) ([]row, scope, error) {
	if els := c.Pattern.Elements; len(els) == 1 {
		if np, ok := els[0].(*cypher.NodePattern); ok && np.Var != "" && sc.has(np.Var) {
			return nil, nil, errAt(np.Pos, "variable %s is already declared: MERGE of it alone finds only it", np.Var)
		}
	}
	nsc := sc.add(patternNames(c.Pattern)...)
	if err := checkPatternExprs(c.Pattern, nsc); err != nil {
		return nil, nil, err
	}
	for _, items := range [][]cypher.SetItem{c.OnCreate, c.OnMatch} {
		if err := checkSetItems(items, nsc); err != nil {
			return nil, nil, err
		}
	}
	var out []row
	for _, r := range rows {
		for _, el := range c.Pattern.Elements {
			var props cypher.Expr
			switch el := el.(type) {
			case *cypher.NodePattern:
				props = el.Props
			case *cypher.RelPattern:
				props = el.Props
			}
			if _, err := ev.propMap(props, r, true); err != nil {
				return nil, nil, err
			}
		}
		var matches []row
		err := ev.matchPatterns([]*cypher.Pattern{c.Pattern}, r, func(m row) error {
			matches = append(matches, m)
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		actions := c.OnMatch
		if len(matches) == 0 {
			m := r.clone()
			if err := ev.createPattern(c.Pattern, m); err != nil {
				return nil, nil, err
			}
			matches, actions = []row{m}, c.OnCreate
		}
		for _, m := range matches {
			for _, it := range actions {
				if err := ev.setItem(it, m); err != nil {
					return nil, nil, err
				}
			}
		}
		out = append(out, matches...)
	}
	return out, nsc, nil
}

func checkSetItems(items []cypher.SetItem, sc scope) error {
	for _, it := range items {
		var name string
		var e cypher.Expr
		switch it := it.(type) {
		case *cypher.SetProperty:
			name, e = it.Var, it.Value
		case *cypher.SetProperties:
			name, e = it.Var, it.Value
		case *cypher.SetLabels:
			name = it.Var
		}
		if !sc.has(name) {
			return errAt(it.Position(), "variable %s is not defined", name)
		}
		if err := checkVars(e, sc); err != nil {
			return err
		}
	}
	return nil
}

// set runs SET over every row.
func (ev *evaluator) set(c *cypher.Set, rows []row, sc scope) error {
	if err := checkSetItems(c.Items, sc); err != nil {
		return err
	}
	for _, r := range rows {
		for _, it := range c.Items {
			if err := ev.setItem(it, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// setItem applies one SET item in a row. Setting on null does nothing; a null property
// value removes the property; n = map replaces every property (map entries that are null
// are left out), n += map sets each entry (a null one removes it); a node or relationship
// as the value stands for its properties.
func (ev *evaluator) setItem(it cypher.SetItem, r row) error {
	var target any
	var val any
	var err error
	switch it := it.(type) {
	case *cypher.SetProperty:
		target = r[it.Var]
		val, err = ev.eval(it.Value, r)
	case *cypher.SetProperties:
		target = r[it.Var]
		if val, err = ev.eval(it.Value, r); err == nil && val != nil {
			val, err = ev.propsOf(val)
		}
	case *cypher.SetLabels:
		target = r[it.Var]
	}
	if err != nil {
		return errAt(it.Position(), "%v", err)
	}
	if target == nil {
		return nil
	}
	switch it := it.(type) {
	case *cypher.SetProperty:
		err = ev.writeProp(target, it.Key, val)
	case *cypher.SetProperties:
		props, _ := val.(map[string]any)
		if it.Merge {
			for _, k := range slices.Sorted(maps.Keys(props)) {
				if err = ev.writeProp(target, k, props[k]); err != nil {
					break
				}
			}
		} else {
			err = ev.replaceProps(target, props)
		}
	case *cypher.SetLabels:
		n, ok := target.(*value.Node)
		if !ok {
			return errAt(it.Pos, "cannot set labels on %s", value.WithArticle(target))
		}
		err = ev.g.SetLabels(int64(n.ID), it.Labels, false)
	}
	if err != nil {
		return errAt(it.Position(), "%v", err)
	}
	return nil
}

func (ev *evaluator) writeProp(target any, key string, val any) error {
	switch t := target.(type) {
	case *value.Node:
		return ev.g.SetVertexProp(int64(t.ID), key, val)
	case *value.Relationship:
		return ev.g.SetEdgeProp(int64(t.ID), key, val)
	}
	return fmt.Errorf("cannot set a property of %s", value.WithArticle(target))
}

func (ev *evaluator) replaceProps(target any, props map[string]any) error {
	switch t := target.(type) {
	case *value.Node:
		return ev.g.ReplaceVertexProps(int64(t.ID), props)
	case *value.Relationship:
		return ev.g.ReplaceEdgeProps(int64(t.ID), props)
	}
	return fmt.Errorf("cannot set the properties of %s", value.WithArticle(target))
}

// remove runs REMOVE over every row (on null it does nothing).
func (ev *evaluator) remove(c *cypher.Remove, rows []row, sc scope) error {
	for _, it := range c.Items {
		var name string
		switch it := it.(type) {
		case *cypher.RemoveProperty:
			name = it.Var
		case *cypher.RemoveLabels:
			name = it.Var
		}
		if !sc.has(name) {
			return errAt(it.Position(), "variable %s is not defined", name)
		}
	}
	for _, r := range rows {
		for _, it := range c.Items {
			var err error
			switch it := it.(type) {
			case *cypher.RemoveProperty:
				if t := r[it.Var]; t != nil {
					err = ev.writeProp(t, it.Key, nil)
				}
			case *cypher.RemoveLabels:
				switch n := r[it.Var].(type) {
				case nil:
				case *value.Node:
					err = ev.g.SetLabels(int64(n.ID), it.Labels, true)
				default:
					err = fmt.Errorf("cannot remove labels from %s", value.WithArticle(n))
				}
			}
			if err != nil {
				return errAt(it.Position(), "%v", err)
			}
		}
	}
	return nil
}

// delete runs DELETE and DETACH DELETE: it gathers what every row deletes (nodes,
// relationships, every element of a path; null is nothing), then deletes the
// relationships and then the nodes, so that DELETE n, r of a node and its relationships
// succeeds; a node left with relationships is an error without DETACH.
func (ev *evaluator) delete(c *cypher.Delete, rows []row, sc scope) error {
	for _, e := range c.Exprs {
		if err := checkVars(e, sc); err != nil {
			return err
		}
	}
	var nodes, rels []int64
	for _, r := range rows {
		for _, e := range c.Exprs {
			v, err := ev.eval(e, r)
			if err != nil {
				return err
			}
			switch x := v.(type) {
			case nil:
			case *value.Node:
				nodes = append(nodes, int64(x.ID))
			case *value.Relationship:
				rels = append(rels, int64(x.ID))
			case *value.Path:
				for _, n := range x.Nodes {
					nodes = append(nodes, int64(n.ID))
				}
				for _, rel := range x.Rels {
					rels = append(rels, int64(rel.ID))
				}
			default:
				return errAt(e.Position(), "cannot delete %s", value.WithArticle(v))
			}
		}
	}
	for _, id := range rels {
		ev.g.DeleteEdge(id)
	}
	for _, id := range nodes {
		if err := ev.g.DeleteVertex(id, c.Detach); err != nil {
			return errAt(c.Pos, "%v", err)
		}
	}
	return nil
}
