package cypher

import (
	"math"
	"slices"
)

// The AST of a query: clauses, patterns and schema commands (expressions are in
// ast_expr.go). Every node embeds At, its position in the query. Names are as written
// (backquotes removed), except function names, which are lower-cased. Anonymous nodes
// and relationships keep Var == "": the parser invents no names.

// At is where a syntax node is in the query: the position of its keyword, operator or
// first token, as each type's doc says. Every node embeds it.
type At struct{ Pos Pos }

// Position returns where the node is.
func (a At) Position() Pos { return a.Pos }

// Query is a parsed query: either a regular query (Clauses, in the order written; WITH
// separates its parts), possibly combined with others by UNION (Unions), or one schema
// command (Schema, and no Clauses). At is the first token.
type Query struct {
	At
	Clauses []Clause
	Schema  *Schema
	// Unions are the queries combined with Clauses by UNION or UNION ALL, in order; nil for
	// a single query. The parser has checked that every part ends with RETURN, that none
	// updates, that all are UNION or all UNION ALL, and that the parts' columns have the same
	// names where their RETURNs name them (RETURN * names its columns only when run).
	Unions []*Union
}

// Union is UNION [ALL] and the query after it. At is its UNION.
type Union struct {
	At
	All     bool
	Clauses []Clause
}

// Clause is one clause of a regular query: *Match, *Unwind, *With, *Return, *Create,
// *Merge, *Set, *Remove, *Delete or *Foreach. Its At is its first keyword.
type Clause interface {
	Position() Pos
	String() string
	clause()
}

// Updating reports whether c is an updating clause: CREATE, MERGE, SET, REMOVE, DELETE or
// FOREACH.
func Updating(c Clause) bool {
	switch c.(type) {
	case *Create, *Merge, *Set, *Remove, *Delete, *Foreach:
		return true
	}
	return false
}

// Writes reports whether q has an updating clause (a UNION's parts have none: the parser
// refuses them there).
func (q *Query) Writes() bool { return slices.ContainsFunc(q.Clauses, Updating) }

// Match is MATCH or OPTIONAL MATCH: comma-separated patterns and an optional WHERE.
type Match struct {
	At
	Optional bool
	Patterns []*Pattern
	Where    Expr // nil without WHERE
}

// Unwind is UNWIND Expr AS Var.
type Unwind struct {
	At
	Expr Expr
	Var  string
}

// With is WITH: a projection, then an optional WHERE over its result.
type With struct {
	At
	Projection
	Where Expr // nil without WHERE
}

// Return is RETURN, the last clause of a query that has one.
type Return struct {
	At
	Projection
}

// Projection is what WITH and RETURN share: [DISTINCT] (* | items) [ORDER BY] [SKIP]
// [LIMIT].
type Projection struct {
	Distinct bool
	Star     bool // *, with or without further items after it
	Items    []*ProjectionItem
	OrderBy  []*SortItem
	Skip     Expr // nil, an int64 *Literal (never negative) or a *Parameter
	Limit    Expr // likewise
}

// ProjectionItem is Expr [AS Alias]. At is the expression's first token.
type ProjectionItem struct {
	At
	Expr  Expr
	Alias string // "" without AS
	// Text is the expression as the query wrote it ("" for an item not parsed from a query).
	Text string
}

// Name is the column the item makes: its alias, a variable's name, or else its expression as
// the query wrote it (as Neo4j names columns: "toUpper(p.name)", "count( * )"), or printed as
// canonical Cypher for an item not parsed from a query.
func (p *ProjectionItem) Name() string {
	if p.Alias != "" {
		return p.Alias
	}
	if v, ok := p.Expr.(*Variable); ok {
		return v.Name
	}
	if p.Text != "" {
		return p.Text
	}
	return p.Expr.String()
}

// SortItem is an ORDER BY item. At is the expression's first token.
type SortItem struct {
	At
	Expr Expr
	Desc bool
}

