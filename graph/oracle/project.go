package oracle

import (
	"errors"
	"slices"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/value"
)

// item is one column of a projection.
type item struct {
	name string
	expr cypher.Expr
}

// projected is one output row of a projection with what ORDER BY may read: its columns, and
// (for a projection that neither aggregates nor is DISTINCT) the input row it came from.
type projected struct {
	cols row
	src  row
}

// with runs WITH: the projection, then its WHERE over the projected rows (after ORDER BY,
// SKIP and LIMIT, which belong to the projection).
func (ev *evaluator) with(c *cypher.With, rows []row, sc scope) ([]row, scope, error) {
	for _, it := range c.Items {
		if _, ok := it.Expr.(*cypher.Variable); !ok && it.Alias == "" {
			return nil, nil, errAt(it.Pos, "expression %s in WITH must be aliased (use AS)", it.Expr)
		}
	}
	cols, out, err := ev.project(&c.Projection, rows, sc)
	if err != nil {
		return nil, nil, err
	}
	nsc := scope(nil).add(cols...)
	if c.Where == nil {
		return out, nsc, nil
	}
	// The WHERE sees what ORDER BY sees: the incoming variables when each row comes from
	// one, and the items by their expressions.
	items, _ := projectionItems(&c.Projection, sc)
	whereScope := nsc
	if !c.Distinct && !slices.ContainsFunc(items, func(it item) bool { return hasAggregate(it.expr) }) {
		whereScope = sc.add(cols...)
	}
	if err := checkExpr(c.Where, whereScope, false, itemTexts(items)); err != nil {
		return nil, nil, err
	}
	kept := out[:0]
	for i, r := range out {
		ev.known = knownValues(items, ev.last[i].cols)
		ok, err := ev.truth(c.Where, ev.envOf(ev.last[i], whereScope))
		ev.known = nil
		if err != nil {
			return nil, nil, err
		}
		if ok {
			kept = append(kept, r)
		}
	}
	return kept, nsc, nil
}

// itemTexts are the texts of the items' expressions (for checkExpr).
func itemTexts(items []item) map[string]any {
	m := make(map[string]any, len(items))
	for _, it := range items {
		m[it.expr.String()] = nil
	}
	return m
}

// knownValues are the items' values of a projected row by their expressions' text.
func knownValues(items []item, cols row) map[string]any {
	m := make(map[string]any, len(items))
	for _, it := range items {
		if _, dup := m[it.expr.String()]; !dup {
			m[it.expr.String()] = cols[it.name]
		}
	}
	return m
}

// envOf is the environment of an ORDER BY or WHERE over projected row p: its columns, and the
// incoming row's variables when sc has them, the columns shadowing them.
func (ev *evaluator) envOf(p projected, sc scope) row {
	env := row{}
	for k, v := range p.src {
		if sc.has(k) {
			env[k] = v
		}
	}
	for k, v := range p.cols {
		env[k] = v
	}
	return env
}

// project computes a WITH or RETURN projection: its items (grouping and aggregating when an
// item has an aggregate), DISTINCT, ORDER BY (stable, by value.Compare), SKIP and LIMIT. It
// returns the column names and the rows, each binding the column names.
func (ev *evaluator) project(p *cypher.Projection, rows []row, sc scope) ([]string, []row, error) {
	items, err := projectionItems(p, sc)
	if err != nil {
		return nil, nil, err
	}
	cols := make([]string, len(items))
	aggregating := false
	for i, it := range items {
		cols[i] = it.name
		if err := checkExpr(it.expr, sc, true); err != nil {
			return nil, nil, err
		}
		aggregating = aggregating || hasAggregate(it.expr)
	}
	var out []projected
	if aggregating {
		out, err = ev.group(items, rows)
	} else {
		out, err = ev.plain(items, rows)
	}
	if err != nil {
		return nil, nil, err
	}
	if p.Distinct {
		out = distinct(out, cols)
	}
	if len(p.OrderBy) > 0 {
		// After aggregation or DISTINCT only the columns exist; else the input row's
		// variables too, the columns shadowing them.
		orderScope := scope(nil).add(cols...)
		if !aggregating && !p.Distinct {
			orderScope = sc.add(cols...)
		}
		if out, err = ev.order(p.OrderBy, items, out, orderScope); err != nil {
			return nil, nil, err
		}
	}
	if out, err = ev.skipLimit(p, out); err != nil {
		return nil, nil, err
	}
	ev.last = out
	res := make([]row, len(out))
	for i, pr := range out {
		res[i] = pr.cols
	}
	return cols, res, nil
}

// projectionItems lists a projection's columns: with *, every variable in scope by name,
// then the items; column names must be distinct.
func projectionItems(p *cypher.Projection, sc scope) ([]item, error) {
	var items []item
	if p.Star {
		if len(sc) == 0 {
			return nil, errors.New("RETURN * and WITH * need variables in scope")
		}
		for _, v := range slices.Sorted(slices.Values(sc)) {
			items = append(items, item{v, &cypher.Variable{Name: v}})
		}
	}
	for _, it := range p.Items {
		items = append(items, item{it.Name(), it.Expr})
	}
	seen := map[string]bool{}
	for _, it := range items {
		if seen[it.name] {
			return nil, errAt(it.expr.Position(), "column %s is projected twice", it.name)
		}
		seen[it.name] = true
	}
	return items, nil
}

