package cypher

// PredicateForm is how a PatternPredicate was written.
type PredicateForm int

// The forms of a PatternPredicate.
const (
	PatternForm    PredicateForm = iota + 1 // (a)-[:T]->(b), where a predicate may stand
	ExistsForm                              // exists((a)-[:T]->(b)), openCypher 9's function
	ExistsSubquery                          // EXISTS { [MATCH] patterns [WHERE cond] }, Neo4j 5's
	CountSubquery                           // COUNT { [MATCH] patterns [WHERE cond] }: an INTEGER
	Comprehension                           // [[p =] pattern [WHERE cond] | map]: a LIST
)

// PatternPredicate tests patterns against the graph in the context of a row: the
// patterns' variables that the row binds are those values, the others are local to the
// predicate. It is true when there is at least one match (COUNT { } is the number of
// matches instead); relationships are unique within its own patterns only. PatternForm
// and ExistsForm hold one pattern of at least one relationship and no Where; the
// subquery forms hold the patterns and WHERE of one MATCH. A pattern comprehension
// (Comprehension) is one too, as it is computed the same way: it holds one pattern (which
// may name its path), an optional Where and Map, and its value is the list of Map's values
// at the matches Where is true of. At is its first token (the pattern's "(", exists,
// EXISTS, COUNT or the comprehension's "[").
type PatternPredicate struct {
	At
	Form     PredicateForm
	Patterns []*Pattern
	Where    Expr // nil without WHERE
	Map      Expr // Comprehension only
	// Value marks a Comprehension written as a bare pattern where a value stands
	// (size((a)-->())): its path variable and Map were made by the parser, and it prints as
	// the pattern.
	Value bool
}

// EveryMatch reports whether x's value depends on each of its matches (COUNT { } and a
// comprehension) rather than on whether there is one.
func (x *PatternPredicate) EveryMatch() bool {
	return x.Form == CountSubquery || x.Form == Comprehension
}

func (*PatternPredicate) prec() int { return precAtom }
