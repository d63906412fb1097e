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

// kindsAfter checks the patterns of c against ks, and that c reads no variable ks does not
// hold (defined), and returns the kinds after it.
func (p *parser) kindsAfter(ks kinds, c Clause) kinds {
	switch c := c.(type) {
	case *Match:
		for _, pat := range c.Patterns {
			p.patternKinds(ks, pat)
		}
		p.defined(ks, patternExprs(c.Patterns...)...)
		p.defined(ks, c.Where)
		p.noAggregate(c.Where)
	case *Create:
		for _, pat := range c.Patterns {
			p.patternKinds(ks, pat)
		}
		p.defined(ks, patternExprs(c.Patterns...)...)
	case *Merge:
		p.patternKinds(ks, c.Pattern)
		p.defined(ks, patternExprs(c.Pattern)...)
		p.setDefined(ks, c.OnCreate)
		p.setDefined(ks, c.OnMatch)
	case *Unwind:
		p.defined(ks, c.Expr)
		ks[c.Var] = kindAny
	case *Set:
		p.setDefined(ks, c.Items)
	case *Remove:
		for _, it := range c.Items {
			switch it := it.(type) {
			case *RemoveProperty:
				p.definedName(ks, it.Var, it.Pos)
			case *RemoveLabels:
				p.definedName(ks, it.Var, it.Pos)
			}
		}
	case *Delete:
		p.defined(ks, c.Exprs...)
		for _, x := range c.Exprs {
			if p.checked && exprKind(ks, x) == kindValue {
				p.failAt(x.Position(), "DELETE takes nodes, relationships and paths, and this is a value of another kind")
			}
		}
	case *Foreach:
		p.defined(ks, c.List)
		inner := kinds{}
		for k, v := range ks {
			inner[k] = v
		}
		inner[c.Var] = kindAny
		for _, b := range c.Body {
			inner = p.kindsAfter(inner, b)
		}
	case *With:
		// Its WHERE and ORDER BY may read the variables before it and the items by their
		// expressions (the executor checks those).
		p.projectionDefined(ks, &c.Projection)
		p.noAggregate(c.Where)
		return projectionKinds(ks, &c.Projection)
	case *Return:
		p.projectionDefined(ks, &c.Projection)
	}
	return ks
}

// projectionDefined checks a projection's items (ks defined).
func (p *parser) projectionDefined(ks kinds, pr *Projection) {
	for _, it := range pr.Items {
		p.defined(ks, it.Expr)
	}
}

// setDefined checks SET items (ks defined).
func (p *parser) setDefined(ks kinds, items []SetItem) {
	for _, it := range items {
		switch it := it.(type) {
		case *SetProperty:
			p.definedName(ks, it.Var, it.Pos)
			p.defined(ks, it.Value)
		case *SetProperties:
			p.definedName(ks, it.Var, it.Pos)
			p.defined(ks, it.Value)
		case *SetLabels:
			p.definedName(ks, it.Var, it.Pos)
		}
	}
}

// definedName refuses name, read at pos, when ks does not hold it (ParseChecked only).
func (p *parser) definedName(ks kinds, name string, pos Pos) {
	if _, ok := ks[name]; !ok && p.checked {
		p.failAt(pos, "variable %s is not defined", name)
	}
}

// defined refuses the first variable the expressions read that ks does not hold, and a
// function given a variable of a kind it never takes (argKinds). It looks only where no
// variable of the expression's own is bound: not into the bodies of list comprehensions, list
// predicates and reduce, nor into pattern predicates and comprehensions (whose new variables
// are their own); the executor checks those.
func (p *parser) defined(ks kinds, xs ...Expr) {
	for _, x := range xs {
		if v, ok := x.(*Variable); ok {
			p.definedName(ks, v.Name, v.Pos)
			continue
		}
		if f, ok := x.(*FuncCall); ok {
			p.argKinds(ks, f)
		}
		if pr, ok := x.(*Property); ok && p.checked {
			if v, ok := pr.Expr.(*Variable); ok && ks[v.Name] == kindPath {
				p.failAt(pr.Pos, "%s is a path, which has no properties", v.Name)
			}
		}
		if outer, _, _, ok := Binds(x); ok {
			p.defined(ks, outer...)
			continue
		}
		p.defined(ks, Children(x)...)
	}
}

// noAggregate refuses an aggregate function in a WHERE (ParseChecked only): WHERE filters
// rows one by one, before any grouping (openCypher's InvalidAggregation).
func (p *parser) noAggregate(where Expr) {
	if where == nil || !p.checked {
		return
	}
	var visit func(x Expr)
	visit = func(x Expr) {
		if IsAggregate(x) {
			f := x.(*FuncCall)
			p.failAt(f.Pos, "aggregate function %s() cannot be used in WHERE: aggregate in a WITH, then filter with its WHERE", f.Shown())
		}
		for _, ch := range Children(x) {
			visit(ch)
		}
	}
	visit(where)
}

// argKinds refuses a function given a variable the clauses before bound to a kind it never
// takes (ParseChecked only): type() of anything but a relationship, length() of a node or a
// relationship, size() of a path (openCypher's InvalidArgumentType, found before anything
// runs, as an empty graph would never find it).
func (p *parser) argKinds(ks kinds, f *FuncCall) {
	if !p.checked || len(f.Args) != 1 {
		return
	}
	v, ok := f.Args[0].(*Variable)
	if !ok {
		return
	}
	k := ks[v.Name]
	var wrong bool
	switch f.Name {
	case "type":
		wrong = k == kindNode || k == kindPath || k == kindRels
	case "length":
		wrong = k == kindNode || k == kindRel
	case "size":
		wrong = k == kindPath
	}
	if wrong {
		p.failAt(v.Pos, "%s() cannot take %s, which %s is", f.Shown(), k, v.Name)
	}
}

// patternExprs are the property maps of the patterns.
func patternExprs(pats ...*Pattern) []Expr {
	var out []Expr
	for _, pat := range pats {
		for _, el := range pat.Elements {
			switch el := el.(type) {
			case *NodePattern:
				out = append(out, el.Props)
			case *RelPattern:
				out = append(out, el.Props)
			}
		}
	}
	return out
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
// relationships; null may stand for anything (a missing node); another literal, a node's or
// relationship's property or an operator's result is a value; anything else (a function's
// result, an index, a map's value) may be anything.
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
	case *Property:
		// A node's or relationship's property is a value; a map's may be a node.
		if v, ok := x.Expr.(*Variable); ok && (ks[v.Name] == kindNode || ks[v.Name] == kindRel) {
			return kindValue
		}
		return kindAny
	case *MapLit, *Binary, *Unary, *StringOp, *IsNull, *In, *RegexMatch, *LabelTest:
		return kindValue
	}
	return kindAny
}
