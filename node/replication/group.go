package replication

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/torua/torua/node/engine"
	"github.com/torua/torua/node/raftlog"
	"github.com/torua/torua/shardmap"
)

// Errors returned by a Group. NotLeaderError matches ErrNotLeader with errors.Is.
var (
	// ErrNotLeader means this replica is not the shard's leader and did nothing: the request
	// is safe to retry at the leader (NotLeaderError carries a hint).
	ErrNotLeader = errors.New("not the shard's leader")
	// ErrUnknownOutcome means a write (or membership change) was handed to Raft but this
	// replica cannot tell whether it committed: leadership was lost, the group was closed
	// or the caller's context ended while it was in flight. Retrying is safe only for
	// idempotent operations.
	ErrUnknownOutcome = errors.New("outcome unknown")
	// ErrTimeout means Raft could not take the request now (too much in flight, or a
	// membership change still being applied); nothing was proposed.
	ErrTimeout = errors.New("replication timeout")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("replication group closed")
	// errClosedInFlight fails what was in flight when the group or host closed.
	errClosedInFlight = fmt.Errorf("%w: %w", ErrUnknownOutcome, ErrClosed)
	// ErrStaleData is returned by Open when the engine's data of the shard does not fit
	// the group's Raft state: data without Raft state (left over from an earlier
	// membership; it would make replay skip entries), or data older than the log's
	// compaction point. The node refuses to host the shard rather than delete data.
	ErrStaleData = errors.New("shard data does not match its raft state")
)

// NotLeaderError is ErrNotLeader with the leader this replica knows of.
type NotLeaderError struct {
	// Shard is the shard asked.
	Shard int
	// Leader is the leader's node ID, "" if unknown.
	Leader string
}

func (e *NotLeaderError) Error() string {
	if e.Leader == "" {
		return fmt.Sprintf("shard %d: %v (leader unknown)", e.Shard, ErrNotLeader)
	}
	return fmt.Sprintf("shard %d: %v (leader %s)", e.Shard, ErrNotLeader, e.Leader)
}

// Is makes errors.Is(err, ErrNotLeader) hold.
func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }

// Raft message and log limits.
const (
	// maxSizePerMsg bounds the entries of one append message.
	maxSizePerMsg = 1 << 20
	// maxInflightMsgs bounds the append messages in flight to one follower.
	maxInflightMsgs = 256
	// maxUncommittedSize bounds the bytes a leader holds uncommitted; proposals beyond it
	// are refused (ErrTimeout) until followers catch up.
	maxUncommittedSize = 64 << 20
)

// Group is this node's replica of one shard's Raft group, driven by its Host's loop. All
// methods are safe for concurrent use. It satisfies the node package's Replica interface.
type Group struct {
	h     *Host
	shard int
	log   *slog.Logger
	ms    *raft.MemoryStorage

	// lastStored is the index of the last log entry written to the Raft log, snapPoint
	// that of the storage's snapshot (the replay point). Loop only.
	lastStored, snapPoint uint64
	// points are snapshot points recorded by membership changes, for the loop to write
	// once the engine holds what they cover (Host.writePoints). Loop only.
	points []raftlog.Write
	// applied is the index of the last committed entry the loop has handled (applied or
	// skipped as already in the engine); dataApplied the engine's applied index.
	applied     atomic.Uint64
	dataApplied atomic.Uint64
	commit      atomic.Uint64

	mu     sync.Mutex // guards rn and everything below
	rn     *raft.RawNode
	closed bool
	// bootstrapped is set by Bootstrap, before the loop stores the founding entries.
	bootstrapped bool
	conf         *pb.ConfState // the configuration as of the last applied change
	confIndex    uint64
	lead         uint64
	role         raft.StateType // as of the last Ready the loop handled
	term         uint64
	// appliedTerm is the term of the last applied entry: a leader whose own term's first
	// entry is not applied yet may still have a membership change in flight.
	appliedTerm uint64
	// changed is closed, and replaced, whenever the leader or term changes.
	changed     chan struct{}
	pendingConf bool
	nextID      uint64
	waiters     map[uint64]*waiter
	// orphans is set while waiters of an earlier term (a lost leadership's) may remain.
	orphans bool
	// queue holds the proposals not yet handed to Raft (flushProposals).
	queue []queued
	// pending are reads not yet sent as a ReadIndex; reads those sent, by request.
	pending []chan error
	reads   map[uint64]*readBatch
	nextRd  uint64
	// lease lets linearizable reads skip the heartbeat round until it ends (readBarrier);
	// leaseGen, bumped by revokeLease, keeps proposals made before a revocation from
	// granting a lease after it. renewing is set while a lease renewal is in flight.
	lease    readLease
	leaseGen uint64
	renewing bool
	// restoring is set while a goroutine restores a snapshot (Host.restoreAsync): the loop
	// skips the group, whose loop-only fields are the goroutine's meanwhile. bg counts that
	// goroutine; Close waits for it.
	restoring atomic.Bool
	bg        sync.WaitGroup
	// snapFiles are received snapshot files offered to Raft and not yet restored.
	snapFiles []string
}

