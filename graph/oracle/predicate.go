package oracle

import (
	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/value"
)

// patternPredicate evaluates a pattern predicate in row r: whether its patterns have a
// match extending r (the variables r binds are fixed, the others are the predicate's own)
// that its WHERE is true of; for COUNT { }, how many; for a pattern comprehension, the list
// of its expression at each such match, in the order matchPatterns finds them. Its
// relationships are unique among its own patterns only. A node variable of the patterns
// that r binds to null makes it null.
func (ev *evaluator) patternPredicate(x *cypher.PatternPredicate, r row) (any, error) {
	for _, p := range x.Patterns {
		for _, n := range p.Nodes() {
			v, bound := r[n.Var]
			switch v.(type) {
			case nil:
				if bound && n.Var != "" {
					return nil, nil
				}
			case *value.Node:
			default:
				return nil, errAt(n.Pos, "variable %s is %s, not a node", n.Var, value.WithArticle(v))
			}
		}
	}
	n := int64(0)
	list := []any{}
	err := ev.matchPatterns(x.Patterns, r, func(m row) error {
		if x.Where != nil {
			ok, err := ev.truth(x.Where, m)
			if err != nil || !ok {
				return err
			}
		}
		n++
		if x.Form != cypher.Comprehension {
			return nil
		}
		v, err := ev.eval(x.Map, m)
		list = append(list, v)
		return err
	})
	if err != nil {
		return nil, err
	}
	switch x.Form {
	case cypher.CountSubquery:
		return n, nil
	case cypher.Comprehension:
		return list, nil
	}
	return n > 0, nil
}

// checkPredicate checks a pattern predicate in scope sc: each of its patterns names a
// node sc binds or one of an earlier pattern of it (Torua starts every pattern from the
// row's vertices), it names no relationship sc binds, and its property maps and WHERE
// (and a comprehension's expression) read only sc's variables and its own.
func checkPredicate(x *cypher.PatternPredicate, sc scope) error {
	vars, err := patternVars(x.Patterns, nil)
	if err != nil {
		return err
	}
	inner := sc
	for _, p := range x.Patterns {
		anchored := false
		for _, n := range p.Nodes() {
			anchored = anchored || n.Var != "" && inner.has(n.Var)
		}
		if !anchored {
			return errAt(p.Pos, "pattern %s of a predicate names no node bound before it", p)
		}
		for _, rp := range p.Rels() {
			if rp.Var != "" && sc.has(rp.Var) {
				return errAt(rp.Pos, "relationship variable %s is bound outside the predicate", rp.Var)
			}
		}
		for _, n := range p.Nodes() {
			inner = inner.add(n.Var)
		}
	}
	inner = inner.add(vars...)
	for _, p := range x.Patterns {
		if err := checkPatternExprs(p, inner); err != nil {
			return err
		}
	}
	if err := checkVars(x.Where, inner); err != nil {
		return err
	}
	return checkVars(x.Map, inner)
}
