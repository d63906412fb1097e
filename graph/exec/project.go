package exec

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/value"
)

// Project runs the projection of a WITH (with its WHERE, else nil) or a RETURN (where nil)
// over rows, whose columns s names, with openCypher 9's rules, in this order:
//   - the items: * first (every variable of s, in s's order) and then the written items,
//     each named by ProjectionItem.Name(); a name given twice is a QueryError;
//   - aggregation, when an item holds an aggregate call (count, sum, avg, min, max,
//     collect, with or without DISTINCT): the other items are the grouping keys, rows are
//     grouped by value.Key of the keys (so 1 and 1.0 group together, keeping the value seen
//     first), groups come out in the order they first appear, and with no grouping key an
//     empty input still gives one row. An aggregating item may use, outside its aggregate
//     calls, only the grouping keys' expressions (else a QueryError, as the value would be
//     an arbitrary row's); aggregates inside aggregates are a QueryError;
//   - DISTINCT, by value.Key of the whole projected row, keeping first appearances;
//   - ORDER BY, stable, by value.Compare (null last ascending, first descending): its
//     expressions see the projected columns and, unless the projection aggregates or is
//     DISTINCT, the incoming variables that no column shadows; an expression that needs
//     more (an aggregate, or a variable that is not in scope) must be written as one of the
//     projection's expressions, whose column it then reads;
//   - SKIP, then LIMIT: an integer literal or parameter, a QueryError if negative or not an
//     INTEGER;
//   - WHERE, over the projected columns only: rows for which it is true are kept.
//
// It returns the projected rows and their scope (the items' names). maxRows (unlimited if
// not positive) bounds every list Project builds (rows, groups, collect() lists): beyond it
// the error wraps ErrTooManyRows and names the limit.
func (e *Env) Project(rows []Row, s *Scope, p *cypher.Projection, where cypher.Expr, maxRows int) ([]Row, *Scope, error) {
	items := projectionItems(s, p)
	names := make([]string, len(items))
	aggregating := false
	for i, it := range items {
		names[i] = it.Name()
		if slices.Contains(names[:i], names[i]) {
			return nil, nil, errorf(it.Pos, "column %s is projected twice", names[i])
		}
		if err := checkAggregateCalls(it.Expr); err != nil {
			return nil, nil, err
		}
		aggregating = aggregating || HasAggregate(it.Expr)
	}
	out := NewScope(names...)

	var projected, incoming []Row
	var err error
	if aggregating {
		projected, err = e.aggregate(rows, s, items, maxRows)
	} else {
		projected, err = e.projectRows(rows, s, items, maxRows)
		incoming = rows
	}
	if err != nil {
		return nil, nil, err
	}
	if p.Distinct {
		projected, incoming = distinctRows(projected), nil
	}
	if len(p.OrderBy) == 0 && where == nil {
		if projected, err = e.skipLimit(projected, p); err != nil {
			return nil, nil, err
		}
		return projected, out, nil
	}
	// ORDER BY and WHERE see the items, the incoming variables when each row comes from one
	// incoming row (no aggregate, no DISTINCT), and an item's value where they write its
	// expression.
	wide, ws := widen(projected, incoming, out, s)
	known := make(map[string]int, len(items)) // the items' columns by their expressions' text
	for j, it := range items {
		if _, dup := known[it.Expr.String()]; !dup {
			known[it.Expr.String()] = j
		}
	}
	if len(p.OrderBy) > 0 {
		if err := e.orderBy(wide, ws, known, p.OrderBy); err != nil {
			return nil, nil, err
		}
	}
	if wide, err = e.skipLimit(wide, p); err != nil {
		return nil, nil, err
	}
	if where != nil {
		if wide, err = e.filterKnown(wide, ws, known, where); err != nil {
			return nil, nil, err
		}
	}
	for i, r := range wide {
		wide[i] = r[:out.Len():out.Len()]
	}
	return wide, out, nil
}

