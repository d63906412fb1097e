// Package layout is the graph store's key layout on Torua's key-value shards (docs/graph.md,
// "Placement and key layout"): the one place that builds and parses graph keys.
//
// Every key begins with kv.ReservedPrefix and "g/" and the graph's name, so the KV API can
// neither read nor list it, and every key of a vertex ends with the vertex's hash tag
// "{graph/id}", so that the shard map's xxhash64-tag scheme puts a vertex, its labels, index
// entries, adjacency and outbox records on one shard. The catalog key is the exception: each
// shard keeps its own copy, addressed by shard, not by hash.
//
// Files: names.go (graph names, ids, tags), keys.go (building keys and prefixes), parse.go
// (reading them back).
//
// Imports: graph/value (the order-preserving encoding of labels, types and property values),
// internal/kv (the reserved prefix) and xxhash (primary-key ids). It must not import node,
// router or anything that does I/O.
package layout
