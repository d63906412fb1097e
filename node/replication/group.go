package replication

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/torua/torua/node/engine"
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
	// ErrTimeout means Raft did not accept the request in time; nothing was proposed.
	ErrTimeout = errors.New("replication timeout")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("replication group closed")
	// ErrStaleData is returned by Open when the engine holds data of the shard but the
	// group has no Raft state: the data is left over from an earlier membership and would
	// make replay skip entries. The caller deletes the shard (engine.DeleteShard) first.
	ErrStaleData = errors.New("engine holds shard data without raft state")
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

// Config configures one Group. Zero durations and counts take the defaults of
// DefaultConfig.
type Config struct {
	// Shard is the shard the group replicates.
	Shard int
	// NodeID is this node's ID: its Raft server ID and address.
	NodeID string
	// Dir holds the group's Raft log and snapshots, conventionally <data>/raft/<shard>.
	Dir string
	// Engine holds the shard's data; the group is the only writer of the shard.
	Engine *engine.Engine
	// Mux carries the group's Raft traffic.
	Mux *Mux
	// Logger receives the group's own log lines; nil discards them.
	Logger *slog.Logger
	// RaftLogOutput and RaftLogLevel route the Raft library's logs (JSON lines); defaults
	// os.Stderr and "warn". Level "off" silences them.
	RaftLogOutput io.Writer
	RaftLogLevel  string

	// HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout and CommitTimeout are Raft's
	// timing (see raft.Config). Loopback tests use tens of milliseconds. The lease (how
	// long a leader that reaches no quorum stays leader) defaults to the heartbeat timeout,
	// not Raft's half of it: on a starved machine a leader otherwise steps down while its
	// followers are merely slow. Reads never rely on it (see readBarrier).
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	// CommitTimeout is how often an idle leader sends each follower the commit index
	// (hashicorp/raft's default, 50 ms): it bounds how far a follower's stale reads lag
	// when no writes arrive. 5 ms cost about 4,000 empty AppendEntries per second for 16
	// groups of 3, and a quarter of the read throughput of a 2-core machine.
	CommitTimeout time.Duration
	// ApplyTimeout bounds how long a write, barrier or membership change waits for Raft
	// to accept it (not to commit it).
	ApplyTimeout time.Duration
	// NoReadLease makes every linearizable read confirm leadership with a heartbeat round
	// (read index) instead of relying on a lease (see readBarrier).
	NoReadLease bool
	// MaxAppendEntries bounds the entries per AppendEntries RPC and per log append.
	MaxAppendEntries int
	// SnapshotThreshold, SnapshotInterval and TrailingLogs control log compaction.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	// SnapshotRetain is the number of snapshots kept on disk.
	SnapshotRetain int
	// LogStore picks where the Raft log lives: LogStoreEngine (default) or LogStoreBolt.
	LogStore string
}

// RestartQuietPeriod is how long a node that restarts with Raft state on disk must answer
// no Raft traffic (Mux.QuietUntil): before it stopped it may have answered a leader's
// append, which binds it to vote for no one else for a heartbeat timeout (the leader's
// read lease counts on that), and it no longer knows whom or when. Zero with NoReadLease.
func (c Config) RestartQuietPeriod() time.Duration {
	c = c.withDefaults()
	if c.NoReadLease {
		return 0
	}
	return 2 * c.HeartbeatTimeout
}

// logCacheSize is how many recent log entries each group keeps in memory (raft.LogCache):
// replication to followers that keep up reads them from there, not from the engine.
const logCacheSize = 1024

// Raft log stores (Config.LogStore).
const (
	// LogStoreEngine keeps the log in the node's engine: every group's appends share
	// Pebble's WAL fsyncs.
	LogStoreEngine = "engine"
	// LogStoreBolt keeps each group's log in its own bbolt file, <Dir>/raft.db, laid out
	// as raft-boltdb does; kept for comparison (docs/benchmarks.md).
	LogStoreBolt = "bolt"
)