type waiter struct {
	term  uint64 // the term of its entry once handed to Raft (until then the proposal's)
	gen   uint64
	start time.Time
	renew bool // a lease renewal: nobody waits on ch
	ch    chan proposal
}

type proposal struct {
	results []engine.Result
	err     error
}

type readBatch struct {
	index uint64 // 0 until Raft answered
	chans []chan error
}

// readLease is a period in which no other replica can become leader of term's successor.
type readLease struct {
	term  uint64
	until time.Time // monotonic
}

// A group's Raft state lives in the node's Raft log (package raftlog); the shard's data is
// in the engine:
//
//	log entry i      raftlog entry (shard, i): a marshalled raftpb.Entry
//	"hs"             stable value: the marshalled raftpb.HardState
//	"snap"           stable value: the marshalled raftpb.SnapshotMetadata of the
//	                 log's compaction point (the shard's data is in the engine itself)
//	"members"        stable value: the configuration's members, one per line as
//	                 "<raft ID, 16 hex digits> <node ID>" (Raft knows members by Raft
//	                 ID only; a line of a bare node ID, written by earlier versions,
//	                 means RaftID(node ID))
//
// In memory each group keeps a raft.MemoryStorage from its compaction point on, loaded by
// Open; the loop appends to both.
var (
	keyHardState = []byte("hs")
	keySnapshot  = []byte("snap")
	keyMembers   = []byte("members")
)

// Open starts this node's replica of shard. A replica with Raft state on disk rejoins its
// group; a new one stays idle until Bootstrap (a new group) or until the leader adds it
// (AddLearner).
func (h *Host) Open(shard int, logger *slog.Logger) (*Group, error) {
	if h.closed.Load() {
		return nil, ErrClosed
	}
	if logger == nil {
		logger = h.log
	}
	if h.group(shard) != nil {
		return nil, fmt.Errorf("open shard %d group: already open", shard)
	}
	if legacy, err := h.eng.LegacyRaftState(shard); err != nil {
		return nil, fmt.Errorf("open shard %d group: %w", shard, err)
	} else if legacy {
		return nil, fmt.Errorf("open shard %d group: its Raft state is in the engine, where earlier versions of Torua kept it; this version keeps it in the raft-log directory and cannot read the old layout; start the node on a new data directory", shard)
	}
	ms, stable, existing, err := loadStorage(h.rlog, shard)
	if err != nil {
		return nil, fmt.Errorf("open shard %d group: %w", shard, err)
	}
	st, err := h.eng.ShardStats(shard)
	if err != nil {
		return nil, fmt.Errorf("open shard %d group: %w", shard, err)
	}
	if !existing && (st.AppliedIndex != 0 || st.Keys != 0 || st.Revision != 0) {
		return nil, fmt.Errorf("open shard %d group: %w: the engine holds the shard's data (applied index %d, %d keys) but there is no Raft state", shard, ErrStaleData, st.AppliedIndex, st.Keys)
	}
	snap, _ := ms.Snapshot()
	snapIndex := snap.GetMetadata().GetIndex()
	if st.AppliedIndex < snapIndex {
		// NB: cannot follow from a crash: a snapshot point is written only once the
		// engine holds what it covers durably (Host.writePoints).
		return nil, fmt.Errorf("open shard %d group: %w: the shard's data (applied index %d) is older than its Raft log's compaction point (%d), so the entries in between are lost", shard, ErrStaleData, st.AppliedIndex, snapIndex)
	}
	g := &Group{h: h, shard: shard, log: logger.With("component", "replication", "shard", shard), ms: ms,
		waiters: map[uint64]*waiter{}, reads: map[uint64]*readBatch{}, changed: make(chan struct{})}
	hs, cs, _ := ms.InitialState()
	g.conf = cs
	g.lastStored, _ = ms.LastIndex()
	g.snapPoint = snapIndex
	g.confIndex = snapIndex
	g.applied.Store(snapIndex)
	g.dataApplied.Store(st.AppliedIndex)
	g.commit.Store(hs.GetCommit())
	if b, ok := stable[string(keyMembers)]; ok {
		for _, m := range splitMembers(b) {
			h.learnMember(m.ID, m.Node)
		}
	}
	// Raft hands over again every committed entry after the compaction point: the engine
	// skips those it holds (their index is at or below its applied index), and the
	// membership changes among them rebuild the configuration, which only the compaction
	// point's metadata records.
	rn, err := raft.NewRawNode(&raft.Config{
		ID:                        h.id,
		ElectionTick:              electionTicks,
		HeartbeatTick:             1,
		Storage:                   ms,
		Applied:                   snapIndex,
		MaxSizePerMsg:             maxSizePerMsg,
		MaxInflightMsgs:           maxInflightMsgs,
		MaxUncommittedEntriesSize: maxUncommittedSize,
		CheckQuorum:               true,
		PreVote:                   true,
		ReadOnlyOption:            raft.ReadOnlySafe,
		AsyncStorageWrites:        true,
		DisableProposalForwarding: true,
		StepDownOnRemoval:         true,
		Logger:                    newRaftLogger(g.log.With("component", "raft"), h.cfg.RaftLogLevel),
	})
	if err != nil {
		return nil, fmt.Errorf("open shard %d group: %w", shard, err)
	}
	g.rn = rn
	g.term = hs.GetTerm()
	h.mu.Lock()
	if _, dup := h.groups[shard]; dup {
		h.mu.Unlock()
		return nil, fmt.Errorf("open shard %d group: already open", shard)
	}
	h.groups[shard] = g
	h.mu.Unlock()
	h.rlog.Release(shard) // the group's MemoryStorage holds it now
	h.signal()
	g.log.Info("Started raft group", "node", h.nodeID, "existingState", existing,
		"appliedIndex", st.AppliedIndex, "compactedTo", snapIndex)
	return g, nil
}

