package cypher

// Variable kinds: what the clauses before a pattern bound a variable to, as far as the query's
// text tells. A pattern that uses a variable as another kind (a relationship as a node, a
// literal as a relationship, a path as either) is refused where it is written, before anything
// runs: an empty graph answers the same as a full one (openCypher's VariableTypeConflict).

// varKind is what a variable holds.
type varKind int

const (
	kindAny   varKind = iota // unknown: an expression's value (collect(n)[0] may be a node)
	kindNode                 // a node of a pattern
	kindRel                  // a relationship of a pattern
	kindRels                 // a variable-length relationship's list
	kindPath                 // a named path
	kindValue                // a literal, a property, arithmetic: never a node or relationship
)

func (k varKind) String() string {
	return [...]string{"a value", "a node", "a relationship", "a list of relationships", "a path", "a value"}[k]
}

// kinds are the variables in scope and their kinds.
type kinds map[string]varKind

// kindsAfter checks the patterns of c against ks and returns the kinds after it.
func (p *parser) kindsAfter(ks kinds, c Clause) kinds {
	switch c := c.(type) {
	case *Match:
		for _, pat := range c.Patterns {
			p.patternKinds(ks, pat)
		}
	case *Create:
		for _, pat := range c.Patterns {
			p.patternKinds(ks, pat)
		}
	case *Merge:
		p.patternKinds(ks, c.Pattern)
	case *Unwind:
		ks[c.Var] = kindAny
	case *Foreach:
		inner := kinds{}
		for k, v := range ks {
			inner[k] = v
		}
		inner[c.Var] = kindAny
		for _, b := range c.Body {
			inner = p.kindsAfter(inner, b)
		}
	case *With:
		return projectionKinds(ks, &c.Projection)
	}
	return ks
}

// patternKinds binds the variables of pat, refusing one bound before as another kind.
func (p *parser) patternKinds(ks kinds, pat *Pattern) {
	bind := func(name string, k varKind, pos Pos) {
		if name == "" {
			return
		}
		have, ok := ks[name]
		if ok && have != kindAny && have != k {
			p.failAt(pos, "variable %s is %s, so it cannot stand for %s here", name, have, k)
		}
		if !ok {
			ks[name] = k
		}
	}
	for _, el := range pat.Elements {
		switch el := el.(type) {
		case *NodePattern:
			bind(el.Var, kindNode, el.Pos)
		case *RelPattern:
			k := kindRel
			if el.VarLength != nil {
				k = kindRels
			}
			bind(el.Var, k, el.Pos)
		}
	}
	if pat.PathVar != "" {
		if _, ok := ks[pat.PathVar]; ok {
			p.failAt(pat.Pos, "variable %s is already bound: a path's variable must be new", pat.PathVar)
		}
		ks[pat.PathVar] = kindPath
	}
}

// projectionKinds are the kinds after WITH pr (exprKind of each item).
func projectionKinds(ks kinds, pr *Projection) kinds {
	out := kinds{}
	if pr.Star {
		for k, v := range ks {
			out[k] = v
		}
	}
	for _, it := range pr.Items {
		out[it.Name()] = exprKind(ks, it.Expr)
	}
	return out
}

// exprKind is what x holds: a variable's kind; a list of relationship variables is a list of
// relationships; null may stand for anything (a missing node); another literal, a property or
// an operator's result is a value; anything else (a function's result, an index) may be
// anything.
func exprKind(ks kinds, x Expr) varKind {
	switch x := x.(type) {
	case *Variable:
		return ks[x.Name]
	case *Literal:
		if x.Value == nil {
			return kindAny
		}
		return kindValue
	case *ListLit:
		for _, el := range x.Elems {
			if exprKind(ks, el) != kindRel {
				return kindValue
			}
		}
		if len(x.Elems) > 0 {
			return kindRels
		}
		return kindValue
	case *MapLit, *Property, *Binary, *Unary, *StringOp, *IsNull, *In, *RegexMatch, *LabelTest:
		return kindValue
	}
	return kindAny
}
