package cypher

import (
	"math"
	"strconv"
	"strings"
	"unicode"
)

// Printing: every node's String is canonical Cypher on one line (upper-case keywords,
// single-quoted strings, one space around operators, parentheses only where precedence
// needs them, names in backquotes only where needed). Parsing what String prints gives the
// same AST, positions aside: the parser's tests and fuzz target check it.

// String prints the query as canonical Cypher.
func (q *Query) String() string {
	if q.Schema != nil {
		return q.Schema.String()
	}
	s := joinClauses(q.Clauses)
	for _, u := range q.Unions {
		if u.All {
			s += " UNION ALL "
		} else {
			s += " UNION "
		}
		s += joinClauses(u.Clauses)
	}
	return s
}

func joinClauses(cs []Clause) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.String()
	}
	return strings.Join(parts, " ")
}

// String prints the clause as Cypher.
func (c *Match) String() string {
	var b strings.Builder
	if c.Optional {
		b.WriteString("OPTIONAL ")
	}
	b.WriteString("MATCH ")
	writePatterns(&b, c.Patterns)
	writeWhere(&b, c.Where)
	return b.String()
}

// String prints the clause as Cypher.
func (c *Unwind) String() string {
	return "UNWIND " + c.Expr.String() + " AS " + varName(c.Var)
}

// String prints the clause as Cypher.
func (c *With) String() string {
	var b strings.Builder
	b.WriteString("WITH ")
	c.Projection.write(&b)
	writeWhere(&b, c.Where)
	return b.String()
}

// String prints the clause as Cypher.
func (c *Return) String() string {
	var b strings.Builder
	b.WriteString("RETURN ")
	c.Projection.write(&b)
	return b.String()
}

func (p *Projection) write(b *strings.Builder) {
	if p.Distinct {
		b.WriteString("DISTINCT ")
	}
	items := make([]string, 0, len(p.Items)+1)
	if p.Star {
		items = append(items, "*")
	}
	for _, it := range p.Items {
		items = append(items, it.String())
	}
	b.WriteString(strings.Join(items, ", "))
	if len(p.OrderBy) > 0 {
		b.WriteString(" ORDER BY ")
		for i, s := range p.OrderBy {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(s.String())
		}
	}
	if p.Skip != nil {
		b.WriteString(" SKIP " + p.Skip.String())
	}
	if p.Limit != nil {
		b.WriteString(" LIMIT " + p.Limit.String())
	}
}

// String prints the item as Cypher.
func (p *ProjectionItem) String() string {
	if p.Alias == "" {
		return p.Expr.String()
	}
	return p.Expr.String() + " AS " + varName(p.Alias)
}

// String prints the item as Cypher.
func (s *SortItem) String() string {
	if s.Desc {
		return s.Expr.String() + " DESC"
	}
	return s.Expr.String()
}

// String prints the clause as Cypher.
func (c *Create) String() string {
	var b strings.Builder
	b.WriteString("CREATE ")
	writePatterns(&b, c.Patterns)
	return b.String()
}

// String prints the clause as Cypher.
func (c *Merge) String() string {
	s := "MERGE " + c.Pattern.String()
	if len(c.OnCreate) > 0 {
		s += " ON CREATE SET " + joinSetItems(c.OnCreate)
	}
	if len(c.OnMatch) > 0 {
		s += " ON MATCH SET " + joinSetItems(c.OnMatch)
	}
	return s
}

// String prints the clause as Cypher.
func (c *Set) String() string { return "SET " + joinSetItems(c.Items) }

func joinSetItems(items []SetItem) string {
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = it.String()
	}
	return strings.Join(parts, ", ")
}

// String prints the item as Cypher.
func (s *SetProperty) String() string {
	return varName(s.Var) + "." + name(s.Key) + " = " + s.Value.String()
}

// String prints the item as Cypher.
func (s *SetProperties) String() string {
	if s.Merge {
		return varName(s.Var) + " += " + s.Value.String()
	}
	return varName(s.Var) + " = " + s.Value.String()
}

// String prints the item as Cypher.
func (s *SetLabels) String() string { return varName(s.Var) + labels(s.Labels) }

// String prints the clause as Cypher.
func (c *Remove) String() string {
	parts := make([]string, len(c.Items))
	for i, it := range c.Items {
		parts[i] = it.String()
	}
	return "REMOVE " + strings.Join(parts, ", ")
}

