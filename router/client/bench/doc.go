// Package bench is the load generator behind `torua bench`, hack/etcdbench and
// hack/graphbench: a fixed number of workers send requests to a store until a count or a
// duration is reached, and latencies go into HDR histograms (microseconds, 1µs..60s, 3
// significant digits), one per worker, merged at the end.
//
// Files, by concern:
//   - bench.go, result.go, progress.go: the key-value load (`torua bench`): GETs and PUTs to a
//     Store over a fixed key set, its Result and table.
//   - graphgen.go: GenerateGraph, the deterministic power-law (R-MAT) graph of the graph load.
//   - graph.go: the graph load (`torua bench --graph`): GraphQuery kinds (one-, two-, three-hop,
//     shortest path), a GraphStore to send them to, GraphRunner's cases and probes.
//   - graphresult.go: GraphReport and GraphResult, and their table (the key-value table's
//     latency layout).
//   - graphload.go: LoadGraph, the batched bulk load of a generated graph through a GraphLoader.
//   - graphmem.go: MemGraph, the graph queries answered from memory in one process (the floor
//     the stores are compared with, and an oracle for their answers).
//
// It imports the HDR histogram library and nothing of Torua: the Store of a Torua router is
// router/client/benchstore, and so are its GraphStore and GraphLoader,
// etcd's Store is in hack/etcdbench and PostgreSQL's GraphStore in hack/graphbench. It draws
// no progress bar (cmd/torua does, from Runner.Progress); ReportProgress prints progress
// lines.
package bench
