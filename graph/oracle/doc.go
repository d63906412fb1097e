// Package oracle is a reference evaluator for tests; it never serves queries. It runs Torua's
// openCypher subset (issue 18) over a small in-memory property graph by a direct, readable
// reading of openCypher 9's semantics, so that the distributed planner and executor
// (graph/exec and the nodes' graph operations) can be checked against it on the same
// generated graphs: every query of a fixed list must answer the same rows (compare with
// Result.Canonical when the query has no ORDER BY).
//
// It shares no evaluation code with the distributed executor. What the two share is the
// definition of openCypher's semantics: graph/cypher's parser and AST, and graph/value's
// values, equality, comparison, ordering, grouping key and JSON.
//
// Files, one concern each:
//   - graph.go: Graph, Vertex, Edge; constructors, mutators (which check property values and
//     the schema's constraints), accessors in ascending id order (Vertices, Edges: what a
//     loader of the distributed store reads).
//   - schema.go: indexes (recorded only) and UNIQUE / NODE KEY constraints (enforced).
//   - eval.go: Eval, Result, Canonical; the clause pipeline, rows and scope; UNION [ALL] of
//     the parts' results; entities in rows are ids, read from the graph when used and
//     materialised for the result.
//   - match.go: MATCH and OPTIONAL MATCH by backtracking (relationship uniqueness per
//     clause, variable length, undirected patterns); shortest.go: shortestPath and
//     allShortestPaths by breadth-first search.
//   - predicate.go: pattern predicates, exists(pattern), EXISTS { }, COUNT { } and pattern
//     comprehensions, by matching their patterns from the row.
//   - expr.go: expressions, three-valued logic, the static check of variables; arith.go:
//     arithmetic (integer overflow and integer division by zero are errors); funcs.go: the
//     scalar functions; lists.go: list comprehensions, all/any/none/single, reduce, map
//     projections and =~.
//   - project.go: WITH and RETURN (items, *, DISTINCT, grouping, ORDER BY, SKIP, LIMIT);
//     aggregate.go: count, sum, avg, min, max, collect.
//   - write.go: CREATE, MERGE, SET, REMOVE, DELETE and DETACH DELETE; foreach.go: FOREACH,
//     its body run per row and element (not batched as graph/exec runs it).
//   - gen.go: Random (G(n, m)) and PowerLaw (preferential attachment) generators, deterministic
//     for a seed; karate.go: Zachary's karate club from testdata/karate.txt; export.go: a
//     graph as Cypher CREATE statements.
//
// Tests: helpers_test.go (the fixtures, the table runner, exact comparison of values);
// eval_expr_test.go, eval_lists_test.go, eval_match_test.go, eval_predicate_test.go,
// eval_write_test.go (tables of queries with answers worked out by hand, openCypher's corner
// cases among them); karate_test.go (published facts and a plain BFS); property_test.go
// (generated graphs against direct computation);
// gen_test.go and graph_test.go (generators, export round trip, mutators).
//
// Decisions where openCypher leaves room, or where the oracle is stricter than Neo4j:
//   - A query that writes is atomic: on an error the graph is left as it was.
//   - Labels are a set, kept sorted: labels(n) lists them in code point order; keys(x) too.
//   - Row order without ORDER BY is the matcher's (ascending ids), which no test may rely on.
//   - shortestPath's lower bound is 0 or 1; of several shortest paths it gives the first in
//     ascending id order; a == b gives nothing unless the lower bound is 0.
//   - DELETE checks a deleted node's remaining relationships at the end of the clause, so
//     DELETE n, r and one relationship per row both work.
//   - Reading a node or relationship the query deleted (a property, RETURN) is an error.
//   - WITH's WHERE filters after its ORDER BY, SKIP and LIMIT.
//   - String + number is a type error (openCypher concatenates strings and lists only).
//   - all/any/none/single evaluate their predicate for every element (no short cut), so an
//     error in any element is reported; WHERE is required in them, as in Neo4j.
//   - =~ matches the whole string with Go's RE2 syntax (no backreferences or lookaround).
//   - A map projection's .* is applied first wherever it is written; later items win.
//   - UNION matches the parts' columns by name, in any order (the first part's order).
//   - A pattern predicate (and EXISTS { }, COUNT { }) is null when a node it starts from is
//     null, in every form (Neo4j's EXISTS { } would be false); each of its patterns must name
//     a node bound before it, and none a relationship bound outside it, as Torua requires.
//     A pattern comprehension follows the same rules (its list is null then), and lists
//     its matches in the matcher's order.
//
// It imports graph/cypher and graph/value, and must not import graph/exec, router, node or
// anything of the distributed executor.
package oracle
