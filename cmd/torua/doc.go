// Command torua is the single Torua binary: storage node, router, operator, local cluster,
// command-line client and load generator, one subcommand each. A subcommand is flags,
// logging and printing over a package that does the work.
//
// Files: main.go (the root command; each file registers its own), node.go (torua node:
// package node), router.go (torua router: package router), operator.go (torua operator:
// controllers), local.go (torua local: internal/local), client.go (get, put, del, ls,
// status: router/client), bench.go (torua bench: router/client/bench over benchstore),
// benchgraph.go (torua bench --graph: bench's graph load over router/client's Query and Import),
// serve.go (logging flags, signals and graceful shutdown shared by the servers), gc.go (the
// garbage collector's settings for storage processes), query.go (torua query: a graph query,
// its parameters and its faults with a caret; router/client), query_print.go (an answer as
// an aligned table of Cypher literals and a stats line, or as JSON), shell.go (torua shell: an
// openCypher prompt with line editing and a history file, golang.org/x/term, or a script on
// standard input), import.go and import_csv.go (torua import: CSV files of vertices and
// edges into a graph's import API, in batches several at a time, with a progress bar; the
// file format and its faults).
//
// It imports api/v1alpha1, controllers, node, node/replication (Raft settings), router,
// router/client, router/client/bench, router/client/benchstore, shardmap, graph/value (the
// values of query parameters and results), graph/exec (the import batch's types),
// internal/httpx, internal/local and internal/nodeapi: everything, and nothing imports it.
package main