// Bootstrap makes this replica a member of a new group whose voters are the given nodes
// (this node, with its Raft ID, among them). Every initial voter may call it with the same
// list. It is a no-op on a replica that already has Raft state.
//
// NB: call it only for a shard that has never existed; a replica added to an existing
// group must wait for the leader's AddLearner instead, or it would found a second group.
func (g *Group) Bootstrap(voters []Member) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return ErrClosed
	}
	if g.hasState() {
		return nil
	}
	if !slices.Contains(voters, Member{Node: g.h.nodeID, ID: g.h.id}) {
		return fmt.Errorf("bootstrap shard %d: this node (%s, Raft ID %s) is not among the voters", g.shard, g.h.nodeID, FormatRaftID(g.h.id))
	}
	peers := make([]raft.Peer, len(voters))
	for i, v := range voters {
		g.h.learnMember(v.ID, v.Node)
		peers[i] = raft.Peer{ID: v.ID, Context: []byte(v.Node)}
	}
	if err := g.rn.Bootstrap(peers); err != nil {
		return fmt.Errorf("bootstrap shard %d: %w", g.shard, err)
	}
	g.bootstrapped = true
	g.h.signal()
	return nil
}

// Write replicates op and returns once it is committed and applied on this (leader)
// replica, with the engine's result. A failed precondition is in the Result, not the
// error. Concurrent writes of every group share rounds, messages and fsyncs.
func (g *Group) Write(ctx context.Context, op engine.Op) (engine.Result, error) {
	res, err := g.WriteBatch(ctx, []engine.Op{op})
	if err != nil {
		return engine.Result{}, err
	}
	return res[0], nil
}

// WriteBatch is Write for several ops in one log entry, applied in order in one engine
// batch; each op's condition is evaluated after the earlier ops, and its outcome is in its
// own Result.
func (g *Group) WriteBatch(ctx context.Context, ops []engine.Op) ([]engine.Result, error) {
	cmd, err := encodeOps(ops)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	g.mu.Lock()
	w, id, err := g.proposeLocked(cmd, false)
	g.mu.Unlock()
	if err != nil {
		return nil, err
	}
	g.h.signal()
	p, err := g.await(ctx, id, w)
	if err != nil {
		return nil, fmt.Errorf("write shard %d: %w", g.shard, err)
	}
	return p.results, nil
}

// await waits for proposal id's answer; if ctx ends first, the proposal is given up, its
// outcome unknown.
func (g *Group) await(ctx context.Context, id uint64, w *waiter) (proposal, error) {
	select {
	case p := <-w.ch:
		return p, p.err
	case <-ctx.Done():
		g.mu.Lock()
		delete(g.waiters, id)
		g.mu.Unlock()
		return proposal{}, fmt.Errorf("%w: %w", ErrUnknownOutcome, ctx.Err())
	}
}

// proposeLocked queues an entry of an 8-byte proposal id and cmd for the loop, which
// hands every proposal of a round to Raft at once (flushProposals). Under mu.
func (g *Group) proposeLocked(cmd []byte, renew bool) (*waiter, uint64, error) {
	if err := g.leadingLocked(); err != nil {
		return nil, 0, err
	}
	id, w := g.newWaiter(renew)
	data := make([]byte, 8+len(cmd))
	binary.BigEndian.PutUint64(data, id)
	copy(data[8:], cmd)
	g.queue = append(g.queue, queued{id: id, w: w, entry: &pb.Entry{Data: data}})
	return w, id, nil
}

// newWaiter registers a waiter for a new proposal of this term. Under mu.
func (g *Group) newWaiter(renew bool) (uint64, *waiter) {
	g.nextID++
	w := &waiter{term: g.term, gen: g.leaseGen, start: time.Now(), renew: renew, ch: make(chan proposal, 1)}
	g.waiters[g.nextID] = w
	return g.nextID, w
}

// resolve answers proposal id's waiter w. Under mu.
func (g *Group) resolve(id uint64, w *waiter, p proposal) {
	delete(g.waiters, id)
	if w.renew {
		g.renewing = false
	}
	w.ch <- p
}

// queued is a proposal waiting for the loop to hand it to Raft.
type queued struct {
	id    uint64
	w     *waiter
	entry *pb.Entry
}

