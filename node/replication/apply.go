package replication

import (
	"encoding/binary"
	"fmt"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/torua/torua/node/engine"
	"github.com/torua/torua/node/raftlog"
)

// apply applies committed entries in a batch of their own; the loop instead shares one
// batch among every group of a round (prepareApply, applying.finish). Loop only.
func (g *Group) apply(entries []*pb.Entry) {
	b, err := g.h.eng.NewBatch()
	if err != nil {
		panic(fmt.Sprintf("replication: shard %d: apply: %v", g.shard, err))
	}
	a := g.prepareApply(b, entries)
	if err := b.Commit(false); err != nil {
		panic(fmt.Sprintf("replication: shard %d: apply: %v", g.shard, err))
	}
	a.finish()
}

// applying is a group's committed entries on their way to the engine: their writes are in
// the round's batch, and finish answers for them once it has committed.
type applying struct {
	g       *Group
	last    *pb.Entry
	spans   []span
	confs   []*pb.Entry
	results []engine.Result
	// dataApplied is the engine's applied index once the batch has committed.
	dataApplied uint64
}

// span is one proposal among the entries: its results are results[first:first+n].
type span struct {
	id, term  uint64
	first, n  int
	noCommand bool
}

// prepareApply decodes committed entries and adds their ops to b. Entries at or below the
// engine's applied index (a replay after a restart) are skipped. Loop only.
//
// An entry it cannot decode, or an engine failure, panics: a replica that goes on would
// diverge from the others; a restart replays the entries from the engine's applied index.
func (g *Group) prepareApply(b *engine.Batch, entries []*pb.Entry) *applying {
	a := &applying{g: g, dataApplied: g.dataApplied.Load()}
	if len(entries) == 0 {
		return a
	}
	var ops []engine.Op
	var lastData uint64
	for _, e := range entries {
		idx := e.GetIndex()
		switch e.GetType() {
		case pb.EntryNormal:
			data := e.GetData()
			if len(data) == 0 {
				continue // a new leader's empty entry
			}
			if len(data) < 8 {
				panic(fmt.Sprintf("replication: shard %d: log entry %d (term %d) is %d bytes, too short for a proposal; refusing to apply it and diverge from the other replicas", g.shard, idx, e.GetTerm(), len(data)))
			}
			s := span{id: binary.BigEndian.Uint64(data), term: e.GetTerm(), first: len(ops), noCommand: len(data) == 8}
			if idx > a.dataApplied && !s.noCommand {
				cmd, err := decodeCommand(data[8:])
				if err != nil {
					panic(fmt.Sprintf("replication: shard %d: log entry %d (term %d): %v; refusing to apply it and diverge from the other replicas", g.shard, idx, e.GetTerm(), err))
				}
				s.n = len(cmd.ops)
				ops = append(ops, cmd.ops...)
				lastData = idx
			}
			a.spans = append(a.spans, s)
		case pb.EntryConfChange, pb.EntryConfChangeV2:
			a.confs = append(a.confs, e)
		default:
			panic(fmt.Sprintf("replication: shard %d: log entry %d has unknown type %v", g.shard, idx, e.GetType()))
		}
	}
	a.last = entries[len(entries)-1]
	if lastData > 0 || a.last.GetIndex() > a.dataApplied {
		// The applied index moves with every entry, empty ones included, so that replay
		// after a restart starts behind the last one.
		applied := max(a.last.GetIndex(), a.dataApplied)
		var err error
		if a.results, err = b.Apply(g.shard, ops, applied); err != nil {
			panic(fmt.Sprintf("replication: shard %d: apply entries up to %d: %v", g.shard, a.last.GetIndex(), err))
		}
		a.dataApplied = applied
	}
	return a
}

