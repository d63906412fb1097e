package replication

import (
	"errors"
	"fmt"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/torua/torua/node/engine"
)

// loadStorage reads shard's Raft state from the engine into a MemoryStorage. It reports
// whether there was any.
func loadStorage(eng *engine.Engine, shard int) (*raft.MemoryStorage, bool, error) {
	ms := raft.NewMemoryStorage()
	existing := false
	var first uint64 = 1
	if b, err := eng.Stable(shard, keySnapshot); err == nil {
		meta := &pb.SnapshotMetadata{}
		if err := proto.Unmarshal(b, meta); err != nil {
			return nil, false, fmt.Errorf("shard %d snapshot metadata: %w", shard, err)
		}
		if err := ms.ApplySnapshot(&pb.Snapshot{Metadata: meta}); err != nil {
			return nil, false, fmt.Errorf("shard %d snapshot metadata: %w", shard, err)
		}
		first = meta.GetIndex() + 1
		existing = true
	} else if !errors.Is(err, engine.ErrNotFound) {
		return nil, false, err
	}
	var ents []*pb.Entry
	var decodeErr error
	err := eng.LogEntries(shard, first, func(index uint64, data []byte) bool {
		e := &pb.Entry{}
		if err := proto.Unmarshal(data, e); err != nil || e.GetIndex() != index {
			decodeErr = fmt.Errorf("shard %d log entry %d is corrupt (%v)", shard, index, err)
			return false
		}
		ents = append(ents, e)
		return true
	})
	if err != nil {
		return nil, false, err
	}
	if decodeErr != nil {
		return nil, false, decodeErr
	}
	if len(ents) > 0 {
		if err := ms.Append(ents); err != nil {
			return nil, false, fmt.Errorf("shard %d log: %w", shard, err)
		}
		existing = true
	}
	if b, err := eng.Stable(shard, keyHardState); err == nil {
		hs := &pb.HardState{}
		if err := proto.Unmarshal(b, hs); err != nil {
			return nil, false, fmt.Errorf("shard %d hard state: %w", shard, err)
		}
		if err := ms.SetHardState(hs); err != nil {
			return nil, false, err
		}
		existing = true
	} else if !errors.Is(err, engine.ErrNotFound) {
		return nil, false, err
	}
	return ms, existing, nil
}