// flushProposals hands the queued proposals to Raft in one message; if Raft refuses them
// (not leader, a transfer under way, too much uncommitted) they fail, with nothing
// proposed. Loop only, under mu.
func (g *Group) flushProposals() {
	if len(g.queue) == 0 {
		return
	}
	q := g.queue
	g.queue = nil
	ents := make([]*pb.Entry, 0, len(q))
	for _, p := range q {
		if g.waiters[p.id] == p.w { // not given up or failed meanwhile
			ents = append(ents, p.entry)
		}
	}
	if len(ents) == 0 {
		return
	}
	var err error = g.notLeaderLocked()
	if g.leads() {
		stepErr := g.rn.Step(&pb.Message{Type: pb.MsgProp.Enum(), From: new(g.h.id), Entries: ents})
		if stepErr == nil {
			// Raft appended the entries in its current term: the term they commit in, if
			// they do, and what settleOrphans compares.
			term := g.rn.BasicStatus().GetTerm()
			for _, p := range q {
				p.w.term = term
			}
			return
		}
		err = g.proposeError(stepErr)
	}
	for _, p := range q {
		if g.waiters[p.id] == p.w {
			g.resolve(p.id, p.w, proposal{err: err})
		}
	}
}

// proposeError maps a proposal Raft refused at once. Nothing was proposed. Under mu.
//
// NB: Raft's own state, not the last Ready's (g.leads): a message of a later term may have
// made it a follower since, and a follower drops proposals too.
func (g *Group) proposeError(err error) error {
	if st := g.rn.BasicStatus(); errors.Is(err, raft.ErrProposalDropped) && st.RaftState == raft.StateLeader && st.LeadTransferee == 0 {
		return fmt.Errorf("shard %d: %w: too many writes in flight", g.shard, ErrTimeout)
	}
	return g.notLeaderLocked() // stepping down or handing leadership over
}

// Get reads key. With stale false the read is linearizable (see readBarrier); with stale
// true it reads this replica's applied state, which may lag.
func (g *Group) Get(ctx context.Context, key []byte, stale bool) (engine.Value, error) {
	if stale {
		return g.h.eng.Get(g.shard, key)
	}
	var v engine.Value
	err := g.linearizable(ctx, func() (err error) {
		v, err = g.h.eng.Get(g.shard, key)
		return err
	})
	return v, err
}

// List returns up to limit keys with prefix after after, with Get's consistency.
func (g *Group) List(ctx context.Context, prefix, after []byte, limit int, stale bool) ([][]byte, bool, error) {
	if stale {
		return g.h.eng.List(g.shard, prefix, after, limit)
	}
	var keys [][]byte
	var more bool
	err := g.linearizable(ctx, func() (err error) {
		keys, more, err = g.h.eng.List(g.shard, prefix, after, limit)
		return err
	})
	return keys, more, err
}

// linearizable runs read against the engine once readBarrier allows it, and fails it as
// not-leader if this replica stopped leading in the meantime: a replica that stepped down
// may already apply entries its successor has committed but not yet applied, and a read
// there must not see them before a read on the successor does.
func (g *Group) linearizable(ctx context.Context, read func() error) error {
	term, err := g.readBarrier(ctx)
	if err != nil {
		return err
	}
	if err := read(); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.leads() || g.term != term {
		return g.notLeaderLocked()
	}
	return nil
}

// readBarrier returns once a read of this replica's engine is linearizable, with the term
// it leads: every write acknowledged before the call is applied here.
//
// With a lease, at once. The lease: the quorum that committed an entry this leader
// proposed at t acknowledged it after t, and a follower that acknowledged an entry ignores
// other candidates (CheckQuorum, PreVote) until its election timeout has passed since, so
// until t + leaseDuration no other leader can have been elected, and nothing can have
// been committed elsewhere. The lease comes from applying the leader's own entries, so
// the leader has applied everything committed before its term. Writes renew it; reads
// renew it in the background once half of it has passed. What can seat another leader
// sooner revokes it first: a leadership transfer (its target is elected at once) and a
// membership change (a new voter promised nothing). A follower that restarts forgets whom
// it acknowledged, so a restarted node answers no Raft traffic for a while (Host's quiet
// period).
//
// Without a lease (or with NoReadLease), through Raft's ReadIndex: a heartbeat round
// confirms the leadership after the read arrived (concurrent reads of every group share
// rounds), and the read waits until the commit index of that moment is applied.
func (g *Group) readBarrier(ctx context.Context) (uint64, error) {
	g.mu.Lock()
	if err := g.leadingLocked(); err != nil {
		g.mu.Unlock()
		return 0, err
	}
	term := g.term
	if !g.h.cfg.NoReadLease {
		if left := time.Until(g.lease.until); g.lease.term == term && left > 0 {
			if left < g.h.cfg.leaseDuration()/2 {
				g.renewLease()
			}
			g.mu.Unlock()
			return term, nil
		}
		g.renewLease()
	}
	ch := make(chan error, 1)
	g.pending = append(g.pending, ch)
	g.mu.Unlock()
	g.h.signal()
	select {
	case err := <-ch:
		if err != nil {
			return 0, err
		}
		return term, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("read shard %d: %w: %w", g.shard, ErrTimeout, ctx.Err())
	}
}

