package cypher

import "fmt"

// The clauses of a regular query, each read after its keyword.

// clause reads one clause of a regular query.
func (p *parser) clause() Clause {
	t := p.cur()
	at := At{t.Pos}
	switch {
	case p.at("MATCH"):
		p.next()
		return p.match(at, false)
	case p.at("OPTIONAL"):
		p.next()
		p.expect("MATCH", "MATCH after OPTIONAL")
		return p.match(at, true)
	case p.at("UNWIND"):
		p.next()
		e := p.expr()
		p.expect("AS", "AS after the UNWIND expression")
		return &Unwind{At: at, Expr: e, Var: p.variable("a variable after AS").Text}
	case p.at("WITH"):
		p.next()
		w := &With{At: at, Projection: p.projection(true)}
		if p.accept("WHERE") {
			w.Where = p.where()
		}
		return w
	case p.at("RETURN"):
		p.next()
		return &Return{At: at, Projection: p.projection(false)}
	case p.at("CREATE"):
		p.next()
		return p.create(at)
	case p.at("MERGE"):
		p.next()
		return p.merge(at)
	case p.at("SET"):
		p.next()
		return &Set{At: at, Items: p.setItems()}
	case p.at("REMOVE"):
		p.next()
		return p.remove(at)
	case p.at("DELETE"):
		p.next()
		return &Delete{At: at, Exprs: p.exprList()}
	case p.at("DETACH"):
		p.next()
		p.expect("DELETE", "DELETE after DETACH")
		return &Delete{At: at, Detach: true, Exprs: p.exprList()}
	case p.at("CALL"):
		p.unsupported(t.Pos, "CALL (procedures and subqueries) is")
	case p.at("FOREACH"):
		p.next()
		return p.foreach(at)
	case p.at("LOAD"):
		p.unsupported(t.Pos, "LOAD CSV is")
	}
	p.expected(clauseList)
	return nil
}

// foreach reads (x IN list | clause...) after FOREACH: its body is updating clauses only.
func (p *parser) foreach(at At) *Foreach {
	p.expectSym("(", `"(" after FOREACH`)
	p.deeper()
	defer func() { p.depth-- }()
	f := &Foreach{At: at, Var: p.variable("a variable after FOREACH (").Text}
	p.expect("IN", "IN after the FOREACH variable")
	f.List = p.expr()
	p.expectSym("|", `"|" after the FOREACH list`)
	for {
		t := p.cur()
		if !p.atUpdating() {
			if len(f.Body) > 0 && p.atSym(")") {
				p.next()
				return f
			}
			if p.atClause() {
				p.failAt(t.Pos, "expected an updating clause (CREATE, MERGE, SET, REMOVE, DELETE, FOREACH) in FOREACH, found %s: FOREACH cannot read",
					describe(t))
			}
			what := "an updating clause (CREATE, MERGE, SET, REMOVE, DELETE, FOREACH)"
			if len(f.Body) > 0 {
				what += ` or ")"`
			}
			p.expected(what)
		}
		f.Body = append(f.Body, p.clause())
		p.checkLoose()
	}
}

// atUpdating reports whether the current token starts an updating clause.
func (p *parser) atUpdating() bool {
	for _, kw := range []string{"CREATE", "MERGE", "SET", "REMOVE", "DELETE", "DETACH", "FOREACH"} {
		if p.at(kw) {
			return true
		}
	}
	return false
}

func (p *parser) match(at At, optional bool) *Match {
	m := &Match{At: at, Optional: optional, Patterns: p.patterns()}
	if p.accept("WHERE") {
		m.Where = p.where()
	}
	return m
}

// projection reads what follows WITH or RETURN.
func (p *parser) projection(with bool) Projection {
	var pr Projection
	pr.Distinct = p.accept("DISTINCT")
	if p.acceptSym("*") {
		pr.Star = true
		if !p.acceptSym(",") {
			return p.projectionTail(pr)
		}
	}
	for {
		start := p.cur().Off
		it := &ProjectionItem{At: At{p.cur().Pos}, Expr: p.expr()}
		if p.i > 0 {
			it.Text = p.src[start:max(start, p.toks[p.i-1].End)]
		}
		if p.accept("AS") {
			it.Alias = p.variable("a name after AS").Text
		} else if _, isVar := it.Expr.(*Variable); with && !isVar {
			p.failAt(p.cur().Pos, "expected AS and a name after %s, found %s: WITH passes on variables and named expressions only",
				it.Expr, describe(p.cur()))
		}
		pr.Items = append(pr.Items, it)
		if !p.acceptSym(",") {
			return p.projectionTail(pr)
		}
	}
}

