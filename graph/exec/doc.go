// Package exec plans and runs openCypher queries over the graph store (docs/graph.md): it
// runs in the router. A query's clauses turn a list of rows into the next (Row, Scope); MATCH
// is where the distribution is: its patterns are expanded hop by hop, and each hop is one
// batched request per shard (graph/shardapi) carrying the frontier's vertices, the edge types,
// the direction and the predicates pushed down to the nodes, so that k hops cost k rounds of
// parallel requests, never one request per vertex.
//
// Files: row.go (rows and scopes), errors.go (query errors and limits), eval.go and
// funcs.go (expressions), project.go (WITH/RETURN: projection, aggregation, DISTINCT, ORDER
// BY, SKIP, LIMIT; UNWIND).
//
// Imports: graph/cypher, graph/value, graph/layout, graph/shardapi. It must not import node,
// graph/store or router: the router gives it the cluster as an interface.
package exec
