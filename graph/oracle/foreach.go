package oracle

import (
	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/value"
)

// foreach runs FOREACH as openCypher defines it: for each row, for each element of the
// list in turn, the body's clauses run over that one row with the variable bound to the
// element. Rows pass on unchanged; a null list runs the body no time.
func (ev *evaluator) foreach(c *cypher.Foreach, rows []row, sc scope) error {
	if sc.has(c.Var) {
		return errAt(c.Pos, "variable %s is already declared", c.Var)
	}
	if err := checkVars(c.List, sc); err != nil {
		return err
	}
	inner := sc.add(c.Var)
	// The body over no rows checks its variables (and writes nothing), even when no list
	// has an element.
	if err := ev.body(c.Body, nil, inner); err != nil {
		return err
	}
	for _, r := range rows {
		v, err := ev.eval(c.List, r)
		if err != nil {
			return err
		}
		switch l := v.(type) {
		case nil:
		case []any:
			for _, el := range l {
				if err := ev.body(c.Body, []row{r.with(c.Var, el)}, inner); err != nil {
					return err
				}
			}
		default:
			return errAt(c.List.Position(), "FOREACH over %s, which is not a list", value.WithArticle(v))
		}
	}
	return nil
}

// body runs a FOREACH's clauses over rows.
func (ev *evaluator) body(clauses []cypher.Clause, rows []row, sc scope) error {
	var err error
	for _, c := range clauses {
		if rows, sc, err = ev.update(c, rows, sc); err != nil {
			return err
		}
	}
	return nil
}
