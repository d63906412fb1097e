package cypher

import (
	"math"
	"strconv"
)

// Expressions, one function per precedence level, lowest first: OR, XOR, AND, NOT,
// comparison (chained), the predicates (IN, STARTS WITH, ENDS WITH, CONTAINS, =~, IS [NOT]
// NULL), + -, * / %, ^ (right-associative), unary + -, postfix (.key, [i], [a..b],
// :Label, a map projection after a variable), atoms.

func (p *parser) expr() Expr {
	p.deeper()
	defer func() { p.depth-- }()
	return p.or()
}

func (p *parser) or() Expr {
	l := p.xor()
	for p.at("OR") {
		op := p.next()
		l = &Binary{At: At{op.Pos}, Op: OpOr, L: l, R: p.xor()}
	}
	return l
}

func (p *parser) xor() Expr {
	l := p.and()
	for p.at("XOR") {
		op := p.next()
		l = &Binary{At: At{op.Pos}, Op: OpXor, L: l, R: p.and()}
	}
	return l
}

func (p *parser) and() Expr {
	l := p.not()
	for p.at("AND") {
		op := p.next()
		l = &Binary{At: At{op.Pos}, Op: OpAnd, L: l, R: p.not()}
	}
	return l
}

func (p *parser) not() Expr {
	if p.at("NOT") {
		op := p.next()
		p.deeper()
		defer func() { p.depth-- }()
		return &Unary{At: At{op.Pos}, Op: OpNot, X: p.not()}
	}
	return p.comparison()
}

var comparisonOps = map[string]BinaryOp{"=": OpEq, "<>": OpNe, "<": OpLt, ">": OpGt, "<=": OpLe, ">=": OpGe}

// comparison reads a chain a op b op c ..., which means (a op b) AND (b op c) ...
func (p *parser) comparison() Expr {
	l := p.predicate()
	var chain Expr
	for {
		t := p.cur()
		op, ok := comparisonOps[t.Text]
		if t.Kind != Symbol || !ok {
			break
		}
		p.next()
		r := p.predicate()
		c := &Binary{At: At{t.Pos}, Op: op, L: l, R: r}
		if chain == nil {
			chain = c
		} else {
			chain = &Binary{At: At{t.Pos}, Op: OpAnd, L: chain, R: c}
		}
		l = r
	}
	if chain == nil {
		return l
	}
	return chain
}

// predicate reads IN, STARTS WITH, ENDS WITH, CONTAINS, =~ and IS [NOT] NULL, left to right.
func (p *parser) predicate() Expr {
	l := p.additive()
	for {
		t := p.cur()
		at := At{t.Pos}
		switch {
		case p.at("IN"):
			p.next()
			l = &In{At: at, X: l, List: p.additive()}
		case p.at("STARTS"), p.at("ENDS"):
			p.next()
			p.expect("WITH", "WITH after "+asciiUpper(t.Text))
			op := OpStartsWith
			if asciiUpper(t.Text) == "ENDS" {
				op = OpEndsWith
			}
			l = &StringOp{At: at, Op: op, L: l, R: p.additive()}
		case p.at("CONTAINS"):
			p.next()
			l = &StringOp{At: at, Op: OpContains, L: l, R: p.additive()}
		case p.at("IS"):
			p.next()
			not := p.accept("NOT")
			p.expect("NULL", map[bool]string{false: "NULL or NOT NULL after IS", true: "NULL after IS NOT"}[not])
			l = &IsNull{At: at, X: l, Not: not}
		case p.acceptSym("=~"):
			l = &RegexMatch{At: at, L: l, R: p.additive()}
		default:
			return l
		}
	}
}

func (p *parser) additive() Expr {
	l := p.multiplicative()
	for p.atSym("+") || p.atSym("-") {
		op := p.next()
		bop := OpAdd
		if op.Text == "-" {
			bop = OpSub
		}
		l = &Binary{At: At{op.Pos}, Op: bop, L: l, R: p.multiplicative()}
	}
	return l
}

var mulOps = map[string]BinaryOp{"*": OpMul, "/": OpDiv, "%": OpMod}

