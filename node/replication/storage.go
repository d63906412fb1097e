package replication

import (
	"io"

	"github.com/torua/torua/node/engine"
)

// Storage is what the groups need of the node's storage: the state machine their
// committed entries are applied to, reads, and one shard's data for snapshots.
// *engine.Engine satisfies it. Like hashicorp/raft's FSM it is a contract, and a group
// relies on every point of it:
//
//   - ApplyShards applies each shard's ops and records its applied index in one atomic
//     write, or fails and writes nothing (the loop then stops: its outcome is unknown). It
//     need not be durable when it returns.
//   - SyncWAL makes every write made before it durable. The loop calls it before recording
//     a compaction point, which drops the log entries the point covers.
//   - ShardStats reports a shard's applied index as of the last write, durable or not;
//     after a restart, the last durable one. A replica replays the entries after it.
//   - SnapshotShard writes a consistent copy of one shard's data and applied index;
//     RestoreShard replaces the shard's data with such a copy, atomically.
//   - Get and List read the shard's applied state; View gives a consistent view of it for
//     several reads.
//   - NoSync reports that the storage never syncs (tests and benchmarks only); the Raft
//     log then does not sync either.
//   - LegacyRaftState reports Raft state of shard kept in the storage by earlier versions
//     of Torua, which this one refuses to start on.
type Storage interface {
	ApplyShards(shards []engine.ShardApply) ([][]engine.Result, error)
	SyncWAL() error
	ShardStats(shard int) (engine.ShardStats, error)
	SnapshotShard(shard int, w io.Writer) error
	RestoreShard(shard int, r io.Reader) error
	Get(shard int, key []byte) (engine.Value, error)
	List(shard int, prefix, after []byte, limit int) (keys [][]byte, more bool, err error)
	View(shard int) (*engine.View, error)
	NoSync() bool
	LegacyRaftState(shard int) (bool, error)
}

var _ Storage = (*engine.Engine)(nil)
