package multiraft

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/torua/torua/node/engine"
)

// Group is this node's replica of one shard's Raft group, driven by its Host's loop.
type Group struct {
	h     *Host
	shard int
	sm    StateMachine
	ms    *raft.MemoryStorage

	// lastStored is the index of the last log entry in the engine; loop only.
	lastStored uint64
	applied    atomic.Uint64

	mu      sync.Mutex // guards rn and everything below
	rn      *raft.RawNode
	conf    *pb.ConfState // the configuration as of the last applied change
	lead    uint64
	leader  bool
	term    uint64
	nextID  uint64
	waiters map[uint64]*waiter
	// pending are reads not yet sent as a ReadIndex; reads those sent, by request.
	pending []chan error
	reads   map[uint64]*readBatch
	nextRd  uint64
}

type waiter struct {
	term uint64
	ch   chan proposal
}

type proposal struct {
	res any
	err error
}

type readBatch struct {
	index uint64 // 0 until Raft answered
	chans []chan error
}

// Leader returns the node name of the leader as this replica knows it.
func (g *Group) Leader() string {
	g.mu.Lock()
	id := g.lead
	g.mu.Unlock()
	return g.h.name(id)
}

// IsLeader reports whether this replica leads its group.
func (g *Group) IsLeader() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.leader
}

// Applied is the index of the last applied entry.
func (g *Group) Applied() uint64 { return g.applied.Load() }

// Bootstrap makes this replica a member of a new group of voters; every initial voter
// calls it with the same list. A no-op on a replica with Raft state.
func (g *Group) Bootstrap(voters []string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	last, _ := g.ms.LastIndex()
	hs, cs, _ := g.ms.InitialState()
	if last > 0 || !raft.IsEmptyHardState(hs) || len(cs.GetVoters()) > 0 {
		return nil
	}
	peers := make([]raft.Peer, len(voters))
	for i, v := range voters {
		peers[i] = raft.Peer{ID: g.h.learn(v), Context: []byte(v)}
	}
	if err := g.rn.Bootstrap(peers); err != nil {
		return fmt.Errorf("bootstrap shard %d: %w", g.shard, err)
	}
	g.h.signal()
	return nil
}

// Campaign makes this replica stand for election now.
func (g *Group) Campaign() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	defer g.h.signal()
	return g.rn.Campaign()
}

// Propose replicates cmd and returns the state machine's result once it is applied here.
func (g *Group) Propose(ctx context.Context, cmd []byte) (any, error) {
	w := &waiter{ch: make(chan proposal, 1)}
	g.mu.Lock()
	if !g.leader {
		g.mu.Unlock()
		return nil, ErrNotLeader
	}
	g.nextID++
	id := g.nextID
	data := make([]byte, 8+len(cmd))
	binary.BigEndian.PutUint64(data, id)
	copy(data[8:], cmd)
	w.term = g.term
	if err := g.rn.Propose(data); err != nil {
		g.mu.Unlock()
		return nil, ErrNotLeader
	}
	g.waiters[id] = w
	g.mu.Unlock()
	g.h.signal()
	select {
	case p := <-w.ch:
		return p.res, p.err
	case <-ctx.Done():
		g.mu.Lock()
		delete(g.waiters, id)
		g.mu.Unlock()
		return nil, fmt.Errorf("%w: %w", ErrUnknownOutcome, ctx.Err())
	}
}

