package exec

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strconv"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/value"
)

// Pattern predicates ((a)-->(b) in WHERE, exists(...), EXISTS { }, COUNT { }) and
// pattern comprehensions ([(a)-->(b) WHERE ... | expr]) are semi-joins: before the expressions that hold them are evaluated over a batch of rows,
// each predicate is computed for every row of the batch at once, into a hidden column of
// the rows, which Eval then reads. A matcher (the one MATCH uses) expands the predicate's
// patterns from the vertices the rows bind, hop by hop, one request per shard per hop for
// the whole batch, and the rows that found a match (or how many, or the comprehension's
// expression at each match) give each row's value.
// The predicate's own variables stay in its matcher; its relationships are unique among
// themselves only. A row whose bound vertex is null gets null, without a request.

// predVar is the hidden column of predicate x.
func predVar(x *cypher.PatternPredicate) string {
	return hidden + "p" + strconv.Itoa(x.Pos.Line) + ":" + strconv.Itoa(x.Pos.Column)
}

// predicateExprs are the expressions of x's patterns, WHERE and map: its property maps,
// its condition and a comprehension's expression.
func predicateExprs(x *cypher.PatternPredicate) []cypher.Expr {
	var out []cypher.Expr
	for _, p := range x.Patterns {
		for _, n := range p.Nodes() {
			out = append(out, nonNil(n.Props)...)
		}
		for _, rel := range p.Rels() {
			out = append(out, nonNil(rel.Props)...)
		}
	}
	return append(out, nonNil(x.Where, x.Map)...)
}

// predicateChildren are x's subexpressions for the planner: the variables of its patterns
// (as they read the row's), then predicateExprs.
func predicateChildren(x *cypher.PatternPredicate) []cypher.Expr {
	var out []cypher.Expr
	for _, p := range x.Patterns {
		for _, n := range p.Nodes() {
			if n.Var != "" {
				out = append(out, &cypher.Variable{At: n.At, Name: n.Var})
			}
		}
	}
	return append(out, predicateExprs(x)...)
}

// patternPredicates appends the predicates of e to out, outermost only: those inside one
// are computed by its matcher.
func patternPredicates(out []*cypher.PatternPredicate, e cypher.Expr) []*cypher.PatternPredicate {
	walk(e, func(x cypher.Expr) bool {
		if p, ok := x.(*cypher.PatternPredicate); ok {
			out = append(out, p)
			return false
		}
		return true
	})
	return out
}

// patternPredicate reads x's value, computed into its column beforehand.
func (c *evalCtx) patternPredicate(x *cypher.PatternPredicate) (any, error) {
	i, ok := c.s.Index(predVar(x))
	if !ok || i >= len(c.r) {
		return nil, errorf(x.Pos, "%s is evaluated in WHERE, WITH and RETURN only", predicateName(x))
	}
	return c.r[i], nil
}

func predicateName(x *cypher.PatternPredicate) string {
	switch x.Form {
	case cypher.ExistsSubquery:
		return "EXISTS { }"
	case cypher.CountSubquery:
		return "COUNT { }"
	case cypher.Comprehension:
		if x.Value {
			return "a pattern used as a value"
		}
		return "a pattern comprehension"
	}
	return "a pattern predicate"
}

// withPredicates computes the pattern predicates of exprs over rows (scope s) and returns
// the rows and the scope with a hidden column for each (the same when there are none).
func (r *run) withPredicates(rows []Row, s *Scope, exprs ...cypher.Expr) ([]Row, *Scope, error) {
	var preds []*cypher.PatternPredicate
	for _, e := range exprs {
		preds = patternPredicates(preds, e)
	}
	if len(preds) == 0 {
		return rows, s, nil
	}
	out := s
	cols := make([]int, len(preds))
	for i, p := range preds {
		out, cols[i] = out.With(predVar(p))
	}
	ext := make([]Row, len(rows))
	for i, row := range rows {
		ext[i] = row.Extend(out.Len())
	}
	for i, p := range preds {
		vals, err := r.predicate(p, rows, s)
		if err != nil {
			return nil, nil, err
		}
		for j, v := range vals {
			ext[j][cols[i]] = v
		}
	}
	return ext, out, nil
}