// renewLease, once at a time, proposes an empty entry; applying it grants a lease from the
// moment it was proposed. Under mu.
func (g *Group) renewLease() {
	if g.renewing || g.h.cfg.NoReadLease {
		return
	}
	if _, _, err := g.proposeLocked(nil, true); err == nil {
		g.renewing = true
	}
}

// revokeLease ends the read lease, and no proposal made before grants one. Under mu.
func (g *Group) revokeLease() {
	g.leaseGen++
	g.lease = readLease{}
}

// startReads sends the reads that arrived since the last round as one ReadIndex. Loop
// only, under mu.
func (g *Group) startReads() {
	if len(g.pending) == 0 {
		return
	}
	g.nextRd++
	g.reads[g.nextRd] = &readBatch{chans: g.pending}
	g.pending = nil
	g.rn.ReadIndex(binary.BigEndian.AppendUint64(nil, g.nextRd))
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

// tick advances the group's Raft clock. Loop only.
func (g *Group) tick() {
	g.mu.Lock()
	if !g.closed {
		g.rn.Tick()
	}
	g.mu.Unlock()
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
		prev, _, _ := g.ms.InitialState() // the hard state stored last
		mustSync = mustSync || raft.MustSync(hs, prev, 0)
		_ = g.ms.SetHardState(hs)
		g.commit.Store(hs.GetCommit())
	}
	return w, len(w.Entries) > 0 || len(w.Stable) > 0, mustSync
}

