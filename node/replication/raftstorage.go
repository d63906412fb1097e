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

// storeAppend applies an append-thread message to the group's in-memory log (and a
// snapshot in it to the engine) and returns its part of the round's Raft log write, whether
// there is one, and whether it must be durable before the message's responses go out: log
// entries, a snapshot, a term or a vote must (Raft's persistent state); a hard state that
// only moves the commit index need not, as in etcd (raft.MustSync). A commit index lost to
// a crash is learnt again from the leader; the engine may then hold entries applied past
// it, which is harmless: they were committed (nothing is applied before), and the replay
// skips what the engine holds.
// Loop only, or the goroutine of Host.restoreAsync while the loop skips the group.
func (g *Group) storeAppend(m *pb.Message) (w raftlog.Write, write, mustSync bool) {
	w = raftlog.Write{Shard: g.shard}
	if s := m.GetSnapshot(); !raft.IsEmptySnap(s) {
		mustSync = true
		g.restore(s)
		w.DeleteFrom = 1 // the snapshot replaces the whole log
		g.mu.Lock()
		g.conf = s.GetMetadata().GetConfState()
		g.confIndex = s.GetMetadata().GetIndex()
		w.Stable = g.configPoint(s.GetMetadata())
		g.mu.Unlock()
		if err := g.ms.ApplySnapshot(&pb.Snapshot{Metadata: s.GetMetadata()}); err != nil {
			panic(fmt.Sprintf("replication: shard %d: apply snapshot: %v", g.shard, err))
		}
		g.snapPoint = s.GetMetadata().GetIndex()
		g.lastStored = s.GetMetadata().GetIndex()
	}
	if ents := m.GetEntries(); len(ents) > 0 {
		mustSync = true
		firstNew := ents[0].GetIndex()
		if firstNew <= g.lastStored && w.DeleteFrom == 0 {
			w.DeleteFrom = firstNew // entries of a deposed leader, replaced
		}
		w.Entries = make([]raftlog.Entry, len(ents))
		for i, e := range ents {
			w.Entries[i] = raftlog.Entry{Index: e.GetIndex(), Data: mustMarshal(e)}
		}
		if err := g.ms.Append(ents); err != nil {
			panic(fmt.Sprintf("replication: shard %d: append: %v", g.shard, err))
		}
		g.lastStored = ents[len(ents)-1].GetIndex()
	}
	if m.Term != nil {
		hs := &pb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit}
		w.Stable = append(w.Stable, raftlog.StableValue{Name: keyHardState, Value: mustMarshal(hs)})
		mustSync = mustSync || raft.MustSync(hs, g.hardState, 0)
		_ = g.ms.SetHardState(hs)
		g.hardState = hs
		g.voted.Store(!raft.IsEmptyHardState(hs))
		g.commit.Store(hs.GetCommit())
	}
	return w, len(w.Entries) > 0 || len(w.Stable) > 0, mustSync
}
