package oracle

import (
	"fmt"
	"strings"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/value"
)

// eval evaluates an expression in a row. Null propagates as openCypher says: most
// operators and functions of a null are null; a type error (a property of an integer, NOT
// of a string) is an error, not null.
func (ev *evaluator) eval(e cypher.Expr, r row) (any, error) {
	if ev.known != nil {
		if v, ok := ev.known[e.String()]; ok {
			return v, nil
		}
	}
	switch e := e.(type) {
	case *cypher.Literal:
		return e.Value, nil
	case *cypher.ListLit:
		out := make([]any, len(e.Elems))
		for i, x := range e.Elems {
			v, err := ev.eval(x, r)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case *cypher.MapLit:
		out := make(map[string]any, len(e.Items))
		for _, it := range e.Items {
			v, err := ev.eval(it.Value, r)
			if err != nil {
				return nil, err
			}
			out[it.Key] = v
		}
		return out, nil
	case *cypher.Parameter:
		v, ok := ev.params[e.Name]
		if !ok {
			return nil, errAt(e.Pos, "parameter $%s was not given", e.Name)
		}
		return v, nil
	case *cypher.Variable:
		v, ok := r[e.Name]
		if !ok {
			return nil, errAt(e.Pos, "variable %s is not defined", e.Name)
		}
		return v, nil
	case *cypher.PatternPredicate:
		return ev.patternPredicate(e, r)
	case *cypher.Property:
		x, err := ev.eval(e.Expr, r)
		if err != nil {
			return nil, err
		}
		return ev.property(e.Pos, x, e.Key)
	case *cypher.Index:
		return ev.index(e, r)
	case *cypher.Slice:
		return ev.slice(e, r)
	case *cypher.Binary:
		return ev.binary(e, r)
	case *cypher.Unary:
		return ev.unary(e, r)
	case *cypher.In:
		return ev.in(e, r)
	case *cypher.StringOp:
		return ev.stringOp(e, r)
	case *cypher.IsNull:
		x, err := ev.eval(e.X, r)
		if err != nil {
			return nil, err
		}
		return (x == nil) != e.Not, nil
	case *cypher.LabelTest:
		return ev.labelTest(e, r)
	case *cypher.FuncCall:
		if v, ok := ev.aggs[e]; ok {
			return v, nil
		}
		if isAggregate(e) {
			return nil, errAt(e.Pos, "aggregate function %s is not allowed here", e.Name)
		}
		return ev.call(e, r)
	case *cypher.Case:
		return ev.caseExpr(e, r)
	case *cypher.ListComprehension:
		return ev.comprehension(e, r)
	case *cypher.ListPredicate:
		return ev.listPredicate(e, r)
	case *cypher.Reduce:
		return ev.reduce(e, r)
	case *cypher.MapProjection:
		return ev.mapProjection(e, r)
	case *cypher.RegexMatch:
		return ev.regexMatch(e, r)
	}
	return nil, fmt.Errorf("unknown expression %T", e)
}

// property reads x.key: a map's entry, a node's or relationship's property, null of null.
func (ev *evaluator) property(pos cypher.Pos, x any, key string) (any, error) {
	switch x := x.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return x[key], nil
	case *value.Node:
		v, err := ev.vertexOf(x)
		if err != nil {
			return nil, errAt(pos, "%v", err)
		}
		return v.Props[key], nil
	case *value.Relationship:
		e, err := ev.edgeOf(x)
		if err != nil {
			return nil, errAt(pos, "%v", err)
		}
		return e.Props[key], nil
	}
	return nil, errAt(pos, "cannot read property %s of %s", key, value.WithArticle(x))
}

func (ev *evaluator) index(e *cypher.Index, r row) (any, error) {
	x, err := ev.eval(e.Expr, r)
	if err != nil {
		return nil, err
	}
	i, err := ev.eval(e.Index, r)
	if err != nil || x == nil || i == nil {
		return nil, err
	}
	switch x := x.(type) {
	case []any:
		n, ok := i.(int64)
		if !ok {
			return nil, errAt(e.Pos, "a list index must be an INTEGER, not %s", value.WithArticle(i))
		}
		if n < 0 {
			n += int64(len(x))
		}
		if n < 0 || n >= int64(len(x)) {
			return nil, nil
		}
		return x[n], nil
	case map[string]any, *value.Node, *value.Relationship:
		k, ok := i.(string)
		if !ok {
			return nil, errAt(e.Pos, "%s is indexed by a STRING, not %s", value.WithArticle(x), value.WithArticle(i))
		}
		return ev.property(e.Pos, x, k)
	}
	return nil, errAt(e.Pos, "cannot index %s", value.WithArticle(x))
}