func (p *parser) multiplicative() Expr {
	l := p.power()
	for {
		t := p.cur()
		op, ok := mulOps[t.Text]
		if t.Kind != Symbol || !ok {
			return l
		}
		p.next()
		l = &Binary{At: At{t.Pos}, Op: op, L: l, R: p.power()}
	}
}

// power reads a ^ b ^ c as (a ^ b) ^ c: openCypher's ^ groups to the left, like its other
// binary operators.
func (p *parser) power() Expr {
	l := p.unary()
	for p.atSym("^") {
		op := p.next()
		l = &Binary{At: At{op.Pos}, Op: OpPow, L: l, R: p.unary()}
	}
	return l
}

// unary reads + and - before an operand; - before a number literal is folded into it.
func (p *parser) unary() Expr {
	if !p.atSym("-") && !p.atSym("+") {
		return p.postfix()
	}
	op := p.next()
	if t := p.cur(); op.Text == "-" && t.Kind == Int {
		if v, err := intMagnitude(t.Text); err == nil && v == 1<<63 {
			p.next()
			return &Literal{At: At{op.Pos}, Value: int64(math.MinInt64)}
		}
	}
	p.deeper()
	x := p.unary()
	p.depth--
	if op.Text == "+" {
		return &Unary{At: At{op.Pos}, Op: OpPlus, X: x}
	}
	if l, ok := x.(*Literal); ok {
		switch v := l.Value.(type) {
		case int64:
			if v != math.MinInt64 { // -(-2^63) overflows: left to the evaluator, which says so
				return &Literal{At: At{op.Pos}, Value: -v}
			}
		case float64:
			return &Literal{At: At{op.Pos}, Value: -v}
		}
	}
	return &Unary{At: At{op.Pos}, Op: OpNeg, X: x}
}

// postfix reads an atom and its property lookups, indexes, slices, label test and, after a
// variable, a map projection.
func (p *parser) postfix() Expr {
	x := p.atom()
	for {
		t := p.cur()
		at := At{t.Pos}
		switch {
		case p.acceptSym("."):
			x = &Property{At: at, Expr: x, Key: p.name(`a property name after "."`).Text}
		case p.acceptSym("["):
			x = p.indexOrSlice(at, x)
		case p.atSym(":"):
			// The labels end the chain, as in openCypher: (n:L).p needs its parentheses.
			return &LabelTest{At: at, X: x, Labels: p.labels()}
		case p.atSym("{"):
			v, ok := x.(*Variable)
			if !ok {
				return x
			}
			x = p.mapProjection(v)
		default:
			return x
		}
	}
}

// indexOrSlice reads what follows "[" after an expression: i], a..b], a..], ..b] or ..].
func (p *parser) indexOrSlice(at At, x Expr) Expr {
	var from Expr
	if !p.atSym("..") {
		from = p.expr()
		if p.acceptSym("]") {
			return &Index{At: at, Expr: x, Index: from}
		}
		p.expectSym("..", `"]" or ".." after the index`)
	} else {
		p.next()
	}
	s := &Slice{At: at, Expr: x, From: from}
	if !p.atSym("]") {
		s.To = p.expr()
	}
	p.expectSym("]", `"]" after the slice`)
	return s
}

// atom reads a literal, parameter, variable, call, CASE, list, map or (expression).
func (p *parser) atom() Expr {
	t := p.cur()
	at := At{t.Pos}
	switch t.Kind {
	case Int:
		p.next()
		return &Literal{At: at, Value: p.intValue(t)}
	case Float:
		p.next()
		f, err := strconv.ParseFloat(t.Text, 64)
		if err != nil { // the lexer has checked it
			p.failAt(t.Pos, "float %s out of range", t.Text)
		}
		return &Literal{At: at, Value: f}
	case String:
		p.next()
		return &Literal{At: at, Value: t.Text}
	case Param:
		p.next()
		return &Parameter{At: at, Name: t.Text}
	case Symbol:
		switch t.Text {
		case "(":
			if p.looksLikePattern() {
				return p.patternPredicate()
			}
			p.next()
			e := p.expr()
			p.expectSym(")", `")" to close the "(" at `+posText(t.Pos))
			return e
		case "[":
			return p.listLit()
		case "{":
			return p.mapLit()
		}
	case Ident:
		return p.identAtom()
	}
	p.expected("an expression")
	return nil
}

