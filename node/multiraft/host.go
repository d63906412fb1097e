package multiraft

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/torua/torua/node/engine"
)

// Errors.
var (
	ErrNotLeader      = errors.New("not the shard's leader")
	ErrUnknownOutcome = errors.New("outcome unknown")
	ErrClosed         = errors.New("raft host closed")
)

// Config configures a Host.
type Config struct {
	// NodeID is this node's name; its Raft ID is derived from it (RaftID).
	NodeID string
	// Engine holds every group's log and data.
	Engine *engine.Engine
	// Listener receives the Raft traffic of peers.
	Listener net.Listener
	// Resolve returns the host:port of a node's Raft listener.
	Resolve func(node string) (string, error)
	// Tick is the Raft clock; a group's heartbeat is HeartbeatTicks ticks, its election
	// timeout ElectionTicks (randomised up to twice that by the library).
	Tick                          time.Duration
	HeartbeatTicks, ElectionTicks int
	// CompactEvery and KeepEntries control log compaction: once a group's log holds
	// CompactEvery applied entries it is cut back to the last KeepEntries.
	CompactEvery, KeepEntries uint64
	Logger                    *slog.Logger
}

// StateMachine is what a group applies its committed entries to.
//
// NB: the host calls Apply and Restore from its loop goroutine only.
type StateMachine interface {
	// Applied is the index of the last entry whose effects the state machine holds.
	Applied() uint64
	// Apply applies the commands of committed entries, in log order, the last of which
	// has index last, and returns one result per command. Entries at or below Applied are
	// not passed. It panics rather than return on an entry it cannot apply.
	Apply(cmds [][]byte, last uint64) []any
	// Snapshot writes the state machine's current state.
	Snapshot(w *bytes.Buffer) error
	// Restore replaces the state with a Snapshot's output.
	Restore(data []byte) error
}

// RaftID is the Raft ID of node name: a hash of it (never 0).
func RaftID(name string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	if id := h.Sum64(); id != 0 {
		return id
	}
	return 1
}

// Host runs every Raft group of a node in one loop: each round it collects every group's
// Ready, stores all their entries and hard states in one engine batch with one fsync,
// sends one frame of messages per peer, and applies what each group committed.
type Host struct {
	cfg   Config
	id    uint64
	log   *slog.Logger
	trans *transport

	mu     sync.RWMutex
	groups map[int]*Group
	names  map[uint64]string

	sync      *syncer
	wake      chan struct{}
	stop      chan struct{}
	done      chan struct{}
	syncDone  chan struct{}
	closeOnce sync.Once
	closed    atomic.Bool

	// Rounds counts loop rounds that did work; Syncs those that fsynced.
	Rounds, Syncs, SyncNanos, Synced atomic.Uint64
}

