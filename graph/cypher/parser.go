package cypher

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Parse reads a query of Torua's openCypher subset into its AST. Every error is an *Error
// at the offending token, saying what was found and what was expected; constructs outside
// the subset are refused by name ("... is not supported by Torua") at their position.
func Parse(query string) (q *Query, err error) {
	return parse(query, false)
}

// ParseChecked is Parse that also refuses a variable read where no clause before bound it
// (in the places kinds.go's defined looks), as a query to run must: Parse alone accepts
// fragments such as RETURN a + b, whose variables a caller binds.
func ParseChecked(query string) (*Query, error) {
	return parse(query, true)
}

func parse(query string, checked bool) (q *Query, err error) {
	toks, err := Lex(query)
	if err != nil {
		return nil, err
	}
	p := &parser{src: query, toks: toks, quoted: quotedIdents(query, toks), checked: checked}
	// The parser stops at its first error by panicking with it (as text/template's parser
	// does), which keeps the recursive descent free of error plumbing.
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*Error)
			if !ok {
				panic(r)
			}
			q, err = nil, e
		}
	}()
	return p.query(), nil
}

// clauseList is what may start a clause, for errors.
const clauseList = "a clause (MATCH, OPTIONAL MATCH, CREATE, MERGE, WITH, UNWIND, RETURN, ...)"

// reserved are openCypher's reserved words (and the clause words Torua refuses): they are
// keywords wherever they appear unquoted, so never variables; labels, types and keys may
// use them. Keys are upper case.
var reserved = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`ALL ASC ASCENDING BY CREATE DELETE DESC DESCENDING DETACH EXISTS
		LIMIT MATCH MERGE ON OPTIONAL ORDER REMOVE RETURN SET SKIP WHERE WITH UNION UNWIND AND AS
		CONTAINS DISTINCT ENDS IN IS NOT OR STARTS XOR CASE ELSE END THEN WHEN NULL TRUE FALSE
		CONSTRAINT DO FOR REQUIRE UNIQUE MANDATORY SCALAR OF ADD DROP CALL YIELD FOREACH LOAD`) {
		reserved[w] = true
	}
}

type parser struct {
	src    string // the query
	toks   []Token
	quoted []bool // quoted[i]: toks[i] is an identifier written in backquotes
	i      int
	depth  int // nesting of expressions, see deeper
	// loose are the patterns read as expressions not (yet) found in a predicate position
	// (parse_pattern_pred.go).
	loose []*PatternPredicate
	// values counts the loose patterns made values, which names their paths.
	values int
	// checked makes the parser refuse variables read where none is bound (ParseChecked).
	checked bool
}

// maxDepth bounds the nesting of expressions: a query nested deeper is refused, rather
// than recursing until the goroutine's stack overflows, which Go cannot recover from.
const maxDepth = 256

// deeper enters one level of nesting; the caller leaves it with p.depth--.
func (p *parser) deeper() {
	if p.depth++; p.depth > maxDepth {
		p.failAt(p.cur().Pos, "expected expressions nested at most %d deep, found deeper nesting", maxDepth)
	}
}

// quotedIdents marks the identifier tokens written in backquotes (the lexer removes
// them): `match` is a name, never the keyword.
func quotedIdents(query string, toks []Token) []bool {
	quoted := make([]bool, len(toks))
	for i, t := range toks {
		quoted[i] = t.Kind == Ident && t.Off < len(query) && query[t.Off] == '`'
	}
	return quoted
}

// asciiUpper upper-cases ASCII letters only, so that keywords match exactly as written in
// ASCII (Unicode case folding would make "ſet" the keyword SET).
func asciiUpper(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, s)
}

func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r - 'A' + 'a'
		}
		return r
	}, s)
}

// tok returns the token k places ahead (the EOF token past the end).
func (p *parser) tok(k int) Token {
	if p.i+k >= len(p.toks) {
		return p.toks[len(p.toks)-1]
	}
	return p.toks[p.i+k]
}

func (p *parser) cur() Token { return p.tok(0) }

func (p *parser) next() Token {
	t := p.cur()
	if p.i < len(p.toks)-1 {
		p.i++
	}
	return t
}

// isKw reports whether the token k places ahead is the keyword kw (upper case).
func (p *parser) isKw(k int, kw string) bool {
	t := p.tok(k)
	return t.Kind == Ident && !p.quoted[min(p.i+k, len(p.toks)-1)] && asciiUpper(t.Text) == kw
}

func (p *parser) at(kw string) bool { return p.isKw(0, kw) }

// isSym reports whether the token k places ahead is the symbol s.
func (p *parser) isSym(k int, s string) bool {
	t := p.tok(k)
	return t.Kind == Symbol && t.Text == s
}

func (p *parser) atSym(s string) bool { return p.isSym(0, s) }

