package replication

import (
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/torua/torua/node/raftlog"
)

// Host runs every Raft group of a node in one loop over one listener. Each round the loop
// collects every group's Ready, sends their messages (one frame per peer), writes all their
// log appends and hard states to the node's Raft log in one unsynced write, hands the
// acknowledgements that need those writes durable to the syncer, and applies what the groups
// committed in one unsynced storage write (Storage.ApplyShards).
type Host struct {
	cfg     Config
	nodeID  string
	id      uint64
	store   Storage
	rlog    *raftlog.Log
	resolve Resolver
	dir     string
	log     *slog.Logger
	trans   transport
	quiet   quietPeriod

	mu     sync.RWMutex
	groups map[int]*Group
	names  map[uint64]string

	// roundMu is held by the loop during a round: removing a group or compacting it on
	// request waits for the round to end.
	roundMu sync.Mutex

	sync      *syncer
	wake      chan struct{}
	stop      chan struct{}
	done      chan struct{}
	syncDone  chan struct{}
	closeOnce sync.Once
	closed    atomic.Bool

	stats hostCounters
	// misaddressedTo holds the Raft IDs that misaddressed messages were sent to, each
	// logged once.
	misaddressedTo sync.Map
	// restoreHook, if set (tests only), runs before a snapshot is restored.
	restoreHook func(shard int)
}

// HostConfig configures a Host.
type HostConfig struct {
	// Listen is the Raft address to bind (host:port; port 0 picks one).
	Listen string
	// Network, if set, carries the Raft traffic in memory instead of over TCP, and Listen
	// is unused: tests only (MemNetwork).
	Network *MemNetwork
	// NodeID is this node's ID. Its Raft ID is created with its Raft log (identity.go).
	NodeID string
	// Resolve finds a peer's Raft address.
	Resolve Resolver
	// Storage holds every group's data (the node's engine).
	Storage Storage
	// LogDir holds the node's Raft log (package raftlog: every group's entries and
	// stable state), conventionally <data>/raft-log. It is synced unless the engine was
	// opened with NoSync.
	LogDir string
	// LogSegmentSize is the size of the Raft log's segments (0: raftlog's default).
	LogSegmentSize int64
	// Dir holds snapshots being received, conventionally <data>/raft-snapshots.
	Dir string
	// Raft is the tuning shared by the groups.
	Raft   Config
	Logger *slog.Logger
}

// Listen binds the Raft address (or joins HostConfig.Network) and starts the node's Raft
// loop with no groups.
func Listen(c HostConfig) (*Host, error) {
	if c.NodeID == "" || len(c.NodeID) > maxNodeIDLen || c.Storage == nil || c.Resolve == nil || c.Dir == "" || c.LogDir == "" {
		return nil, fmt.Errorf("raft host: a node ID of 1 to %d bytes, a storage, a resolver and two directories are required", maxNodeIDLen)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if err := resetIncoming(c.Dir); err != nil {
		return nil, err
	}
	rlog, err := raftlog.Open(c.LogDir, raftlog.Options{SegmentSize: c.LogSegmentSize, NoSync: c.Storage.NoSync(),
		Logger: c.Logger.With("component", "raftlog")})
	if err != nil {
		return nil, fmt.Errorf("raft host: %w", err)
	}
	id, created, err := loadIdentity(rlog, c.NodeID)
	if err != nil {
		_ = rlog.Close()
		return nil, fmt.Errorf("raft host: %w", err)
	}
	if created {
		c.Logger.Info("Created the node's Raft identity with its Raft log", "raftID", FormatRaftID(id))
	}
	var ln net.Listener
	if c.Network == nil {
		if ln, err = net.Listen("tcp", c.Listen); err != nil {
			_ = rlog.Close()
			return nil, fmt.Errorf("raft listener: %w", err)
		}
	}
	h := &Host{cfg: c.Raft.withDefaults(), nodeID: c.NodeID, id: id, store: c.Storage, rlog: rlog, resolve: c.Resolve,
		dir: c.Dir, log: c.Logger.With("component", "replication"), groups: map[int]*Group{}, names: map[uint64]string{},
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), syncDone: make(chan struct{})}
	h.names[h.id] = c.NodeID
	if c.Network != nil {
		h.trans = c.Network.attach(h)
	} else {
		h.trans = newTCPTransport(h, ln)
	}
	h.sync = &syncer{h: h, kick: make(chan struct{}, 1)}
	go h.sync.run()
	go h.run()
	return h, nil
}

// Addr is the bound Raft address.
func (h *Host) Addr() net.Addr { return h.trans.addr() }

// ID is this node's Raft ID.
func (h *Host) ID() uint64 { return h.id }

