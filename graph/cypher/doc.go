// Package cypher reads the openCypher subset Torua's graph layer runs (issue 18) into a
// typed AST that the planner and the tests' oracle evaluator walk: Parse(query) returns a
// *Query, or an *Error that names the line, column, what was found and what was expected.
// Constructs outside the subset (CALL, LOAD CSV, patterns used as values, subqueries
// other than EXISTS/COUNT { MATCH ... WHERE ... }, unbounded variable-length relationships
// outside shortest paths, updating clauses in a UNION) are refused by name at their position
// rather than misread.
//
// Files, one concern each:
//   - lexer.go: tokens with their line and column (keywords are identifiers, matched by the
//     parser case-insensitively; backquoted names never are keywords).
//   - ast.go: the query, its clauses, patterns and schema commands; ast_expr.go: the
//     expressions, their operators and precedence levels; ast_pattern_pred.go: pattern
//     predicates ((a)-->(b) in WHERE, exists(...), EXISTS { }, COUNT { }) and pattern
//     comprehensions ([(a)-->(b) WHERE ... | ...]), which are computed alike.
//   - parser.go: Parse, the token helpers and the clause order rules (reading clauses, then
//     updating ones, WITH between parts, RETURN last; UNION's parts and their columns);
//     parse_clause.go: each clause (WITH
//     and RETURN projections, SET, REMOVE, and what CREATE and MERGE can write);
//     parse_pattern.go: node, relationship, variable-length and shortest-path patterns;
//     parse_expr.go: expressions by precedence (comparisons chain: a < b < c is
//     a < b AND b < c), list comprehensions, list predicates, reduce and map projections;
//     parse_pattern_pred.go: pattern predicates and comprehensions, and the rule that a bare pattern stands
//     only where WHERE expects a predicate; parse_schema.go: CREATE/DROP INDEX and
//     CONSTRAINT.
//   - print.go: String on every node, canonical Cypher that parses back to the same AST.
//
// Tests: parser_test.go (every construct, the AST of a few, the round trip, FuzzParse),
// parser_expr_test.go (precedence and associativity), parser_errors_test.go (every error
// and refusal with its line and column), print_test.go (the printer's round trip over
// random expression trees).
//
// Expressions nest at most maxDepth (256) deep: deeper recursion could overflow the
// goroutine's stack, which no recover catches.
//
// The parser checks syntax and what can be written (CREATE and MERGE take single typed
// relationships); it does not resolve variables or function names (function names are
// recorded lower-cased), which is the planner's work.
//
// It imports nothing of Torua.
package cypher
