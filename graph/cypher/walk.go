package cypher

// Children returns x's direct subexpressions in the order written. A pattern predicate or
// comprehension has none here: its patterns bind variables of their own, which its users
// treat apart (the executor's planner, the parser's check of defined variables).
func Children(x Expr) []Expr {
	switch x := x.(type) {
	case *ListLit:
		return x.Elems
	case *MapLit:
		out := make([]Expr, len(x.Items))
		for i, it := range x.Items {
			out[i] = it.Value
		}
		return out
	case *Property:
		return []Expr{x.Expr}
	case *Index:
		return []Expr{x.Expr, x.Index}
	case *Slice:
		return nonNil(x.Expr, x.From, x.To)
	case *Binary:
		return []Expr{x.L, x.R}
	case *Unary:
		return []Expr{x.X}
	case *In:
		return []Expr{x.X, x.List}
	case *StringOp:
		return []Expr{x.L, x.R}
	case *RegexMatch:
		return []Expr{x.L, x.R}
	case *IsNull:
		return []Expr{x.X}
	case *LabelTest:
		return []Expr{x.X}
	case *FuncCall:
		return x.Args
	case *Case:
		out := nonNil(x.Subject)
		for _, w := range x.Whens {
			out = append(out, w.Cond, w.Result)
		}
		return append(out, nonNil(x.Else)...)
	case *ListComprehension:
		return nonNil(x.List, x.Where, x.Map)
	case *ListPredicate:
		return []Expr{x.List, x.Where}
	case *Reduce:
		return []Expr{x.Init, x.List, x.Expr}
	case *MapProjection:
		out := []Expr{x.Var}
		for _, it := range x.Items {
			out = append(out, nonNil(it.Value)...)
		}
		return out
	}
	return nil // literals, parameters, variables, pattern predicates
}

// Binds splits x, when it binds variables of its own (a list comprehension, a list predicate
// all/any/none/single, reduce), into the expressions evaluated in the enclosing scope
// (outer), those that see its variables too (inner), and the variables' names; ok is false
// for any other expression.
func Binds(x Expr) (outer, inner []Expr, names []string, ok bool) {
	switch x := x.(type) {
	case *ListComprehension:
		return []Expr{x.List}, nonNil(x.Where, x.Map), []string{x.Var}, true
	case *ListPredicate:
		return []Expr{x.List}, []Expr{x.Where}, []string{x.Var}, true
	case *Reduce:
		return []Expr{x.Init, x.List}, []Expr{x.Expr}, []string{x.Acc, x.Var}, true
	}
	return nil, nil, nil, false
}

func nonNil(xs ...Expr) []Expr {
	out := make([]Expr, 0, len(xs))
	for _, x := range xs {
		if x != nil {
			out = append(out, x)
		}
	}
	return out
}
