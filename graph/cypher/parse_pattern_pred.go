package cypher

import (
	"fmt"
	"slices"
)

// Pattern predicates: a pattern where a predicate may stand ((a)-->(b) in WHERE),
// exists((a)-->(b)), the subqueries EXISTS { [MATCH] patterns [WHERE cond] } and
// COUNT { ... }, and pattern comprehensions [(a)-->(b) WHERE cond | expr]. A pattern read
// as an expression is "loose" until the WHERE it belongs to finds it in a predicate position
// (the condition itself, or an operand of AND, OR, XOR or NOT there); one still loose when
// its clause ends is a value, as in openCypher 9: the list of its paths, as the pattern
// comprehension [p = pattern | p] has it (size((a)-->()) counts a's relationships).

// patternPredicate reads the pattern at the current "(" (looksLikePattern has seen a
// node and a relationship) as a predicate.
func (p *parser) patternPredicate() Expr {
	pp := &PatternPredicate{At: At{p.cur().Pos}, Form: PatternForm, Patterns: []*Pattern{p.predicatePattern()}}
	p.loose = append(p.loose, pp)
	return pp
}

// predicatePattern reads a pattern without a path variable.
func (p *parser) predicatePattern() *Pattern {
	pat := &Pattern{At: At{p.cur().Pos}}
	p.chain(pat)
	return pat
}

// existsCall reads exists(pattern).
func (p *parser) existsCall() Expr {
	t := p.next()
	p.next() // "("
	pp := &PatternPredicate{At: At{t.Pos}, Form: ExistsForm, Patterns: []*Pattern{p.predicatePattern()}}
	p.expectSym(")", `")" after the pattern of `+t.Text)
	return pp
}

// subquery reads EXISTS { ... } or COUNT { ... }: one MATCH (the keyword is optional) with
// its optional WHERE.
func (p *parser) subquery() Expr {
	t := p.next()
	p.next() // "{"
	kw := asciiUpper(t.Text)
	pp := &PatternPredicate{At: At{t.Pos}, Form: ExistsSubquery}
	if kw == "COUNT" {
		pp.Form = CountSubquery
	}
	other := func() {
		if p.atClause() {
			p.unsupported(p.cur().Pos, kw+" { } holding more than one MATCH and its WHERE is")
		}
	}
	if !p.accept("MATCH") {
		other()
		if !p.atSym("(") && !p.isVar(0) {
			p.expected("MATCH or a pattern after " + kw + " {")
		}
	}
	pp.Patterns = p.patterns()
	for _, pat := range pp.Patterns {
		if pat.Shortest != NotShortest {
			p.unsupported(pat.Pos, "a shortest path inside "+kw+" { } is")
		}
	}
	if p.accept("WHERE") {
		pp.Where = p.where()
	}
	if !p.atSym("}") {
		other()
		p.expected(`WHERE or "}" to close ` + kw + " {")
	}
	p.next()
	return pp
}

// patternComprehension reads what follows "[" in [[p =] pattern [WHERE cond] | expr]
// (the pattern has a relationship: looksLikePattern has seen it).
func (p *parser) patternComprehension(open Token) Expr {
	pc := &PatternPredicate{At: At{open.Pos}, Form: Comprehension, Patterns: []*Pattern{p.pattern()}}
	what := `WHERE or "|" in the pattern comprehension`
	if p.accept("WHERE") {
		pc.Where = p.where()
		what = `"|" in the pattern comprehension`
	}
	p.expectSym("|", what)
	pc.Map = p.expr()
	p.expectSym("]", `"]" to close the pattern comprehension`)
	return pc
}

// where reads the condition of a WHERE, in which patterns are predicates.
func (p *parser) where() Expr {
	e := p.expr()
	p.allowPredicates(e)
	return e
}

// allowPredicates takes the patterns in predicate positions of condition e off the loose
// list.
func (p *parser) allowPredicates(e Expr) {
	switch e := e.(type) {
	case *PatternPredicate:
		p.loose = slices.DeleteFunc(p.loose, func(x *PatternPredicate) bool { return x == e })
	case *Binary:
		if e.Op == OpAnd || e.Op == OpOr || e.Op == OpXor {
			p.allowPredicates(e.L)
			p.allowPredicates(e.R)
		}
	case *Unary:
		if e.Op == OpNot {
			p.allowPredicates(e.X)
		}
	}
}

// checkLoose makes the patterns still loose at the end of a clause values: comprehensions of
// their paths, named by a variable no query can write.
func (p *parser) checkLoose() {
	for _, pp := range p.loose {
		p.values++
		name := fmt.Sprintf(" path %d", p.values)
		pp.Form, pp.Value = Comprehension, true
		pp.Patterns[0].PathVar = name
		pp.Map = &Variable{At: pp.At, Name: name}
	}
	p.loose = p.loose[:0]
}
