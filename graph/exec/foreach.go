package exec

import (
	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/value"
)

// foreach runs FOREACH batched: every (row, element) pair becomes a row of a temporary
// batch with the variable bound, and the body's clauses run over that batch one after the
// other, as the query's own clauses do (so writes are grouped per shard). Its rows pass on
// unchanged: only what the body did to entities is seen after it.
func (r *run) foreach(rows []Row, s *Scope, f *cypher.Foreach) error {
	if s.Has(f.Var) {
		return errorf(f.Pos, "variable %s is already defined", f.Var)
	}
	inner, col := s.With(f.Var)
	var batch []Row
	for _, row := range rows {
		v, err := r.env.Eval(f.List, s, row)
		if err != nil {
			return err
		}
		switch l := v.(type) {
		case nil:
		case []any:
			for _, el := range l {
				nr := row.Extend(inner.Len())
				nr[col] = el
				batch = append(batch, nr)
			}
			if err := r.checkRows(len(batch)); err != nil {
				return err
			}
		default:
			return errorf(f.List.Position(), "type error: FOREACH needs a LIST, not a %s", value.TypeName(v))
		}
	}
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
	scope := inner
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