func (ev *evaluator) slice(e *cypher.Slice, r row) (any, error) {
	x, err := ev.eval(e.Expr, r)
	if err != nil {
		return nil, err
	}
	if x == nil {
		return nil, nil
	}
	l, ok := x.([]any)
	if !ok {
		return nil, errAt(e.Pos, "cannot slice %s", value.WithArticle(x))
	}
	n := int64(len(l))
	// bound evaluates one end: absent is def; null makes the whole slice null.
	bound := func(b cypher.Expr, def int64) (int64, bool, error) {
		if b == nil {
			return def, true, nil
		}
		v, err := ev.eval(b, r)
		if err != nil || v == nil {
			return 0, false, err
		}
		i, ok := v.(int64)
		if !ok {
			return 0, false, errAt(e.Pos, "a slice bound must be an INTEGER, not %s", value.WithArticle(v))
		}
		if i < 0 {
			i += n
		}
		return min(max(i, 0), n), true, nil
	}
	from, ok1, err := bound(e.From, 0)
	if err != nil {
		return nil, err
	}
	to, ok2, err := bound(e.To, n)
	if err != nil || !ok1 || !ok2 {
		return nil, err
	}
	if from >= to {
		return []any{}, nil
	}
	return append([]any{}, l[from:to]...), nil
}

func (ev *evaluator) binary(e *cypher.Binary, r row) (any, error) {
	switch e.Op {
	case cypher.OpAnd, cypher.OpOr, cypher.OpXor:
		return ev.logic(e, r)
	}
	a, err := ev.eval(e.L, r)
	if err != nil {
		return nil, err
	}
	b, err := ev.eval(e.R, r)
	if err != nil {
		return nil, err
	}
	switch e.Op {
	case cypher.OpEq:
		return value.Equal(a, b), nil
	case cypher.OpNe:
		return not(value.Equal(a, b)), nil
	case cypher.OpLt:
		return value.Less(a, b), nil
	case cypher.OpGt:
		return value.Less(b, a), nil
	case cypher.OpLe:
		return value.LessEqual(a, b), nil
	case cypher.OpGe:
		return value.LessEqual(b, a), nil
	}
	v, err := arith(e.Op, a, b)
	if err != nil {
		return nil, errAt(e.Pos, "%v", err)
	}
	return v, nil
}

// logic is AND, OR and XOR in three-valued logic. AND and OR stop at a deciding left
// operand (false, true), as openCypher allows.
func (ev *evaluator) logic(e *cypher.Binary, r row) (any, error) {
	a, err := ev.boolean(e.L, r, e.Op.String())
	if err != nil {
		return nil, err
	}
	if e.Op == cypher.OpAnd && a == false || e.Op == cypher.OpOr && a == true {
		return a, nil
	}
	b, err := ev.boolean(e.R, r, e.Op.String())
	if err != nil {
		return nil, err
	}
	switch e.Op {
	case cypher.OpAnd:
		if b == false {
			return false, nil
		}
		if a == nil || b == nil {
			return nil, nil
		}
		return true, nil
	case cypher.OpOr:
		if b == true {
			return true, nil
		}
		if a == nil || b == nil {
			return nil, nil
		}
		return false, nil
	}
	if a == nil || b == nil {
		return nil, nil
	}
	return a != b, nil
}

// boolean evaluates an operand of a logical operator: true, false or nil.
func (ev *evaluator) boolean(x cypher.Expr, r row, op string) (any, error) {
	v, err := ev.eval(x, r)
	if err != nil {
		return nil, err
	}
	switch v.(type) {
	case nil, bool:
		return v, nil
	}
	return nil, errAt(x.Position(), "%s expects BOOLEAN operands, found %s", op, value.WithArticle(v))
}

// not is ternary NOT.
func not(v any) any {
	if b, ok := v.(bool); ok {
		return !b
	}
	return nil
}

// truth evaluates a predicate (WHERE): only true keeps a row; a non-boolean is an error.
func (ev *evaluator) truth(x cypher.Expr, r row) (bool, error) {
	v, err := ev.boolean(x, r, "WHERE")
	return v == true, err
}

