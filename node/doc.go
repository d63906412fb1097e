// Package node is the Torua storage node: it hosts the replicas of the shards the shard map
// assigns to it, over one storage engine, and serves the node HTTP API (/store, /internal/status,
// /healthz, /readyz, /metrics).
//
// The HTTP layer talks to each shard through the Replica interface, which a
// replication.Group satisfies: one Raft group per shard, which the node opens, founds and
// moves to follow the map (shards.go). The node keeps its last accepted map in its data
// directory (lastmap.go), and learns its peers' Raft IDs to replace a member whose node lost
// its disk (identities.go). It asks other nodes' internal API (status, Raft state) with
// internal/nodeapi's client (peers.go).
//
// It must not import router or controllers. Only node/engine imports Pebble.
package node
