// Package multiraft is a PROTOTYPE (branch raft-loop, not used by Torua yet) of the design
// in docs/architecture.md, "Next: one Raft loop per node": every Raft group of a node is a
// go.etcd.io/raft RawNode driven by one loop, with asynchronous storage writes. Each round
// the loop collects every group's Ready, sends their messages at once (one frame per peer),
// writes all their appends in one unsynced engine batch, and hands the acknowledgements that
// need durability to a syncer goroutine, which fsyncs the WAL once for everything written
// while it was busy and then delivers them. Committed entries are applied in the loop.
//
// Built: the loop, the syncer, storage in the engine (log entries, hard state, snapshot
// metadata), a transport (one connection per peer, frames of marshalled messages,
// snapshots carried in the message), proposals with waiters, ReadIndex reads batched per
// round, bootstrap, log compaction. Missing before it can replace node/replication:
// membership changes (learners, promotion, removal), leadership transfer, status and
// metrics, streaming snapshots, read leases, the quiet period after restart, tests of
// snapshots and faults, and the node integration.
package multiraft