// restore replaces the shard's data with a received snapshot's (from storeAppend).
//
// It panics if the snapshot's file is gone: Raft has accepted the snapshot, and going on
// without its data would leave this replica behind the log it claims to hold.
func (g *Group) restore(s *pb.Snapshot) {
	path, err := g.h.trans.snapshotFile(s.GetData())
	if err != nil {
		panic(fmt.Sprintf("replication: shard %d: snapshot at index %d: %v", g.shard, s.GetMetadata().GetIndex(), err))
	}
	f, err := os.Open(path)
	if err != nil {
		panic(fmt.Sprintf("replication: shard %d: snapshot at index %d: %v", g.shard, s.GetMetadata().GetIndex(), err))
	}
	err = g.h.eng.RestoreShard(g.shard, f)
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
	st, err := g.h.eng.ShardStats(g.shard)
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
	var members []Member
	for _, id := range slices.Concat(g.conf.GetVoters(), g.conf.GetLearners()) {
		members = append(members, Member{Node: g.h.name(id), ID: id})
	}
	return []raftlog.StableValue{
		{Name: keySnapshot, Value: mustMarshal(meta)},
		{Name: keyMembers, Value: joinMembers(members)},
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

// softStateChanged notes a change of leader or role; proposals and reads of a lost
// leadership fail. Under mu.
func (g *Group) softStateChanged(ss *raft.SoftState) {
	wasLeader, oldTerm := g.leads(), g.term
	g.lead = ss.Lead
	g.role = ss.RaftState
	g.term = g.rn.BasicStatus().GetTerm()
	if wasLeader && (!g.leads() || g.term != oldTerm) {
		g.leadershipLost()
	}
	close(g.changed)
	g.changed = make(chan struct{})
}

// leadershipLost ends what needed this replica to lead: the lease, the reads, and the
// proposals not yet handed to Raft (nothing was proposed: they fail as not-leader, which
// is safe to retry). A proposal Raft took keeps waiting, as etcd's do: if it commits, this
// replica applies it too and answers it then; if a later term's entry is applied first,
// it never will, and settleOrphans answers it not-leader. So a planned hand-off (a drain,
// a rebalance, a rolling restart) leaves no write with an unknown outcome. Under mu.
func (g *Group) leadershipLost() {
	g.revokeLease()
	g.renewing = false
	g.pendingConf = false
	notLeader := g.notLeaderLocked()
	for _, p := range g.queue {
		if g.waiters[p.id] == p.w {
			g.resolve(p.id, p.w, proposal{err: notLeader})
		}
	}
	g.queue = nil
	g.failReads(notLeader)
	g.orphans = len(g.waiters) > 0
}

// settleOrphans answers not-leader the proposals of terms older than the last applied
// entry's that are still waiting: their entries were never committed (a log's terms only
// grow, and it is applied in order), so nothing was done. (A snapshot, which applies
// entries unseen, fails the waiting ones first: restore.) Under mu.
func (g *Group) settleOrphans() {
	g.orphans = false
	for id, w := range g.waiters {
		switch {
		case w.term < g.appliedTerm:
			g.resolve(id, w, proposal{err: g.notLeaderLocked()})
		case w.term < g.term:
			g.orphans = true // still in the log; it may yet commit
		}
	}
}

// failAll fails every waiting proposal and read, and ends the lease. Under mu.
func (g *Group) failAll(err error) {
	g.revokeLease()
	g.renewing = false
	g.pendingConf = false
	g.queue = nil
	for id, w := range g.waiters {
		g.resolve(id, w, proposal{err: err})
	}
	readErr := error(g.notLeaderLocked())
	if errors.Is(err, ErrClosed) {
		readErr = ErrClosed
	}
	g.failReads(readErr)
}

// failReads fails every waiting read with err. Under mu.
func (g *Group) failReads(readErr error) {
	for k, b := range g.reads {
		for _, ch := range b.chans {
			ch <- readErr
		}
		delete(g.reads, k)
	}
	for _, ch := range g.pending {
		ch <- readErr
	}
	g.pending = nil
}

// maybeCompact cuts the in-memory and stored log back once enough entries are applied
// since the last compaction point, or now if force. Loop only (or with the host's round
// lock).
func (g *Group) maybeCompact(force bool) (raftlog.Write, bool) {
	applied := g.applied.Load()
	point := g.snapPoint
	if applied <= point || (!force && applied < point+g.h.cfg.SnapshotThreshold) {
		return raftlog.Write{}, false
	}
	g.mu.Lock()
	conf := g.conf
	g.mu.Unlock()
	s, err := g.ms.CreateSnapshot(applied, conf, nil)
	if err != nil {
		return raftlog.Write{}, false
	}
	g.snapPoint = applied
	first, _ := g.ms.FirstIndex()
	keep := first
	if applied > g.h.cfg.TrailingLogs {
		keep = max(first, applied-g.h.cfg.TrailingLogs)
	}
	if keep > first {
		if err := g.ms.Compact(keep - 1); err != nil {
			return raftlog.Write{}, false
		}
	}
	return raftlog.Write{Shard: g.shard, DeleteBelow: keep,
		Stable: []raftlog.StableValue{{Name: keySnapshot, Value: mustMarshal(s.GetMetadata())}}}, true
}

// unpin cuts the group's log back to its snapshot point, keeping no trailing entries, so
// that it stops holding old segments of the node's Raft log (Host.unpinLog). A snapshot
// point is made at the applied index first if anything was applied since the last. Loop
// only (or with the host's round lock).
func (g *Group) unpin() (raftlog.Write, bool) {
	w, ok := g.maybeCompact(true)
	if first, _ := g.ms.FirstIndex(); first <= g.snapPoint {
		if err := g.ms.Compact(g.snapPoint); err != nil {
			return w, ok
		}
		w.Shard, w.DeleteBelow, ok = g.shard, g.snapPoint+1, true
	}
	return w, ok
}

// Status describes the replica for /internal/status.
func (g *Group) Status() shardmap.ShardStatus {
	g.mu.Lock()
	st := shardmap.ShardStatus{
		Shard:        g.shard,
		Term:         g.term,
		CommitIndex:  g.commit.Load(),
		AppliedIndex: g.dataApplied.Load(),
		Leader:       g.h.name(g.lead),
		ConfigIndex:  g.confIndex,
	}
	st.Voters, st.Learners = g.membersLocked()
	switch g.role {
	case raft.StateLeader:
		st.Role = "leader"
	case raft.StateCandidate, raft.StatePreCandidate:
		st.Role = "candidate"
	default:
		st.Role = "follower"
		if slices.Contains(g.conf.GetLearners(), g.h.id) {
			st.Role = "learner"
		}
	}
	if g.closed {
		st.Role = "shutdown"
	}
	g.mu.Unlock()
	if s, err := g.h.eng.ShardStats(g.shard); err == nil {
		st.Revision, st.Keys, st.Bytes = s.Revision, s.Keys, s.Bytes
	}
	return st
}

// membersLocked returns the voters' and learners' node IDs. Under mu.
func (g *Group) membersLocked() (voters, learners []string) {
	for _, id := range g.conf.GetVoters() {
		voters = append(voters, g.memberName(id))
	}
	for _, id := range g.conf.GetLearners() {
		learners = append(learners, g.memberName(id))
	}
	return voters, learners
}

// memberName is the node ID of member id, or a name made of the Raft ID if it is unknown.
func (g *Group) memberName(id uint64) string {
	if n := g.h.name(id); n != "" {
		return n
	}
	return "raft-" + FormatRaftID(id)
}

// memberID returns the Raft ID node is a member with. Under mu.
func (g *Group) memberID(node string, voter bool) (uint64, bool) {
	ids := g.conf.GetVoters()
	if !voter {
		ids = slices.Concat(ids, g.conf.GetLearners())
	}
	for _, id := range ids {
		if g.h.name(id) == node {
			return id, true
		}
	}
	return 0, false
}

// Membership is a group's configuration as one replica knows it.
type Membership struct {
	// Voters and Learners are node IDs.
	Voters, Learners []string
	// IDs maps each member's node ID to the Raft ID it is a member with.
	IDs map[string]uint64
	// Inactive lists the members a leader has not heard from since its last quorum check
	// (about an election timeout): down, cut off, or a node that lost its disk and drops
	// what is sent to its old Raft ID. Empty on followers.
	Inactive []string
	// Index is the log index of the configuration. A configuration takes effect when it
	// is applied, so it is always committed.
	Index uint64
}

// Contains reports whether id is a voter or a learner.
func (m Membership) Contains(id string) bool {
	return slices.Contains(m.Voters, id) || slices.Contains(m.Learners, id)
}

// Membership returns the configuration this replica has applied.
func (g *Group) Membership() (Membership, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return Membership{}, ErrClosed
	}
	m := Membership{Index: g.confIndex, IDs: map[string]uint64{}}
	m.Voters, m.Learners = g.membersLocked()
	for _, id := range slices.Concat(g.conf.GetVoters(), g.conf.GetLearners()) {
		m.IDs[g.memberName(id)] = id
	}
	if g.leads() {
		for id, pr := range g.rn.Status().Progress {
			if id != g.h.id && !pr.RecentActive {
				m.Inactive = append(m.Inactive, g.memberName(id))
			}
		}
		slices.Sort(m.Inactive)
	}
	return m, nil
}

// MembershipIndex is the log index of the configuration this replica has applied.
func (g *Group) MembershipIndex() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.confIndex
}

