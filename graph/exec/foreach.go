package exec

import (
	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/value"
)

// foreach runs FOREACH batched across rows: the body's clauses run over a temporary batch
// of rows with the variable bound, as the query's own clauses do (so writes are grouped per
// shard). A body of one clause runs once, over every (row, element) pair in row order:
// exactly openCypher's order. A body of several runs once per element position, over the
// rows whose list is that long, so that within a row each element's clauses see the
// earlier elements' effects (SET n.v = x CREATE (:B {v: n.v}) makes one B per element);
// across rows, the elements interleave (row 1's first, row 2's first, then the seconds),
// which differs from running each row whole only when two rows' bodies touch the same
// entity and read what the other wrote. Its rows pass on unchanged: only what the body did
// to entities is seen after it.
func (r *run) foreach(rows []Row, s *Scope, f *cypher.Foreach) error {
	if s.Has(f.Var) {
		return errorf(f.Pos, "variable %s is already defined", f.Var)
	}
	inner, col := s.With(f.Var)
	lists := make([][]any, len(rows))
	longest, pairs := 0, 0
	for i, row := range rows {
		v, err := r.env.Eval(f.List, s, row)
		if err != nil {
			return err
		}
		switch l := v.(type) {
		case nil:
		case []any:
			lists[i] = l
			longest, pairs = max(longest, len(l)), pairs+len(l)
			if err := r.checkRows(pairs); err != nil {
				return err
			}
		default:
			return errorf(f.List.Position(), "type error: FOREACH needs a LIST, not %s", value.WithArticle(v))
		}
	}
	bind := func(i int, el any) Row {
		nr := rows[i].Extend(inner.Len())
		nr[col] = el
		return nr
	}
	if len(f.Body) == 1 {
		batch := make([]Row, 0, pairs)
		for i, l := range lists {
			for _, el := range l {
				batch = append(batch, bind(i, el))
			}
		}
		return r.foreachBody(batch, inner, f)
	}
	for k := range longest {
		var batch []Row
		for i, l := range lists {
			if k < len(l) {
				batch = append(batch, bind(i, l[k]))
			}
		}
		if err := r.foreachBody(batch, inner, f); err != nil {
			return err
		}
	}
	return nil
}

// foreachBody runs f's body over batch, whose rows scope names.
func (r *run) foreachBody(batch []Row, scope *Scope, f *cypher.Foreach) error {
	if len(batch) == 0 {
		return nil
	}
	r.outer = append(r.outer, frame{r.clauses, r.at})
	defer func() {
		top := r.outer[len(r.outer)-1]
		r.outer = r.outer[:len(r.outer)-1]
		r.clauses, r.at = top.clauses, top.at
	}()
	r.clauses = f.Body
	for i, c := range f.Body {
		r.at = i
		var err error
		if batch, scope, err = r.update(batch, scope, c); err != nil {
			return err
		}
		if err := r.checkRows(len(batch)); err != nil {
			return err
		}
	}
	return nil
}