// String prints the item as Cypher.
func (r *RemoveProperty) String() string { return varName(r.Var) + "." + name(r.Key) }

// String prints the item as Cypher.
func (r *RemoveLabels) String() string { return varName(r.Var) + labels(r.Labels) }

// String prints the clause as Cypher.
func (c *Delete) String() string {
	s := "DELETE " + joinExprs(c.Exprs)
	if c.Detach {
		s = "DETACH " + s
	}
	return s
}

// String prints the clause as Cypher.
func (c *Foreach) String() string {
	return "FOREACH (" + varName(c.Var) + " IN " + c.List.String() + " | " + joinClauses(c.Body) + ")"
}

func writeWhere(b *strings.Builder, where Expr) {
	if where != nil {
		b.WriteString(" WHERE " + where.String())
	}
}

func writePatterns(b *strings.Builder, pats []*Pattern) {
	for i, pat := range pats {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(pat.String())
	}
}

// String prints the pattern as Cypher.
func (p *Pattern) String() string {
	var b strings.Builder
	if p.PathVar != "" {
		b.WriteString(varName(p.PathVar) + " = ")
	}
	switch p.Shortest {
	case ShortestPath:
		b.WriteString("shortestPath(")
	case AllShortestPath:
		b.WriteString("allShortestPaths(")
	}
	for _, e := range p.Elements {
		b.WriteString(e.String())
	}
	if p.Shortest != NotShortest {
		b.WriteByte(')')
	}
	return b.String()
}

// String prints the predicate as Cypher, in its form; the subqueries always with MATCH.
func (e *PatternPredicate) String() string {
	switch e.Form {
	case PatternForm:
		return e.Patterns[0].String()
	case ExistsForm:
		return "exists(" + e.Patterns[0].String() + ")"
	case Comprehension:
		if e.Value {
			pat := *e.Patterns[0]
			pat.PathVar = ""
			return pat.String()
		}
		s := "[" + e.Patterns[0].String()
		if e.Where != nil {
			s += " WHERE " + e.Where.String()
		}
		return s + " | " + e.Map.String() + "]"
	}
	var b strings.Builder
	if e.Form == CountSubquery {
		b.WriteString("COUNT { MATCH ")
	} else {
		b.WriteString("EXISTS { MATCH ")
	}
	writePatterns(&b, e.Patterns)
	writeWhere(&b, e.Where)
	b.WriteString(" }")
	return b.String()
}

// String prints the node pattern as Cypher.
func (n *NodePattern) String() string {
	s := "(" + varName(n.Var) + labels(n.Labels)
	if n.Props != nil {
		if s != "(" {
			s += " "
		}
		s += n.Props.String()
	}
	return s + ")"
}

// String prints the relationship pattern as Cypher.
func (r *RelPattern) String() string {
	left, right := "-", "-"
	switch r.Dir {
	case DirOut:
		right = "->"
	case DirIn:
		left = "<-"
	}
	if r.Var == "" && len(r.Types) == 0 && r.Props == nil && r.VarLength == nil {
		return left + right
	}
	s := left + "[" + varName(r.Var)
	for i, t := range r.Types {
		if i == 0 {
			s += ":" + name(t)
		} else {
			s += "|" + name(t)
		}
	}
	if v := r.VarLength; v != nil {
		s += "*" + strconv.FormatInt(v.Min, 10)
		switch v.Max {
		case Unbounded:
			s += ".."
		case v.Min:
		default:
			s += ".." + strconv.FormatInt(v.Max, 10)
		}
	}
	if r.Props != nil {
		if s != left+"[" {
			s += " "
		}
		s += r.Props.String()
	}
	return s + "]" + right
}

// String prints the schema command as Cypher.
func (s *Schema) String() string {
	var b strings.Builder
	named := func(kind string) {
		b.WriteString(kind)
		if s.Name != "" {
			b.WriteString(" " + varName(s.Name))
		}
		if s.IfNotExists {
			b.WriteString(" IF NOT EXISTS")
		}
		if s.IfExists {
			b.WriteString(" IF EXISTS")
		}
	}
	target := " FOR (" + varName(s.Var) + ":" + name(s.Label) + ")"
	prop := varName(s.Var) + "." + name(s.Property)
	oldForm := " ON :" + name(s.Label) + "(" + name(s.Property) + ")"
	switch s.Kind {
	case CreateIndex:
		if s.Var == "" {
			return "CREATE INDEX" + oldForm
		}
		named("CREATE INDEX")
		b.WriteString(target + " ON (" + prop + ")")
	case DropIndex:
		if s.Name == "" {
			return "DROP INDEX" + oldForm
		}
		named("DROP INDEX")
	case CreateConstraint:
		named("CREATE CONSTRAINT")
		b.WriteString(target + " REQUIRE " + prop)
		if s.Constraint == NodeKey {
			b.WriteString(" IS NODE KEY")
		} else {
			b.WriteString(" IS UNIQUE")
		}
	case DropConstraint:
		named("DROP CONSTRAINT")
	case ShowIndexes:
		return "SHOW INDEXES"
	case ShowConstraints:
		return "SHOW CONSTRAINTS"
	}
	return b.String()
}