// logStore is a group's Raft log and stable store.
type logStore interface {
	raft.LogStore
	raft.StableStore
	Close() error
}

// DefaultConfig returns production defaults for everything but the identity fields.
func DefaultConfig() Config {
	return Config{
		HeartbeatTimeout:   time.Second,
		ElectionTimeout:    time.Second,
		LeaderLeaseTimeout: time.Second,
		CommitTimeout:      50 * time.Millisecond,
		ApplyTimeout:       5 * time.Second,
		MaxAppendEntries:   64,
		SnapshotThreshold:  8192,
		SnapshotInterval:   2 * time.Minute,
		TrailingLogs:       10240,
		SnapshotRetain:     2,
		RaftLogLevel:       "warn",
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	set := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	set(&c.HeartbeatTimeout, d.HeartbeatTimeout)
	set(&c.ElectionTimeout, d.ElectionTimeout)
	set(&c.LeaderLeaseTimeout, d.LeaderLeaseTimeout)
	set(&c.CommitTimeout, d.CommitTimeout)
	set(&c.ApplyTimeout, d.ApplyTimeout)
	// Raft refuses a lease longer than the heartbeat timeout.
	c.LeaderLeaseTimeout = min(c.LeaderLeaseTimeout, c.HeartbeatTimeout)
	set(&c.SnapshotInterval, d.SnapshotInterval)
	if c.MaxAppendEntries == 0 {
		c.MaxAppendEntries = d.MaxAppendEntries
	}
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = d.SnapshotThreshold
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = d.TrailingLogs
	}
	if c.SnapshotRetain == 0 {
		c.SnapshotRetain = d.SnapshotRetain
	}
	if c.RaftLogLevel == "" {
		c.RaftLogLevel = d.RaftLogLevel
	}
	if c.RaftLogOutput == nil {
		c.RaftLogOutput = os.Stderr
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Group is this node's replica of one shard's Raft group. All methods are safe for
// concurrent use. It satisfies the node package's Replica interface.
type Group struct {
	cfg   Config
	log   *slog.Logger
	fsm   *fsm
	raft  *raft.Raft
	trans *Transport
	store logStore

	// readyTerm is the term in which this replica, as leader, saw a barrier of its own
	// term applied: from then on its state holds every entry committed before the term,
	// and a read that confirms leadership in that same term is linearizable.
	readyTerm atomic.Uint64
	readyMu   sync.Mutex

	// lease lets linearizable reads skip the heartbeat round until it ends (see readBarrier);
	// leaseMu serialises its changes, and leaseGen, bumped by revokeLease, keeps a
	// confirmation that started before a revocation from granting a lease after it.
	lease    atomic.Pointer[readLease]
	leaseMu  sync.Mutex
	leaseGen uint64
	renewing atomic.Bool

	notify    chan bool
	stop      chan struct{}
	watchDone chan struct{}
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// Open starts this node's replica of cfg.Shard. A replica with Raft state on disk rejoins
// its group; a new one stays idle until Bootstrap (a new group) or until the leader adds it
// (AddLearner).
func Open(cfg Config) (*Group, error) {
	if cfg.Engine == nil || cfg.Mux == nil || cfg.NodeID == "" || cfg.Dir == "" {
		return nil, fmt.Errorf("open shard %d group: Engine, Mux, NodeID and Dir are required", cfg.Shard)
	}
	if cfg.LogStore != "" && cfg.LogStore != LogStoreEngine && cfg.LogStore != LogStoreBolt {
		return nil, fmt.Errorf("open shard %d group: log store %q unknown (want %q or %q)", cfg.Shard, cfg.LogStore, LogStoreEngine, LogStoreBolt)
	}
	cfg = cfg.withDefaults()
	log := cfg.Logger.With("component", "replication", "shard", cfg.Shard)
	hlog := hclog.New(&hclog.LoggerOptions{
		Name:       fmt.Sprintf("raft.shard-%d", cfg.Shard),
		Level:      hclog.LevelFromString(cfg.RaftLogLevel),
		Output:     cfg.RaftLogOutput,
		JSONFormat: true,
	})
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("open shard %d group: %w", cfg.Shard, err)
	}
	var store logStore = &engineStore{eng: cfg.Engine, shard: cfg.Shard}
	if cfg.LogStore == LogStoreBolt {
		bs, err := openBoltStore(filepath.Join(cfg.Dir, "raft.db"))
		if err != nil {
			return nil, fmt.Errorf("open shard %d group: %w", cfg.Shard, err)
		}
		store = bs
	}
	g := &Group{cfg: cfg, log: log, store: store, notify: make(chan bool, 1),
		stop: make(chan struct{}), watchDone: make(chan struct{})}
	if err := g.start(hlog); err != nil {
		_ = store.Close()
		return nil, fmt.Errorf("open shard %d group: %w", cfg.Shard, err)
	}
	go g.watchLeadership()
	return g, nil
}

func (g *Group) start(hlog hclog.Logger) error {
	cfg := g.cfg
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, cfg.SnapshotRetain, hlog)
	if err != nil {
		return err
	}
	if g.fsm, err = newFSM(cfg.Shard, cfg.Engine, g.log); err != nil {
		return err
	}
	existing, err := raft.HasExistingState(g.store, g.store, snaps)
	if err != nil {
		return err
	}
	if !existing {
		st, err := cfg.Engine.ShardStats(cfg.Shard)
		if err != nil {
			return err
		}
		if st.AppliedIndex != 0 || st.Keys != 0 || st.Revision != 0 {
			return fmt.Errorf("%w (applied index %d, %d keys)", ErrStaleData, st.AppliedIndex, st.Keys)
		}
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.Logger = hlog
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = cfg.CommitTimeout
	rc.MaxAppendEntries = cfg.MaxAppendEntries
	rc.BatchApplyCh = true
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	rc.NotifyCh = g.notify
	rc.NoLegacyTelemetry = true
	// If the engine already holds everything up to the latest snapshot, restoring it on
	// start would only rewrite the shard with older data; replay from the log suffices.
	list, err := snaps.List()
	if err != nil {
		return err
	}
	if len(list) > 0 && g.fsm.applied.Load() >= list[0].Index {
		rc.NoSnapshotRestoreOnStart = true
	}
	restore := len(list) > 0 && !rc.NoSnapshotRestoreOnStart
	if g.trans, err = cfg.Mux.Transport(cfg.Shard, hlog); err != nil {
		return err
	}
	logs, err := raft.NewLogCache(logCacheSize, g.store)
	if err != nil {
		_ = g.trans.Close()
		return err
	}
	if g.raft, err = raft.NewRaft(rc, g.fsm, logs, g.store, snaps, g.trans); err != nil {
		_ = g.trans.Close()
		return err
	}
	g.log.Info("Started raft group", "node", cfg.NodeID, "existingState", existing,
		"appliedIndex", g.fsm.applied.Load(), "restoreSnapshot", restore)
	return nil
}

// watchLeadership makes a new leader ready for linearizable reads at once, instead of on
// its first read.
func (g *Group) watchLeadership() {
	defer close(g.watchDone)
	for {
		select {
		case leader := <-g.notify:
			if leader {
				ctx, cancel := context.WithTimeout(context.Background(), g.cfg.ApplyTimeout)
				if err := g.ensureReadReady(ctx); err != nil {
					g.log.Debug("Leader not yet ready for reads", "err", err)
				}
				cancel()
			}
		case <-g.stop:
			return
		}
	}
}

// Bootstrap makes this replica the first member of a new group whose voters are the given
// node IDs (this node among them). Every initial voter may call it with the same list. It
// is a no-op on a replica that already has Raft state.
//
// NB: call it only for a shard that has never existed; a replica added to an existing
// group must wait for the leader's AddLearner instead, or it would found a second group.
func (g *Group) Bootstrap(voters []string) error {
	servers := make([]raft.Server, 0, len(voters))
	for _, id := range voters {
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(id), Address: raft.ServerAddress(id)})
	}
	err := g.raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error()
	if errors.Is(err, raft.ErrCantBootstrap) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("bootstrap shard %d: %w", g.cfg.Shard, err)
	}
	return nil
}

