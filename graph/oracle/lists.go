package oracle

import (
	"regexp"
	"regexp/syntax"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/value"
)

// List comprehensions, list predicates and reduce bind a variable per element in a copy of
// the row, so the name shadows a variable of the enclosing row inside them only. Map
// projections and =~ are here too.

// elements evaluates the list that a comprehension, list predicate or reduce runs over:
// (nil, true) for null, an error for anything but a list.
func (ev *evaluator) elements(what string, e cypher.Expr, r row) ([]any, bool, error) {
	v, err := ev.eval(e, r)
	if err != nil || v == nil {
		return nil, v == nil, err
	}
	l, ok := v.([]any)
	if !ok {
		return nil, false, errAt(e.Position(), "%s needs a LIST, found %s", what, value.WithArticle(v))
	}
	return l, false, nil
}

// comprehension is [x IN list WHERE p | e]: the elements where p is true, mapped by e.
func (ev *evaluator) comprehension(e *cypher.ListComprehension, r row) (any, error) {
	list, null, err := ev.elements("a list comprehension", e.List, r)
	if err != nil || null {
		return nil, err
	}
	out := []any{}
	for _, x := range list {
		inner := r.with(e.Var, x)
		if e.Where != nil {
			keep, err := ev.truth(e.Where, inner)
			if err != nil {
				return nil, err
			}
			if !keep {
				continue
			}
		}
		if e.Map != nil {
			if x, err = ev.eval(e.Map, inner); err != nil {
				return nil, err
			}
		}
		out = append(out, x)
	}
	return out, nil
}

// listPredicate is all, any, none and single with null as "unknown": the answer is null when
// the unknown elements could make it either true or false. The predicate is evaluated for
// every element.
func (ev *evaluator) listPredicate(e *cypher.ListPredicate, r row) (any, error) {
	list, null, err := ev.elements(e.Quantifier.String()+"()", e.List, r)
	if err != nil || null {
		return nil, err
	}
	var yes, no, unknown int
	for _, x := range list {
		v, err := ev.boolean(e.Where, r.with(e.Var, x), "WHERE")
		if err != nil {
			return nil, err
		}
		switch v {
		case true:
			yes++
		case false:
			no++
		default:
			unknown++
		}
	}
	// The fewest and the most elements the predicate could hold for.
	least, most := yes, yes+unknown
	decide := func(lo, hi bool) any {
		if lo == hi {
			return lo
		}
		return nil
	}
	switch e.Quantifier {
	case cypher.QuantAll:
		return decide(least == len(list), most == len(list)), nil
	case cypher.QuantAny:
		return decide(least > 0, most > 0), nil
	case cypher.QuantNone:
		return decide(most == 0, least == 0), nil
	}
	// single: exactly one holds. Certain only when the count is certain, or at least two
	// hold for sure, or none can.
	switch {
	case least >= 2 || most == 0:
		return false, nil
	case least == most:
		return least == 1, nil
	}
	return nil, nil
}

// reduce folds the list into the accumulator, from its initial value.
func (ev *evaluator) reduce(e *cypher.Reduce, r row) (any, error) {
	acc, err := ev.eval(e.Init, r)
	if err != nil {
		return nil, err
	}
	list, null, err := ev.elements("reduce()", e.List, r)
	if err != nil || null {
		return nil, err
	}
	for _, x := range list {
		if acc, err = ev.eval(e.Expr, r.with(e.Acc, acc).with(e.Var, x)); err != nil {
			return nil, err
		}
	}
	return acc, nil
}

// mapProjection is v {...} of a node, a relationship or a map: .* (wherever written) copies
// every property first, then the other items are set in order, the last of a key winning.
func (ev *evaluator) mapProjection(e *cypher.MapProjection, r row) (any, error) {
	v, err := ev.eval(e.Var, r)
	if err != nil || v == nil {
		return nil, err
	}
	var props map[string]any
	switch x := v.(type) {
	case map[string]any:
		props = x
	case *value.Node:
		vx, err := ev.vertexOf(x)
		if err != nil {
			return nil, errAt(e.Pos, "%v", err)
		}
		props = vx.Props
	case *value.Relationship:
		ex, err := ev.edgeOf(x)
		if err != nil {
			return nil, errAt(e.Pos, "%v", err)
		}
		props = ex.Props
	default:
		return nil, errAt(e.Pos, "a map projection needs a NODE, RELATIONSHIP or MAP, found %s", value.WithArticle(v))
	}
	out := map[string]any{}
	for _, it := range e.Items {
		if it.Kind == cypher.ProjectAll {
			for k, p := range props {
				out[k] = p
			}
		}
	}
	for _, it := range e.Items {
		switch it.Kind {
		case cypher.ProjectProperty:
			out[it.Key] = props[it.Key]
		case cypher.ProjectVariable, cypher.ProjectEntry:
			if out[it.Key], err = ev.eval(it.Value, r); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// regexMatch is s =~ p: whether all of s matches p (Go's RE2 syntax), null unless both are
// strings. The pattern's syntax tree is put between begin-of-text and end-of-text
// assertions.
func (ev *evaluator) regexMatch(e *cypher.RegexMatch, r row) (any, error) {
	l, err := ev.eval(e.L, r)
	if err != nil {
		return nil, err
	}
	p, err := ev.eval(e.R, r)
	if err != nil {
		return nil, err
	}
	s, ok1 := l.(string)
	pattern, ok2 := p.(string)
	if !ok1 || !ok2 {
		return nil, nil
	}
	tree, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, errAt(e.R.Position(), "invalid regular expression %q: %v", pattern, err)
	}
	whole := &syntax.Regexp{Op: syntax.OpConcat, Sub: []*syntax.Regexp{
		{Op: syntax.OpBeginText}, tree, {Op: syntax.OpEndText},
	}}
	re, err := regexp.Compile(whole.String())
	if err != nil {
		return nil, errAt(e.R.Position(), "invalid regular expression %q: %v", pattern, err)
	}
	return re.MatchString(s), nil
}
