package exec

import (
	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/value"
)

// The expressions that bind variables of their own: list comprehensions, the list
// predicates all, any, none and single, and reduce. Each evaluates its list (and reduce its
// initial value) in the enclosing row, then its body once per element in that row extended
// with its variables, which shadow columns of the same name there only (cypher.Binds splits
// them into the two).

// bindingName names x, an expression that binds variables, in errors.
func bindingName(x cypher.Expr) string {
	switch x := x.(type) {
	case *cypher.ListPredicate:
		return x.Quantifier.String() + "()"
	case *cypher.Reduce:
		return "reduce()"
	}
	return "a list comprehension"
}

// bodyScope is the scope of the body of an expression that binds variables, and their
// columns in it.
type bodyScope struct {
	s    *Scope
	cols []int
}

// bind returns a context for the body of owner, over a copy of c's row extended with names
// (a name already bound keeps its column, whose value the copy then shadows), and the names'
// columns, which the caller sets before each evaluation. The body's scope is made once per
// enclosing scope.
func (c *evalCtx) bind(owner cypher.Expr, names ...string) (*evalCtx, []int) {
	type key struct {
		s     *Scope
		owner cypher.Expr
	}
	var b bodyScope
	if v, ok := c.env.scopes.Load(key{c.s, owner}); ok {
		b = v.(bodyScope)
	} else {
		b = bodyScope{s: c.s, cols: make([]int, len(names))}
		for i, n := range names {
			b.s, b.cols[i] = b.s.With(n)
		}
		c.env.scopes.Store(key{c.s, owner}, b)
	}
	return &evalCtx{env: c.env, s: b.s, r: c.r.Extend(b.s.Len()), aggs: c.aggs, known: c.known}, b.cols
}

// iterated evaluates the list a comprehension, list predicate or reduce iterates over: null
// gives null (null, true), anything but a list is a type error.
func (c *evalCtx) iterated(owner, list cypher.Expr) ([]any, bool, error) {
	v, err := c.eval(list)
	if err != nil || v == nil {
		return nil, v == nil, err
	}
	l, ok := v.([]any)
	if !ok {
		return nil, false, errorf(list.Position(), "type error: %s iterates over a LIST, not %s", bindingName(owner), value.WithArticle(v))
	}
	return l, false, nil
}

// condition evaluates a WHERE of owner: true, false or null; anything else is a type error.
func (c *evalCtx) condition(owner, x cypher.Expr) (any, error) {
	v, err := c.eval(x)
	if err != nil {
		return nil, err
	}
	if err := truth(x, v, "WHERE in "+bindingName(owner)); err != nil {
		return nil, err
	}
	return v, nil
}

// comprehension is [x IN list WHERE pred | expr]: the elements for which pred is true (null
// counts as false), mapped by expr; null for a null list.
func (c *evalCtx) comprehension(x *cypher.ListComprehension) (any, error) {
	list, null, err := c.iterated(x, x.List)
	if err != nil || null {
		return nil, err
	}
	in, cols := c.bind(x, x.Var)
	out := make([]any, 0, len(list))
	for i, el := range list {
		if err := c.env.interrupted(i); err != nil {
			return nil, err
		}
		in.r[cols[0]] = el
		if x.Where != nil {
			keep, err := in.condition(x, x.Where)
			if err != nil {
				return nil, err
			}
			if keep != true {
				continue
			}
		}
		if x.Map != nil {
			if el, err = in.eval(x.Map); err != nil {
				return nil, err
			}
		}
		out = append(out, el)
	}
	return out, nil
}

// listPredicate is all, any, none and single over the predicate's values for every element
// (all are evaluated, so an error in any is reported), three-valued as openCypher defines
// them: a null value is "unknown", and the result is null when the unknowns could decide it
// either way. So all is false if a value is false, else null if one is null, else true
// (true for an empty list); any is true if a value is true, else null if one is null, else
// false; none is the negation of any; single is false if two values are true, else null if
// one is null, else whether exactly one is true. A null list gives null.
func (c *evalCtx) listPredicate(x *cypher.ListPredicate) (any, error) {
	list, null, err := c.iterated(x, x.List)
	if err != nil || null {
		return nil, err
	}
	in, cols := c.bind(x, x.Var)
	trues, nulls := 0, 0
	for i, el := range list {
		if err := c.env.interrupted(i); err != nil {
			return nil, err
		}
		in.r[cols[0]] = el
		v, err := in.condition(x, x.Where)
		if err != nil {
			return nil, err
		}
		switch v {
		case true:
			trues++
		case nil:
			nulls++
		}
	}
	falses := len(list) - trues - nulls
	switch x.Quantifier {
	case cypher.QuantAll:
		if falses > 0 {
			return false, nil
		}
	case cypher.QuantAny:
		if trues > 0 {
			return true, nil
		}
	case cypher.QuantNone:
		if trues > 0 {
			return false, nil
		}
	case cypher.QuantSingle:
		if trues > 1 {
			return false, nil
		}
	}
	if nulls > 0 {
		return nil, nil
	}
	switch x.Quantifier {
	case cypher.QuantAll, cypher.QuantNone:
		return true, nil
	case cypher.QuantAny:
		return false, nil
	}
	return trues == 1, nil
}

// reduce is reduce(acc = init, x IN list | expr): acc is init, then expr with acc and each
// element in turn; null for a null list.
func (c *evalCtx) reduce(x *cypher.Reduce) (any, error) {
	acc, err := c.eval(x.Init)
	if err != nil {
		return nil, err
	}
	list, null, err := c.iterated(x, x.List)
	if err != nil || null {
		return nil, err
	}
	in, cols := c.bind(x, x.Acc, x.Var)
	for i, el := range list {
		if err := c.env.interrupted(i); err != nil {
			return nil, err
		}
		in.r[cols[0]], in.r[cols[1]] = acc, el
		if acc, err = in.eval(x.Expr); err != nil {
			return nil, err
		}
	}
	return acc, nil
}