// Write replicates op and returns once it is committed and applied on this (leader)
// replica, with the engine's result. A failed precondition is in the Result, not the
// error. Concurrent writes share log appends, AppendEntries RPCs and engine batches.
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
	timeout, err := g.timeout(ctx)
	if err != nil {
		return nil, err
	}
	f := g.raft.Apply(cmd, timeout)
	if err := waitFuture(ctx, f); err != nil {
		return nil, g.proposalError("write", err)
	}
	r, ok := f.Response().(applyResult)
	if !ok || len(r.results) != len(ops) {
		// NB: only possible if the entry was skipped as already applied, which cannot
		// happen to an entry proposed by this process.
		return nil, fmt.Errorf("write shard %d: %w: no result for entry %d", g.cfg.Shard, ErrUnknownOutcome, f.Index())
	}
	return r.results, nil
}

// Get reads key. With stale false the read is linearizable (see readBarrier);
// with stale true it reads this replica's applied state, which may lag.
func (g *Group) Get(ctx context.Context, key []byte, stale bool) (engine.Value, error) {
	if stale {
		return g.cfg.Engine.Get(g.cfg.Shard, key)
	}
	var v engine.Value
	err := g.linearizable(ctx, func() (err error) {
		v, err = g.cfg.Engine.Get(g.cfg.Shard, key)
		return err
	})
	return v, err
}

