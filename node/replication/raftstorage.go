package replication

import (
	"fmt"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/torua/torua/node/raftlog"
)

// loadStorage builds shard's MemoryStorage from what the node's Raft log recovered of it at
// start (Host.Open then lets the log drop it). It reports whether there was any state, and
// returns the shard's stable values.
func loadStorage(rl *raftlog.Log, shard int) (*raft.MemoryStorage, map[string][]byte, bool, error) {
	ms := raft.NewMemoryStorage()
	st, existing := rl.State(shard)
	if !existing {
		if rl.Holds(shard) {
			// NB: the log keeps no entries in memory once a replica has loaded them; a
			// replica closed and opened again in one process would start without its
			// state. Nothing does that (a replica is closed to stop the node or to be
			// deleted), so refuse rather than lose it.
			return nil, nil, false, fmt.Errorf("shard %d's Raft state was loaded by a replica since the node started; it is reopened only by a restart", shard)
		}
		return ms, nil, false, nil
	}
	var first uint64 = 1
	if b, ok := st.Stable[string(keySnapshot)]; ok {
		meta := &pb.SnapshotMetadata{}
		if err := proto.Unmarshal(b, meta); err != nil {
			return nil, nil, false, fmt.Errorf("shard %d snapshot metadata: %w", shard, err)
		}
		if err := ms.ApplySnapshot(&pb.Snapshot{Metadata: meta}); err != nil {
			return nil, nil, false, fmt.Errorf("shard %d snapshot metadata: %w", shard, err)
		}
		first = meta.GetIndex() + 1
	}
	var ents []*pb.Entry
	for _, le := range st.Entries {
		if le.Index < first {
			continue // kept as trailing entries in the log; the snapshot point covers them
		}
		e := &pb.Entry{}
		if err := proto.Unmarshal(le.Data, e); err != nil || e.GetIndex() != le.Index {
			return nil, nil, false, fmt.Errorf("shard %d log entry %d is corrupt (%v)", shard, le.Index, err)
		}
		ents = append(ents, e)
	}
	if len(ents) > 0 {
		if err := ms.Append(ents); err != nil {
			return nil, nil, false, fmt.Errorf("shard %d log: %w", shard, err)
		}
	}
	if b, ok := st.Stable[string(keyHardState)]; ok {
		hs := &pb.HardState{}
		if err := proto.Unmarshal(b, hs); err != nil {
			return nil, nil, false, fmt.Errorf("shard %d hard state: %w", shard, err)
		}
		if err := ms.SetHardState(hs); err != nil {
			return nil, nil, false, err
		}
	}
	return ms, st.Stable, true, nil
}
