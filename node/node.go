package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/node/engine"
	"github.com/torua/torua/shardmap"
)

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
	limiter chan struct{}

	// hosting is the replicas opened for a map version; requests load it once and use it whole.
	hosting atomic.Pointer[hosting]

	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once
	stopErr  error
}

// hosting is an immutable snapshot: the map and the replicas this node runs for it.
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
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 4096
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	log := cfg.Logger.With("node", cfg.ID)
	eng, err := engine.Open(cfg.DataDir, engine.Options{Logger: log})
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
	}
	n.hosting.Store(&hosting{replicas: map[int]Replica{}})
	return n, nil
}

// Start binds the HTTP API, starts following the shard map, and returns. Serving continues
// until Shutdown.
func (n *Node) Start(ctx context.Context) error {
	srv, err := httpx.Start(n.cfg.Listen, n.metrics.Wrap(n.routes()), n.log)
	if err != nil {
		_ = n.eng.Close()
		return err
	}
	n.srv = srv
	ctx, n.cancel = context.WithCancel(ctx)
	n.wg.Add(2)
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
	n.log.Info("Node started", "addr", srv.Addr(), "dataDir", n.cfg.DataDir)
	return nil
}

// Addr is the bound HTTP address.
func (n *Node) Addr() string { return n.srv.Addr() }

// Holder is the node's shard map holder.
func (n *Node) Holder() *shardmap.Holder { return n.holder }

// Shutdown stops accepting requests, finishes in-flight ones (until ctx ends), commits every
// accepted write, and closes the engine cleanly. Calls after the first return its result.
func (n *Node) Shutdown(ctx context.Context) error {
	n.stopOnce.Do(func() { n.stopErr = n.shutdown(ctx) })
	return n.stopErr
}

func (n *Node) shutdown(ctx context.Context) error {
	var errs []error
	if n.srv != nil {
		errs = append(errs, n.srv.Shutdown(ctx))
	}
	if n.cancel != nil {
		n.cancel()
	}
	n.wg.Wait()
	for _, r := range n.hosting.Load().replicas {
		errs = append(errs, r.Close())
	}
	errs = append(errs, n.eng.Close())
	n.log.Info("Node stopped")
	return errors.Join(errs...)
}

// followMap opens and closes replicas as the map changes. A replica whose shard leaves this
// node is closed but its data kept: moving data between nodes is replication's job, and a node
// never deletes data on its own.
func (n *Node) followMap(ctx context.Context) {
	for {
		changed := n.holder.Changed()
		if m := n.holder.Current(); m != nil && m != n.hosting.Load().m {
			n.host(m)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

func (n *Node) host(m *shardmap.Map) {
	old := n.hosting.Load()
	next := &hosting{m: m, replicas: make(map[int]Replica)}
	var opened, closed []int
	for _, s := range servedShards(m, n.cfg.ID) {
		if r, ok := old.replicas[s]; ok {
			next.replicas[s] = r
			continue
		}
		next.replicas[s] = newLocalReplica(s, n.cfg.ID, n.eng)
		opened = append(opened, s)
	}
	n.hosting.Store(next)
	for s, r := range old.replicas {
		if _, ok := next.replicas[s]; !ok {
			_ = r.Close()
			closed = append(closed, s)
		}
	}
	slices.Sort(closed)
	n.log.Info("Hosted shards updated", "mapVersion", m.Version, "shards", len(next.replicas), "opened", opened, "closed", closed)
}

// servedShards returns the shards this node serves under m. NB: without replication a shard
// has one copy of its data, so only its first replica serves it; the other replicas a map with
// replicationFactor > 1 lists are placeholders that replication fills. Opening them as
// independent local replicas would let copies of one shard diverge silently.
func servedShards(m *shardmap.Map, id string) []int {
	var out []int
	for _, a := range m.Assignments {
		if a.Replicas[0] == id {
			out = append(out, a.Shard)
		}
	}
	return out
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
	return st
}

// ready is nil when the node can serve: a valid map is loaded and every replica it assigns
// here is open.
func (n *Node) ready() error {
	m := n.holder.Current()
	switch {
	case m == nil:
		return fmt.Errorf("%w: no valid shard map yet", httpx.ErrUnavailable)
	case n.hosting.Load().m != m:
		return fmt.Errorf("%w: opening the shards of map version %d", httpx.ErrUnavailable, m.Version)
	}
	return nil
}

// replicaFor returns the replica for key's shard, or ErrMisdirected with the map version held.
func (n *Node) replicaFor(key string) (Replica, error) {
	h := n.hosting.Load()
	if h.m == nil {
		return nil, fmt.Errorf("%w: no valid shard map yet", httpx.ErrUnavailable)
	}
	shard := h.m.ShardFor([]byte(key))
	r, ok := h.replicas[shard]
	if !ok {
		return nil, &misdirected{shard: shard, node: n.cfg.ID, version: h.m.Version}
	}
	return r, nil
}

type misdirected struct {
	shard   int
	node    string
	version uint64
}

func (e *misdirected) Error() string {
	return fmt.Sprintf("shard %d is not hosted on node %s under shard map version %d", e.shard, e.node, e.version)
}
func (e *misdirected) Unwrap() error           { return httpx.ErrMisdirected }
func (e *misdirected) Detail() httpx.ErrorBody { return httpx.ErrorBody{MapVersion: e.version} }