// Create is CREATE with one or more patterns. The parser has checked that each
// relationship in them has exactly one type and a direction and no variable length, and
// that no pattern is a shortest path.
type Create struct {
	At
	Patterns []*Pattern
}

// Merge is MERGE of one pattern, with the SET items of its ON CREATE SET and ON MATCH SET
// parts (several parts of one kind are joined in order). The parser has checked that
// each relationship has exactly one type and no variable length, and that the pattern is
// not a shortest path.
type Merge struct {
	At
	Pattern  *Pattern
	OnCreate []SetItem
	OnMatch  []SetItem
}

// Set is SET with one or more items.
type Set struct {
	At
	Items []SetItem
}

// SetItem is one item of SET: *SetProperty, *SetProperties or *SetLabels. At is its
// variable.
type SetItem interface {
	Position() Pos
	String() string
	setItem()
}

// SetProperty is Var.Key = Value.
type SetProperty struct {
	At
	Var   string
	Key   string
	Value Expr
}

// SetProperties is Var = Value (replace all properties) or, with Merge, Var += Value
// (add and overwrite properties). Value is usually a map or a parameter.
type SetProperties struct {
	At
	Var   string
	Value Expr
	Merge bool
}

// SetLabels is Var:Label:Other.
type SetLabels struct {
	At
	Var    string
	Labels []string
}

// Remove is REMOVE with one or more items.
type Remove struct {
	At
	Items []RemoveItem
}

// RemoveItem is one item of REMOVE: *RemoveProperty or *RemoveLabels. At is its variable.
type RemoveItem interface {
	Position() Pos
	String() string
	removeItem()
}

// RemoveProperty is Var.Key in REMOVE.
type RemoveProperty struct {
	At
	Var string
	Key string
}

// RemoveLabels is Var:Label:Other in REMOVE.
type RemoveLabels struct {
	At
	Var    string
	Labels []string
}

// Delete is DELETE or DETACH DELETE of one or more expressions (usually variables).
type Delete struct {
	At
	Detach bool
	Exprs  []Expr
}

// Foreach is FOREACH (Var IN List | Body...): Body runs once for each element of List in
// each row, with Var bound to it. The parser has checked that Body is one or more updating
// clauses (CREATE, MERGE, SET, REMOVE, DELETE, FOREACH). Neither Var nor what Body binds is
// visible after it, and it passes its rows on unchanged.
type Foreach struct {
	At
	Var  string
	List Expr
	Body []Clause
}

func (*Foreach) clause() {}

func (*Match) clause()  {}
func (*Unwind) clause() {}
func (*With) clause()   {}
func (*Return) clause() {}
func (*Create) clause() {}
func (*Merge) clause()  {}
func (*Set) clause()    {}
func (*Remove) clause() {}
func (*Delete) clause() {}

func (*SetProperty) setItem()   {}
func (*SetProperties) setItem() {}
func (*SetLabels) setItem()     {}

func (*RemoveProperty) removeItem() {}
func (*RemoveLabels) removeItem()   {}

// Shortest says whether a pattern is a shortest-path pattern, and which.
type Shortest int

// The kinds of Pattern.Shortest.
const (
	NotShortest     Shortest = iota // a plain pattern
	ShortestPath                    // shortestPath(...): one shortest path per pair
	AllShortestPath                 // allShortestPaths(...): every shortest path per pair
)

// Pattern is a path pattern: [PathVar =] nodes and relationships alternating, starting and
// ending with a node (Elements[0], Elements[2], ... are *NodePattern, Elements[1], ... are
// *RelPattern). A shortest-path pattern has exactly one relationship between two nodes.
// At is its first token (the path variable, shortestPath or the first node).
type Pattern struct {
	At
	PathVar  string // "" when the path is not named
	Shortest Shortest
	Elements []Element
}

// Nodes returns the pattern's nodes in order.
func (p *Pattern) Nodes() []*NodePattern {
	nodes := make([]*NodePattern, 0, (len(p.Elements)+1)/2)
	for i := 0; i < len(p.Elements); i += 2 {
		nodes = append(nodes, p.Elements[i].(*NodePattern))
	}
	return nodes
}

