// Package replication makes each shard of a Torua node a Raft group
// (github.com/hashicorp/raft): the state machine over the node's engine, the durable Raft
// log, one TCP port shared by every group of the node, and Group, the replicated replica
// the node's HTTP layer calls.
//
// NB: this is the only package in Torua that may import the Raft library (and its log
// store, go.etcd.io/bbolt). It imports node/engine, shardmap and internal/coalesce and
// nothing else of Torua; in particular not node, router or controllers. The node package owns the
// lifecycle: which groups exist, when they bootstrap, when their data is deleted.
//
// # State machine
//
// A log entry is a command: a type byte selecting a decoder in a table, then a versioned,
// compact encoding of a batch of engine ops (see command.go). The FSM applies committed
// entries in batches (raft.BatchingFSM): one engine.Apply covers every entry Raft hands
// over at once, unsynced, and records the last entry's index as the shard's applied index
// in the same engine batch. The Raft log is the durable record; after a crash Raft replays
// it and the FSM skips entries at or below the engine's applied index. An entry the FSM
// cannot decode, or an engine failure while applying, panics: a replica that goes on
// would diverge from the others. Snapshots stream engine.SnapshotShard; restoring one
// replaces the shard whole (engine.RestoreShard).
//
// # Log store
//
// A group's log and stable state live in the node's engine (enginelog.go): one Pebble
// database holds every shard's data and Raft log, so the appends of all the node's groups
// share Pebble's WAL fsyncs. Raft batches concurrent proposals into one append
// (BatchApplyCh, MaxAppendEntries), behind its in-memory LogCache. Config.LogStore "bolt"
// keeps a bbolt file per group instead (<dir>/raft.db, laid out as raft-boltdb lays it out;
// raft-boltdb itself does not build against this Raft release), for comparison only.
// Snapshots live in <dir>/snapshots (raft.FileSnapshotStore).
//
// # Transport
//
// Mux owns the node's one Raft listener. Each group's Transport sends its RPCs over the
// mux's links: one TCP connection from this node to each peer, shared by every group, with
// frames tagged by shard and request id, answered in any order, written by one coalescing
// writer per connection and encoded compactly (transport.go, linkcodec.go). Snapshots go
// over a connection of their own through the group's raft.NetworkTransport, whose
// connections carry the shard in their header (see Mux). Server IDs and server addresses
// are both node IDs; the mux resolves an ID to host:port through a Resolver (the shard
// map) on every dial, so moved nodes are found at their new address, and refuses a
// connection meant for another node.
//
// # Reads
//
// Writes return after commit and apply on the leader. A leader serves linearizable reads
// once a barrier of its own term is applied, under a read lease (a quorum acknowledged an
// entry proposed less than 0.9 heartbeat timeouts ago; Group.readBarrier has the argument)
// or, without one, after a heartbeat round that confirms its leadership (read index), and
// checks after reading that it still leads in the same term. Stale reads read the local
// engine.
package replication