// List returns up to limit keys with prefix after after, with Get's consistency.
func (g *Group) List(ctx context.Context, prefix, after []byte, limit int, stale bool) ([][]byte, bool, error) {
	if stale {
		return g.cfg.Engine.List(g.cfg.Shard, prefix, after, limit)
	}
	var keys [][]byte
	var more bool
	err := g.linearizable(ctx, func() (err error) {
		keys, more, err = g.cfg.Engine.List(g.cfg.Shard, prefix, after, limit)
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
	if g.raft.State() != raft.Leader || g.raft.CurrentTerm() != term {
		return g.notLeader()
	}
	return nil
}

// readLease is a period in which no other replica can become leader of term's successor.
type readLease struct {
	term  uint64
	until time.Time // monotonic
}

// leaseDuration is how long after a heartbeat round began its quorum stays bound to this
// leader: a follower that answered it will not vote for another candidate until it has
// heard from no leader for a heartbeat timeout, and then only after its election timer
// fired. A tenth is kept back for clock rate differences.
func (g *Group) leaseDuration() time.Duration { return g.cfg.HeartbeatTimeout * 9 / 10 }

// readBarrier returns once a read of this replica's engine is linearizable, with the term
// it leads: it is the leader, has applied every entry committed before its term
// (ensureReadReady), and either holds a read lease or a quorum confirmed its leadership
// after the read arrived (raft.VerifyLeader, one heartbeat round; concurrent reads share
// rounds). Every write acknowledged before the read began was applied here before being
// acknowledged, or committed before this term.
//
// The lease: the quorum that committed an entry proposed at t is bound to this leader
// until t + leaseDuration (see there), so until then no other leader can have committed
// anything, and a read needs no round of its own (renewLease); reads renew the lease in
// the background once half of it has passed. What can end a leadership sooner is revoked
// first: a leadership transfer (its target is elected at once) and a membership change.
// A follower that restarts forgets whom it answered, so a restarted node answers no Raft
// traffic for two heartbeat timeouts (Mux's quiet period). NoReadLease turns leases off:
// each read then costs a heartbeat round trip but stays correct under any clock drift.
func (g *Group) readBarrier(ctx context.Context) (uint64, error) {
	if g.closed.Load() {
		return 0, ErrClosed
	}
	for range 3 {
		term := g.raft.CurrentTerm()
		if g.raft.State() != raft.Leader {
			return 0, g.notLeader()
		}
		if g.readyTerm.Load() != term {
			if err := g.ensureReadReady(ctx); err != nil {
				return 0, err
			}
		}
		if l := g.lease.Load(); l != nil && l.term == term && g.readyTerm.Load() == term {
			if left := time.Until(l.until); left > 0 {
				if left < g.leaseDuration()/2 {
					g.renewLease(term)
				}
				return term, nil
			}
		}
		if err := g.confirmLeadership(ctx, term); err != nil {
			return 0, err
		}
		if g.raft.CurrentTerm() == term && g.readyTerm.Load() == term {
			return term, nil
		}
	}
	return 0, g.notLeader()
}

// confirmLeadership runs a heartbeat round for a read and, unless leases are off, starts
// renewing the lease.
func (g *Group) confirmLeadership(ctx context.Context, term uint64) error {
	if err := waitFuture(ctx, g.raft.VerifyLeader()); err != nil {
		return g.readError(err)
	}
	g.renewLease(term)
	return nil
}

// renewLease, once at a time and in the background, commits a barrier entry in term and
// grants a lease from the moment it was proposed. A barrier and not a heartbeat round:
// raft.VerifyLeader may count a heartbeat sent before it was called, so its answers bind
// followers from an unknown time; the acknowledgements that commit an entry were all
// sent after the entry existed.
func (g *Group) renewLease(term uint64) {
	if g.cfg.NoReadLease || !g.renewing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer g.renewing.Store(false)
		g.leaseMu.Lock()
		gen := g.leaseGen
		g.leaseMu.Unlock()
		start := time.Now()
		if err := g.raft.Barrier(g.cfg.HeartbeatTimeout).Error(); err != nil || g.raft.CurrentTerm() != term {
			return
		}
		until := start.Add(g.leaseDuration())
		g.leaseMu.Lock()
		defer g.leaseMu.Unlock()
		if l := g.lease.Load(); g.leaseGen == gen && (l == nil || l.term != term || l.until.Before(until)) {
			g.lease.Store(&readLease{term: term, until: until})
		}
	}()
}

// revokeLease ends the read lease, and any confirmation in flight grants none: called
// before whatever could seat another leader while the lease runs.
func (g *Group) revokeLease() {
	g.leaseMu.Lock()
	g.leaseGen++
	g.lease.Store(nil)
	g.leaseMu.Unlock()
}

// ensureReadReady commits and applies a barrier in the current term unless one already
// has been.
func (g *Group) ensureReadReady(ctx context.Context) error {
	g.readyMu.Lock()
	defer g.readyMu.Unlock()
	term := g.raft.CurrentTerm()
	if g.readyTerm.Load() == term {
		return nil
	}
	timeout, err := g.timeout(ctx)
	if err != nil {
		return err
	}
	if err := waitFuture(ctx, g.raft.Barrier(timeout)); err != nil {
		return g.readError(err)
	}
	if g.raft.CurrentTerm() == term {
		g.readyTerm.Store(term)
	}
	return nil
}

// Status describes the replica for /internal/status.
func (g *Group) Status() shardmap.ShardStatus {
	st := shardmap.ShardStatus{
		Shard:        g.cfg.Shard,
		Term:         g.raft.CurrentTerm(),
		CommitIndex:  g.raft.CommitIndex(),
		AppliedIndex: g.fsm.applied.Load(),
	}
	_, leader := g.raft.LeaderWithID()
	st.Leader = string(leader)
	learner := false
	if m, err := g.Membership(); err == nil {
		st.Voters, st.Learners, st.ConfigIndex = m.Voters, m.Learners, m.Index
		learner = slices.Contains(m.Learners, g.cfg.NodeID)
	}
	switch g.raft.State() {
	case raft.Leader:
		st.Role = "leader"
	case raft.Candidate:
		st.Role = "candidate"
	case raft.Follower:
		st.Role = "follower"
		if learner {
			st.Role = "learner"
		}
	default:
		st.Role = "shutdown"
	}
	if s, err := g.cfg.Engine.ShardStats(g.cfg.Shard); err == nil {
		st.Revision, st.Keys, st.Bytes = s.Revision, s.Keys, s.Bytes
	}
	return st
}

// Membership is a group's configuration as one replica knows it.
type Membership struct {
	// Voters and Learners are node IDs in configuration order.
	Voters, Learners []string
	// Index is the log index of the configuration; it is committed once the group's
	// commit index reaches it.
	Index uint64
}

// Contains reports whether id is a voter or a learner.
func (m Membership) Contains(id string) bool {
	return slices.Contains(m.Voters, id) || slices.Contains(m.Learners, id)
}

// Membership returns the latest configuration this replica knows (possibly not yet
// committed; compare Index with CommitIndex).
func (g *Group) Membership() (Membership, error) {
	f := g.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return Membership{}, fmt.Errorf("shard %d configuration: %w", g.cfg.Shard, err)
	}
	m := Membership{Index: f.Index()}
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			m.Voters = append(m.Voters, string(s.ID))
		} else {
			m.Learners = append(m.Learners, string(s.ID))
		}
	}
	return m, nil
}

