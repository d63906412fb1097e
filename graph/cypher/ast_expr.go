package cypher

// Expr is an expression: *Literal, *ListLit, *MapLit, *Parameter, *Variable, *Property,
// *Index, *Slice, *Binary, *Unary, *In, *StringOp, *RegexMatch, *IsNull, *LabelTest,
// *FuncCall, *Case, *ListComprehension, *ListPredicate, *Reduce, *MapProjection or
// *PatternPredicate (ast_pattern_pred.go). String prints it as canonical Cypher, with
// parentheses only where precedence needs them.
type Expr interface {
	Position() Pos
	String() string
	// prec is the expression's precedence level, for printing: see the prec constants.
	prec() int
}

// Literal is a constant: Value is nil (null), a bool, an int64, a float64 or a string.
// A minus sign before a number literal is folded into it (-5 is a Literal of -5). At is
// its token (the minus sign for a folded negative number).
type Literal struct {
	At
	Value any
}

// ListLit is [e, ...]. At is its "[".
type ListLit struct {
	At
	Elems []Expr
}

// MapLit is {k: e, ...}, its keys in the order written and distinct. At is its "{".
type MapLit struct {
	At
	Items []*MapItem
}

// MapItem is one key: value of a map literal. At is its key.
type MapItem struct {
	At
	Key   string
	Value Expr
}

// Parameter is $Name: a named ($name) or numbered ($0) parameter. At is its token.
type Parameter struct {
	At
	Name string
}

// Variable is a name bound by a pattern, UNWIND, WITH or RETURN. At is its token.
type Variable struct {
	At
	Name string
}

// Property is Expr.Key. At is its ".".
type Property struct {
	At
	Expr Expr
	Key  string
}

// Index is Expr[Index]: a list element or a map value by key. At is its "[".
type Index struct {
	At
	Expr  Expr
	Index Expr
}

// Slice is Expr[From..To], either bound optional (nil). At is its "[".
type Slice struct {
	At
	Expr     Expr
	From, To Expr
}

// BinaryOp is the operator of a Binary expression.
type BinaryOp int

// The binary operators. Comparisons chain as in openCypher: a < b < c is parsed as
// (a < b) AND (b < c), so a comparison's operands are never comparisons themselves
// unless written in parentheses.
const (
	OpOr BinaryOp = iota + 1
	OpXor
	OpAnd
	OpEq // =
	OpNe // <>
	OpLt // <
	OpGt // >
	OpLe // <=
	OpGe // >=
	OpAdd
	OpSub
	OpMul
	OpDiv
	OpMod
	OpPow // ^, right-associative
)

var binaryOpText = map[BinaryOp]string{
	OpOr: "OR", OpXor: "XOR", OpAnd: "AND", OpEq: "=", OpNe: "<>", OpLt: "<", OpGt: ">", OpLe: "<=", OpGe: ">=",
	OpAdd: "+", OpSub: "-", OpMul: "*", OpDiv: "/", OpMod: "%", OpPow: "^",
}

// String returns the operator as written in Cypher.
func (op BinaryOp) String() string { return binaryOpText[op] }

// IsComparison reports whether op is one of = <> < > <= >=.
func (op BinaryOp) IsComparison() bool { return op >= OpEq && op <= OpGe }

// Binary is L Op R. At is its operator.
type Binary struct {
	At
	Op   BinaryOp
	L, R Expr
}

// UnaryOp is the operator of a Unary expression.
type UnaryOp int

// The unary operators.
const (
	OpNot  UnaryOp = iota + 1
	OpNeg          // -
	OpPlus         // +
)

// String returns the operator as written in Cypher.
func (op UnaryOp) String() string {
	switch op {
	case OpNot:
		return "NOT"
	case OpNeg:
		return "-"
	case OpPlus:
		return "+"
	}
	return ""
}

// Unary is Op X. At is its operator.
type Unary struct {
	At
	Op UnaryOp
	X  Expr
}

// In is X IN List. At is its IN.
type In struct {
	At
	X, List Expr
}

// StringOpKind is the operator of a StringOp.
type StringOpKind int

// The string predicates.
const (
	OpStartsWith StringOpKind = iota + 1
	OpEndsWith
	OpContains
)

// String returns the operator as written in Cypher.
func (op StringOpKind) String() string {
	switch op {
	case OpStartsWith:
		return "STARTS WITH"
	case OpEndsWith:
		return "ENDS WITH"
	case OpContains:
		return "CONTAINS"
	}
	return ""
}

// StringOp is L STARTS WITH R, L ENDS WITH R or L CONTAINS R. At is its first keyword.
type StringOp struct {
	At
	Op   StringOpKind
	L, R Expr
}

// IsNull is X IS NULL, or X IS NOT NULL with Not. At is its IS.
type IsNull struct {
	At
	X   Expr
	Not bool
}

// LabelTest is X:Label:Other, true when X has every label. At is its first ":".
type LabelTest struct {
	At
	X      Expr
	Labels []string
}

// FuncCall is Name(Args), Name(DISTINCT Args) or count(*) (Star, no Args). Name is
// lower-cased, Written is as the query spells it (for messages); the parser does not check
// it. At is its name.
type FuncCall struct {
	At
	Name     string
	Written  string
	Distinct bool
	Star     bool
	Args     []Expr
}

// aggregates are openCypher's aggregate functions, by lower-case name.
var aggregates = map[string]bool{"count": true, "sum": true, "avg": true, "min": true, "max": true, "collect": true,
	"stdev": true, "stdevp": true, "percentilecont": true, "percentiledisc": true}

// IsAggregate reports whether x is a call of an aggregate function.
func IsAggregate(x Expr) bool {
	f, ok := x.(*FuncCall)
	return ok && aggregates[f.Name]
}