// HasInactiveMember reports whether this replica leads the group and some member has
// not been heard from since the last quorum check (see Membership.Inactive).
func (g *Group) HasInactiveMember() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed || !g.leads() {
		return false
	}
	for id, pr := range g.rn.Status().Progress {
		if id != g.h.id && !pr.RecentActive {
			return true
		}
	}
	return false
}

// Term is the current Raft term as this replica knows it.
func (g *Group) Term() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.term
}

// CommitIndex is the highest log index this replica knows to be committed and stored.
func (g *Group) CommitIndex() uint64 { return g.commit.Load() }

// AppliedIndex is the index of the last entry applied to the engine.
func (g *Group) AppliedIndex() uint64 { return g.dataApplied.Load() }

// HasState reports whether the replica holds Raft state: it founded the group, or a
// leader has sent it a log entry or a snapshot. A replica without state knows nothing of
// the group and may be discarded without losing anything.
func (g *Group) HasState() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.hasState()
}

func (g *Group) hasState() bool {
	last, _ := g.ms.LastIndex()
	hs, _, _ := g.ms.InitialState()
	return last > 0 || len(g.conf.GetVoters())+len(g.conf.GetLearners()) > 0 ||
		!raft.IsEmptyHardState(hs) || g.bootstrapped
}

// Leader returns the leader's node ID as this replica knows it, "" if unknown.
func (g *Group) Leader() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.h.name(g.lead)
}

// IsLeader reports whether this replica currently believes it leads the group.
func (g *Group) IsLeader() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.leads()
}

// AddLearner adds node m.Node, with its current Raft ID m.ID, to the group as a learner,
// which receives the log (or a snapshot) but does not count in quorums. Leader only.
// Membership changes go one at a time; the caller adds, promotes or removes one server and
// waits for it. A node that is a member already, with another Raft ID (it lost its disk),
// must be removed first.
func (g *Group) AddLearner(ctx context.Context, m Member) error {
	what := "add learner " + m.Node
	return g.changeMembership(ctx, what, pb.ConfChangeAddLearnerNode, func() (Member, error) {
		if m.ID == 0 || m.Node == "" {
			return Member{}, fmt.Errorf("%s: a node ID and a Raft ID are required", what)
		}
		if id, ok := g.memberID(m.Node, false); ok && id != m.ID {
			return Member{}, fmt.Errorf("%s: it is a member with Raft ID %s already; remove that first", what, FormatRaftID(id))
		}
		return m, nil
	})
}

// Promote makes learner node a voter. Leader only. The caller promotes a learner once it
// has caught up (its Status().AppliedIndex close to the leader's CommitIndex), so the
// group's availability does not depend on a replica still copying the log.
func (g *Group) Promote(ctx context.Context, node string) error {
	return g.changeMembership(ctx, "promote "+node, pb.ConfChangeAddNode, g.member(node))
}

// RemoveServer removes node (voter or learner) from the group. Leader only. Removing the
// leader itself makes it step down once the change is applied.
func (g *Group) RemoveServer(ctx context.Context, node string) error {
	return g.changeMembership(ctx, "remove "+node, pb.ConfChangeRemoveNode, g.member(node))
}

// member returns a changeMembership target: node as the configuration knows it.
func (g *Group) member(node string) func() (Member, error) {
	return func() (Member, error) {
		id, ok := g.memberID(node, false)
		if !ok {
			return Member{}, fmt.Errorf("shard %d: %s is not a member", g.shard, node)
		}
		return Member{Node: node, ID: id}, nil
	}
}

// changeMembership proposes one change of the member target returns (called under mu) and
// waits until it is applied.
func (g *Group) changeMembership(ctx context.Context, what string, typ pb.ConfChangeType, target func() (Member, error)) error {
	ctx, cancel := context.WithTimeout(ctx, g.h.cfg.ApplyTimeout)
	defer cancel()
	g.mu.Lock()
	if err := g.leadingLocked(); err != nil {
		g.mu.Unlock()
		return fmt.Errorf("%s: %w", what, err)
	}
	if g.pendingConf || g.appliedTerm != g.term {
		g.mu.Unlock()
		return fmt.Errorf("%s shard %d: %w: an earlier membership change is still being applied", what, g.shard, ErrTimeout)
	}
	m, err := target()
	if err != nil {
		g.mu.Unlock()
		return err
	}
	// A new voter promised this leader nothing: quorums that include it are not bound by
	// the lease.
	g.revokeLease()
	id, w := g.newWaiter(false)
	cc := &pb.ConfChangeV2{
		Changes: []*pb.ConfChangeSingle{{Type: typ.Enum(), NodeId: new(m.ID)}},
		Context: append(binary.BigEndian.AppendUint64(nil, id), m.Node...),
	}
	if err := g.rn.ProposeConfChange(cc); err != nil {
		delete(g.waiters, id)
		err = g.proposeError(err)
		g.mu.Unlock()
		return fmt.Errorf("%s: %w", what, err)
	}
	w.term = g.rn.BasicStatus().GetTerm() // the entry's, as in flushProposals
	g.pendingConf = true
	g.mu.Unlock()
	g.h.signal()
	if _, err := g.await(ctx, id, w); err != nil {
		return fmt.Errorf("%s shard %d: %w", what, g.shard, err)
	}
	g.log.Info("Changed group membership", "change", what, "raftID", FormatRaftID(m.ID))
	return nil
}