// isVar reports whether the token k places ahead can be a variable: an identifier that is
// not an unquoted reserved word.
func (p *parser) isVar(k int) bool {
	t := p.tok(k)
	return t.Kind == Ident && (p.quoted[min(p.i+k, len(p.toks)-1)] || !reserved[asciiUpper(t.Text)])
}

func (p *parser) accept(kw string) bool {
	if p.at(kw) {
		p.next()
		return true
	}
	return false
}

func (p *parser) acceptSym(s string) bool {
	if p.atSym(s) {
		p.next()
		return true
	}
	return false
}

// expect consumes the keyword kw or fails with "expected <what>".
func (p *parser) expect(kw, what string) Token {
	if !p.at(kw) {
		p.expected(what)
	}
	return p.next()
}

// expectSym consumes the symbol s or fails with "expected <what>".
func (p *parser) expectSym(s, what string) Token {
	if !p.atSym(s) {
		p.expected(what)
	}
	return p.next()
}

// variable consumes a variable or fails with "expected <what>".
func (p *parser) variable(what string) Token {
	if !p.isVar(0) {
		p.expected(what)
	}
	return p.next()
}

// name consumes a label, type, key or property name (any identifier) or fails.
func (p *parser) name(what string) Token {
	if p.cur().Kind != Ident {
		p.expected(what)
	}
	return p.next()
}