// Term is the current Raft term as this replica knows it.
func (g *Group) Term() uint64 { return g.raft.CurrentTerm() }

// CommitIndex is the highest log index this replica knows to be committed.
func (g *Group) CommitIndex() uint64 { return g.raft.CommitIndex() }

// AppliedIndex is the index of the last entry applied to the engine.
func (g *Group) AppliedIndex() uint64 { return g.fsm.applied.Load() }

// HasState reports whether the replica holds Raft state: it founded the group, or a
// leader has sent it a log entry or a snapshot. A replica without state knows nothing of
// the group and may be discarded without losing anything.
func (g *Group) HasState() bool {
	if g.raft.LastIndex() > 0 {
		return true
	}
	m, err := g.Membership()
	return err == nil && len(m.Voters)+len(m.Learners) > 0
}

// Leader returns the leader's node ID as this replica knows it, "" if unknown.
func (g *Group) Leader() string {
	_, id := g.raft.LeaderWithID()
	return string(id)
}

// IsLeader reports whether this replica currently believes it leads the group.
func (g *Group) IsLeader() bool { return g.raft.State() == raft.Leader }

// AddLearner adds node id to the group as a non-voter, which receives the log (or a
// snapshot) but does not count in quorums. Leader only. Raft applies membership changes
// one at a time; the caller adds, promotes or removes one server and waits for it.
func (g *Group) AddLearner(ctx context.Context, id string) error {
	return g.changeMembership(ctx, "add learner "+id, func(t time.Duration) raft.IndexFuture {
		return g.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(id), 0, t)
	})
}