// Shown is the function's name as the query wrote it, for messages (Name if unknown).
func (f *FuncCall) Shown() string {
	if f.Written != "" {
		return f.Written
	}
	return f.Name
}

// Case is CASE [Subject] WHEN ... THEN ... [ELSE Else] END: with a Subject, the first When
// whose Cond equals it gives the result; without one, the first When whose Cond is true.
// Else is nil when absent (the result is then null). At is its CASE.
type Case struct {
	At
	Subject Expr
	Whens   []*When
	Else    Expr
}

// When is WHEN Cond THEN Result in a Case. At is its WHEN.
type When struct {
	At
	Cond, Result Expr
}

// The precedence levels of expressions, lowest first, as openCypher's grammar nests them.
const (
	precOr = iota + 1
	precXor
	precAnd
	precNot
	precComparison
	precPredicate // IN, STARTS WITH, ENDS WITH, CONTAINS, =~, IS [NOT] NULL
	precAdd
	precMul
	precPow
	precUnary     // unary + and -
	precLabelTest // x:Label ends a postfix chain: (x:L).p needs its parentheses
	precPostfix   // property, index, slice
	precAtom
)

var binaryPrec = map[BinaryOp]int{
	OpOr: precOr, OpXor: precXor, OpAnd: precAnd,
	OpEq: precComparison, OpNe: precComparison, OpLt: precComparison, OpGt: precComparison, OpLe: precComparison, OpGe: precComparison,
	OpAdd: precAdd, OpSub: precAdd, OpMul: precMul, OpDiv: precMul, OpMod: precMul, OpPow: precPow,
}

func (e *Literal) prec() int {
	// A negative number prints with its sign, as a unary minus would.
	switch v := e.Value.(type) {
	case int64:
		if v < 0 {
			return precUnary
		}
	case float64:
		if v < 0 || v == 0 && 1/v < 0 {
			return precUnary
		}
	}
	return precAtom
}

func (*ListLit) prec() int   { return precAtom }
func (*MapLit) prec() int    { return precAtom }
func (*Parameter) prec() int { return precAtom }
func (*Variable) prec() int  { return precAtom }
func (*Property) prec() int  { return precPostfix }
func (*Index) prec() int     { return precPostfix }
func (*Slice) prec() int     { return precPostfix }
func (e *Binary) prec() int  { return binaryPrec[e.Op] }
func (*In) prec() int        { return precPredicate }
func (*StringOp) prec() int  { return precPredicate }
func (*IsNull) prec() int    { return precPredicate }
func (*LabelTest) prec() int { return precLabelTest }
func (*FuncCall) prec() int  { return precAtom }
func (*Case) prec() int      { return precAtom }

func (e *Unary) prec() int {
	if e.Op == OpNot {
		return precNot
	}
	return precUnary
}

// RegexMatch is L =~ R: whether the string L matches the regular expression R as a whole.
// At is its "=~".
type RegexMatch struct {
	At
	L, R Expr
}

// ListComprehension is [Var IN List WHERE Where | Map]: the elements of List for which
// Where is true, each mapped by Map. Where and Map are nil when absent (every element is
// kept, as it is). Var is bound in Where and Map only, where it shadows a variable of the
// same name. At is its "[".
type ListComprehension struct {
	At
	Var        string
	List       Expr
	Where, Map Expr
}

// Quantifier is the kind of a ListPredicate.
type Quantifier int

// The list predicates.
const (
	QuantAll    Quantifier = iota + 1 // all(x IN l WHERE p)
	QuantAny                          // any(...)
	QuantNone                         // none(...)
	QuantSingle                       // single(...)
)

// String returns the predicate's name as written in Cypher.
func (q Quantifier) String() string {
	switch q {
	case QuantAll:
		return "all"
	case QuantAny:
		return "any"
	case QuantNone:
		return "none"
	case QuantSingle:
		return "single"
	}
	return ""
}

// ListPredicate is all(Var IN List WHERE Where), or any, none or single: whether Where holds
// for every, some, no or exactly one element of List. Var is bound in Where only. At is its
// name.
type ListPredicate struct {
	At
	Quantifier  Quantifier
	Var         string
	List, Where Expr
}

// Reduce is reduce(Acc = Init, Var IN List | Expr): Acc starts as Init and becomes Expr for
// each element of List in turn. Acc and Var (distinct) are bound in Expr only. At is its
// name.
type Reduce struct {
	At
	Acc  string
	Init Expr
	Var  string
	List Expr
	Expr Expr
}

// MapProjection is Var {items}: a map built from the node, relationship or map Var holds.
// At is its "{".
type MapProjection struct {
	At
	Var   *Variable
	Items []*MapProjectionItem
}

// MapProjectionKind is the kind of a MapProjectionItem.
type MapProjectionKind int

// The items of a map projection.
const (
	ProjectProperty MapProjectionKind = iota + 1 // .Key: the property Key, null when missing
	ProjectAll                                   // .*: every property
	ProjectVariable                              // a variable: Key is its name, Value the *Variable
	ProjectEntry                                 // Key: Value
)

// MapProjectionItem is one item of a MapProjection; Key is "" for .* and Value nil unless
// Kind is ProjectVariable or ProjectEntry. At is its first token.
type MapProjectionItem struct {
	At
	Kind  MapProjectionKind
	Key   string
	Value Expr
}

func (*RegexMatch) prec() int        { return precPredicate }
func (*ListComprehension) prec() int { return precAtom }
func (*ListPredicate) prec() int     { return precAtom }
func (*Reduce) prec() int            { return precAtom }
func (*MapProjection) prec() int     { return precAtom }