// Rels returns the pattern's relationships in order: Rels()[i] joins Nodes()[i] and
// Nodes()[i+1].
func (p *Pattern) Rels() []*RelPattern {
	rels := make([]*RelPattern, 0, len(p.Elements)/2)
	for i := 1; i < len(p.Elements); i += 2 {
		rels = append(rels, p.Elements[i].(*RelPattern))
	}
	return rels
}

// Element is a part of a pattern: *NodePattern or *RelPattern.
type Element interface {
	Position() Pos
	String() string
	element()
}

// NodePattern is (Var:Label:Other {k: v}) with every part optional. At is its "(".
type NodePattern struct {
	At
	Var    string
	Labels []string
	Props  Expr // nil, a *MapLit or a *Parameter
}

// Direction is which way a relationship pattern points, read left to right.
type Direction int

// The directions of a relationship pattern.
const (
	DirBoth Direction = iota // -[]- : either way
	DirOut                   // -[]-> : from the left node to the right one
	DirIn                    // <-[]- : from the right node to the left one
)

// RelPattern is -[Var:T|U*min..max {k: v}]-> and its other directions and short forms.
// At is its first "-" or "<".
type RelPattern struct {
	At
	Var       string
	Types     []string // alternatives: any of them matches; empty matches every type
	Dir       Direction
	Props     Expr   // nil, a *MapLit or a *Parameter
	VarLength *Range // nil for a single relationship
}

// Range is the length of a variable-length relationship, Min to Max hops inclusive (0 <=
// Min; a Max below Min matches nothing). At is its "*".
type Range struct {
	At
	Min, Max int64
}

// Unbounded is the Max of a variable-length relationship written without an upper bound
// (*, *0..). A match of it ends because a path never uses a relationship twice (it is a
// trail), so it stops where no trail goes further; shortestPath and allShortestPaths end
// when a level of their breadth-first search reaches no vertex it has not seen.
const Unbounded = int64(math.MaxInt64)

func (*NodePattern) element() {}
func (*RelPattern) element()  {}

// SchemaKind is which schema command a Schema is.
type SchemaKind int

// The schema commands.
const (
	CreateIndex SchemaKind = iota + 1
	DropIndex
	CreateConstraint
	DropConstraint
	ShowIndexes     // lists the indexes: secondary ones and primary keys
	ShowConstraints // lists the constraints: primary keys
)

// ConstraintKind is what a constraint requires of its property.
type ConstraintKind int

// The constraints: both declare the label's primary key, Torua's only schema.
const (
	Unique  ConstraintKind = iota + 1 // REQUIRE p.id IS UNIQUE
	NodeKey                           // REQUIRE p.id IS NODE KEY
)

// Schema is a schema command, which stands alone as a query:
//
//	CREATE INDEX [Name] [IF NOT EXISTS] FOR (Var:Label) ON (Var.Property)
//	CREATE INDEX ON :Label(Property)                (the old form: Var and Name are "")
//	DROP INDEX Name [IF EXISTS]
//	DROP INDEX ON :Label(Property)                  (the old form: Name is "")
//	CREATE CONSTRAINT [Name] [IF NOT EXISTS] FOR (Var:Label) REQUIRE Var.Property IS UNIQUE | IS NODE KEY
//	DROP CONSTRAINT Name [IF EXISTS]
//	SHOW [ALL] INDEX | INDEXES
//	SHOW [ALL] CONSTRAINT | CONSTRAINTS
//
// At is its first keyword.
type Schema struct {
	At
	Kind        SchemaKind
	Name        string
	IfNotExists bool // CREATE ... IF NOT EXISTS
	IfExists    bool // DROP ... IF EXISTS
	Var         string
	Label       string
	Property    string
	Constraint  ConstraintKind // CreateConstraint only
}