func posText(pos Pos) string {
	return "line " + strconv.Itoa(pos.Line) + ", column " + strconv.Itoa(pos.Column)
}

// identAtom reads an atom that starts with an identifier: true, false, null, CASE, a
// function call or a variable.
func (p *parser) identAtom() Expr {
	t := p.cur()
	at := At{t.Pos}
	switch {
	case p.at("TRUE"), p.at("FALSE"):
		p.next()
		return &Literal{At: at, Value: asciiUpper(t.Text) == "TRUE"}
	case p.at("NULL"):
		p.next()
		return &Literal{At: at}
	case p.at("CASE"):
		return p.caseExpr()
	case (p.at("EXISTS") || p.at("COUNT")) && p.isSym(1, "{"):
		return p.subquery()
	case p.at("EXISTS") && p.isSym(1, "(") && p.patternAt(2):
		return p.existsCall()
	case p.isSym(1, "(") && (p.isVar(0) || p.at("EXISTS") || p.at("ALL")):
		return p.call()
	case p.isVar(0):
		p.next()
		return &Variable{At: at, Name: t.Text}
	}
	p.expected("an expression")
	return nil
}

// call reads name(args), name(DISTINCT args) or count(*).
func (p *parser) call() Expr {
	t := p.next()
	f := &FuncCall{At: At{t.Pos}, Name: asciiLower(t.Text), Written: t.Text}
	p.next() // "("
	switch f.Name {
	case "all", "any", "none", "single":
		if p.isVar(0) && p.isKw(1, "IN") {
			return p.listPredicate(t, f.Name)
		}
	case "reduce":
		return p.reduce(t)
	case "shortestpath", "allshortestpaths":
		p.unsupported(t.Pos, t.Text+" outside MATCH is")
	}
	if p.atSym("*") {
		if f.Name != "count" {
			p.failAt(p.cur().Pos, `expected an argument, found "*": only count takes *`)
		}
		p.next()
		f.Star = true
		p.expectSym(")", `")" after count(*`)
		return f
	}
	f.Distinct = p.accept("DISTINCT")
	if f.Distinct || !p.atSym(")") {
		f.Args = p.exprList()
	}
	p.expectSym(")", `"," or ")" in the arguments of `+t.Text)
	return f
}

// caseExpr reads CASE [subject] WHEN c THEN r ... [ELSE e] END.
func (p *parser) caseExpr() Expr {
	c := &Case{At: At{p.next().Pos}}
	if !p.at("WHEN") {
		c.Subject = p.expr()
	}
	p.expect("WHEN", "WHEN in CASE")
	for {
		w := &When{At: At{p.toks[p.i-1].Pos}, Cond: p.expr()}
		p.expect("THEN", "THEN after the WHEN condition")
		w.Result = p.expr()
		c.Whens = append(c.Whens, w)
		if !p.accept("WHEN") {
			break
		}
	}
	if p.accept("ELSE") {
		c.Else = p.expr()
	}
	p.expect("END", "WHEN, ELSE or END in CASE")
	return c
}

// listLit reads [e, ...], list comprehensions and pattern comprehensions.
func (p *parser) listLit() Expr {
	open := p.next()
	switch {
	case p.isVar(0) && p.isKw(1, "IN"):
		return p.listComprehension(open)
	case p.atSym("(") && p.looksLikePattern(), p.isVar(0) && p.isSym(1, "=") && p.isSym(2, "(") && p.patternAt(2):
		return p.patternComprehension(open)
	}
	l := &ListLit{At: At{open.Pos}}
	if !p.acceptSym("]") {
		l.Elems = p.exprList()
		p.expectSym("]", `"," or "]" in the list`)
	}
	return l
}

// mapLit reads {k: e, ...}; a key may appear once.
func (p *parser) mapLit() *MapLit {
	m := &MapLit{At: At{p.next().Pos}}
	if p.acceptSym("}") {
		return m
	}
	seen := map[string]bool{}
	for {
		k := p.name("a property key in the map")
		if seen[k.Text] {
			p.failAt(k.Pos, "expected a key not yet in the map, found %s again", describe(k))
		}
		seen[k.Text] = true
		p.expectSym(":", `":" after the key`)
		m.Items = append(m.Items, &MapItem{At: At{k.Pos}, Key: k.Text, Value: p.expr()})
		if !p.acceptSym(",") {
			break
		}
	}
	p.expectSym("}", `"," or "}" in the map`)
	return m
}