func (ev *evaluator) plain(items []item, rows []row) ([]projected, error) {
	out := make([]projected, len(rows))
	for i, r := range rows {
		cols := make(row, len(items))
		for _, it := range items {
			v, err := ev.eval(it.expr, r)
			if err != nil {
				return nil, err
			}
			cols[it.name] = v
		}
		out[i] = projected{cols: cols, src: r}
	}
	return out, nil
}

// group aggregates: the items without an aggregate are the grouping key (rows group by
// value.Key of their values, groups in the order first seen); each group gives one row, its
// aggregates computed over the group's rows and the rest of each item evaluated in the
// group's first row. Without grouping items, no input rows still give one row (count 0).
func (ev *evaluator) group(items []item, rows []row) ([]projected, error) {
	var keyItems []item
	var aggCalls []*cypher.FuncCall
	for _, it := range items {
		if !hasAggregate(it.expr) {
			keyItems = append(keyItems, it)
			continue
		}
		walk(it.expr, func(x cypher.Expr) bool {
			if fc, ok := x.(*cypher.FuncCall); ok && isAggregate(fc) {
				aggCalls = append(aggCalls, fc)
				return false
			}
			return true
		})
	}
	type grp struct{ rows []row }
	var order []string
	groups := map[string]*grp{}
	for _, r := range rows {
		key := make([]any, len(keyItems))
		for i, it := range keyItems {
			v, err := ev.eval(it.expr, r)
			if err != nil {
				return nil, err
			}
			key[i] = v
		}
		k := value.Key(key)
		g, ok := groups[k]
		if !ok {
			g = &grp{}
			groups[k] = g
			order = append(order, k)
		}
		g.rows = append(g.rows, r)
	}
	if len(rows) == 0 && len(keyItems) == 0 {
		order = []string{""}
		groups[""] = &grp{}
	}
	out := make([]projected, 0, len(order))
	for _, k := range order {
		g := groups[k]
		aggs := make(map[*cypher.FuncCall]any, len(aggCalls))
		for _, fc := range aggCalls {
			v, err := ev.aggregate(fc, g.rows)
			if err != nil {
				return nil, err
			}
			aggs[fc] = v
		}
		first := row{}
		if len(g.rows) > 0 {
			first = g.rows[0]
		}
		ev.aggs = aggs
		cols := make(row, len(items))
		for _, it := range items {
			v, err := ev.eval(it.expr, first)
			if err != nil {
				ev.aggs = nil
				return nil, err
			}
			cols[it.name] = v
		}
		ev.aggs = nil
		out = append(out, projected{cols: cols})
	}
	return out, nil
}

// distinct keeps the first of each set of rows whose columns are equivalent (value.Key).
func distinct(in []projected, cols []string) []projected {
	seen := map[string]bool{}
	var out []projected
	for _, p := range in {
		key := make([]any, len(cols))
		for i, c := range cols {
			key[i] = p.cols[c]
		}
		k := value.Key(key)
		if !seen[k] {
			seen[k] = true
			out = append(out, projected{cols: p.cols})
		}
	}
	return out
}

// order sorts stably by the sort items. A subexpression written as one of the items (say
// count(*), or n.name after grouping by it) reads that item's column.
func (ev *evaluator) order(sorts []*cypher.SortItem, items []item, in []projected, sc scope) ([]projected, error) {
	texts := itemTexts(items)
	for _, s := range sorts {
		if err := checkExpr(s.Expr, sc, false, texts); err != nil {
			return nil, err
		}
	}
	keys := make([][]any, len(in))
	for i, p := range in {
		env := ev.envOf(p, sc)
		ev.known = knownValues(items, p.cols)
		keys[i] = make([]any, len(sorts))
		for j, s := range sorts {
			v, err := ev.eval(s.Expr, env)
			if err != nil {
				ev.known = nil
				return nil, err
			}
			keys[i][j] = v
		}
		ev.known = nil
	}
	idx := make([]int, len(in))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		for j, s := range sorts {
			c := value.Compare(keys[a][j], keys[b][j])
			if s.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	out := make([]projected, len(in))
	for i, j := range idx {
		out[i] = in[j]
	}
	return out, nil
}

func (ev *evaluator) skipLimit(p *cypher.Projection, in []projected) ([]projected, error) {
	for _, b := range []struct {
		kw string
		e  cypher.Expr
	}{{"SKIP", p.Skip}, {"LIMIT", p.Limit}} {
		if b.e == nil {
			continue
		}
		v, err := ev.eval(b.e, row{})
		if err != nil {
			return nil, err
		}
		n, ok := v.(int64)
		if !ok || n < 0 {
			return nil, errAt(b.e.Position(), "%s needs a non-negative INTEGER, found %v", b.kw, v)
		}
		if b.kw == "SKIP" {
			in = in[min(n, int64(len(in))):]
		} else {
			in = in[:min(n, int64(len(in)))]
		}
	}
	return in, nil
}