func (p *parser) failAt(pos Pos, format string, args ...any) {
	panic(&Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// expected fails at the current token: "expected <what>, found <token>".
func (p *parser) expected(what string) {
	p.failAt(p.cur().Pos, "expected %s, found %s", what, describe(p.cur()))
}

// unsupported fails at pos, naming a construct outside Torua's subset.
func (p *parser) unsupported(pos Pos, construct string) {
	p.failAt(pos, "%s not supported by Torua", construct)
}

// describe names a token for "found ...".
func describe(t Token) string {
	switch t.Kind {
	case EOF:
		return "end of query"
	case String:
		return "the string " + quote(t.Text)
	case Param:
		return `"$` + t.Text + `"`
	}
	return `"` + t.Text + `"`
}

func (p *parser) intValue(t Token) int64 {
	v, err := intMagnitude(t.Text)
	if err != nil || v > math.MaxInt64 { // 2^63 only as -9223372036854775808 (unary)
		p.failAt(t.Pos, "number %s out of range", t.Text)
	}
	return int64(v)
}

// query reads a whole query: one schema command, or clauses in openCypher's order,
// possibly combined with more by UNION.
func (p *parser) query() *Query {
	q := &Query{At: At{p.cur().Pos}}
	if p.atSchema() {
		q.Schema = p.schema()
		p.end("expected end of query after the schema command")
		return q
	}
	q.Clauses = p.single()
	for p.at("UNION") {
		u := &Union{At: At{p.next().Pos}, All: p.accept("ALL")}
		if len(q.Unions) > 0 && u.All != q.Unions[0].All {
			kind := map[bool]string{false: "UNION", true: "UNION ALL"}
			p.failAt(u.Pos, "expected %s as before, found %s: UNION and UNION ALL cannot be mixed in one query",
				kind[q.Unions[0].All], kind[u.All])
		}
		u.Clauses = p.single()
		q.Unions = append(q.Unions, u)
	}
	if q.Unions != nil {
		p.checkUnion(q)
	}
	p.end("expected end of query")
	return q
}

// single reads the clauses of one query, up to the end of the query or a UNION after its
// RETURN.
func (p *parser) single() []Clause {
	var clauses []Clause
	var last Clause
	updating := false // the current part has updated: reading clauses need a WITH first
	ks := kinds{}     // the variables in scope and what they hold (kinds.go)
	for p.cur().Kind != EOF && !p.atSym(";") {
		t := p.cur()
		if r, ok := last.(*Return); ok {
			if p.at("UNION") {
				return clauses
			}
			p.afterReturn(r)
		}
		if p.at("UNION") {
			if last == nil {
				p.expected(clauseList)
			}
			p.failAt(t.Pos, "expected RETURN before UNION: each query that UNION combines ends with RETURN, and this one ends with %s", clauseName(last))
		}
		if p.atSchema() {
			p.failAt(t.Pos, "%s %s stands alone: a schema command cannot be combined with other clauses",
				asciiUpper(t.Text), asciiUpper(p.tok(1).Text))
		}
		if reading := p.at("MATCH") || p.at("OPTIONAL") || p.at("UNWIND"); reading && updating {
			p.failAt(t.Pos, "expected WITH between %s and %s: reading clauses come before updating ones in each part of a query",
				clauseName(last), clauseStart(p))
		}
		c := p.clause()
		p.checkLoose()
		ks = p.kindsAfter(ks, c)
		switch {
		case Updating(c):
			updating = true
		case isWith(c):
			updating = false
		}
		clauses = append(clauses, c)
		last = c
	}
	switch last.(type) {
	case nil:
		p.expected(clauseList)
	case *Match, *Unwind, *With:
		p.failAt(p.cur().Pos, "expected RETURN or an updating clause (CREATE, MERGE, SET, REMOVE, DELETE, FOREACH) to end the query after %s, found %s",
			clauseName(last), describe(p.cur()))
	}
	return clauses
}

func isWith(c Clause) bool {
	_, ok := c.(*With)
	return ok
}

// checkUnion refuses updating clauses in a query combined by UNION (a part's writes would be
// done before a later part could fail), and parts whose RETURNs name different columns.
func (p *parser) checkUnion(q *Query) {
	parts := [][]Clause{q.Clauses}
	for _, u := range q.Unions {
		parts = append(parts, u.Clauses)
	}
	for _, part := range parts {
		for _, c := range part {
			if Updating(c) {
				p.unsupported(c.Position(), "updating clauses ("+clauseName(c)+") in a query combined by UNION are")
			}
		}
	}
	first := returnColumns(q.Clauses)
	for _, u := range q.Unions {
		if cols := returnColumns(u.Clauses); first != nil && cols != nil && !SameColumns(first, cols) {
			p.failAt(u.Pos, "%s", UnionColumnsMessage(first, cols))
		}
	}
}

// returnColumns returns the column names of the RETURN ending clauses, nil when it has *.
func returnColumns(clauses []Clause) []string {
	r := clauses[len(clauses)-1].(*Return)
	if r.Star {
		return nil
	}
	cols := make([]string, len(r.Items))
	for i, it := range r.Items {
		cols[i] = it.Name()
	}
	return cols
}

// SameColumns reports whether the parts of a UNION with columns a and b may be combined:
// the same names, in any order (rows are combined by name).
func SameColumns(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, n := range a {
		if !slices.Contains(b, n) {
			return false
		}
	}
	return true
}

// UnionColumnsMessage is the error of a UNION whose parts have the columns a and b.
func UnionColumnsMessage(a, b []string) string {
	return fmt.Sprintf("expected the same column names on both sides of UNION, found (%s) before it and (%s) after it",
		strings.Join(a, ", "), strings.Join(b, ", "))
}

// end accepts an optional ";" and then the end of the query.
func (p *parser) end(what string) {
	if p.acceptSym(";") {
		what = `expected end of query after ";"`
	}
	if p.cur().Kind != EOF {
		p.failAt(p.cur().Pos, "%s, found %s", what, describe(p.cur()))
	}
}

// afterReturn fails: something that is not the end of the query follows RETURN.
func (p *parser) afterReturn(r *Return) {
	t := p.cur()
	switch {
	case p.atClause():
		p.failAt(t.Pos, "expected end of query after RETURN, found %s: RETURN is the last clause (WITH passes rows on to further clauses)", describe(t))
	}
	p.failAt(t.Pos, "expected %s or end of query, found %s", r.follow(), describe(t))
}

// follow lists what could have continued a RETURN where it ended, for errors.
func (r *Return) follow() string {
	pr := r.Projection
	switch {
	case pr.Limit != nil:
		return `";"`
	case pr.Skip != nil:
		return "LIMIT"
	case len(pr.OrderBy) > 0:
		if pr.OrderBy[len(pr.OrderBy)-1].Desc {
			return `",", SKIP, LIMIT`
		}
		return `",", ASC, DESC, SKIP, LIMIT`
	case len(pr.Items) > 0 && pr.Items[len(pr.Items)-1].Alias == "":
		return `",", AS, ORDER BY, SKIP, LIMIT`
	}
	return `",", ORDER BY, SKIP, LIMIT`
}

// atClause reports whether the current token starts a clause (supported or not).
func (p *parser) atClause() bool {
	for _, kw := range []string{"MATCH", "OPTIONAL", "UNWIND", "WITH", "RETURN", "CREATE", "MERGE", "SET", "REMOVE",
		"DELETE", "DETACH", "CALL", "FOREACH", "LOAD", "UNION", "DROP"} {
		if p.at(kw) {
			return true
		}
	}
	return false
}

// clauseName names a parsed clause in errors.
func clauseName(c Clause) string {
	switch c := c.(type) {
	case *Match:
		if c.Optional {
			return "OPTIONAL MATCH"
		}
		return "MATCH"
	case *Unwind:
		return "UNWIND"
	case *With:
		return "WITH"
	case *Return:
		return "RETURN"
	case *Create:
		return "CREATE"
	case *Merge:
		return "MERGE"
	case *Set:
		return "SET"
	case *Remove:
		return "REMOVE"
	case *Delete:
		if c.Detach {
			return "DETACH DELETE"
		}
		return "DELETE"
	case *Foreach:
		return "FOREACH"
	}
	return "?"
}

// clauseStart names the clause at the current token in errors.
func clauseStart(p *parser) string {
	if p.at("OPTIONAL") {
		return "OPTIONAL MATCH"
	}
	return asciiUpper(p.cur().Text)
}
