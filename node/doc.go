// Package node is the Torua storage node: it hosts the replicas of the shards the shard map
// assigns to it, over one storage engine, and serves the node HTTP API (/store, /txn,
// /internal/graph, /internal/status, /healthz, /readyz, /metrics).
//
// The key operations (get, put, delete, conditional writes, list, and transactions: ops on
// the keys of one shard applied all-or-nothing) are in keys.go, which
// knows no transport: the HTTP API (http.go) and the wire protocol (wire.go) are adapters
// that decode a request, call them, and encode the answer; both take their statuses and
// error bodies from internal/httpx's one table. The key operations talk to each shard
// through the Replica interface (replica.go), which a replication.Group satisfies: one Raft
// group per shard, which the node opens, founds and moves to follow the map (reconcile.go). The
// node records the shards it hosts on disk (hosted.go, which also names the records the
// replication and engine layers keep of a hosted shard), keeps its last accepted map in its
// data directory (lastmap.go), and learns its peers' Raft IDs to replace a member whose node
// lost its disk (identities.go). It asks other nodes' internal API (status, Raft state) with
// internal/nodeapi's client (peers.go).
//
// The graph store's API (/internal/graph/..., graph/shardapi) is graph.go: it decodes a
// request for one shard and has graph/store do the work on that shard's replica. Edges across
// shards leave outbox records, which graphoutbox.go delivers to the other shard's leader at
// once and again from a sweep of the shards this node leads.
//
// It imports node/engine, node/replication, shardmap, graph/layout, graph/shardapi,
// graph/store and internal/httpx, internal/kv, internal/nodeapi and internal/wire; it must not import router or controllers. Only node/engine imports Pebble.
package node