// widen returns the projected rows with the incoming variables that out does not hold after
// their columns, and their scope: projected as they are when incoming is nil.
func widen(projected, incoming []Row, out, in *Scope) ([]Row, *Scope) {
	if incoming == nil {
		return projected, out
	}
	names := slices.Clone(out.Names())
	var extra []int
	for i, n := range in.Names() {
		if !out.Has(n) {
			names = append(names, n)
			extra = append(extra, i)
		}
	}
	if len(extra) == 0 {
		return projected, out
	}
	wide := make([]Row, len(projected))
	for i, r := range projected {
		w := r.Extend(len(names))
		for j, col := range extra {
			w[len(r)+j] = incoming[i][col]
		}
		wide[i] = w
	}
	return wide, NewScope(names...)
}

// needsKnown reports whether x must read items' values by their text: it holds an aggregate
// or a variable outside s.
func needsKnown(x cypher.Expr, s *Scope) bool {
	if HasAggregate(x) {
		return true
	}
	for _, v := range References(x) {
		if !s.Has(v) {
			return true
		}
	}
	return false
}

// knownIn finds the subexpressions of x written as one of the items (known: their columns
// by text), outermost only, once per expression rather than per row.
func knownIn(x cypher.Expr, known map[string]int) map[cypher.Expr]int {
	found := map[cypher.Expr]int{}
	walk(x, func(y cypher.Expr) bool {
		if col, ok := known[y.String()]; ok {
			found[y] = col
			return false
		}
		return true
	})
	return found
}

// aggregateOutside returns the first aggregate call in x that is not inside one of its
// subexpressions written as an item (found by knownIn), or nil.
func aggregateOutside(x cypher.Expr, items map[cypher.Expr]int) cypher.Expr {
	var agg cypher.Expr
	walk(x, func(y cypher.Expr) bool {
		if _, ok := items[y]; ok || agg != nil {
			return false
		}
		if isAggregate(y) {
			agg = y
		}
		return agg == nil
	})
	return agg
}

// projectionItems returns the items of p with * expanded into the variables of s, each
// aliased by its own name (so that a name printed with backquotes keeps its plain name).
func projectionItems(s *Scope, p *cypher.Projection) []*cypher.ProjectionItem {
	if !p.Star {
		return p.Items
	}
	items := make([]*cypher.ProjectionItem, 0, s.Len()+len(p.Items))
	// By name, as Neo4j orders the columns of RETURN *.
	for _, n := range slices.Sorted(slices.Values(s.Names())) {
		if strings.HasPrefix(n, hidden) {
			continue // a pattern predicate's value (predicate.go)
		}
		items = append(items, &cypher.ProjectionItem{Expr: &cypher.Variable{Name: n}, Alias: n})
	}
	return append(items, p.Items...)
}

func (e *Env) projectRows(rows []Row, s *Scope, items []*cypher.ProjectionItem, maxRows int) ([]Row, error) {
	if err := checkRows(len(rows), maxRows); err != nil {
		return nil, err
	}
	out := make([]Row, len(rows))
	for i, r := range rows {
		c := evalCtx{env: e, s: s, r: r}
		pr := make(Row, len(items))
		for j, it := range items {
			v, err := c.eval(it.Expr)
			if err != nil {
				return nil, err
			}
			pr[j] = v
		}
		out[i] = pr
	}
	return out, nil
}

// checkRows refuses a list of n rows over the limit maxRows (none if not positive).
func checkRows(n, maxRows int) error {
	if maxRows > 0 && n > maxRows {
		return fmt.Errorf("%w of %d rows", ErrTooManyRows, maxRows)
	}
	return nil
}

// group is one group of an aggregation: its first row (which the aggregating items read
// their grouping keys' expressions from), its key values and its aggregates' states.
type group struct {
	first  Row
	keys   []any
	states []aggState
}