// Promote makes learner id a voter. Leader only. The caller promotes a learner once it has
// caught up (its Status().AppliedIndex close to the leader's CommitIndex), so the group's
// availability does not depend on a replica still copying the log.
func (g *Group) Promote(ctx context.Context, id string) error {
	return g.changeMembership(ctx, "promote "+id, func(t time.Duration) raft.IndexFuture {
		return g.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(id), 0, t)
	})
}

// RemoveServer removes node id (voter or learner) from the group. Leader only. Removing the
// leader itself makes it step down once the change commits.
func (g *Group) RemoveServer(ctx context.Context, id string) error {
	return g.changeMembership(ctx, "remove "+id, func(t time.Duration) raft.IndexFuture {
		return g.raft.RemoveServer(raft.ServerID(id), 0, t)
	})
}

func (g *Group) changeMembership(ctx context.Context, what string, start func(time.Duration) raft.IndexFuture) error {
	timeout, err := g.timeout(ctx)
	if err != nil {
		return err
	}
	// A new voter promised this leader nothing: quorums that include it are not bound
	// by the lease.
	g.revokeLease()
	if err := waitFuture(ctx, start(timeout)); err != nil {
		return fmt.Errorf("%s: %w", what, g.proposalError("membership change", err))
	}
	g.log.Info("Changed group membership", "change", what)
	return nil
}