// TransferLeadership hands leadership to the most up-to-date voter and returns once a
// new leader has taken over (or the attempt failed). Leader only.
func (g *Group) TransferLeadership(ctx context.Context) error {
	g.mu.Lock()
	if err := g.leadingLocked(); err != nil {
		g.mu.Unlock()
		return err
	}
	var best uint64
	var match uint64
	st := g.rn.Status()
	for _, id := range g.conf.GetVoters() {
		if pr, ok := st.Progress[id]; ok && id != g.h.id && (best == 0 || pr.Match > match) {
			best, match = id, pr.Match
		}
	}
	g.mu.Unlock()
	if best == 0 {
		return fmt.Errorf("transfer leadership of shard %d: no other voter", g.shard)
	}
	return g.transfer(ctx, best)
}

// TransferLeadershipTo hands leadership to voter node. Leader only.
func (g *Group) TransferLeadershipTo(ctx context.Context, node string) error {
	g.mu.Lock()
	id, ok := g.memberID(node, true)
	g.mu.Unlock()
	if !ok {
		return fmt.Errorf("transfer leadership of shard %d: %s is not a voter", g.shard, node)
	}
	return g.transfer(ctx, id)
}

func (g *Group) transfer(ctx context.Context, to uint64) error {
	ctx, cancel := context.WithTimeout(ctx, g.h.cfg.ApplyTimeout)
	defer cancel()
	g.mu.Lock()
	if err := g.leadingLocked(); err != nil {
		g.mu.Unlock()
		return err
	}
	if !slices.Contains(g.conf.GetVoters(), to) || to == g.h.id {
		g.mu.Unlock()
		return fmt.Errorf("transfer leadership of shard %d: %s is not another voter", g.shard, g.h.name(to))
	}
	g.revokeLease() // the target is elected at once, with the votes the lease counts on
	g.rn.TransferLeader(to)
	g.mu.Unlock()
	g.h.signal()
	for {
		g.mu.Lock()
		leader := g.leads()
		transferring := leader && g.rn.BasicStatus().LeadTransferee != 0
		changed := g.changed
		g.mu.Unlock()
		switch {
		case !leader:
			return nil
		case !transferring:
			// Raft gave up: the target did not catch up within an election timeout.
			return fmt.Errorf("transfer leadership of shard %d to %s: the target did not take over", g.shard, g.h.name(to))
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("transfer leadership of shard %d to %s: %w", g.shard, g.h.name(to), ctx.Err())
		case <-time.After(g.h.cfg.tick()): // Raft may give up without a change of leader
		}
	}
}

// Snapshot compacts the group's log now, up to its applied index.
func (g *Group) Snapshot() error {
	g.h.roundMu.Lock()
	defer g.h.roundMu.Unlock()
	if g.restoring.Load() {
		return nil // a snapshot is being restored: there is no log to compact yet
	}
	rw, ok := g.maybeCompact(true)
	if !ok {
		return nil
	}
	if err := g.h.writePoints([]raftlog.Write{rw}); err != nil {
		return fmt.Errorf("snapshot shard %d: %w", g.shard, err)
	}
	return nil
}

// Close stops the replica. Writes in flight fail with ErrUnknownOutcome. The data (engine
// and Raft state) is kept; a replica removed from its group deletes both
// (engine.DeleteShard and DeleteRaftState) after Close.
func (g *Group) Close() error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	g.failAll(errClosedInFlight)
	for _, f := range g.snapFiles {
		_ = os.Remove(f)
	}
	g.snapFiles = nil
	g.mu.Unlock()
	g.h.remove(g) // no round starts anything for g from here on
	g.bg.Wait()   // a restore under way finishes before the caller may delete the shard
	g.log.Info("Stopped raft group")
	return nil
}

// leadingLocked is nil if this replica is open and leads, else ErrClosed or a
// NotLeaderError. Under mu.
func (g *Group) leadingLocked() error {
	if g.closed {
		return ErrClosed
	}
	if !g.leads() {
		return g.notLeaderLocked()
	}
	return nil
}

// leads reports whether this replica led its group as of the last Ready. Under mu.
func (g *Group) leads() bool { return g.role == raft.StateLeader }

func (g *Group) notLeaderLocked() *NotLeaderError {
	return &NotLeaderError{Shard: g.shard, Leader: g.h.name(g.lead)}
}
