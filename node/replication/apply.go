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

// apply applies committed entries in a write of their own; the loop instead writes every
// group of a round at once (Host.applyAll). Loop only.
func (g *Group) apply(entries []*pb.Entry) {
	for len(entries) > 0 {
		a := g.prepareApply(entries)
		g.h.applyAll([]*applying{a})
		a.finish()
		entries = a.rest
	}
}

// applying is a group's committed entries on their way to the storage: their write joins
// the round's (Host.applyAll), and finish answers for them once it is done.
type applying struct {
	g     *Group
	last  *pb.Entry
	spans []span
	confs []*pb.Entry
	// write is what the entries write to the storage (nil: nothing), and results its
	// results once written.
	write   *engine.ShardApply
	results []engine.Result
	// dataApplied is the storage's applied index once the write is done.
	dataApplied uint64
	// rest are the entries after a load (cmdLoad), which has a storage write of its own:
	// the caller applies them once this write is done (Group.apply).
	rest []*pb.Entry
}

// span is one proposal among the entries: its results are results[first:first+n].
type span struct {
	id, term  uint64
	first, n  int
	noCommand bool
}

// prepareApply decodes committed entries into the write that applies them, each
// transaction (cmdTxn) an atomic unit of it. Entries at or below the storage's applied
// index (a replay after a restart) are skipped. A load (cmdLoad) is a write of its own: the
// write ends before it, or with it when no data entry comes before it, and the entries after
// that are left in rest. Loop only.
//
// An entry it cannot decode panics: a replica that goes on would diverge from the others.
func (g *Group) prepareApply(entries []*pb.Entry) *applying {
	a := &applying{g: g, dataApplied: g.dataApplied.Load()}
	if len(entries) == 0 {
		return a
	}
	var ops []engine.Op
	var atomic []engine.Span // the transactions among ops
	var lastData uint64
entries:
	for i, e := range entries {
		idx := e.GetIndex()
		g.appliedBytes += uint64(len(e.GetData()))
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
				if cmd.typ == cmdLoad {
					if lastData > 0 {
						g.appliedBytes -= uint64(len(data)) // counted when rest is applied
						a.rest = entries[i:]
						break entries
					}
					s.n = 1
					a.spans = append(a.spans, s)
					a.rest = entries[i+1:]
					a.last = e
					a.write = &engine.ShardApply{Shard: g.shard, Load: cmd.load, AppliedIndex: idx}
					g.loadApplied = idx // the log keeps no copy of it (maybeCompact)
					return a
				}
				s.n = len(cmd.ops)
				if cmd.typ == cmdTxn {
					atomic = append(atomic, engine.Span{Start: len(ops), End: len(ops) + s.n})
				}
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
	a.last = entries[len(entries)-len(a.rest)-1]
	if lastData > 0 || a.last.GetIndex() > a.dataApplied {
		// The applied index moves with every entry, empty ones included, so that replay
		// after a restart starts behind the last one.
		a.write = &engine.ShardApply{Shard: g.shard, Ops: ops, Atomic: atomic, AppliedIndex: max(a.last.GetIndex(), a.dataApplied)}
	}
	return a
}

// applyAll writes what the groups' committed entries apply in one storage write.
//
// A failed write panics: its outcome is unknown, and going on could answer what is not
// applied; a restart replays the entries from the storage's applied index. Loop only.
func (h *Host) applyAll(prepared []*applying) {
	var writes []engine.ShardApply
	for _, a := range prepared {
		if a.write != nil {
			writes = append(writes, *a.write)
		}
	}
	if len(writes) == 0 {
		return
	}
	results, err := h.store.ApplyShards(writes)
	if err != nil {
		panic(fmt.Sprintf("replication: apply: %v", err))
	}
	for _, a := range prepared {
		if a.write != nil {
			a.results, results = results[0], results[1:]
			a.dataApplied = a.write.AppliedIndex
		}
	}
}

// finish, once the write is done, applies membership changes, answers the waiting
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
