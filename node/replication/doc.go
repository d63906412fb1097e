// Package replication makes each shard of a Torua node a Raft group
// (github.com/hashicorp/raft): the state machine over the node's engine, the durable Raft
// log, one TCP port shared by every group of the node, and Group, the replicated replica
// the node's HTTP layer calls.
//
// NB: this is the only package in Torua that may import the Raft library (and its log
// store, go.etcd.io/bbolt). It imports node/engine and shardmap and nothing else of
// Torua; in particular not node, router or controllers. The node package owns the
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
// Each group keeps its log and stable state in <dir>/raft.db, a bbolt file laid out as
// raft-boltdb lays it out (a logs bucket keyed by big-endian index, a stable bucket) with a
// compact entry encoding of its own, behind Raft's in-memory LogCache. raft-boltdb itself
// does not build against this Raft release (it imports go-metrics/compat, which the
// go-metrics version Raft requires no longer has). Each append is one fsynced bbolt
// transaction; Raft batches concurrent proposals into one append (BatchApplyCh,
// MaxAppendEntries), so the fsync is shared. Snapshots live beside it in
// <dir>/snapshots (raft.FileSnapshotStore).
//
// # Transport
//
// Mux owns the node's one Raft listener. Each group's raft.NetworkTransport runs over a
// stream layer from the mux; a dialed connection first sends a header
//
//	"TRFT" | version 1 | uint16 shard | uint8 len(target node ID) | target node ID
//
// and the receiving mux hands it to that shard's transport, or closes it if the shard is
// not hosted or the target is another node (a stale address). Server IDs and server
// addresses are both node IDs; the mux resolves an ID to host:port through a Resolver
// (the shard map) on every dial, so moved nodes are found at their new address.
//
// # Reads
//
// Writes return after commit and apply on the leader. Linearizable reads use the
// read-index scheme with Raft's VerifyLeader: the leader first applies a barrier of its
// own term (once per term), then confirms its leadership with a heartbeat round per read
// (shared by concurrent reads) and reads its engine. No leader lease is used: hashicorp/raft
// does not expose one, and a lease is unsafe under a paused process. Stale reads read the
// local engine.
package replication