// TransferLeadership hands leadership to the most up-to-date voter and returns once that
// voter has taken over (or the attempt failed). Leader only.
func (g *Group) TransferLeadership(ctx context.Context) error {
	g.revokeLease() // the target is elected at once, with the votes the lease counts on
	return g.transfer(ctx, g.raft.LeadershipTransfer())
}

// TransferLeadershipTo hands leadership to voter id. Leader only.
func (g *Group) TransferLeadershipTo(ctx context.Context, id string) error {
	g.revokeLease()
	return g.transfer(ctx, g.raft.LeadershipTransferToServer(raft.ServerID(id), raft.ServerAddress(id)))
}

func (g *Group) transfer(ctx context.Context, f raft.Future) error {
	if err := waitFuture(ctx, f); err != nil {
		if errors.Is(err, raft.ErrNotLeader) {
			return g.notLeader()
		}
		return fmt.Errorf("transfer leadership of shard %d: %w", g.cfg.Shard, err)
	}
	return nil
}

// Snapshot takes a Raft snapshot now and compacts the log behind it.
func (g *Group) Snapshot() error {
	if err := g.raft.Snapshot().Error(); err != nil {
		return fmt.Errorf("snapshot shard %d: %w", g.cfg.Shard, err)
	}
	return nil
}

// Close stops the replica: Raft, its transport and its log. Writes in flight fail with
// ErrUnknownOutcome. The data (engine and Raft state) is kept; a replica removed from
// its group deletes both (engine.DeleteShard and Dir) after Close.
func (g *Group) Close() error {
	g.closeOnce.Do(func() {
		g.closed.Store(true)
		// Close the transport before waiting for Raft's goroutines: one blocked on a peer
		// that does not answer would otherwise hold the shutdown until its RPC timeout.
		f := g.raft.Shutdown()
		terr := g.trans.Close()
		err := f.Error()
		close(g.stop)
		<-g.watchDone
		g.closeErr = errors.Join(err, terr, g.store.Close())
		g.log.Info("Stopped raft group")
	})
	return g.closeErr
}

// timeout is the time Raft may take to accept a request: ApplyTimeout, or less if ctx
// ends sooner.
func (g *Group) timeout(ctx context.Context) (time.Duration, error) {
	if g.closed.Load() {
		return 0, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	t := g.cfg.ApplyTimeout
	if dl, ok := ctx.Deadline(); ok {
		t = min(t, time.Until(dl))
	}
	if t <= 0 {
		return 0, context.DeadlineExceeded
	}
	return t, nil
}

func (g *Group) notLeader() error {
	return &NotLeaderError{Shard: g.cfg.Shard, Leader: g.Leader()}
}

// proposalError maps the error of a proposal (write, membership change) to the package's
// errors, distinguishing "nothing happened" from "may have happened".
func (g *Group) proposalError(what string, err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return g.notLeader()
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%s shard %d: %w", what, g.cfg.Shard, ErrTimeout)
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%s shard %d: %w: %w", what, g.cfg.Shard, ErrUnknownOutcome, ErrClosed)
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s shard %d: %w: %w", what, g.cfg.Shard, ErrUnknownOutcome, err)
	default:
		return fmt.Errorf("%s shard %d: %w", what, g.cfg.Shard, err)
	}
}

// readError maps the error of a read barrier; reads change nothing, so every failure is
// safe to retry.
func (g *Group) readError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return g.notLeader()
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrClosed
	case errors.Is(err, raft.ErrEnqueueTimeout), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("read shard %d: %w: %w", g.cfg.Shard, ErrTimeout, err)
	default:
		return fmt.Errorf("read shard %d: %w", g.cfg.Shard, err)
	}
}

// waitFuture waits for f, or for ctx to end (f then completes on its own).
func waitFuture(ctx context.Context, f raft.Future) error {
	if ctx.Done() == nil {
		return f.Error()
	}
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