// finish, once the batch has committed, applies membership changes, answers the waiting
// proposals (a proposal of this leader's term also extends its read lease) and releases
// the reads whose index is now applied. Loop only.
func (a *applying) finish() {
	g := a.g
	if a.last == nil {
		return
	}
	g.dataApplied.Store(a.dataApplied)
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, e := range a.confs {
		g.applyConfChange(e)
	}
	g.applied.Store(a.last.GetIndex())
	g.appliedTerm = a.last.GetTerm()
	now := time.Now()
	for _, s := range a.spans {
		w, ok := g.waiters[s.id]
		if !ok || w.term != s.term {
			continue
		}
		if w.term == g.term && w.gen == g.leaseGen && g.leads() && !g.h.cfg.NoReadLease {
			if until := w.start.Add(g.h.cfg.leaseDuration()); until.After(now) && until.After(g.lease.until) {
				g.lease = readLease{term: w.term, until: until}
			}
		}
		var p proposal
		switch {
		case s.noCommand:
		case s.n == 0:
			// NB: the entry was skipped as already in the engine, which cannot happen to
			// one proposed by this process.
			p.err = ErrUnknownOutcome
		default:
			p.results = a.results[s.first : s.first+s.n : s.first+s.n]
		}
		g.resolve(s.id, w, p)
	}
	if g.orphans {
		g.settleOrphans()
	}
	g.releaseReads()
}

// applyConfChange applies a committed membership change to Raft and records the names
// of the members. Loop only, under mu.
func (g *Group) applyConfChange(e *pb.Entry) {
	var cc pb.ConfChangeI
	var name string
	var id, member uint64
	if e.GetType() == pb.EntryConfChange {
		c := &pb.ConfChange{}
		if err := proto.Unmarshal(e.GetData(), c); err != nil {
			panic(fmt.Sprintf("replication: shard %d: membership change %d: %v", g.shard, e.GetIndex(), err))
		}
		name, member = string(c.GetContext()), c.GetNodeId()
		cc = c
	} else {
		c := &pb.ConfChangeV2{}
		if err := proto.Unmarshal(e.GetData(), c); err != nil {
			panic(fmt.Sprintf("replication: shard %d: membership change %d: %v", g.shard, e.GetIndex(), err))
		}
		if ctx := c.GetContext(); len(ctx) >= 8 {
			id, name = binary.BigEndian.Uint64(ctx), string(ctx[8:])
		}
		if ch := c.GetChanges(); len(ch) == 1 {
			member = ch[0].GetNodeId()
		}
		cc = c
	}
	g.h.learnMember(member, name)
	g.conf = g.rn.ApplyConfChange(cc)
	g.confIndex = e.GetIndex()
	g.pendingConf = false
	// A new snapshot point (metadata only: the data is the engine's live state, streamed
	// when sent) with the new configuration: Raft refuses a snapshot whose configuration
	// lacks its recipient, so a member added behind the compaction point needs it.
	snap, err := g.ms.CreateSnapshot(e.GetIndex(), g.conf, nil)
	if err != nil {
		panic(fmt.Sprintf("replication: shard %d: snapshot point at membership change %d: %v", g.shard, e.GetIndex(), err))
	}
	g.snapPoint = e.GetIndex()
	g.points = append(g.points, raftlog.Write{Shard: g.shard, Stable: g.configPoint(snap.GetMetadata())})
	if w, ok := g.waiters[id]; ok && id != 0 && w.term == e.GetTerm() {
		g.resolve(id, w, proposal{})
	}
}

// takePoints appends the group's pending snapshot points to dst and clears them. Loop only.
func (g *Group) takePoints(dst []raftlog.Write) []raftlog.Write {
	dst = append(dst, g.points...)
	g.points = nil
	return dst
}

// configPoint returns the stable values of a snapshot point: its metadata and the node IDs
// of the group's configuration (Raft knows members by RaftID only). Under mu.
func (g *Group) configPoint(meta *pb.SnapshotMetadata) []raftlog.StableValue {
	return []raftlog.StableValue{
		{Name: keySnapshot, Value: mustMarshal(meta)},
		{Name: keyMembers, Value: joinMembers(g.h.namedMembers(g.conf.GetVoters(), g.conf.GetLearners()))},
	}
}

// mustMarshal marshals a Raft message of the library's own, which cannot fail.
func mustMarshal(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("replication: marshal %T: %v", m, err))
	}
	return b
}
