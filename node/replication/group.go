package replication

import (
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/torua/torua/node/raftlog"
	"github.com/torua/torua/shardmap"
)

// Raft message and log limits.
const (
	// maxSizePerMsg bounds the entries of one append message.
	maxSizePerMsg = 1 << 20
	// maxInflightMsgs bounds the append messages in flight to one follower.
	maxInflightMsgs = 256
	// maxUncommittedSize bounds the bytes a leader holds uncommitted; proposals beyond it
	// are refused (ErrNotProposed) until followers catch up.
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
	// appliedBytes is the data of the entries applied since snapPoint. Loop only.
	appliedBytes uint64
	// loadApplied is the index of the last load entry applied (cmdLoad), which the next
	// compaction drops from the log. Loop only.
	loadApplied uint64
	// points are snapshot points recorded by membership changes, for the loop to write
	// once the engine holds what they cover (Host.writePoints). Loop only.
	points []raftlog.Write
	// applied is the index of the last committed entry the loop has handled (applied or
	// skipped as already in the engine); dataApplied the engine's applied index.
	applied     atomic.Uint64
	dataApplied atomic.Uint64
	commit      atomic.Uint64
	// hardState is the hard state stored last (loop only: the storage's InitialState is
	// not safe beside its SetHardState), and voted whether it is not empty, for any reader.
	hardState *pb.HardState
	voted     atomic.Bool

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
	if legacy, err := h.store.LegacyRaftState(shard); err != nil {
		return nil, fmt.Errorf("open shard %d group: %w", shard, err)
	} else if legacy {
		return nil, fmt.Errorf("open shard %d group: its Raft state is in the engine, where earlier versions of Torua kept it; this version keeps it in the raft-log directory and cannot read the old layout; start the node on a new data directory", shard)
	}
	ms, stable, existing, err := loadStorage(h.rlog, shard)
	if err != nil {
		return nil, fmt.Errorf("open shard %d group: %w", shard, err)
	}
	st, err := h.store.ShardStats(shard)
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
	g.hardState = hs
	g.voted.Store(!raft.IsEmptyHardState(hs))
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

// tick advances the group's Raft clock. Loop only.
func (g *Group) tick() {
	g.mu.Lock()
	if !g.closed {
		g.rn.Tick()
	}
	g.mu.Unlock()
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
		st.Role = shardmap.RoleLeader
	case raft.StateCandidate, raft.StatePreCandidate:
		st.Role = shardmap.RoleCandidate
	default:
		st.Role = shardmap.RoleFollower
		if slices.Contains(g.conf.GetLearners(), g.h.id) {
			st.Role = shardmap.RoleLearner
		}
	}
	if g.closed {
		st.Role = shardmap.RoleShutdown
	}
	g.mu.Unlock()
	if s, err := g.h.store.ShardStats(g.shard); err == nil {
		st.Revision, st.Keys, st.Bytes = s.Revision, s.Keys, s.Bytes
	}
	return st
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
	return last > 0 || len(g.conf.GetVoters())+len(g.conf.GetLearners()) > 0 ||
		g.voted.Load() || g.bootstrapped
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