// listComprehension reads what follows "[" in [x IN list WHERE pred | expr], whose WHERE
// and | parts are optional.
func (p *parser) listComprehension(open Token) Expr {
	lc := &ListComprehension{At: At{open.Pos}, Var: p.next().Text}
	p.next() // IN
	lc.List = p.expr()
	what := `WHERE, "|" or "]" in the list comprehension`
	if p.accept("WHERE") {
		lc.Where = p.expr()
		what = `"|" or "]" in the list comprehension`
	}
	if p.acceptSym("|") {
		lc.Map = p.expr()
		what = `"]" to close the list comprehension`
	}
	p.expectSym("]", what)
	return lc
}

var quantifiers = map[string]Quantifier{"all": QuantAll, "any": QuantAny, "none": QuantNone, "single": QuantSingle}

// listPredicate reads what follows "name(" in all(x IN list WHERE pred), any, none and
// single. WHERE is required, as in Neo4j.
func (p *parser) listPredicate(name Token, fn string) Expr {
	lp := &ListPredicate{At: At{name.Pos}, Quantifier: quantifiers[fn], Var: p.next().Text}
	p.next() // IN
	lp.List = p.expr()
	p.expect("WHERE", "WHERE and a predicate in "+fn+"(x IN list WHERE predicate)")
	lp.Where = p.expr()
	p.expectSym(")", `")" to close `+fn+"(")
	return lp
}

// reduce reads what follows "reduce(" in reduce(acc = init, x IN list | expr).
func (p *parser) reduce(name Token) Expr {
	const form = "reduce(acc = initial, x IN list | expression)"
	r := &Reduce{At: At{name.Pos}}
	acc := p.variable("an accumulator variable in " + form)
	r.Acc = acc.Text
	p.expectSym("=", `"=" after the accumulator in `+form)
	r.Init = p.expr()
	p.expectSym(",", `"," after the initial value in `+form)
	v := p.variable("a variable in " + form)
	if v.Text == r.Acc {
		p.failAt(v.Pos, "expected a variable other than the accumulator in %s, found %s again", form, describe(v))
	}
	r.Var = v.Text
	p.expect("IN", "IN after the variable in "+form)
	r.List = p.expr()
	p.expectSym("|", `"|" after the list in `+form)
	r.Expr = p.expr()
	p.expectSym(")", `")" to close reduce(`)
	return r
}

// mapProjection reads the {.key, .*, variable, key: expr, ...} after the variable v.
func (p *parser) mapProjection(v *Variable) Expr {
	mp := &MapProjection{At: At{p.next().Pos}, Var: v}
	if p.acceptSym("}") {
		return mp
	}
	for {
		t := p.cur()
		it := &MapProjectionItem{At: At{t.Pos}}
		switch {
		case p.acceptSym("."):
			if p.acceptSym("*") {
				it.Kind = ProjectAll
			} else {
				it.Kind, it.Key = ProjectProperty, p.name(`a property name or "*" after "."`).Text
			}
		case p.isVar(0) && !p.isSym(1, ":"):
			p.next()
			it.Kind, it.Key, it.Value = ProjectVariable, t.Text, &Variable{At: At{t.Pos}, Name: t.Text}
		case t.Kind == Ident:
			p.next()
			p.expectSym(":", `":" after the key`)
			it.Kind, it.Key, it.Value = ProjectEntry, t.Text, p.expr()
		default:
			p.expected(`".key", ".*", a variable or "key: value" in the map projection`)
		}
		mp.Items = append(mp.Items, it)
		if !p.acceptSym(",") {
			break
		}
	}
	p.expectSym("}", `"," or "}" in the map projection`)
	return mp
}

// startsWithVarIn reports whether s reads as a variable followed by IN, the start of a
// list comprehension or list predicate.
func startsWithVarIn(s string) bool {
	toks, err := Lex(s)
	if err != nil {
		return false
	}
	p := &parser{toks: toks, quoted: quotedIdents(s, toks)}
	return p.isVar(0) && p.isKw(1, "IN")
}