// String prints the literal as Cypher.
func (e *Literal) String() string {
	switch v := e.Value.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		// Plain digits where that is short (as JavaScript prints numbers), else an exponent.
		format := byte('g')
		if a := math.Abs(v); a == 0 || a >= 1e-6 && a < 1e21 {
			format = 'f'
		}
		s := strconv.FormatFloat(v, format, -1, 64)
		if !strings.ContainsAny(s, ".eIN") {
			s += ".0" // keep it a float: 2.0, not 2
		}
		return s
	case string:
		return quote(v)
	}
	return "null"
}

// quote prints s as a single-quoted Cypher string, escaping what the lexer unescapes.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			switch {
			case unicode.IsPrint(r):
				b.WriteRune(r)
			case r <= 0xFFFF:
				b.WriteString(`\u` + hex(r, 4))
			default:
				b.WriteString(`\U` + hex(r, 8))
			}
		}
	}
	b.WriteByte('\'')
	return b.String()
}

func hex(r rune, width int) string {
	s := strconv.FormatInt(int64(r), 16)
	return strings.Repeat("0", width-len(s)) + s
}

// String prints the list as Cypher.
func (e *ListLit) String() string { return "[" + joinArgs(e.Elems) + "]" }

// String prints the map as Cypher.
func (e *MapLit) String() string {
	parts := make([]string, len(e.Items))
	for i, it := range e.Items {
		parts[i] = name(it.Key) + ": " + it.Value.String()
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// String prints the parameter as Cypher.
func (e *Parameter) String() string { return "$" + e.Name }

// String prints the variable as Cypher.
func (e *Variable) String() string { return varName(e.Name) }

// String prints the property access as Cypher.
func (e *Property) String() string {
	base := operand(e.Expr, precPostfix)
	if l, ok := e.Expr.(*Literal); ok && base == l.String() {
		switch l.Value.(type) {
		case int64, float64:
			base = "(" + base + ")" // 1.x would read as a malformed number
		}
	}
	return base + "." + name(e.Key)
}

// String prints the index as Cypher.
func (e *Index) String() string {
	return operand(e.Expr, precPostfix) + "[" + e.Index.String() + "]"
}

// String prints the slice as Cypher.
func (e *Slice) String() string {
	s := operand(e.Expr, precPostfix) + "["
	if e.From != nil {
		s += e.From.String()
	}
	s += ".."
	if e.To != nil {
		s += e.To.String()
	}
	return s + "]"
}

// String prints the expression as Cypher.
func (e *Binary) String() string {
	p := e.prec()
	lmin, rmin := p, p+1     // left-associative, ^ too
	if e.Op.IsComparison() { // a < b < c is a chain, so a comparison operand needs parentheses
		lmin = p + 1
	}
	return operand(e.L, lmin) + " " + e.Op.String() + " " + operand(e.R, rmin)
}

// String prints the expression as Cypher.
func (e *Unary) String() string {
	if e.Op == OpNot {
		return "NOT " + operand(e.X, precNot)
	}
	return e.Op.String() + operand(e.X, precUnary)
}

// String prints the expression as Cypher.
func (e *In) String() string {
	return operand(e.X, precPredicate) + " IN " + operand(e.List, precPredicate+1)
}

// String prints the expression as Cypher.
func (e *StringOp) String() string {
	return operand(e.L, precPredicate) + " " + e.Op.String() + " " + operand(e.R, precPredicate+1)
}

// String prints the expression as Cypher.
func (e *RegexMatch) String() string {
	return operand(e.L, precPredicate) + " =~ " + operand(e.R, precPredicate+1)
}

// String prints the expression as Cypher.
func (e *IsNull) String() string {
	if e.Not {
		return operand(e.X, precPredicate) + " IS NOT NULL"
	}
	return operand(e.X, precPredicate) + " IS NULL"
}

// String prints the expression as Cypher.
func (e *LabelTest) String() string { return operand(e.X, precPostfix) + labels(e.Labels) }

// String prints the call as Cypher.
func (e *FuncCall) String() string {
	n := e.Name
	if !isPlain(n) || reserved[asciiUpper(n)] && n != "exists" && n != "all" {
		n = backquote(n)
	}
	switch {
	case e.Star:
		return n + "(*)"
	case e.Distinct:
		return n + "(DISTINCT " + joinExprs(e.Args) + ")"
	}
	return n + "(" + joinArgs(e.Args) + ")"
}

// String prints the expression as Cypher.
func (e *Case) String() string {
	var b strings.Builder
	b.WriteString("CASE")
	if e.Subject != nil {
		b.WriteString(" " + e.Subject.String())
	}
	for _, w := range e.Whens {
		b.WriteString(" WHEN " + w.Cond.String() + " THEN " + w.Result.String())
	}
	if e.Else != nil {
		b.WriteString(" ELSE " + e.Else.String())
	}
	b.WriteString(" END")
	return b.String()
}

// String prints the list comprehension as Cypher.
func (e *ListComprehension) String() string {
	s := "[" + varName(e.Var) + " IN " + e.List.String()
	if e.Where != nil {
		s += " WHERE " + e.Where.String()
	}
	if e.Map != nil {
		s += " | " + e.Map.String()
	}
	return s + "]"
}

// String prints the list predicate as Cypher.
func (e *ListPredicate) String() string {
	return e.Quantifier.String() + "(" + varName(e.Var) + " IN " + e.List.String() + " WHERE " + e.Where.String() + ")"
}

// String prints the reduction as Cypher.
func (e *Reduce) String() string {
	return "reduce(" + varName(e.Acc) + " = " + e.Init.String() + ", " + varName(e.Var) + " IN " + e.List.String() +
		" | " + e.Expr.String() + ")"
}

// String prints the map projection as Cypher.
func (e *MapProjection) String() string {
	parts := make([]string, len(e.Items))
	for i, it := range e.Items {
		switch it.Kind {
		case ProjectProperty:
			parts[i] = "." + name(it.Key)
		case ProjectAll:
			parts[i] = ".*"
		case ProjectVariable:
			parts[i] = varName(it.Key)
		case ProjectEntry:
			parts[i] = name(it.Key) + ": " + it.Value.String()
		}
	}
	v := e.Var.String()
	if asciiUpper(v) == "COUNT" {
		v = backquote(v) // count {...} is a COUNT subquery
	}
	return v + " {" + strings.Join(parts, ", ") + "}"
}

// operand prints e, in parentheses if its precedence is below min.
func operand(e Expr, min int) string {
	if e.prec() < min {
		return "(" + e.String() + ")"
	}
	return e.String()
}

func joinExprs(es []Expr) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.String()
	}
	return strings.Join(parts, ", ")
}

