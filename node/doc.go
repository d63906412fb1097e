// Package node is the Torua storage node: it hosts the replicas of the shards the shard map
// assigns to it, over one storage engine, and serves the node HTTP API (/store, /internal/status,
// /healthz, /readyz, /metrics).
//
// The HTTP layer talks to each shard through the Replica interface, the seam where replication
// plugs in; today every shard has one replica (localReplica), which commits writes in groups.
//
// It must not import router or controllers. Only node/engine imports Pebble.
package node
