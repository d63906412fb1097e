package cypher

// Patterns: (a:L {k: v})-[r:T|U*1..3 {k: v}]->(b), named paths and shortest paths.

// patterns reads comma-separated patterns.
func (p *parser) patterns() []*Pattern {
	pats := []*Pattern{p.pattern()}
	for p.acceptSym(",") {
		pats = append(pats, p.pattern())
	}
	return pats
}

// pattern reads [p =] chain, or [p =] shortestPath(chain) / allShortestPaths(chain).
func (p *parser) pattern() *Pattern {
	pat := &Pattern{At: At{p.cur().Pos}}
	if p.isVar(0) && p.isSym(1, "=") {
		pat.PathVar = p.next().Text
		p.next()
	}
	switch t := p.cur(); {
	case t.Kind == Ident && p.isSym(1, "(") && asciiLower(t.Text) == "shortestpath":
		pat.Shortest = ShortestPath
	case t.Kind == Ident && p.isSym(1, "(") && asciiLower(t.Text) == "allshortestpaths":
		pat.Shortest = AllShortestPath
	default:
		p.chain(pat)
		return pat
	}
	fn := p.next()
	p.next()
	p.chain(pat)
	p.expectSym(")", `")" after the pattern of `+fn.Text)
	if len(pat.Elements) != 3 {
		p.failAt(fn.Pos, "expected a pattern of exactly one relationship between two nodes in %s, found %d relationships", fn.Text, len(pat.Elements)/2)
	}
	return pat
}

// chain reads a node, then relationships and nodes alternating.
func (p *parser) chain(pat *Pattern) {
	pat.Elements = append(pat.Elements, p.node())
	for p.atSym("-") || p.atSym("<") && p.isSym(1, "-") {
		pat.Elements = append(pat.Elements, p.rel(), p.node())
	}
}

// node reads (v:L:M {k: v}), every part optional.
func (p *parser) node() *NodePattern {
	open := p.expectSym("(", `a node pattern "("`)
	n := &NodePattern{At: At{open.Pos}}
	after := `a variable, ":", a property map or ")" in the node pattern`
	if p.isVar(0) {
		n.Var = p.next().Text
		after = `":", a property map or ")" after the variable`
	}
	if p.atSym(":") {
		n.Labels = p.labels()
		after = `")" or a property map after the label`
	}
	if n.Props = p.props(); n.Props != nil {
		after = `")" after the property map`
	}
	p.expectSym(")", after)
	return n
}

// props reads a pattern's property map or parameter, if there is one.
func (p *parser) props() Expr {
	if p.atSym("{") {
		return p.mapLit()
	}
	if t := p.cur(); t.Kind == Param {
		p.next()
		return &Parameter{At: At{t.Pos}, Name: t.Text}
	}
	return nil
}

// rel reads a relationship: -[...]->, <-[...]-, -[...]-, <-[...]->, -->, <--, --, <-->.
func (p *parser) rel() *RelPattern {
	r := &RelPattern{At: At{p.cur().Pos}}
	left := p.acceptSym("<")
	p.next() // "-", checked by chain
	if p.acceptSym("[") {
		p.relDetail(r)
		p.expectSym("-", `"-" after "]"`)
	} else {
		p.expectSym("-", `"[" or "-" in the relationship pattern`)
	}
	right := p.acceptSym(">")
	switch {
	case left && right:
		// <--> and <-[...]-> match either direction, as -- does (openCypher).
	case left:
		r.Dir = DirIn
	case right:
		r.Dir = DirOut
	}
	return r
}

// relDetail reads what is between "[" and "]": [r:T|U*1..3 {k: v}].
func (p *parser) relDetail(r *RelPattern) {
	after := `a variable, ":", "*", a property map or "]" in the relationship pattern`
	if p.isVar(0) {
		r.Var = p.next().Text
		after = `":", "*", a property map or "]" after the variable`
	}
	if p.acceptSym(":") {
		r.Types = append(r.Types, p.name(`a relationship type after ":"`).Text)
		for p.acceptSym("|") {
			p.acceptSym(":") // the older :A|:B
			r.Types = append(r.Types, p.name(`a relationship type after "|"`).Text)
		}
		after = `"|", "*", a property map or "]" after the type`
	}
	if p.atSym("*") {
		r.VarLength = p.varLength()
		after = `a property map or "]" after the length`
	}
	if r.Props = p.props(); r.Props != nil {
		after = `"]" after the property map`
	}
	p.expectSym("]", after)
}

// varLength reads *, *n, *m.., *m..n, *..n and *..: the lower bound is 1 when not written,
// and a length without an upper bound is Unbounded.
func (p *parser) varLength() *Range {
	star := p.next()
	rg := &Range{At: At{star.Pos}, Min: 1, Max: Unbounded}
	switch {
	case p.cur().Kind == Int:
		rg.Min = p.intValue(p.next())
		if !p.acceptSym("..") {
			rg.Max = rg.Min
			return rg
		}
	case p.acceptSym(".."):
	case p.lengthEnds():
		return rg
	default:
		p.expected(`an integer or ".." after "*"`)
	}
	switch {
	case p.cur().Kind == Int:
		rg.Max = p.intValue(p.next())
	case !p.lengthEnds():
		p.expected(`an integer after ".."`)
	}
	return rg // a lower bound above the upper one matches nothing, as in openCypher
}

// lengthEnds reports whether a relationship's length ends here: at its property map or "]".
func (p *parser) lengthEnds() bool { return p.atSym("]") || p.atSym("{") }

// looksLikePattern reports whether the "(" at the current token starts a pattern
// (a node followed by a relationship) rather than a parenthesised expression: a pattern
// predicate, or a pattern comprehension, which is refused by name.
func (p *parser) looksLikePattern() bool { return p.patternAt(0) }

// patternAt is looksLikePattern for the "(" at tok(at).
func (p *parser) patternAt(at int) bool {
	k := at + 1
	if p.isVar(k) {
		k++
	}
	for p.isSym(k, ":") && p.tok(k+1).Kind == Ident {
		k += 2
	}
	switch {
	case p.isSym(k, "{"):
		depth := 0
		for ; p.tok(k).Kind != EOF; k++ {
			if p.isSym(k, "{") {
				depth++
			} else if p.isSym(k, "}") {
				if depth--; depth == 0 {
					break
				}
			}
		}
		k++
	case p.tok(k).Kind == Param:
		k++
	}
	if !p.isSym(k, ")") {
		return false
	}
	k++
	switch {
	case p.isSym(k, "-"):
		return p.isSym(k+1, "[") || p.isSym(k+1, "-") && (p.isSym(k+2, "(") || p.isSym(k+2, ">"))
	case p.isSym(k, "<"):
		return p.isSym(k+1, "-") && (p.isSym(k+2, "[") || p.isSym(k+2, "-"))
	}
	return false
}
