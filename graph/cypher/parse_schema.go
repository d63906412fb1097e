package cypher

// Schema commands: CREATE/DROP INDEX and CREATE/DROP CONSTRAINT (the primary key), and
// SHOW INDEXES and SHOW CONSTRAINTS.

// atSchema reports whether a schema command starts at the current token. CREATE INDEX
// = ... would name a path "INDEX", so it is not one.
func (p *parser) atSchema() bool {
	if p.at("DROP") || p.at("SHOW") {
		return true
	}
	return p.at("CREATE") && (p.isKw(1, "INDEX") || p.isKw(1, "CONSTRAINT")) && !p.isSym(2, "=")
}

func (p *parser) schema() *Schema {
	first := p.next()
	s := &Schema{At: At{first.Pos}}
	if asciiUpper(first.Text) == "SHOW" {
		p.show(s)
		return s
	}
	switch {
	case asciiUpper(first.Text) == "DROP" && p.accept("INDEX"):
		s.Kind = DropIndex
		if p.at("ON") && p.isSym(1, ":") {
			p.oldIndexTarget(s)
			return s
		}
		p.dropName(s, "INDEX")
	case asciiUpper(first.Text) == "DROP" && p.accept("CONSTRAINT"):
		s.Kind = DropConstraint
		p.dropName(s, "CONSTRAINT")
	case asciiUpper(first.Text) == "DROP":
		p.expected("INDEX or CONSTRAINT after DROP")
	case p.accept("INDEX"):
		s.Kind = CreateIndex
		if p.at("ON") && p.isSym(1, ":") {
			p.oldIndexTarget(s)
			return s
		}
		p.createName(s, "INDEX")
		p.target(s, "FOR")
		p.expect("ON", "ON after the node pattern")
		p.expectSym("(", `"(" after ON`)
		p.propertyOf(s)
		p.expectSym(")", `")" after the property`)
	default:
		p.next() // CONSTRAINT, checked by atSchema
		s.Kind = CreateConstraint
		p.createName(s, "CONSTRAINT")
		// ON ... ASSERT is the older form of FOR ... REQUIRE.
		requires := "REQUIRE"
		if p.at("ON") {
			requires = "ASSERT"
		}
		p.target(s, map[string]string{"REQUIRE": "FOR", "ASSERT": "ON"}[requires])
		p.expect(requires, requires+" after the node pattern")
		if p.acceptSym("(") {
			p.propertyOf(s)
			p.expectSym(")", `")" after the property`)
		} else {
			p.propertyOf(s)
		}
		p.expect("IS", "IS after the property")
		switch {
		case p.accept("UNIQUE"):
			s.Constraint = Unique
		case p.accept("NODE"):
			p.expect("KEY", "KEY after NODE")
			s.Constraint = NodeKey
		case p.at("NOT"):
			p.unsupported(p.cur().Pos, "IS NOT NULL (property existence) constraints are")
		default:
			p.expected("UNIQUE or NODE KEY after IS")
		}
	}
	return s
}

// show reads what follows SHOW: [ALL] INDEX[ES] or [ALL] CONSTRAINT[S]. Torua's indexes are
// all of one type, its constraints all primary keys: the other types Neo4j lists are refused.
func (p *parser) show(s *Schema) {
	if p.isKw(1, "INDEX") || p.isKw(1, "INDEXES") || p.isKw(1, "CONSTRAINT") || p.isKw(1, "CONSTRAINTS") {
		if typ := p.next(); asciiUpper(typ.Text) != "ALL" {
			p.unsupported(typ.Pos, "SHOW "+asciiUpper(typ.Text)+" "+asciiUpper(p.cur().Text)+" is")
		}
	}
	switch {
	case p.accept("INDEX") || p.accept("INDEXES"):
		s.Kind = ShowIndexes
	case p.accept("CONSTRAINT") || p.accept("CONSTRAINTS"):
		s.Kind = ShowConstraints
	default:
		p.expected("INDEXES or CONSTRAINTS after SHOW")
	}
	if p.at("YIELD") || p.at("WHERE") {
		p.unsupported(p.cur().Pos, "SHOW ... "+asciiUpper(p.cur().Text)+" is")
	}
}

// createName reads the optional name and IF NOT EXISTS of CREATE INDEX/CONSTRAINT.
func (p *parser) createName(s *Schema, kind string) {
	ifNot := func() bool { return p.at("IF") && p.isKw(1, "NOT") }
	if p.isVar(0) && !ifNot() {
		s.Name = p.next().Text
	}
	if p.accept("IF") {
		p.expect("NOT", "NOT after IF")
		p.expect("EXISTS", "EXISTS after IF NOT")
		s.IfNotExists = true
	}
	if !p.at("FOR") && !p.at("ON") {
		switch {
		case s.IfNotExists:
			p.expected("FOR after IF NOT EXISTS")
		case s.Name != "":
			p.expected("IF NOT EXISTS or FOR after the " + asciiLower(kind) + " name")
		}
		p.expected("a name, IF NOT EXISTS or FOR after CREATE " + kind)
	}
}

// dropName reads the name and the optional IF EXISTS of DROP INDEX/CONSTRAINT.
func (p *parser) dropName(s *Schema, kind string) {
	s.Name = p.variable("the name of the " + asciiLower(kind) + " to drop").Text
	if p.accept("IF") {
		p.expect("EXISTS", "EXISTS after IF")
		s.IfExists = true
	}
}

// target reads FOR (v:Label) (or ON (v:Label) before ASSERT).
func (p *parser) target(s *Schema, kw string) {
	p.expect(kw, kw)
	p.expectSym("(", `"(" after `+kw)
	s.Var = p.variable(`a variable in the node pattern, as in (p:Person)`).Text
	p.expectSym(":", `":" and a label after the variable`)
	s.Label = p.name(`a label after ":"`).Text
	if p.atSym(":") {
		p.failAt(p.cur().Pos, "expected \")\" after the label (a schema command names one label), found %s", describe(p.cur()))
	}
	p.expectSym(")", `")" after the label`)
}

// propertyOf reads v.prop, v being the variable of the target; one property only.
func (p *parser) propertyOf(s *Schema) {
	v := p.cur()
	if !p.isVar(0) || v.Text != s.Var {
		p.expected(varName(s.Var) + ", the variable of the node pattern")
	}
	p.next()
	p.expectSym(".", `"." and a property name after `+varName(s.Var))
	s.Property = p.name(`a property name after "."`).Text
	if p.atSym(",") {
		p.unsupported(p.cur().Pos, "indexes and constraints on several properties are")
	}
}

// oldIndexTarget reads ON :Label(prop), the older form of CREATE INDEX and DROP INDEX.
func (p *parser) oldIndexTarget(s *Schema) {
	p.next() // ON
	p.next() // ":"
	s.Label = p.name(`a label after ":"`).Text
	p.expectSym("(", `"(" and a property name after the label`)
	s.Property = p.name("a property name").Text
	if p.atSym(",") {
		p.unsupported(p.cur().Pos, "indexes and constraints on several properties are")
	}
	p.expectSym(")", `")" after the property`)
}