// predicate computes x for each of rows (scope s): true when the row has a match (COUNT
// { }: the number of matches; a comprehension: the list of its expression at each match),
// null when a vertex it starts from is null. Rows that agree on every entity x reads are
// matched once.
func (r *run) predicate(x *cypher.PatternPredicate, rows []Row, s *Scope) ([]any, error) {
	bound, err := anchors(x, s)
	if err != nil {
		return nil, err
	}
	var reads []int
	names := map[string]bool{}
	mentions(x, names)
	for name := range names {
		if col, ok := s.Index(name); ok {
			reads = append(reads, col)
		}
	}
	slices.Sort(reads)
	mt := r.newMatcher(s)
	mt.pred = x
	out := make([]any, len(rows))
	same := make([]int, len(rows)) // the row whose value row i takes
	first := map[string]int{}
	var key []byte
rows:
	for i, row := range rows {
		same[i] = i
		for _, name := range bound {
			col, _ := s.Index(name)
			switch v := row[col].(type) {
			case nil:
				continue rows
			case *value.Node:
			default:
				return nil, errorf(x.Pos, "type error: %s starts from %s, which is %s, not a NODE", predicateName(x), name, value.WithArticle(v))
			}
		}
		var ok bool
		if key, ok = entityKey(key[:0], row, reads); ok {
			if j, seen := first[string(key)]; seen {
				same[i] = j
				continue
			}
			first[string(key)] = i
		}
		switch x.Form {
		case cypher.CountSubquery:
			out[i] = int64(0)
		case cypher.Comprehension:
			out[i] = []any{}
		default:
			out[i] = false
		}
		mt.rows = append(mt.rows, &mrow{row: row, origin: i})
	}
	if len(mt.rows) == 0 {
		return out, nil
	}
	matched, err := mt.matchRows(&cypher.Match{At: x.At, Patterns: x.Patterns, Where: x.Where})
	if err != nil {
		return nil, err
	}
	if x.Form == cypher.Comprehension {
		err = mt.collect(x, matched, out)
	} else {
		for _, m := range matched {
			if n, ok := out[m.origin].(int64); ok {
				out[m.origin] = n + 1
			} else {
				out[m.origin] = true
			}
		}
	}
	if err != nil {
		return nil, err
	}
	for i, j := range same {
		out[i] = out[j]
	}
	return out, nil
}

// collect appends comprehension x's expression at each of its matches to the list of the
// match's row in out, the matches of a row in the order of the ids of the nodes and
// relationships they bind (a pattern's, then its relationships'). Pattern predicates in
// the expression are computed over all the matches at once.
func (mt *matcher) collect(x *cypher.PatternPredicate, matched []*mrow, out []any) error {
	rows := make([]Row, len(matched))
	keys := make([][]byte, len(matched))
	for i, m := range matched {
		rows[i] = m.row
		if len(m.row) < mt.scope.Len() {
			rows[i] = m.row.Extend(mt.scope.Len())
		}
		keys[i] = matchKey(binary.BigEndian.AppendUint64(nil, uint64(m.origin)), rows[i][mt.input.Len():])
	}
	order := make([]int, len(matched))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return bytes.Compare(keys[a], keys[b]) })
	rows, s, err := mt.r.withPredicates(rows, mt.scope, x.Map)
	if err != nil {
		return err
	}
	for _, i := range order {
		v, err := mt.r.env.Eval(x.Map, s, rows[i])
		if err != nil {
			return err
		}
		o := matched[i].origin
		out[o] = append(out[o].([]any), v)
	}
	return nil
}

// matchKey appends the identities of the nodes and relationships in vals (and in lists
// of them) to b.
func matchKey(b []byte, vals []any) []byte {
	for _, v := range vals {
		if l, ok := v.([]any); ok {
			b = matchKey(append(b, 'l'), l)
		} else if v != nil {
			b, _ = appendIdentity(b, v)
		}
	}
	return b
}

