// Package replication makes each shard of a Torua node a Raft group (go.etcd.io/raft), all
// of a node's groups driven by one loop: Raft state in the node's Raft log (node/raftlog),
// the state machine over the node's engine, one TCP port shared by every group, and Group,
// the replicated replica the node's HTTP layer calls.
//
// NB: this is the only package in Torua that may import the Raft library. It imports
// node/engine, node/raftlog, shardmap, internal/coalesce, internal/kv (the precondition
// type of a command's ops) and internal/binenc (the commands' decoder), and nothing else
// of Torua; in particular not node, router or controllers. The node package owns the
// lifecycle: which groups exist, when they bootstrap, when their data is deleted.
//
// # The loop
//
// Host runs every group of the node as a raft.RawNode with asynchronous storage writes
// (host.go). Each round it collects every group's Ready; sends all their messages, one frame
// per peer; writes all their log appends and hard states to the node's Raft log (package
// raftlog) in one write, and applies all their committed entries in one storage write, both
// unsynced; and hands the acknowledgements that count this node's copy to the syncer, which
// fsyncs the Raft log once for everything written while it was busy and only then
// delivers them (syncer.go). A leader's fsync thus runs while its followers write theirs,
// and no replica is counted before its copy is durable. Proposals queue on their
// group and reach Raft once per round.
//
// # Storage and state machine
//
// A group's log entries, hard state, compaction point and members' node IDs live in the
// node's Raft log, one append-only file set for all its groups (raftstorage.go, Group's key
// list); the node's engine holds the shard's data, written unsynced, and a compaction point is
// written only once the engine holds what it covers durably (Host.writePoints). In memory a
// group keeps its log from the compaction point on. What a group needs of the engine is
// the Storage interface (storage.go), a contract in the way hashicorp/raft's FSM is one. A log entry is an 8-byte proposal id
// and a command: a type byte selecting a decoder in a table, then a versioned, compact
// encoding of a batch of engine ops (command.go): a plain batch, whose ops succeed or fail
// one by one (Group.Write, WriteBatch), or a transaction, applied all-or-nothing as an
// engine atomic unit on every replica alike (Group.Txn). Applying records the last entry's index as the shard's applied
// index in the same batch; on restart Raft hands over the entries after the compaction point
// again and those the engine holds are skipped. An entry that cannot be decoded, or an engine
// failure while applying, panics: a replica that goes on would diverge from the others.
//
// # Identity
//
// A node's Raft ID is created with its Raft log and kept in it (identity.go): a node that
// lost its disk comes back with a new one, and messages to the old one are dropped, so it
// is never counted as the member it was. Group.Membership reports the members a leader has
// not heard from, with the Raft IDs they are members with; the node package replaces a
// member whose node now has another Raft ID (RemoveServer, then AddLearner).
//
// # Transport
//
// One connection from this node to each peer carries the messages of every group; one per
// transfer carries a snapshot, streamed from an engine snapshot of the shard, stored by the
// receiver in a file, and restored when Raft accepts it (transport.go). Node IDs are resolved
// to addresses through a Resolver (the shard map) on every dial, and a connection meant for
// another node is refused.
//
// # Reads
//
// Writes return after commit and apply on the leader. A leader serves linearizable reads
// under a read lease (Group.readBarrier has the argument) or, without one, after Raft's
// ReadIndex, and checks after reading that it still leads in the same term. Stale reads
// read the local engine.
//
// # Files
//
// One concern each: errors.go (the errors a Group returns), config.go (Raft timing),
// host.go (the loop and its round), syncer.go (fsyncs and the acknowledgements that wait
// for them), raftlogger.go (the library's logger on slog), group.go (a replica: opening,
// founding, status, closing), propose.go (writes, transactions and their waiters), read.go (reads and
// the lease), apply.go (applying committed entries and membership changes), leadership.go
// (a lost leadership and the writes it leaves waiting), restore.go (snapshots received),
// compact.go (log compaction), membership.go (members, changes, leadership transfer),
// identity.go (the node's Raft ID), raftstorage.go (a group's Raft state in the node's
// Raft log), storage.go (what a group needs of the engine), command.go (the log entries'
// encoding), transport.go (messages and snapshots between nodes).
package replication