func (ev *evaluator) unary(e *cypher.Unary, r row) (any, error) {
	if e.Op == cypher.OpNot {
		v, err := ev.boolean(e.X, r, "NOT")
		return not(v), err
	}
	v, err := ev.eval(e.X, r)
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case int64:
		if e.Op == cypher.OpPlus {
			return x, nil
		}
		return neg(x, e.Pos)
	case float64:
		if e.Op == cypher.OpPlus {
			return x, nil
		}
		return -x, nil
	}
	return nil, errAt(e.Pos, "unary %s expects a number, found %s", e.Op, value.WithArticle(v))
}

// in is X IN List: true if an element equals X, else null if some comparison was null,
// else false (so null IN [] is false and 1 IN [null] null).
func (ev *evaluator) in(e *cypher.In, r row) (any, error) {
	x, err := ev.eval(e.X, r)
	if err != nil {
		return nil, err
	}
	lv, err := ev.eval(e.List, r)
	if err != nil || lv == nil {
		return nil, err
	}
	l, ok := lv.([]any)
	if !ok {
		return nil, errAt(e.Pos, "IN expects a LIST on its right, found %s", value.WithArticle(lv))
	}
	unknown := false
	for _, el := range l {
		switch value.Equal(x, el) {
		case true:
			return true, nil
		case nil:
			unknown = true
		}
	}
	if unknown {
		return nil, nil
	}
	return false, nil
}

// stringOp is STARTS WITH, ENDS WITH and CONTAINS: null unless both sides are strings.
func (ev *evaluator) stringOp(e *cypher.StringOp, r row) (any, error) {
	a, err := ev.eval(e.L, r)
	if err != nil {
		return nil, err
	}
	b, err := ev.eval(e.R, r)
	if err != nil {
		return nil, err
	}
	s, ok1 := a.(string)
	t, ok2 := b.(string)
	if !ok1 || !ok2 {
		return nil, nil
	}
	switch e.Op {
	case cypher.OpStartsWith:
		return strings.HasPrefix(s, t), nil
	case cypher.OpEndsWith:
		return strings.HasSuffix(s, t), nil
	}
	return strings.Contains(s, t), nil
}

func (ev *evaluator) labelTest(e *cypher.LabelTest, r row) (any, error) {
	x, err := ev.eval(e.X, r)
	if err != nil {
		return nil, err
	}
	switch n := x.(type) {
	case nil:
		return nil, nil
	case *value.Node:
		v, err := ev.vertexOf(n)
		if err != nil {
			return nil, errAt(e.Pos, "%v", err)
		}
		for _, l := range e.Labels {
			if !hasLabel(v, l) {
				return false, nil
			}
		}
		return true, nil
	case *value.Relationship:
		ed, err := ev.edgeOf(n)
		if err != nil {
			return nil, errAt(e.Pos, "%v", err)
		}
		for _, l := range e.Labels {
			if ed.Type != l {
				return false, nil
			}
		}
		return true, nil
	}
	return nil, errAt(e.Pos, "a label test needs a NODE or a RELATIONSHIP, found %s", value.WithArticle(x))
}

func (ev *evaluator) caseExpr(e *cypher.Case, r row) (any, error) {
	var subject any
	if e.Subject != nil {
		var err error
		if subject, err = ev.eval(e.Subject, r); err != nil {
			return nil, err
		}
	}
	for _, w := range e.Whens {
		c, err := ev.eval(w.Cond, r)
		if err != nil {
			return nil, err
		}
		if e.Subject != nil && value.Equal(subject, c) == true || e.Subject == nil && c == true {
			return ev.eval(w.Result, r)
		}
	}
	if e.Else == nil {
		return nil, nil
	}
	return ev.eval(e.Else, r)
}