// entityKey appends the identities of the row's values in cols to b, and reports whether
// they all are nodes, relationships or null (other values are not keyed: 1 and 1.0 are
// one key, yet toString tells them apart).
func entityKey(b []byte, row Row, cols []int) ([]byte, bool) {
	for _, c := range cols {
		var ok bool
		if b, ok = appendIdentity(b, row[c]); !ok {
			return b, false
		}
	}
	return b, true
}

// anchors returns the node variables of x that s binds, and refuses a pattern of x that
// names none of them nor a node of an earlier pattern of x (it would scan the graph for
// every batch), and a relationship variable s binds.
func anchors(x *cypher.PatternPredicate, s *Scope) ([]string, error) {
	var bound []string
	local := map[string]bool{}
	for _, p := range x.Patterns {
		anchored := false
		for _, n := range p.Nodes() {
			switch {
			case n.Var == "":
			case s.Has(n.Var):
				anchored = true
				if !slices.Contains(bound, n.Var) {
					bound = append(bound, n.Var)
				}
			case local[n.Var]:
				anchored = true
			}
		}
		if !anchored {
			shown := p.String()
			if x.Value {
				shown = x.String() // without the path variable the parser named
			}
			return nil, errorf(p.Pos, "%s must start from a node the row binds, and %s names none", predicateName(x), shown)
		}
		for _, n := range p.Nodes() {
			if n.Var != "" && !s.Has(n.Var) {
				local[n.Var] = true
			}
		}
		for _, rel := range p.Rels() {
			if rel.Var != "" && s.Has(rel.Var) {
				return nil, errorf(rel.Pos, "relationship variable %s is bound outside %s: its relationships are its own", rel.Var, predicateName(x))
			}
		}
	}
	return bound, nil
}

// predicates computes the pattern predicates of the residual WHERE in the rows.
func (mt *matcher) predicates() error {
	rows := make([]Row, len(mt.rows))
	for i, m := range mt.rows {
		rows[i] = m.row
	}
	ext, s, err := mt.r.withPredicates(rows, mt.scope, mt.residual...)
	if err != nil || s == mt.scope {
		return err
	}
	for i, m := range mt.rows {
		m.row = ext[i]
	}
	mt.scope = s
	return nil
}

// readsWhole reports whether the vertices of variable name must be loaded: a later clause
// or the residual WHERE reads it whole; in a predicate's matcher, its WHERE (and a
// comprehension's expression) only.
func (mt *matcher) readsWhole(name string) bool {
	if mt.pred == nil {
		return mt.r.laterReadsWhole(name, mt.residual...)
	}
	for _, e := range append(nonNil(mt.pred.Map), mt.residual...) {
		if readsWhole(e, name) {
			return true
		}
	}
	return false
}

// project runs WITH or RETURN, with the pattern predicates of its items and ORDER BY
// computed over the incoming rows and those of WITH's WHERE over the projected ones.
func (r *run) project(rows []Row, s *Scope, p *cypher.Projection, where cypher.Expr) ([]Row, *Scope, error) {
	exprs := make([]cypher.Expr, 0, len(p.Items)+len(p.OrderBy))
	for _, it := range p.Items {
		exprs = append(exprs, it.Expr)
	}
	for _, o := range p.OrderBy {
		exprs = append(exprs, o.Expr)
	}
	rows, s, err := r.withPredicates(rows, s, exprs...)
	if err != nil {
		return nil, nil, err
	}
	if len(patternPredicates(nil, where)) == 0 {
		return r.env.Project(rows, s, p, where, r.x.cfg.MaxRows)
	}
	rows, out, err := r.env.Project(rows, s, p, nil, r.x.cfg.MaxRows)
	if err != nil {
		return nil, nil, err
	}
	ext, ws, err := r.withPredicates(rows, out, where)
	if err != nil {
		return nil, nil, err
	}
	if ext, err = r.env.filter(ext, ws, where); err != nil {
		return nil, nil, err
	}
	for i, row := range ext {
		ext[i] = row[:out.Len():out.Len()]
	}
	return ext, out, nil
}
