package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/shardapi"
	"github.com/torua/torua/graph/store"
	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/internal/nodeapi"
	"github.com/torua/torua/internal/wire"
	"github.com/torua/torua/node/engine"
	"github.com/torua/torua/node/replication"
	"github.com/torua/torua/shardmap"
)

// DefaultGraphCacheHalves is the adjacency cache's default budget: about 100 MB.
const DefaultGraphCacheHalves = 1 << 20

// Config configures a Node.
type Config struct {
	// ID is the node's name in the shard map (the pod name on Kubernetes).
	ID string
	// Listen is the HTTP API's address, e.g. ":7070" or "127.0.0.1:0".
	Listen string
	// DataDir holds the engine's files.
	DataDir string
	// Source delivers shard maps.
	Source shardmap.Source
	// MaxValueSize limits a value's size (default httpx.DefaultMaxValueSize).
	MaxValueSize int64
	// MaxInFlight limits concurrent /store requests; more are answered 429 (default 4096).
	MaxInFlight int
	// RaftListen is the address of the node's one Raft port, shared by every shard's
	// group, e.g. ":7071" or "127.0.0.1:0". Peers reach it at the map's Raft address.
	RaftListen string
	// Raft tunes every group (timing, compaction, Raft's own logging). Zero values take
	// replication.DefaultConfig.
	Raft replication.Config
	// NoHandOff skips the leadership hand-off on Shutdown, for nodes that stop together
	// (torua local): handing leadership to a node that is stopping too gains nothing.
	NoHandOff bool
	// NoRestartQuiet skips the restart quiet period of the Raft port (see
	// replication.Config.RestartQuietPeriod), for nodes that start and stop together
	// (torua local): when every replica of every group was down, no leader from before
	// the restart is serving reads on a lease.
	NoRestartQuiet bool
	// UnsafeNoFsync makes the engine never fsync: an acknowledged write can be lost to a
	// crash of the machine, or of every replica at once. For measuring what the disk
	// costs only (etcd's --unsafe-no-fsync); the node warns about it at start.
	UnsafeNoFsync bool
	// BlockCacheBytes is the storage engine's block cache, in bytes (0: engine.DefaultCacheSize).
	BlockCacheBytes int64
	// GraphCacheHalves is the budget of the graph store's adjacency cache, in edge halves
	// (graph/store's AdjacencyCache; about 100 bytes each): 0 takes
	// DefaultGraphCacheHalves, a negative value turns the cache off.
	GraphCacheHalves int
	// Logger receives structured logs (default: discard).
	Logger *slog.Logger
}

// Node is a running storage node.
type Node struct {
	cfg     Config
	log     *slog.Logger
	eng     *engine.Engine
	holder  *shardmap.Holder
	metrics *httpx.Metrics
	srv     *httpx.Server
	wire    *wire.Server
	limiter chan struct{}

	host  *replication.Host
	peers *nodeapi.Client
	// graph does the graph store's work on the shards (graph.go); graphPeers calls other
	// nodes' graph API to deliver outbox records (graphoutbox.go).
	graph      *store.Store
	graphPeers *shardapi.Client
	// adjacency caches the halves of busy vertices for graph reads.
	adjacency *store.AdjacencyCache
	// ids are the peers' Raft IDs as they report them (identities.go).
	ids *identities
	// hostForMetrics is host once Start has set it, for the metrics collector.
	hostForMetrics atomic.Pointer[replication.Host]

	// hosting is the replicas open under a map version; requests load it once and use it whole.
	hosting atomic.Pointer[hosting]

	// mu guards groups (every open replica, assigned by the map or still leaving its
	// group) and refused (shards whose data this node will not serve, see reconcile).
	mu      sync.Mutex
	groups  map[int]*shardGroup
	refused map[int]bool
	// steps counts running reconciliation steps.
	steps sync.WaitGroup

	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once
	stopErr  error
}

// hosting is an immutable snapshot: the map and the replicas open on this node.
type hosting struct {
	m        *shardmap.Map
	replicas map[int]Replica
}