// joinArgs prints list elements and function arguments. A first one that would print as
// "x IN ..." is put in parentheses: [x IN l] and any(x IN l) read as a list comprehension
// and a list predicate.
func joinArgs(es []Expr) string {
	s := joinExprs(es)
	if len(es) > 0 {
		if first := es[0].String(); startsWithVarIn(first) {
			s = "(" + first + ")" + s[len(first):]
		}
	}
	return s
}

func labels(ls []string) string {
	s := ""
	for _, l := range ls {
		s += ":" + name(l)
	}
	return s
}

// name prints a label, type, key or property name: backquoted unless a plain identifier.
// Keywords need no quotes here (n.end, :Order).
func name(s string) string {
	if isPlain(s) {
		return s
	}
	return backquote(s)
}

// varName prints a variable, alias or schema name: backquoted unless a plain identifier
// that is not a reserved word; "" (anonymous) stays "".
func varName(s string) string {
	if s == "" || isPlain(s) && !reserved[asciiUpper(s)] {
		return s
	}
	return backquote(s)
}

func backquote(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// isPlain reports whether s lexes as one unquoted identifier.
func isPlain(s string) bool {
	for i, r := range s {
		if !isIdentPart(r) || i == 0 && !isIdentStart(r) {
			return false
		}
	}
	return s != ""
}