// NewHost starts a host with no groups.
func NewHost(cfg Config) (*Host, error) {
	if cfg.Engine == nil || cfg.NodeID == "" || cfg.Listener == nil || cfg.Resolve == nil {
		return nil, errors.New("multiraft: NodeID, Engine, Listener and Resolve are required")
	}
	if cfg.Tick == 0 {
		cfg.Tick = 100 * time.Millisecond
	}
	if cfg.HeartbeatTicks == 0 {
		cfg.HeartbeatTicks = 1
	}
	if cfg.ElectionTicks == 0 {
		cfg.ElectionTicks = 10
	}
	if cfg.CompactEvery == 0 {
		cfg.CompactEvery = 8192
	}
	if cfg.KeepEntries == 0 {
		cfg.KeepEntries = 1024
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Host{cfg: cfg, id: RaftID(cfg.NodeID), log: cfg.Logger.With("component", "multiraft"),
		groups: map[int]*Group{}, names: map[uint64]string{},
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	h.names[h.id] = cfg.NodeID
	h.trans = newTransport(h)
	h.sync = &syncer{h: h, kick: make(chan struct{}, 1)}
	h.syncDone = make(chan struct{})
	go h.sync.run(h.stop, h.syncDone)
	go h.run()
	return h, nil
}

// learn records name as the node with Raft ID RaftID(name).
func (h *Host) learn(name string) uint64 {
	id := RaftID(name)
	h.mu.Lock()
	h.names[id] = name
	h.mu.Unlock()
	return id
}

// name returns the node name of Raft ID id, "" if unknown.
func (h *Host) name(id uint64) string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.names[id]
}

func (h *Host) group(shard int) *Group {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.groups[shard]
}

// signal wakes the loop.
func (h *Host) signal() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Open starts this node's replica of shard over sm.
func (h *Host) Open(shard int, sm StateMachine) (*Group, error) {
	ms, existing, err := loadStorage(h.cfg.Engine, shard)
	if err != nil {
		return nil, err
	}
	g := &Group{h: h, shard: shard, sm: sm, ms: ms, waiters: map[uint64]*waiter{}, reads: map[uint64]*readBatch{}}
	_, g.conf, _ = ms.InitialState()
	last, _ := ms.LastIndex()
	g.lastStored = last
	snap, _ := ms.Snapshot()
	applied := max(sm.Applied(), snap.GetMetadata().GetIndex())
	hs, _, _ := ms.InitialState()
	applied = min(applied, max(hs.GetCommit(), snap.GetMetadata().GetIndex()))
	g.applied.Store(applied)
	rn, err := raft.NewRawNode(&raft.Config{
		ID:                        h.id,
		ElectionTick:              h.cfg.ElectionTicks,
		HeartbeatTick:             h.cfg.HeartbeatTicks,
		Storage:                   ms,
		Applied:                   applied,
		MaxSizePerMsg:             1 << 20,
		MaxInflightMsgs:           256,
		CheckQuorum:               true,
		PreVote:                   true,
		ReadOnlyOption:            raft.ReadOnlySafe,
		AsyncStorageWrites:        true,
		DisableProposalForwarding: true,
		StepDownOnRemoval:         true,
		Logger:                    raftLogger{h.log.With("shard", shard)},
	})
	if err != nil {
		return nil, fmt.Errorf("open shard %d: %w", shard, err)
	}
	g.rn = rn
	h.mu.Lock()
	if _, dup := h.groups[shard]; dup {
		h.mu.Unlock()
		return nil, fmt.Errorf("open shard %d: already open", shard)
	}
	h.groups[shard] = g
	h.mu.Unlock()
	h.log.Info("Opened raft group", "shard", shard, "existingState", existing, "applied", applied)
	return g, nil
}

// Close stops the loop and the transport.
func (h *Host) Close() error {
	h.closeOnce.Do(func() {
		h.closed.Store(true)
		close(h.stop)
		<-h.done
		<-h.syncDone
		h.trans.close()
		h.mu.RLock()
		for _, g := range h.groups {
			g.mu.Lock()
			g.failAll(ErrClosed)
			g.mu.Unlock()
		}
		h.mu.RUnlock()
	})
	return nil
}

// run is the node's Raft loop.
func (h *Host) run() {
	defer close(h.done)
	ticker := time.NewTicker(h.cfg.Tick)
	defer ticker.Stop()
	var groups []*Group
	for {
		tick := false
		select {
		case <-h.stop:
			return
		case <-ticker.C:
			tick = true
		case <-h.wake:
		}
		// Let the proposers, receivers and the syncer that woke the loop queue more
		// work first: fewer, fuller rounds.
		runtime.Gosched()
		groups = groups[:0]
		h.mu.RLock()
		for _, g := range h.groups {
			groups = append(groups, g)
		}
		h.mu.RUnlock()
		if tick {
			for _, g := range groups {
				g.mu.Lock()
				g.rn.Tick()
				g.mu.Unlock()
			}
		}
		for h.round(groups) {
			select {
			case <-h.stop:
				return
			default:
			}
		}
	}
}

// local is a message of a group's to this node's storage or to itself.
type local struct {
	g *Group
	m *pb.Message
}

// round handles every group's Ready once; it reports whether any group had one.
//
// Raft runs with asynchronous storage writes: a Ready's log appends and hard state come
// as a message to the "append thread", whose responses (the acknowledgements that count
// this node's copy, to the leader or to itself) may go out only once the append is
// durable. The round writes every group's appends in one engine batch, unsynced, and
// hands the responses to the syncer, which fsyncs the WAL once for everything written
// while it was busy and then delivers them. The loop goes on meanwhile: sending, applying
// and stepping never wait for the disk.
func (h *Host) round(groups []*Group) bool {
	var rds []local
	var out []outMsg
	var writes []engine.RaftWrite
	var durable []local // responses to deliver once the round's writes are synced
	var applies []local
	for _, g := range groups {
		g.mu.Lock()
		g.startReads()
		if !g.rn.HasReady() {
			g.mu.Unlock()
			continue
		}
		rd := g.rn.Ready()
		if rd.SoftState != nil {
			g.softStateChanged(rd.SoftState)
		}
		g.readStates(rd.ReadStates)
		g.mu.Unlock()
		rds = append(rds, local{g: g})
		for _, m := range rd.Messages {
			switch m.GetTo() {
			case raft.LocalAppendThread:
				rw, ok := g.storeAppend(m)
				if ok {
					writes = append(writes, rw)
				}
				for _, r := range m.GetResponses() {
					durable = append(durable, local{g: g, m: r})
				}
			case raft.LocalApplyThread:
				applies = append(applies, local{g: g, m: m})
			default:
				out = append(out, outMsg{shard: g.shard, m: m})
			}
		}
	}
	if len(rds) == 0 {
		return false
	}
	h.Rounds.Add(1)
	h.trans.send(out)
	if len(writes) > 0 {
		if err := h.cfg.Engine.WriteRaft(writes, false); err != nil {
			// NB: the round's entries may or may not be stored; going on could
			// acknowledge what is not. Stop loudly.
			panic(fmt.Sprintf("multiraft: store raft state: %v", err))
		}
	}
	if len(durable) > 0 {
		h.sync.add(durable)
	}
	var compact []engine.RaftWrite
	for _, a := range applies {
		a.g.apply(a.m.GetEntries())
		h.deliver(a.g, a.m.GetResponses())
		if rw, ok := a.g.maybeCompact(); ok {
			compact = append(compact, rw)
		}
	}
	if len(compact) > 0 {
		if err := h.cfg.Engine.WriteRaft(compact, false); err != nil {
			h.log.Error("Compacting raft logs failed", "err", err)
		}
	}
	return true
}

// deliver steps responses addressed to this node into g and sends the others.
func (h *Host) deliver(g *Group, msgs []*pb.Message) {
	var out []outMsg
	g.mu.Lock()
	for _, m := range msgs {
		if m.GetTo() == h.id {
			_ = g.rn.Step(m)
		} else {
			out = append(out, outMsg{shard: g.shard, m: m})
		}
	}
	g.mu.Unlock()
	h.trans.send(out)
}

// syncer fsyncs the engine's WAL for the loop and then delivers the responses that waited
// for it.
type syncer struct {
	h       *Host
	mu      sync.Mutex
	pending []local
	kick    chan struct{}
}

func (s *syncer) add(l []local) {
	s.mu.Lock()
	s.pending = append(s.pending, l...)
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *syncer) run(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for {
		select {
		case <-stop:
			return
		case <-s.kick:
		}
		s.mu.Lock()
		batch := s.pending
		s.pending = nil
		s.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		t0 := time.Now()
		if err := s.h.cfg.Engine.SyncWAL(); err != nil {
			panic(fmt.Sprintf("multiraft: sync raft state: %v", err))
		}
		s.h.SyncNanos.Add(uint64(time.Since(t0)))
		s.h.Syncs.Add(1)
		s.h.Synced.Add(uint64(len(batch)))
		for i := 0; i < len(batch); {
			j := i
			for j < len(batch) && batch[j].g == batch[i].g {
				j++
			}
			msgs := make([]*pb.Message, 0, j-i)
			for _, l := range batch[i:j] {
				msgs = append(msgs, l.m)
			}
			s.h.deliver(batch[i].g, msgs)
			i = j
		}
		s.h.signal()
	}
}

// step hands a message from a peer to its group.
func (h *Host) step(shard int, m *pb.Message) {
	g := h.group(shard)
	if g == nil {
		return // not (yet) a replica here; Raft will retry
	}
	g.mu.Lock()
	err := g.rn.Step(m)
	g.mu.Unlock()
	if err == nil {
		h.signal()
	}
}

// raftLogger adapts slog to the Raft library's logger.
type raftLogger struct{ l *slog.Logger }

func (r raftLogger) Debug(v ...any)                 {}
func (r raftLogger) Debugf(format string, v ...any) {}
func (r raftLogger) Info(v ...any)                  { r.l.Debug(fmt.Sprint(v...)) }
func (r raftLogger) Infof(format string, v ...any)  { r.l.Debug(fmt.Sprintf(format, v...)) }
func (r raftLogger) Warning(v ...any)               { r.l.Warn(fmt.Sprint(v...)) }
func (r raftLogger) Warningf(f string, v ...any)    { r.l.Warn(fmt.Sprintf(f, v...)) }
func (r raftLogger) Error(v ...any)                 { r.l.Error(fmt.Sprint(v...)) }
func (r raftLogger) Errorf(f string, v ...any)      { r.l.Error(fmt.Sprintf(f, v...)) }
func (r raftLogger) Fatal(v ...any)                 { panic(fmt.Sprint(v...)) }
func (r raftLogger) Fatalf(f string, v ...any)      { panic(fmt.Sprintf(f, v...)) }
func (r raftLogger) Panic(v ...any)                 { panic(fmt.Sprint(v...)) }
func (r raftLogger) Panicf(f string, v ...any)      { panic(fmt.Sprintf(f, v...)) }
