// Package exec plans and runs openCypher queries over the graph store (docs/graph.md): it
// runs in the router. A query's clauses turn a list of rows into the next (Row, Scope); MATCH
// is where the distribution is: its patterns are expanded hop by hop, and each hop is one
// batched request per shard (graph/shardapi) carrying the frontier's vertices, the edge types,
// the direction and the predicates pushed down to the nodes, so that k hops cost k rounds of
// parallel requests, never one request per vertex.
//
// Files: row.go (rows and scopes), errors.go (query errors and limits), eval.go
// (Env.Eval: every expression of graph/cypher's AST with openCypher 9's null, three-valued
// logic and integer/float rules; map projections; References and HasAggregate for the
// planner), eval_lists.go (list comprehensions, all/any/none/single and reduce, whose
// variables shadow the row's), eval_regex.go (=~ and the query's compiled patterns),
// funcs.go (the scalar functions, by name), project.go (WITH/RETURN: projection,
// aggregation and the aggregate functions' states, DISTINCT, ORDER BY, SKIP, LIMIT, WITH's
// WHERE; UNWIND), union.go (UNION [ALL] of a query's parts), foreach.go (FOREACH: its
// body's clauses over a batch of (row, element) pairs), predicate.go (pattern predicates,
// EXISTS { }, COUNT { } and pattern comprehensions: semi-joins computed for a whole batch
// of rows by a matcher, into hidden columns that Eval reads), import.go (a batch of the
// online import), bulk.go (bulk loads: the spool, each shard's sorted run sent as loads, the
// catalog's loading mark). Their tests: eval_test.go (with the
// fixture row the others share), eval_lists_test.go (also map projections, =~ and UNION),
// funcs_test.go, project_test.go, predicate_test.go.
//
// Imports: graph/cypher, graph/value, graph/layout, graph/shardapi. It must not import node,
// graph/store or router: the router gives it the cluster as an interface.
package exec