// ReadBarrier returns once this replica's state holds every write acknowledged before the
// call: Raft's ReadIndex (a heartbeat round confirms the leadership; concurrent reads of
// every group share rounds), then waiting until the read index is applied.
func (g *Group) ReadBarrier(ctx context.Context) error {
	ch := make(chan error, 1)
	g.mu.Lock()
	if !g.leader {
		g.mu.Unlock()
		return ErrNotLeader
	}
	g.pending = append(g.pending, ch)
	g.mu.Unlock()
	g.h.signal()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startReads sends the reads that arrived since the last round as one ReadIndex. Loop
// only, under mu.
func (g *Group) startReads() {
	if len(g.pending) == 0 {
		return
	}
	g.nextRd++
	ctx := binary.BigEndian.AppendUint64(nil, g.nextRd)
	g.reads[g.nextRd] = &readBatch{chans: g.pending}
	g.pending = nil
	g.rn.ReadIndex(ctx)
}

// storeAppend applies an append-thread message to the group's in-memory log and returns
// its part of the round's engine batch. Loop only.
func (g *Group) storeAppend(m *pb.Message) (engine.RaftWrite, bool) {
	w := engine.RaftWrite{Shard: g.shard}
	if s := m.GetSnapshot(); !raft.IsEmptySnap(s) {
		g.restore(s)
		b, err := proto.Marshal(s.GetMetadata())
		if err != nil {
			panic(err)
		}
		w.Stable = append(w.Stable, engine.StableValue{Name: keySnapshot, Value: b})
		w.DeleteFrom = 1 // the snapshot replaces the whole log
		if err := g.ms.ApplySnapshot(&pb.Snapshot{Metadata: s.GetMetadata()}); err != nil {
			panic(fmt.Sprintf("multiraft: shard %d: apply snapshot: %v", g.shard, err))
		}
		g.lastStored = s.GetMetadata().GetIndex()
	}
	if ents := m.GetEntries(); len(ents) > 0 {
		firstNew := ents[0].GetIndex()
		if firstNew <= g.lastStored && w.DeleteFrom == 0 {
			w.DeleteFrom = firstNew // entries of a deposed leader, replaced
		}
		w.Entries = make([]engine.LogEntry, len(ents))
		for i, e := range ents {
			b, err := proto.Marshal(e)
			if err != nil {
				panic(err)
			}
			w.Entries[i] = engine.LogEntry{Index: e.GetIndex(), Data: b}
		}
		if err := g.ms.Append(ents); err != nil {
			panic(fmt.Sprintf("multiraft: shard %d: append: %v", g.shard, err))
		}
		g.lastStored = ents[len(ents)-1].GetIndex()
	}
	if m.Term != nil {
		hs := &pb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit}
		b, err := proto.Marshal(hs)
		if err != nil {
			panic(err)
		}
		w.Stable = append(w.Stable, engine.StableValue{Name: keyHardState, Value: b})
		_ = g.ms.SetHardState(hs)
	}
	return w, len(w.Entries) > 0 || len(w.Stable) > 0
}

// readStates records the read index Raft answered for each batch of reads. Under mu.
func (g *Group) readStates(rss []raft.ReadState) {
	for _, rs := range rss {
		if len(rs.RequestCtx) == 8 {
			if b := g.reads[binary.BigEndian.Uint64(rs.RequestCtx)]; b != nil {
				b.index = rs.Index
			}
		}
	}
	g.releaseReads()
}

// releaseReads lets the reads whose index is applied go. Under mu.
func (g *Group) releaseReads() {
	now := g.applied.Load()
	for k, b := range g.reads {
		if b.index != 0 && b.index <= now {
			for _, ch := range b.chans {
				ch <- nil
			}
			delete(g.reads, k)
		}
	}
}