func (e *Env) aggregate(rows []Row, s *Scope, items []*cypher.ProjectionItem, maxRows int) ([]Row, error) {
	isAgg := make([]bool, len(items))
	keyText := map[string]bool{}
	var keyItems []cypher.Expr
	var calls []*cypher.FuncCall
	for i, it := range items {
		isAgg[i] = HasAggregate(it.Expr)
		if !isAgg[i] {
			keyItems = append(keyItems, it.Expr)
			keyText[it.Expr.String()] = true
			continue
		}
		walk(it.Expr, func(x cypher.Expr) bool {
			if isAggregate(x) {
				calls = append(calls, x.(*cypher.FuncCall))
				return false
			}
			return true
		})
	}
	for i, it := range items {
		if isAgg[i] {
			if err := checkGrouped(it.Expr, keyText); err != nil {
				return nil, err
			}
		}
	}

	var groups []*group
	index := map[string]*group{}
	// With no grouping keys, one group sees every row: a DISTINCT aggregate's set is sized
	// for them up front (growing a set of thousands costs more than filling it).
	distinctHint := 0
	if len(keyItems) == 0 {
		distinctHint = min(len(rows), 1<<16)
	}
	// addGroup starts a group at its first row (nil: the group of no rows, which only an
	// aggregation without grouping keys has).
	addGroup := func(first Row, keys []any) (*group, error) {
		if err := checkRows(len(groups)+1, maxRows); err != nil {
			return nil, err
		}
		g := &group{first: first, keys: keys, states: make([]aggState, len(calls))}
		if first == nil {
			g.first = make(Row, s.Len())
		}
		for j, call := range calls {
			var err error
			if g.states[j], err = newAggState(call, maxRows, distinctHint, &evalCtx{env: e, s: s, r: first}); err != nil {
				return nil, err
			}
		}
		groups = append(groups, g)
		return g, nil
	}
	c := evalCtx{env: e, s: s} // one for every row: made per row, it is allocated per row
	for _, r := range rows {
		c.r = r
		keys := make([]any, len(keyItems))
		var id strings.Builder
		for j, x := range keyItems {
			v, err := c.eval(x)
			if err != nil {
				return nil, err
			}
			keys[j] = v
			k := value.Key(v)
			id.WriteString(strconv.Itoa(len(k)))
			id.WriteByte(':')
			id.WriteString(k)
		}
		g := index[id.String()]
		if g == nil {
			var err error
			if g, err = addGroup(r, keys); err != nil {
				return nil, err
			}
			index[id.String()] = g
		}
		for j, call := range calls {
			var v any = true // count(*) counts every row
			if !call.Star {
				var err error
				if v, err = c.eval(call.Args[0]); err != nil {
					return nil, err
				}
			}
			if err := g.states[j].add(v); err != nil {
				return nil, err
			}
		}
	}
	if len(groups) == 0 && len(keyItems) == 0 {
		if _, err := addGroup(nil, nil); err != nil {
			return nil, err
		}
	}

	out := make([]Row, len(groups))
	for gi, g := range groups {
		aggs := make(map[*cypher.FuncCall]any, len(calls))
		for j, call := range calls {
			aggs[call] = g.states[j].result()
		}
		c := evalCtx{env: e, s: s, r: g.first, aggs: aggs}
		row := make(Row, len(items))
		k := 0
		for i, it := range items {
			if !isAgg[i] {
				row[i] = g.keys[k]
				k++
				continue
			}
			v, err := c.eval(it.Expr)
			if err != nil {
				return nil, err
			}
			row[i] = v
		}
		out[gi] = row
	}
	return out, nil
}

