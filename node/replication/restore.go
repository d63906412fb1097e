package replication

import (
	"fmt"
	"os"
	"slices"

	pb "go.etcd.io/raft/v3/raftpb"
)

// restore replaces the shard's data with a received snapshot's (from storeAppend).
//
// It panics if the snapshot's file is gone: Raft has accepted the snapshot, and going on
// without its data would leave this replica behind the log it claims to hold.
func (g *Group) restore(s *pb.Snapshot) {
	path, err := g.h.snapshotFile(s.GetData())
	if err != nil {
		panic(fmt.Sprintf("replication: shard %d: snapshot at index %d: %v", g.shard, s.GetMetadata().GetIndex(), err))
	}
	f, err := os.Open(path)
	if err != nil {
		panic(fmt.Sprintf("replication: shard %d: snapshot at index %d: %v", g.shard, s.GetMetadata().GetIndex(), err))
	}
	err = g.h.store.RestoreShard(g.shard, f)
	_ = f.Close()
	if err != nil {
		panic(fmt.Sprintf("replication: shard %d: restore snapshot at index %d: %v", g.shard, s.GetMetadata().GetIndex(), err))
	}
	g.mu.Lock()
	// A write still waiting here (this replica lost its leadership with it in flight) may
	// be in the snapshot, applied without this replica seeing its entry: settleOrphans
	// would take it for never committed, so its outcome is unknown.
	for id, w := range g.waiters {
		g.resolve(id, w, proposal{err: fmt.Errorf("%w: a snapshot replaced the log it was in", ErrUnknownOutcome)})
	}
	g.orphans = false
	// Files offered before this one belong to older snapshots Raft will not take.
	if i := slices.Index(g.snapFiles, path); i >= 0 {
		for _, old := range g.snapFiles[:i+1] {
			_ = os.Remove(old)
		}
		g.snapFiles = slices.Delete(g.snapFiles, 0, i+1)
	} else {
		_ = os.Remove(path)
	}
	g.mu.Unlock()
	st, err := g.h.store.ShardStats(g.shard)
	if err != nil {
		panic(fmt.Sprintf("replication: shard %d: after restoring a snapshot: %v", g.shard, err))
	}
	g.dataApplied.Store(st.AppliedIndex)
	g.applied.Store(s.GetMetadata().GetIndex())
	g.log.Info("Restored shard from snapshot", "index", s.GetMetadata().GetIndex(),
		"appliedIndex", st.AppliedIndex, "keys", st.Keys)
}

// offerSnapshot records a received snapshot file that is about to be stepped into Raft.
func (g *Group) offerSnapshot(path string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		_ = os.Remove(path)
		return
	}
	g.snapFiles = append(g.snapFiles, path)
}
