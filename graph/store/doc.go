// Package store is the graph store's work on one shard (docs/graph.md): the node calls it for
// the shards it leads. It reads a vertex's record, adjacency, labels and index entries through a
// consistent view of the shard, and turns graph mutations into one conditional, atomic
// transaction of key-value ops per shard.
//
// A write is computed from a linearizable view and made conditional on everything it read (the vertices,
// the halves, the shard's catalog copy); when a concurrent write changed any of it, the
// transaction aborts and the write is computed again. Every change of a vertex's adjacency
// also writes the vertex's adjacency version (unconditionally: edge writes never conflict with
// each other), and a delete of the vertex is conditional on it.
//
// An edge whose ends are on two shards is written as the local half plus an outbox record in
// one transaction; Apply sets the other half on its shard (idempotent, by generation, with
// tombstones for deleted halves) and Settle removes the record, or undoes the local half when
// the other vertex is gone. The node delivers records at once after a write and again from a
// background sweep, so that they survive any crash.
//
// Files: records.go (the stored values and their encodings), catalog.go (primary keys and
// indexes), read.go (reads: vertices, scans, expansion, index lookups, outbox), filter.go
// (the predicates a node evaluates), write.go (mutations, plans and the write loop),
// vertices.go and edges.go (each mutation; Apply and Settle), load.go (a bulk load's parts:
// checked and proposed as one load entry).
//
// Imports: graph/layout, graph/value, internal/binenc, internal/kv, and node/engine for its
// View, Op and Result types (the engine's contract; Pebble stays behind it). It must not import
// node, node/replication or router: the node passes its replication groups in as Shards.
package store