// New opens the node's engine. Start serves it.
func New(cfg Config) (*Node, error) {
	if cfg.ID == "" {
		return nil, errors.New("node: an ID is required")
	}
	if cfg.Source == nil {
		return nil, errors.New("node: a shard map source is required")
	}
	if cfg.MaxValueSize <= 0 {
		cfg.MaxValueSize = httpx.DefaultMaxValueSize
	}
	switch {
	case cfg.GraphCacheHalves == 0:
		cfg.GraphCacheHalves = DefaultGraphCacheHalves
	case cfg.GraphCacheHalves < 0:
		cfg.GraphCacheHalves = 0
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 4096
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	log := cfg.Logger.With("node", cfg.ID)
	if cfg.UnsafeNoFsync {
		log.Warn("UNSAFE: fsync is off (--unsafe-no-fsync); acknowledged writes can be lost to a crash. Use it only to measure.")
	}
	eng, err := engine.Open(cfg.DataDir, engine.Options{Logger: log, NoSync: cfg.UnsafeNoFsync, CacheSize: cfg.BlockCacheBytes,
		Remember: layout.Recurring})
	if err != nil {
		return nil, err
	}
	metrics := httpx.NewMetrics("node")
	metrics.Registry().MustRegister(eng.Collector())
	n := &Node{
		cfg:     cfg,
		log:     log,
		eng:     eng,
		holder:  shardmap.NewHolder(log, metrics.Registry()),
		metrics: metrics,
		limiter: make(chan struct{}, cfg.MaxInFlight),
		peers:   newPeerClient(),
		groups:  map[int]*shardGroup{},
		refused: map[int]bool{},
	}
	n.ids = newIdentities(n.peers)
	n.graph = store.New(n.placedOn)
	n.adjacency = store.NewAdjacencyCache(cfg.GraphCacheHalves)
	n.graphPeers = shardapi.NewClient(n.peers)
	n.hosting.Store(&hosting{replicas: map[int]Replica{}})
	metrics.Registry().MustRegister(newRaftCollector(n))
	registerGraphCacheMetrics(metrics.Registry(), n.adjacency)
	return n, nil
}

// placedOn reports whether the current map places vertex id of graph on shard.
func (n *Node) placedOn(graph string, shard int, id layout.ID) bool {
	m := n.holder.Current()
	return m != nil && m.ShardFor(layout.VertexKey(graph, id)) == shard
}

// raftHost is the node's Raft host, nil before Start.
func (n *Node) raftHost() *replication.Host { return n.hostForMetrics.Load() }

// resolveRaft maps a node ID to its Raft address in the current map.
func (n *Node) resolveRaft(id string) (string, error) {
	m := n.holder.Current()
	if m == nil {
		return "", errors.New("no shard map yet")
	}
	peer, ok := m.Node(id)
	if !ok {
		return "", fmt.Errorf("node %s is not in shard map version %d", id, m.Version)
	}
	if peer.Raft == "" {
		return "", fmt.Errorf("node %s has no raft address in shard map version %d", id, m.Version)
	}
	return peer.Raft, nil
}

// Start binds the HTTP API, starts following the shard map, and returns. Serving continues
// until Shutdown.
func (n *Node) Start(ctx context.Context) error {
	host, err := replication.Listen(replication.HostConfig{
		Listen: n.cfg.RaftListen, NodeID: n.cfg.ID, Resolve: n.resolveRaft, Storage: n.eng,
		LogDir: filepath.Join(n.cfg.DataDir, "raft-log"), Dir: filepath.Join(n.cfg.DataDir, "raft-snapshots"),
		Raft: n.cfg.Raft, Logger: n.log,
	})
	if err != nil {
		_ = n.eng.Close()
		return err
	}
	n.host = host
	n.hostForMetrics.Store(host)
	if quiet := n.cfg.Raft.RestartQuietPeriod(); quiet > 0 && !n.cfg.NoRestartQuiet && n.hostedBefore() {
		host.QuietUntil(time.Now().Add(quiet))
		n.log.Info("Answering no Raft traffic for a while after a restart", "for", quiet)
	}
	n.loadLastMap()
	// Rejoin the groups on disk before answering anyone: /internal/raft-state must never
	// deny state this node holds.
	if err := n.openExisting(); err != nil {
		_ = n.closeGroups()
		_ = host.Close()
		_ = n.eng.Close()
		return fmt.Errorf("open shard replicas: %w", err)
	}
	n.wire = n.newWireServer()
	srv, err := httpx.Start(n.cfg.Listen, n.metrics.Wrap(n.routes(), n.log), n.log, n.wire)
	if err != nil {
		_ = n.closeGroups()
		_ = host.Close()
		_ = n.eng.Close()
		return err
	}
	n.srv = srv
	rejoined := len(n.groups) // nothing else runs yet
	ctx, n.cancel = context.WithCancel(ctx)
	n.wg.Add(3)
	go func() {
		defer n.wg.Done()
		n.sweepOutboxes(ctx)
	}()
	go func() {
		defer n.wg.Done()
		if err := n.cfg.Source.Run(ctx, n.holder); err != nil {
			n.log.Error("Shard map source stopped", "err", err)
		}
	}()
	go func() {
		defer n.wg.Done()
		n.followMap(ctx)
	}()
	n.log.Info("Node started", "addr", srv.Addr(), "raftAddr", host.Addr().String(), "dataDir", n.cfg.DataDir,
		"rejoinedReplicas", rejoined)
	return nil
}

// WireServer is the server of the wire protocol on the API port, for a router in the same
// process (router.Config.Local). Valid after Start.
func (n *Node) WireServer() *wire.Server { return n.wire }

// Addr is the bound HTTP address.
func (n *Node) Addr() string { return n.srv.Addr() }

// RaftAddr is the bound Raft address.
func (n *Node) RaftAddr() string { return n.host.Addr().String() }

// Holder is the node's shard map holder.
func (n *Node) Holder() *shardmap.Holder { return n.holder }

// Shutdown stops accepting requests, finishes in-flight ones (until ctx ends), commits every
// accepted write, and closes the engine cleanly. Calls after the first return its result.
func (n *Node) Shutdown(ctx context.Context) error {
	n.stopOnce.Do(func() { n.stopErr = n.shutdown(ctx) })
	return n.stopErr
}

func (n *Node) shutdown(ctx context.Context) error {
	if n.cancel != nil {
		n.cancel() // no new reconciliation steps; none may hand leadership back here
	}
	n.wg.Wait()
	n.steps.Wait()
	n.ids.close()
	if n.srv != nil && !n.cfg.NoHandOff {
		// Hand leaderships to other replicas while still answering: requests that arrive
		// meanwhile get a 421 with the new leader instead of a refused connection.
		tctx, cancel := context.WithTimeout(ctx, handOffTimeout)
		handed, kept := n.transferLeaderships(tctx)
		cancel()
		n.log.Info("Handed off leaderships before stopping", "handedOff", handed, "kept", kept)
	}
	var errs []error
	if n.srv != nil {
		errs = append(errs, n.srv.Shutdown(ctx))
	}
	errs = append(errs, n.closeGroups())
	if n.host != nil {
		errs = append(errs, n.host.Close())
	}
	n.peers.Close()
	errs = append(errs, n.eng.Close())
	n.log.Info("Node stopped")
	return errors.Join(errs...)
}

// handOffTimeout bounds the leadership hand-off of a stopping node.
const handOffTimeout = 5 * time.Second

// closeGroups closes every open replica, keeping its data.
func (n *Node) closeGroups() error {
	n.mu.Lock()
	groups := slices.Collect(maps.Values(n.groups))
	n.groups = map[int]*shardGroup{}
	n.mu.Unlock()
	n.hosting.Store(&hosting{m: n.hosting.Load().m, replicas: map[int]Replica{}})
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, g := range groups {
		wg.Go(func() {
			err := g.Close()
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// followMap makes the replicas follow the map: on every map change and every
// reconcileInterval it opens the replicas assigned here and moves each group one step
// (reconcile.go). Each new map is kept in the data directory first (lastmap.go).
func (n *Node) followMap(ctx context.Context) {
	tick := time.NewTicker(reconcileInterval)
	defer tick.Stop()
	var saved *shardmap.Map
	for {
		changed := n.holder.Changed()
		if m := n.holder.Current(); m != nil {
			if m != saved {
				n.saveMap(m)
				saved = m
			}
			n.reconcile(ctx, m)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-tick.C:
		}
	}
}

// Status reports the node's map version, readiness and replicas.
func (n *Node) Status() shardmap.NodeStatus {
	h := n.hosting.Load()
	st := shardmap.NodeStatus{Node: n.cfg.ID, Ready: n.ready() == nil, Shards: []shardmap.ShardStatus{}}
	if h.m != nil {
		st.MapVersion = h.m.Version
	}
	for _, s := range slices.Sorted(maps.Keys(h.replicas)) {
		st.Shards = append(st.Shards, h.replicas[s].Status())
	}
	st.Compactions.Running, st.Compactions.DebtBytes = n.eng.Compactions()
	return st
}

// ready is nil when the node can serve: a valid map is loaded and every replica it assigns
// here is open. (A replica may still be waiting for its leader or an election: readiness
// says the node takes part, not that every shard has a leader.)
func (n *Node) ready() error {
	m := n.holder.Current()
	if m == nil {
		return fmt.Errorf("%w: no valid shard map yet", httpx.ErrUnavailable)
	}
	if until, quiet := n.host.Quiet(); quiet {
		// Its groups cannot take part yet: a rolling restart must not move on (and ask
		// the next node to hand its leaderships over) before they can.
		return fmt.Errorf("%w: answering no Raft traffic until %s after a restart", httpx.ErrUnavailable, until.Format(time.TimeOnly))
	}
	if n.hosting.Load().m != m {
		return fmt.Errorf("%w: opening the shards of map version %d", httpx.ErrUnavailable, m.Version)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, s := range m.ShardsOf(n.cfg.ID) {
		if n.refused[s] {
			return fmt.Errorf("%w: shard %d holds data without Raft state (see the log)", httpx.ErrUnavailable, s)
		}
	}
	return nil
}