// walk calls f on e and every expression inside it, depth first; f returning false skips
// the children.
func walk(e cypher.Expr, f func(cypher.Expr) bool) {
	if e == nil || !f(e) {
		return
	}
	switch e := e.(type) {
	case *cypher.ListLit:
		for _, x := range e.Elems {
			walk(x, f)
		}
	case *cypher.MapLit:
		for _, it := range e.Items {
			walk(it.Value, f)
		}
	case *cypher.Property:
		walk(e.Expr, f)
	case *cypher.Index:
		walk(e.Expr, f)
		walk(e.Index, f)
	case *cypher.Slice:
		walk(e.Expr, f)
		walk(e.From, f)
		walk(e.To, f)
	case *cypher.Binary:
		walk(e.L, f)
		walk(e.R, f)
	case *cypher.Unary:
		walk(e.X, f)
	case *cypher.In:
		walk(e.X, f)
		walk(e.List, f)
	case *cypher.StringOp:
		walk(e.L, f)
		walk(e.R, f)
	case *cypher.IsNull:
		walk(e.X, f)
	case *cypher.LabelTest:
		walk(e.X, f)
	case *cypher.FuncCall:
		for _, x := range e.Args {
			walk(x, f)
		}
	case *cypher.Case:
		walk(e.Subject, f)
		for _, w := range e.Whens {
			walk(w.Cond, f)
			walk(w.Result, f)
		}
		walk(e.Else, f)
	case *cypher.RegexMatch:
		walk(e.L, f)
		walk(e.R, f)
	case *cypher.ListComprehension:
		walk(e.List, f)
		walk(e.Where, f)
		walk(e.Map, f)
	case *cypher.ListPredicate:
		walk(e.List, f)
		walk(e.Where, f)
	case *cypher.Reduce:
		walk(e.Init, f)
		walk(e.List, f)
		walk(e.Expr, f)
	case *cypher.MapProjection:
		walk(e.Var, f)
		for _, it := range e.Items {
			walk(it.Value, f)
		}
	}
}

// binder splits an expression that binds variables of its own (a list comprehension, a list
// predicate, reduce) into what is evaluated in the enclosing row (outer), what sees the new
// variables (inner), and their names; ok is false for other expressions.
func binder(e cypher.Expr) (outer, inner []cypher.Expr, names []string, ok bool) {
	switch e := e.(type) {
	case *cypher.ListComprehension:
		return []cypher.Expr{e.List}, []cypher.Expr{e.Where, e.Map}, []string{e.Var}, true
	case *cypher.ListPredicate:
		return []cypher.Expr{e.List}, []cypher.Expr{e.Where}, []string{e.Var}, true
	case *cypher.Reduce:
		return []cypher.Expr{e.Init, e.List}, []cypher.Expr{e.Expr}, []string{e.Acc, e.Var}, true
	}
	return nil, nil, nil, false
}

// checkVars fails on the first variable of e that is not in scope, and on an aggregate
// (callers that allow aggregates check them separately).
func checkVars(e cypher.Expr, sc scope) error {
	return checkExpr(e, sc, false)
}

// checkExpr checks that e reads only variables of sc, calls known functions, and has
// aggregates only where aggOK; a subexpression whose text is in known (a projection's item,
// for its ORDER BY and WHERE) is a value, whatever it reads.
func checkExpr(e cypher.Expr, sc scope, aggOK bool, known ...map[string]any) error {
	var err error
	walk(e, func(x cypher.Expr) bool {
		if err != nil {
			return false
		}
		if len(known) > 0 {
			if _, ok := known[0][x.String()]; ok {
				return false
			}
		}
		if outer, inner, names, ok := binder(x); ok {
			// Its own variables are in scope in its body, where an aggregate is not allowed.
			for _, o := range outer {
				if err == nil {
					err = checkExpr(o, sc, aggOK, known...)
				}
			}
			for _, in := range inner {
				if err == nil && in != nil {
					err = checkExpr(in, sc.add(names...), false, known...)
				}
			}
			return false
		}
		switch x := x.(type) {
		case *cypher.Variable:
			if !sc.has(x.Name) {
				err = errAt(x.Pos, "variable %s is not defined", x.Name)
			}
		case *cypher.PatternPredicate:
			err = checkPredicate(x, sc)
		case *cypher.FuncCall:
			if !knownFunction(x.Name) {
				err = errAt(x.Pos, "unknown function %s", x.Name)
			} else if isAggregate(x) && !aggOK {
				err = errAt(x.Pos, "aggregate function %s is not allowed here", x.Name)
			} else if isAggregate(x) {
				// An aggregate's argument is evaluated per row: no aggregate inside it.
				for _, a := range x.Args {
					if err = checkExpr(a, sc, false); err != nil {
						break
					}
				}
				return false
			}
		}
		return true
	})
	return err
}

// hasAggregate reports whether e calls an aggregate function.
func hasAggregate(e cypher.Expr) bool {
	found := false
	walk(e, func(x cypher.Expr) bool {
		if fc, ok := x.(*cypher.FuncCall); ok && isAggregate(fc) {
			found = true
		}
		return !found
	})
	return found
}