// apply hands committed entries to the state machine, answers the waiting proposals and
// releases reads whose index is now applied. Loop only.
func (g *Group) apply(entries []*pb.Entry) {
	applied := g.applied.Load()
	var cmds [][]byte
	var ids []uint64
	var terms []uint64
	var last uint64
	var confs []*pb.Entry
	for _, e := range entries {
		idx := e.GetIndex()
		switch e.GetType() {
		case pb.EntryNormal:
			if idx <= applied {
				continue
			}
			last = idx
			if len(e.GetData()) == 0 {
				continue // a new leader's empty entry
			}
			if len(e.GetData()) < 8 {
				panic(fmt.Sprintf("multiraft: shard %d: entry %d is too short", g.shard, idx))
			}
			ids = append(ids, binary.BigEndian.Uint64(e.GetData()))
			terms = append(terms, e.GetTerm())
			cmds = append(cmds, e.GetData()[8:])
		case pb.EntryConfChange, pb.EntryConfChangeV2:
			confs = append(confs, e)
			if idx > applied {
				last = idx
			}
		}
	}
	var results []any
	if last > 0 {
		results = g.sm.Apply(cmds, last)
		g.applied.Store(last)
	}
	g.mu.Lock()
	for _, e := range confs {
		var cc pb.ConfChangeI
		if e.GetType() == pb.EntryConfChange {
			c := &pb.ConfChange{}
			if err := proto.Unmarshal(e.GetData(), c); err != nil {
				panic(fmt.Sprintf("multiraft: shard %d: conf change %d: %v", g.shard, e.GetIndex(), err))
			}
			if len(c.GetContext()) > 0 {
				g.h.learn(string(c.GetContext()))
			}
			cc = c
		} else {
			c := &pb.ConfChangeV2{}
			if err := proto.Unmarshal(e.GetData(), c); err != nil {
				panic(fmt.Sprintf("multiraft: shard %d: conf change %d: %v", g.shard, e.GetIndex(), err))
			}
			cc = c
		}
		g.conf = g.rn.ApplyConfChange(cc)
	}
	for i, id := range ids {
		if w, ok := g.waiters[id]; ok && w.term == terms[i] {
			delete(g.waiters, id)
			w.ch <- proposal{res: results[i]}
		}
	}
	g.releaseReads()
	g.mu.Unlock()
}

// softStateChanged notes a leadership change; proposals and reads of a lost leadership
// fail. Under mu.
func (g *Group) softStateChanged(ss *raft.SoftState) {
	g.lead = ss.Lead
	wasLeader := g.leader
	g.leader = ss.RaftState == raft.StateLeader
	g.term = g.rn.BasicStatus().GetTerm()
	if wasLeader && !g.leader {
		g.failAll(ErrUnknownOutcome)
	}
}

// failAll fails every waiting proposal and read. Under mu.
func (g *Group) failAll(err error) {
	for id, w := range g.waiters {
		w.ch <- proposal{err: err}
		delete(g.waiters, id)
	}
	for k, b := range g.reads {
		for _, ch := range b.chans {
			ch <- ErrNotLeader
		}
		delete(g.reads, k)
	}
	for _, ch := range g.pending {
		ch <- ErrNotLeader
	}
	g.pending = nil
}

// restore replaces the state machine with a snapshot's data. Loop only.
func (g *Group) restore(s *pb.Snapshot) {
	if len(s.GetData()) == 0 {
		return
	}
	if err := g.sm.Restore(s.GetData()); err != nil {
		panic(fmt.Sprintf("multiraft: shard %d: restore snapshot: %v", g.shard, err))
	}
	g.applied.Store(max(g.sm.Applied(), s.GetMetadata().GetIndex()))
}

// maybeCompact cuts the in-memory and stored log back once enough entries are applied.
// Loop only.
func (g *Group) maybeCompact() (engine.RaftWrite, bool) {
	applied := g.applied.Load()
	first, _ := g.ms.FirstIndex()
	if applied < first+g.h.cfg.CompactEvery {
		return engine.RaftWrite{}, false
	}
	g.mu.Lock()
	conf := g.conf
	g.mu.Unlock()
	snap, err := g.ms.CreateSnapshot(applied, conf, nil)
	if err != nil {
		return engine.RaftWrite{}, false
	}
	keep := applied - g.h.cfg.KeepEntries
	if err := g.ms.Compact(keep); err != nil {
		return engine.RaftWrite{}, false
	}
	b, err := proto.Marshal(snap.GetMetadata())
	if err != nil {
		return engine.RaftWrite{}, false
	}
	return engine.RaftWrite{Shard: g.shard, DeleteBelow: keep + 1,
		Stable: []engine.StableValue{{Name: keySnapshot, Value: b}}}, true
}

// snapshotMessage fills a MsgSnap's data with the state machine's current state, which
// holds at least the entries up to the snapshot's index.
func (g *Group) snapshotMessage(m *pb.Message) (*pb.Message, error) {
	var buf bytes.Buffer
	if err := g.sm.Snapshot(&buf); err != nil {
		return nil, err
	}
	out := proto.Clone(m).(*pb.Message)
	out.Snapshot.Data = buf.Bytes()
	return out, nil
}