// checkAggregateCalls checks the aggregate calls in x: count(*) is the only call with *, the
// others take exactly one argument, and no aggregate is inside another.
func checkAggregateCalls(x cypher.Expr) error {
	var err error
	walk(x, func(x cypher.Expr) bool {
		if err != nil || !isAggregate(x) {
			return err == nil
		}
		f := x.(*cypher.FuncCall)
		switch {
		case f.Star && f.Name != "count":
			err = errorf(f.Pos, "%s(*) is not allowed: only count takes *", f.Shown())
		case strings.HasPrefix(f.Name, "percentile") && len(f.Args) != 2:
			err = arityError(f, 2, 2)
		case !f.Star && !strings.HasPrefix(f.Name, "percentile") && len(f.Args) != 1:
			err = arityError(f, 1, 1)
		}
		for _, a := range f.Args {
			walk(a, func(y cypher.Expr) bool {
				if err == nil && isAggregate(y) {
					err = errorf(y.Position(), "aggregate function %s() cannot be used inside another aggregate function", y.(*cypher.FuncCall).Shown())
				}
				return err == nil
			})
		}
		return false
	})
	if err != nil {
		return err
	}
	// An aggregate is computed over a group's rows, not per element of a list.
	walk(x, func(y cypher.Expr) bool {
		if _, inner, _, ok := cypher.Binds(y); ok && err == nil {
			for _, in := range inner {
				walk(in, func(z cypher.Expr) bool {
					if err == nil && isAggregate(z) {
						err = errorf(z.Position(), "aggregate function %s() cannot be used inside %s", z.(*cypher.FuncCall).Shown(), bindingName(y))
					}
					return err == nil
				})
			}
		}
		return err == nil
	})
	return err
}

// checkGrouped checks that an aggregating item reads rows only through aggregate calls and
// the grouping keys' expressions (keys, by canonical text). bound are the variables of the
// enclosing list comprehensions, list predicates and reduces, which are not read from rows.
func checkGrouped(x cypher.Expr, keys map[string]bool, bound ...string) error {
	if isAggregate(x) || keys[x.String()] {
		return nil
	}
	if v, ok := x.(*cypher.Variable); ok {
		if slices.Contains(bound, v.Name) {
			return nil
		}
		return errorf(v.Pos, "variable %s is used beside an aggregate function but is not a grouping key (project it as an item of its own)", v.Name)
	}
	if outer, inner, names, ok := cypher.Binds(x); ok {
		for _, o := range outer {
			if err := checkGrouped(o, keys, bound...); err != nil {
				return err
			}
		}
		inBound := append(slices.Clone(bound), names...)
		for _, in := range inner {
			if err := checkGrouped(in, keys, inBound...); err != nil {
				return err
			}
		}
		return nil
	}
	for _, ch := range children(x) {
		if err := checkGrouped(ch, keys, bound...); err != nil {
			return err
		}
	}
	return nil
}