// learnMember records that Raft ID id is node name. A node has one Raft ID per Raft log
// it has had: after a lost disk, an old and a new one name the same node.
func (h *Host) learnMember(id uint64, name string) {
	if id == 0 || name == "" {
		return
	}
	h.mu.RLock()
	old, known := h.names[id]
	h.mu.RUnlock()
	if known && old == name {
		return
	}
	h.mu.Lock()
	h.names[id] = name
	h.mu.Unlock()
	if known {
		// NB: two node IDs with one Raft ID; Raft could not tell them apart.
		h.log.Error("Two node IDs have the same Raft ID", "node", name, "other", old, "raftID", FormatRaftID(id))
	}
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

// openGroups appends the open groups to dst.
func (h *Host) openGroups(dst []*Group) []*Group {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, g := range h.groups {
		dst = append(dst, g)
	}
	return dst
}

// remove takes g out of the loop; it returns once no round uses it.
func (h *Host) remove(g *Group) {
	h.roundMu.Lock()
	h.mu.Lock()
	if h.groups[g.shard] == g {
		delete(h.groups, g.shard)
	}
	h.mu.Unlock()
	h.roundMu.Unlock()
}

// Close stops the loop and the transport; the groups still open fail what waits.
func (h *Host) Close() (err error) {
	h.closeOnce.Do(func() {
		h.closed.Store(true)
		close(h.stop)
		<-h.done
		<-h.syncDone
		groups := h.openGroups(nil)
		for _, g := range groups {
			g.bg.Wait() // a snapshot being restored
		}
		h.trans.close()
		for _, g := range groups {
			g.mu.Lock()
			g.failAll(errClosedInFlight)
			g.mu.Unlock()
		}
		err = h.rlog.Close()
	})
	return err
}

// run is the node's Raft loop.
func (h *Host) run() {
	defer close(h.done)
	ticker := time.NewTicker(h.cfg.tick())
	defer ticker.Stop()
	var groups []*Group
	ticks := 0
	for {
		tick := false
		select {
		case <-h.stop:
			return
		case <-ticker.C:
			tick = true
		case <-h.wake:
		}
		// Let the proposers, receivers and the syncer that woke the loop queue more work
		// first: fewer, fuller rounds.
		runtime.Gosched()
		h.roundMu.Lock()
		groups = h.openGroups(groups[:0])
		if tick {
			for _, g := range groups {
				g.tick()
			}
			if ticks++; ticks%electionTicks == 0 {
				h.unpinLog()
			}
		}
		for h.round(groups) {
			select {
			case <-h.stop:
				h.roundMu.Unlock()
				return
			default:
			}
		}
		h.roundMu.Unlock()
	}
}

// local is a message of a group's to this node's storage or to itself.
type local struct {
	g *Group
	m *pb.Message
}

// round handles every group's Ready once; it reports whether any group had one.
//
// Raft runs with asynchronous storage writes: a Ready's log appends and hard state come as
// a message to the "append thread", whose responses (the acknowledgements that count this
// node's copy, to the leader or to itself) may go out only once the append is durable. The
// round writes every group's appends to the node's Raft log in one write, unsynced, and
// hands the responses to the syncer, which fsyncs the log once for everything written while
// it was busy (if any of it must be durable: entries, a snapshot, a term or a vote, not a
// commit index) and then delivers them. The loop goes on meanwhile: sending, applying and
// stepping never wait for the disk. Committed entries reach the apply step only once they
// are durable here (the library hands over no entry whose append is not acknowledged), and
// every group's applies go into one storage write, unsynced: after a crash the engine may
// be behind the log, never ahead of what it holds, and the log's replay from its
// compaction point brings it back (the engine skips what it has).
func (h *Host) round(groups []*Group) bool {
	var out []outMsg
	var durable []local // responses to deliver once the round's writes are stored
	mustSync := false   // and synced, if any of those writes must be durable first
	var applies []local
	var writes []raftlog.Write
	busy := false
	for _, g := range groups {
		if g.restoring.Load() {
			continue // its Ready waits until its snapshot is restored (restoreAsync)
		}
		g.mu.Lock()
		if g.closed {
			g.mu.Unlock()
			continue // being removed (Group.Close)
		}
		g.flushProposals()
		g.startReads()
		if !g.rn.HasReady() {
			g.mu.Unlock()
			continue
		}
		busy = true
		rd := g.rn.Ready()
		if rd.SoftState != nil {
			g.softStateChanged(rd.SoftState)
		}
		g.readStates(rd.ReadStates)
		g.mu.Unlock()
		if hasSnapshot(rd.Messages) {
			out = append(out, h.restoreAsync(g, rd.Messages)...)
			continue
		}
		for _, m := range rd.Messages {
			switch m.GetTo() {
			case raft.LocalAppendThread:
				rw, write, sync := g.storeAppend(m)
				if write {
					writes = append(writes, rw)
				}
				mustSync = mustSync || sync
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
	if !busy {
		return false
	}
	h.stats.rounds.Add(1)
	h.trans.send(out)
	h.writeLog(writes)
	h.sync.add(durable, mustSync)
	if len(applies) == 0 {
		return true
	}
	// One storage write holds every group's applied entries (durable in the log already:
	// the library hands over only entries whose append was acknowledged).
	prepared := make([]*applying, len(applies))
	for i, a := range applies {
		prepared[i] = a.g.prepareApply(a.m.GetEntries())
	}
	h.applyAll(prepared)
	var points []raftlog.Write
	for i, a := range applies {
		prepared[i].finish()
		if rest := prepared[i].rest; len(rest) > 0 {
			a.g.apply(rest) // after a load (prepareApply)
		}
		h.deliver(a.g, a.m.GetResponses())
		points = a.g.takePoints(points)
		if rw, ok := a.g.maybeCompact(false); ok {
			points = append(points, rw)
		}
	}
	if err := h.writePoints(points); err != nil {
		h.log.Error("Recording raft log compaction points failed", "err", err)
	}
	return true
}

// hasSnapshot reports whether a Ready's messages store a snapshot.
func hasSnapshot(msgs []*pb.Message) bool {
	for _, m := range msgs {
		if m.GetTo() == raft.LocalAppendThread && !raft.IsEmptySnap(m.GetSnapshot()) {
			return true
		}
	}
	return false
}

// restoreAsync handles a Ready that carries a snapshot in a goroutine of its own, so that
// restoring a large shard holds up its group only, not the loop and every other group: the
// loop skips the group until it is done. It returns the Ready's messages for peers, which
// the round sends at once. The group's storage and applies happen in the Ready's order; the
// acknowledgements wait for the syncer as in a round. (The library hands over no entries
// to apply while a snapshot is pending, so nothing of the shard is applied meanwhile.)
func (h *Host) restoreAsync(g *Group, msgs []*pb.Message) (out []outMsg) {
	var locals []*pb.Message
	for _, m := range msgs {
		switch m.GetTo() {
		case raft.LocalAppendThread, raft.LocalApplyThread:
			locals = append(locals, m)
		default:
			out = append(out, outMsg{shard: g.shard, m: m})
		}
	}
	g.restoring.Store(true)
	g.bg.Add(1)
	go func() {
		defer g.bg.Done()
		defer h.signal()
		defer g.restoring.Store(false)
		if h.restoreHook != nil {
			h.restoreHook(g.shard)
		}
		for _, m := range locals {
			if m.GetTo() == raft.LocalApplyThread {
				g.apply(m.GetEntries())
				h.deliver(g, m.GetResponses())
				if err := h.writePoints(g.takePoints(nil)); err != nil {
					g.log.Error("Recording the configuration failed", "err", err)
				}
				continue
			}
			rw, write, mustSync := g.storeAppend(m)
			if write {
				h.writeLog([]raftlog.Write{rw})
			}
			var durable []local
			for _, r := range m.GetResponses() {
				durable = append(durable, local{g: g, m: r})
			}
			h.sync.add(durable, mustSync)
		}
	}()
	return out
}

// writeLog appends a round's Raft state to the log, unsynced; the loop cannot go on
// without it.
func (h *Host) writeLog(writes []raftlog.Write) {
	if len(writes) == 0 {
		return
	}
	if err := h.rlog.Write(writes); err != nil {
		// NB: what was written is unknown; going on could acknowledge what is not
		// stored. Stop loudly.
		panic(fmt.Sprintf("replication: store raft state: %v", err))
	}
}

// writePoints records snapshot points (a compaction or a membership change): from then on
// a restart replays the log from there, so the engine must hold everything applied up to
// them durably first. The engine's applies are unsynced (the log replays them after a
// crash); this fsyncs them, then writes the points (which the next log sync makes
// durable).
func (h *Host) writePoints(points []raftlog.Write) error {
	if len(points) == 0 {
		return nil
	}
	if err := h.store.SyncWAL(); err != nil {
		return err
	}
	return h.rlog.Write(points)
}

// pinnedSegments is how many segments of the Raft log behind the current one a group may
// keep alive with its live entries before the loop cuts its log back (unpinLog).
const pinnedSegments = 2

// unpinLog cuts back the logs of the groups whose live entries keep old segments of the
// Raft log alive: an idle group never reaches the next compaction on its own, and its last
// entries would otherwise keep every segment since from being removed. Loop only.
func (h *Host) unpinLog() {
	var points []raftlog.Write
	for _, shard := range h.rlog.Pinning(pinnedSegments) {
		g := h.group(shard)
		if g == nil || g.restoring.Load() {
			continue
		}
		if w, ok := g.unpin(); ok {
			points = append(points, w)
		}
	}
	if len(points) == 0 {
		return
	}
	if err := h.writePoints(points); err != nil {
		h.log.Error("Cutting back raft logs failed", "err", err)
		return
	}
	// The segments go now rather than at the next rotation, which an idle node may not
	// reach for a long time. (Purge syncs the log before it removes anything.)
	if _, err := h.rlog.Purge(); err != nil {
		h.log.Error("Removing raft log segments failed", "err", err)
	}
}

// DeleteRaftState removes shard's Raft state from the node's log, durably (a replica that
// left its group, after Group.Close).
func (h *Host) DeleteRaftState(shard int) error {
	return h.rlog.DeleteShard(shard)
}

// deliver steps responses addressed to this node into g and sends the others.
func (h *Host) deliver(g *Group, msgs []*pb.Message) {
	var out []outMsg
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return
	}
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

// step hands a message from a peer to its group.
func (h *Host) step(shard int, m *pb.Message) {
	if !h.addressedHere(shard, m) {
		return
	}
	g := h.group(shard)
	if g == nil {
		return // not (yet) a replica here; Raft retries
	}
	g.mu.Lock()
	stepped := !g.closed && g.rn.Step(m) == nil
	g.mu.Unlock()
	if stepped {
		h.signal()
	}
}

// addressedHere reports whether m is addressed to this node's Raft ID. A message to
// another Raft ID of this node's name was meant for the member it was before it lost its
// disk: taking part as that member (voting, acknowledging entries it does not have) could
// lose acknowledged writes, so the message is dropped and counted, and the sender's group
// sees that member inactive (Membership.Inactive) until it is replaced.
func (h *Host) addressedHere(shard int, m *pb.Message) bool {
	if to := m.GetTo(); to != h.id {
		h.stats.misaddressed.Add(1)
		if _, logged := h.misaddressedTo.LoadOrStore(to, true); !logged {
			h.log.Warn("Dropped Raft messages addressed to a Raft ID this node does not have (it lost its Raft log, or a peer's map is wrong); the groups' leaders replace the old member",
				"shard", shard, "to", FormatRaftID(to), "raftID", FormatRaftID(h.id), "from", h.name(m.GetFrom()))
		}
		return false
	}
	return true
}

// hostCounters are the host's cumulative counters (Stats).
type hostCounters struct {
	rounds, fsyncs, fsyncNanos       atomic.Uint64
	sent, dropped, dials, dialErrors atomic.Uint64
	connsClosed, snapshotsSent       atomic.Uint64
	snapshotsFailed, misaddressed    atomic.Uint64
}

// Stats are a host's cumulative counters, for metrics.
type Stats struct {
	// Rounds counts loop rounds that had work; Fsyncs the syncer's fsyncs of the Raft log
	// and FsyncSeconds their total duration.
	Rounds, Fsyncs uint64
	FsyncSeconds   float64
	// MessagesSent counts Raft messages written to peers; MessagesDropped those dropped
	// because the peer had no connection (Raft sends again).
	MessagesSent, MessagesDropped uint64
	// Dials, DialFailures and ConnsClosed count outgoing connections.
	Dials, DialFailures, ConnsClosed uint64
	// SnapshotsSent and SnapshotsFailed count snapshot streams to peers.
	SnapshotsSent, SnapshotsFailed uint64
	// MessagesMisaddressed counts messages received for a Raft ID this node does not have
	// (Host.addressedHere), dropped.
	MessagesMisaddressed uint64
	// Log are the counters of the node's Raft log.
	Log raftlog.Stats
}

// Stats returns the host's counters.
func (h *Host) Stats() Stats {
	c := &h.stats
	return Stats{
		Rounds: c.rounds.Load(), Fsyncs: c.fsyncs.Load(), FsyncSeconds: float64(c.fsyncNanos.Load()) / 1e9,
		MessagesSent: c.sent.Load(), MessagesDropped: c.dropped.Load(),
		Dials: c.dials.Load(), DialFailures: c.dialErrors.Load(), ConnsClosed: c.connsClosed.Load(),
		SnapshotsSent: c.snapshotsSent.Load(), SnapshotsFailed: c.snapshotsFailed.Load(),
		MessagesMisaddressed: c.misaddressed.Load(), Log: h.rlog.Stats(),
	}
}
