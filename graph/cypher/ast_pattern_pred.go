package cypher

// PredicateForm is how a PatternPredicate was written.
type PredicateForm int

// The forms of a PatternPredicate.
const (
	PatternForm    PredicateForm = iota + 1 // (a)-[:T]->(b), where a predicate may stand
	ExistsForm                              // exists((a)-[:T]->(b)), openCypher 9's function
	ExistsSubquery                          // EXISTS { [MATCH] patterns [WHERE cond] }, Neo4j 5's
	CountSubquery                           // COUNT { [MATCH] patterns [WHERE cond] }: an INTEGER
)

// PatternPredicate tests patterns against the graph in the context of a row: the
// patterns' variables that the row binds are those values, the others are local to the
// predicate. It is true when there is at least one match (COUNT { } is the number of
// matches instead); relationships are unique within its own patterns only. PatternForm
// and ExistsForm hold one pattern of at least one relationship and no Where; the
// subquery forms hold the patterns and WHERE of one MATCH. At is its first token (the
// pattern's "(", exists, EXISTS or COUNT).
type PatternPredicate struct {
	At
	Form     PredicateForm
	Patterns []*Pattern
	Where    Expr // nil without WHERE
}

func (*PatternPredicate) prec() int { return precAtom }