// distinctRows keeps the first of each set of equivalent rows.
func distinctRows(rows []Row) []Row {
	seen := make(map[string]bool, len(rows))
	out := rows[:0:0]
	for _, r := range rows {
		k := value.Key([]any(r))
		if !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	return out
}

// orderBy sorts rows (scope s; the items' values readable by their text, known) by the
// sort items, stably.
func (e *Env) orderBy(rows []Row, s *Scope, known map[string]int, sortItems []*cypher.SortItem) error {
	ctxs := make([]map[cypher.Expr]int, len(sortItems)) // knownIn, for an item that needs it
	for i, si := range sortItems {
		if !needsKnown(si.Expr, s) {
			continue
		}
		ctxs[i] = knownIn(si.Expr, known)
		if agg := aggregateOutside(si.Expr, ctxs[i]); agg != nil {
			return errorf(si.Expr.Position(), "ORDER BY can use an aggregate function only in one of the projected expressions: %s is not one", agg)
		}
	}
	keys := make([][]any, len(rows))
	for i, r := range rows {
		keys[i] = make([]any, len(sortItems))
		for j, si := range sortItems {
			c := evalCtx{env: e, s: s, r: r, known: ctxs[j]}
			v, err := c.eval(si.Expr)
			if err != nil {
				return err
			}
			keys[i][j] = v
		}
	}
	order := make([]int, len(rows))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		for j, si := range sortItems {
			c := value.Compare(keys[a][j], keys[b][j])
			if si.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	sorted := make([]Row, len(rows))
	for i, o := range order {
		sorted[i] = rows[o]
	}
	copy(rows, sorted)
	return nil
}

func (e *Env) skipLimit(rows []Row, p *cypher.Projection) ([]Row, error) {
	if p.Skip != nil {
		n, err := e.count(p.Skip, "SKIP")
		if err != nil {
			return nil, err
		}
		rows = rows[min(n, len(rows)):]
	}
	if p.Limit != nil {
		n, err := e.count(p.Limit, "LIMIT")
		if err != nil {
			return nil, err
		}
		rows = rows[:min(n, len(rows))]
	}
	return rows, nil
}

// count evaluates the operand of SKIP or LIMIT: a non-negative INTEGER.
func (e *Env) count(x cypher.Expr, clause string) (int, error) {
	v, err := e.Eval(x, NewScope(), nil)
	if err != nil {
		var read *cypher.Variable
		walk(x, func(y cypher.Expr) bool {
			if v, ok := y.(*cypher.Variable); ok && read == nil {
				read = v
			}
			return read == nil
		})
		if read != nil {
			return 0, errorf(read.Pos, "%s is evaluated once, before any row: it cannot read variable %s", clause, read.Name)
		}
		return 0, err
	}
	n, ok := v.(int64)
	if !ok {
		return 0, errorf(x.Position(), "%s takes a non-negative INTEGER, not %s", clause, value.WithArticle(v))
	}
	if n < 0 {
		return 0, errorf(x.Position(), "%s takes a non-negative INTEGER, not %d", clause, n)
	}
	return int(min(n, math.MaxInt)), nil
}

// filter keeps the rows for which where is true.
func (e *Env) filter(rows []Row, s *Scope, where cypher.Expr) ([]Row, error) {
	return e.filterKnown(rows, s, nil, where)
}

// filterKnown is filter for the WHERE of a projection: the items' values are readable by
// their text (known) where where needs them (an aggregate outside them is refused as in
// any WHERE).
func (e *Env) filterKnown(rows []Row, s *Scope, known map[string]int, where cypher.Expr) ([]Row, error) {
	var items map[cypher.Expr]int
	if needsKnown(where, s) {
		items = knownIn(where, known)
	}
	out := rows[:0:0]
	for _, r := range rows {
		c := evalCtx{env: e, s: s, r: r, known: items}
		v, err := c.eval(where)
		if err != nil {
			return nil, err
		}
		if err := truth(where, v, "WHERE"); err != nil {
			return nil, err
		}
		if v == true {
			out = append(out, r)
		}
	}
	return out, nil
}

// Unwind runs UNWIND u over rows (scope s): each row gives one row per element of its list,
// none for null, and one for any other value; the variable is a new last column. A variable
// that is bound already is a QueryError. maxRows bounds the result as for Project.
func (e *Env) Unwind(rows []Row, s *Scope, u *cypher.Unwind, maxRows int) ([]Row, *Scope, error) {
	if s.Has(u.Var) {
		return nil, nil, errorf(u.Pos, "variable %s is already defined", u.Var)
	}
	out, col := s.With(u.Var)
	var result []Row
	emit := func(r Row, v any) error {
		if err := checkRows(len(result)+1, maxRows); err != nil {
			return err
		}
		nr := r.Extend(out.Len())
		nr[col] = v
		result = append(result, nr)
		return nil
	}
	for _, r := range rows {
		v, err := e.Eval(u.Expr, s, r)
		if err != nil {
			return nil, nil, err
		}
		switch v := v.(type) {
		case nil:
		case []any:
			for _, el := range v {
				if err := emit(r, el); err != nil {
					return nil, nil, err
				}
			}
		default:
			if err := emit(r, v); err != nil {
				return nil, nil, err
			}
		}
	}
	return result, out, nil
}

// aggState is the running state of one aggregate call over one group: add takes the
// argument's value in each row (true for count(*)), result gives the aggregate.
type aggState interface {
	add(v any) error
	result() any
}

// newAggState returns the state of call, whose arguments checkAggregateCalls has checked;
// with DISTINCT, its set is sized for about hint values. A percentile is read from first,
// the group's first row (no row: the group of no rows).
func newAggState(call *cypher.FuncCall, maxRows, hint int, first *evalCtx) (aggState, error) {
	var st aggState
	switch call.Name {
	case "count":
		st = &countAgg{}
	case "sum":
		st = &sumAgg{call: call}
	case "avg":
		st = &avgAgg{call: call}
	case "min", "max":
		st = &extremeAgg{max: call.Name == "max"}
	case "collect":
		st = &collectAgg{maxRows: maxRows, list: []any{}}
	case "stdev", "stdevp":
		st = &stdevAgg{call: call, population: call.Name == "stdevp"}
	case "percentilecont", "percentiledisc":
		pa := &percentileAgg{call: call, cont: call.Name == "percentilecont"}
		if first.r != nil { // a group of no rows has no values: its percentile is not read
			if err := pa.setPercentile(first.eval(call.Args[1])); err != nil {
				return nil, err
			}
		}
		st = pa
	}
	if call.Distinct {
		st = &distinctAgg{aggState: st, hint: hint}
	}
	return st, nil
}

// distinctAgg passes on each value only the first time an equivalent one is seen.
type distinctAgg struct {
	aggState
	seen map[string]bool
	hint int // the size the sets are made with
	// nodes and rels are the ids of the nodes and relationships seen: count(DISTINCT n) over
	// many rows need not encode each node's key (and a set of integers is the fastest kind).
	nodes, rels layout.IDSet
}

func (d *distinctAgg) add(v any) error {
	var set *layout.IDSet
	var id uint64
	switch x := v.(type) {
	case nil:
		return d.aggState.add(v)
	case *value.Node:
		set, id = &d.nodes, x.ID
	case *value.Relationship:
		set, id = &d.rels, x.ID
	}
	if set == nil || id == 0 { // not a graph element, or one that has no id yet
		k := value.Key(v)
		if d.seen[k] {
			return nil
		}
		if d.seen == nil {
			d.seen = make(map[string]bool, d.hint)
		}
		d.seen[k] = true
		return d.aggState.add(v)
	}
	if set.Len() == 0 {
		set.Reserve(d.hint)
	}
	if !set.Add(layout.ID(id)) {
		return nil
	}
	return d.aggState.add(v)
}

// Every aggregate ignores nulls.

type countAgg struct{ n int64 }

func (a *countAgg) add(v any) error {
	if v != nil {
		a.n++
	}
	return nil
}

func (a *countAgg) result() any { return a.n }

// sumAgg adds integers as integers (an overflow is an error) until a float comes, and
// from then on as floats; no value sums to 0.
type sumAgg struct {
	call    *cypher.FuncCall
	isFloat bool
	i       int64
	f       float64
}

func (a *sumAgg) add(v any) error {
	switch v := v.(type) {
	case nil:
	case int64:
		if a.isFloat {
			a.f += float64(v)
			return nil
		}
		s, err := intArith(a.call.Pos, cypher.OpAdd, a.i, v)
		if err != nil {
			return err
		}
		a.i = s.(int64)
	case float64:
		if !a.isFloat {
			a.isFloat, a.f = true, float64(a.i)
		}
		a.f += v
	default:
		return errorf(a.call.Pos, "type error: sum() adds numbers, not %s", value.WithArticle(v))
	}
	return nil
}

func (a *sumAgg) result() any {
	if a.isFloat {
		return a.f
	}
	return a.i
}

// avgAgg is the mean as a float, null for no value.
type avgAgg struct {
	call *cypher.FuncCall
	n    int64
	sum  float64
}

func (a *avgAgg) add(v any) error {
	if v == nil {
		return nil
	}
	f, ok := toFloat(v)
	if !ok {
		return errorf(a.call.Pos, "type error: avg() averages numbers, not %s", value.WithArticle(v))
	}
	a.n++
	a.sum += f
	return nil
}

func (a *avgAgg) result() any {
	if a.n == 0 {
		return nil
	}
	return a.sum / float64(a.n)
}

// stdevAgg is stDev (the sample's standard deviation, n-1) or stDevP (the population's, n)
// of numbers: 0.0 of fewer than two values (stDev) or none (stDevP), as Neo4j gives. It uses
// Welford's running mean, stable for values far from zero.
type stdevAgg struct {
	call       *cypher.FuncCall
	population bool
	n          int64
	mean, m2   float64
}

func (a *stdevAgg) add(v any) error {
	if v == nil {
		return nil
	}
	f, ok := toFloat(v)
	if !ok {
		return errorf(a.call.Pos, "type error: %s() takes numbers, not %s", a.call.Shown(), value.WithArticle(v))
	}
	a.n++
	d := f - a.mean
	a.mean += d / float64(a.n)
	a.m2 += d * (f - a.mean)
	return nil
}

func (a *stdevAgg) result() any {
	div := a.n - 1
	if a.population {
		div = a.n
	}
	if div <= 0 {
		return 0.0
	}
	return math.Sqrt(a.m2 / float64(div))
}

// percentileAgg is percentileDisc (the value at the percentile's rank among the sorted
// values: the smallest whose rank reaches percentile × n) or percentileCont (interpolated
// linearly between the two values around percentile × (n-1), a FLOAT), as Neo4j computes
// them; null of no values. The percentile, between 0.0 and 1.0, is read from the group's
// first row.
type percentileAgg struct {
	call *cypher.FuncCall
	cont bool
	p    float64
	vals []any
}

func (a *percentileAgg) setPercentile(v any, err error) error {
	if err != nil {
		return err
	}
	p, ok := toFloat(v)
	if !ok || p < 0 || p > 1 || math.IsNaN(p) {
		return errorf(a.call.Args[1].Position(), "%s() takes a percentile between 0.0 and 1.0, not %v (%s)", a.call.Shown(), v, value.WithArticle(v))
	}
	a.p = p
	return nil
}

func (a *percentileAgg) add(v any) error {
	if v == nil {
		return nil
	}
	if _, ok := toFloat(v); !ok {
		return errorf(a.call.Pos, "type error: %s() takes numbers, not %s", a.call.Shown(), value.WithArticle(v))
	}
	a.vals = append(a.vals, v)
	return nil
}

func (a *percentileAgg) result() any {
	n := len(a.vals)
	if n == 0 {
		return nil
	}
	slices.SortStableFunc(a.vals, func(x, y any) int { return value.Compare(x, y) })
	if !a.cont {
		i := int(math.Ceil(a.p*float64(n))) - 1
		return a.vals[max(i, 0)]
	}
	at := a.p * float64(n-1)
	lo, hi := int(math.Floor(at)), int(math.Ceil(at))
	fl, _ := toFloat(a.vals[lo])
	if lo == hi {
		return fl
	}
	fh, _ := toFloat(a.vals[hi])
	return fl*(float64(hi)-at) + fh*(at-float64(lo))
}

// extremeAgg is min or max in value.Compare's order (across types too); the first of
// equivalent values is kept.
type extremeAgg struct {
	max bool
	cur any
}

func (a *extremeAgg) add(v any) error {
	if v == nil {
		return nil
	}
	if a.cur == nil {
		a.cur = v
		return nil
	}
	c := value.Compare(v, a.cur)
	if a.max && c > 0 || !a.max && c < 0 {
		a.cur = v
	}
	return nil
}

func (a *extremeAgg) result() any { return a.cur }

type collectAgg struct {
	maxRows int
	list    []any
}

func (a *collectAgg) add(v any) error {
	if v == nil {
		return nil
	}
	if err := checkRows(len(a.list)+1, a.maxRows); err != nil {
		return err
	}
	a.list = append(a.list, v)
	return nil
}

func (a *collectAgg) result() any { return a.list }