// projectionTail reads ORDER BY, SKIP and LIMIT.
func (p *parser) projectionTail(pr Projection) Projection {
	if p.accept("ORDER") {
		p.expect("BY", "BY after ORDER")
		for {
			s := &SortItem{At: At{p.cur().Pos}, Expr: p.expr()}
			switch {
			case p.accept("DESC"), p.accept("DESCENDING"):
				s.Desc = true
			case p.accept("ASC"), p.accept("ASCENDING"):
			}
			pr.OrderBy = append(pr.OrderBy, s)
			if !p.acceptSym(",") {
				break
			}
		}
	}
	if p.accept("SKIP") {
		pr.Skip = p.count("SKIP")
	}
	if p.accept("LIMIT") {
		pr.Limit = p.count("LIMIT")
	}
	return pr
}

// count reads the argument of SKIP or LIMIT: an expression that reads no variable (a
// non-negative integer, a parameter, toInteger(ceil($n / 2)), ...), evaluated once.
func (p *parser) count(clause string) Expr {
	if p.atClause() || p.cur().Kind == EOF {
		p.expected("an expression after " + clause)
	}
	return p.expr()
}

func (p *parser) exprList() []Expr {
	es := []Expr{p.expr()}
	for p.acceptSym(",") {
		es = append(es, p.expr())
	}
	return es
}

func (p *parser) setItems() []SetItem {
	items := []SetItem{p.setItem()}
	for p.acceptSym(",") {
		items = append(items, p.setItem())
	}
	return items
}

// setItem reads n.p = e, n = e, n += e or n:Label; (n).p = e too.
func (p *parser) setItem() SetItem {
	paren := p.atSym("(") && p.isVar(1) && p.isSym(2, ")") && p.isSym(3, ".")
	if paren {
		p.next()
	}
	v := p.variable("a variable to set")
	if paren {
		p.next() // ")"
	}
	at := At{v.Pos}
	switch {
	case p.acceptSym("."):
		key := p.name(`a property name after "."`).Text
		p.expectSym("=", fmt.Sprintf(`"=" after %s.%s`, varName(v.Text), name(key)))
		return &SetProperty{At: at, Var: v.Text, Key: key, Value: p.expr()}
	case p.acceptSym("="):
		return &SetProperties{At: at, Var: v.Text, Value: p.expr()}
	case p.acceptSym("+="):
		return &SetProperties{At: at, Var: v.Text, Value: p.expr(), Merge: true}
	case p.atSym(":"):
		return &SetLabels{At: at, Var: v.Text, Labels: p.labels()}
	}
	p.expected(`".", "=", "+=" or ":" after the variable`)
	return nil
}

func (p *parser) remove(at At) *Remove {
	r := &Remove{At: at}
	for {
		v := p.variable("a variable to remove from")
		switch {
		case p.acceptSym("."):
			key := p.name(`a property name after "."`).Text
			r.Items = append(r.Items, &RemoveProperty{At: At{v.Pos}, Var: v.Text, Key: key})
		case p.atSym(":"):
			r.Items = append(r.Items, &RemoveLabels{At: At{v.Pos}, Var: v.Text, Labels: p.labels()})
		default:
			p.expected(`"." or ":" after the variable`)
		}
		if !p.acceptSym(",") {
			return r
		}
	}
}

// labels reads :A:B (at least one).
func (p *parser) labels() []string {
	var ls []string
	for p.acceptSym(":") {
		ls = append(ls, p.name(`a label after ":"`).Text)
	}
	return ls
}

func (p *parser) create(at At) *Create {
	c := &Create{At: at, Patterns: p.patterns()}
	for _, pat := range c.Patterns {
		p.checkWritable(pat, "CREATE")
	}
	return c
}

func (p *parser) merge(at At) *Merge {
	m := &Merge{At: at, Pattern: p.pattern()}
	p.checkWritable(m.Pattern, "MERGE")
	for p.at("ON") {
		p.next()
		switch {
		case p.accept("CREATE"):
			p.expect("SET", "SET after ON CREATE")
			m.OnCreate = append(m.OnCreate, p.setItems()...)
		case p.accept("MATCH"):
			p.expect("SET", "SET after ON MATCH")
			m.OnMatch = append(m.OnMatch, p.setItems()...)
		default:
			p.expected("CREATE or MATCH after ON")
		}
	}
	return m
}

// checkWritable refuses in CREATE and MERGE what cannot be written: shortest paths,
// variable-length relationships, relationships without exactly one type, and (in
// CREATE) relationships without a direction.
func (p *parser) checkWritable(pat *Pattern, clause string) {
	if pat.Shortest != NotShortest {
		p.failAt(pat.Pos, "a shortest path cannot be written: %s takes a plain pattern", clause)
	}
	for _, r := range pat.Rels() {
		switch {
		case r.VarLength != nil:
			p.failAt(r.VarLength.Pos, "a variable-length relationship cannot be written: %s takes single relationships", clause)
		case len(r.Types) != 1:
			p.failAt(r.Pos, "a relationship in %s needs exactly one type, as in -[:KNOWS]->", clause)
		case r.Dir == DirBoth && clause == "CREATE":
			p.failAt(r.Pos, "a relationship in CREATE needs a direction, -> or <-")
		}
	}
}
