package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/torua/torua/internal/wire"
	"github.com/torua/torua/node"
	"github.com/torua/torua/node/replication"
	"github.com/torua/torua/router"
	"github.com/torua/torua/shardmap"
)

const (
	// DefaultShards is the shard count of a new cluster when Config.Shards is 0.
	DefaultShards = 16
	// DefaultReplicationFactor is the replication factor of a new cluster when
	// Config.ReplicationFactor is 0 (or Config.Nodes if fewer).
	DefaultReplicationFactor = 3
	// ClusterName is the cluster name in a local shard map.
	ClusterName = "local"
	// MapFile is the shard map's file name in the data directory.
	MapFile = "shardmap.json"

	// stopGrace bounds each part's shutdown when a start fails or a drained node stops.
	stopGrace = 10 * time.Second
)

// Config describes a local cluster. NB: error messages name `torua local`'s flags for the
// fields, as the command passes them through.
type Config struct {
	// DataDir holds the shard map (MapFile) and one directory per node (NodeID(i)).
	DataDir string
	// Nodes is the number of active nodes, at least 1. Nodes of the map in DataDir beyond
	// it start too and are drained, stopped and removed before Start returns.
	Nodes int
	// Shards is the shard count of a new cluster (0: DefaultShards). A cluster in DataDir
	// keeps its own; another count is refused.
	Shards int
	// ReplicationFactor is the number of replicas per shard (0: the cluster's in DataDir,
	// or for a new cluster DefaultReplicationFactor, or Nodes if fewer).
	ReplicationFactor int
	// Listen is the router's address, e.g. "127.0.0.1:8080" or "127.0.0.1:0".
	Listen string
	// NodeHost is the address the nodes listen on (default 127.0.0.1). NodeBasePort, if not
	// 0, gives node i the port NodeBasePort+i; 0 picks free ports.
	NodeHost     string
	NodeBasePort int
	// Raft tunes every group (node.Config.Raft).
	Raft replication.Config
	// UnsafeNoFsync makes the engines never fsync (node.Config.UnsafeNoFsync).
	UnsafeNoFsync bool
	// GraphCacheHalves is each node's adjacency cache budget (node.Config.GraphCacheHalves).
	GraphCacheHalves int
	// BlockCacheBytes is each node's storage engine block cache (node.Config.BlockCacheBytes).
	BlockCacheBytes int64
	// GraphTimeout and GraphMaxRows bound graph queries (router.Config's; 0: its defaults).
	GraphTimeout time.Duration
	GraphMaxRows int
	// Pprof serves Go's profiles on the router's port (router.Config.Pprof).
	Pprof bool
	// Logger receives the nodes' and the router's structured logs (default: discard).
	Logger *slog.Logger
	// Progress receives the progress lines of Start and Drain, as `torua local` prints
	// them (default: discard).
	Progress io.Writer
}

// NodeID is the ID of a local cluster's node i.
func NodeID(i int) string { return "node-" + strconv.Itoa(i) }

// nodeIndex parses a local node ID.
func nodeIndex(id string) (int, bool) {
	i, err := strconv.Atoi(strings.TrimPrefix(id, "node-"))
	return i, err == nil && i >= 0 && NodeID(i) == id
}

// Cluster is a running local cluster. Its methods must not run concurrently.
type Cluster struct {
	cfg     Config
	out     io.Writer
	mapPath string
	place   shardmap.PlaceConfig
	// recovered is the map found in the data directory (nil for a new cluster).
	recovered *shardmap.Map

	// members are the running nodes, by index (a gap where a node was drained), and
	// m the map last written.
	members []*member
	m       *shardmap.Map
	router  *router.Router

	stopOnce sync.Once
	stopErr  error
}

// member is one running node and its entry in the map.
type member struct {
	node  *node.Node
	entry shardmap.Node
}

// Start starts the cluster on cfg.DataDir and returns once every shard is in place and the
// router is ready. ctx bounds the start only: the cluster runs until Shutdown.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.Nodes < 1 {
		return nil, fmt.Errorf("--nodes must be at least 1, got %d", cfg.Nodes)
	}
	if cfg.NodeHost == "" {
		cfg.NodeHost = "127.0.0.1"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Cluster{cfg: cfg, out: cfg.Progress, mapPath: filepath.Join(cfg.DataDir, MapFile)}
	if c.out == nil {
		c.out = io.Discard
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	total, err := c.resolveShape()
	if err != nil {
		return nil, err
	}

	// Bind the router's address first: if it is taken, fail before touching anything else.
	// Hold it while the nodes bind their ports (:0 could otherwise pick it) and release it
	// just before the router binds it.
	probe, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("router address %s: %w", cfg.Listen, err)
	}
	releaseProbe := sync.OnceFunc(func() { _ = probe.Close() })
	defer releaseProbe()

	if err := c.startNodes(total); err != nil {
		return nil, err
	}
	fail := func(err error) (*Cluster, error) {
		c.stopAll()
		return nil, err
	}
	var leaving []string
	for _, mb := range c.members[cfg.Nodes:] {
		leaving = append(leaving, mb.entry.ID)
	}
	m, err := c.writeMap(c.recovered, c.entries())
	if err != nil {
		return fail(err)
	}
	if err := c.settle(ctx, m); err != nil {
		return fail(err)
	}
	if len(leaving) > 0 {
		// Every replica has left the draining nodes: drop them from the map and stop them.
		if err := c.remove(leaving); err != nil {
			return fail(err)
		}
	}

	releaseProbe()
	if err := c.startRouter(ctx); err != nil {
		return fail(err)
	}
	return c, nil
}

// resolveShape reads the map in the data directory, checks cfg against it and settles the
// shard count and replication factor. It returns how many nodes start: cfg.Nodes, or more
// when the map holds nodes beyond them (drained before they stop, or their data would be
// lost).
func (c *Cluster) resolveShape() (int, error) {
	cfg := c.cfg
	prev, err := readMap(c.mapPath)
	if err != nil {
		return 0, err
	}
	if prev != nil && slices.ContainsFunc(prev.Nodes, func(n shardmap.Node) bool { return n.Raft == "" }) {
		return 0, fmt.Errorf("%s was written by a Torua version without replication (its shard map has no raft addresses); "+
			"this version cannot serve that data: move the directory away or use another --data-dir", cfg.DataDir)
	}
	shards, rf := cfg.Shards, cfg.ReplicationFactor
	if prev != nil {
		if shards != 0 && shards != prev.Shards {
			return 0, fmt.Errorf("%s holds a cluster with %d shards; the shard count cannot change (use another --data-dir)", cfg.DataDir, prev.Shards)
		}
		shards = prev.Shards
		if rf == 0 {
			rf = prev.ReplicationFactor
		}
		fmt.Fprintf(c.out, "Recovering the cluster in %s (shard map version %d)\n", cfg.DataDir, prev.Version)
	} else {
		if shards == 0 {
			shards = DefaultShards
		}
		if rf == 0 {
			rf = min(DefaultReplicationFactor, cfg.Nodes)
		}
	}
	if rf < 1 || rf > cfg.Nodes {
		return 0, fmt.Errorf("--replication-factor %d needs between 1 and --nodes (%d) replicas", rf, cfg.Nodes)
	}
	total := cfg.Nodes
	if prev != nil {
		for _, n := range prev.Nodes {
			if i, ok := nodeIndex(n.ID); ok && i >= total {
				total = i + 1
			}
		}
	}
	if prev == nil {
		fmt.Fprintf(c.out, "Creating a cluster in %s: %d nodes, %d shards, replication factor %d\n", cfg.DataDir, cfg.Nodes, shards, rf)
	}
	c.recovered = prev
	c.place = shardmap.PlaceConfig{Cluster: ClusterName, Shards: shards, ReplicationFactor: rf}
	return total, nil
}

// startNodes starts nodes 0..total-1, all at once (each opens its engine and Raft log, which
// takes long with much data), and reports them in order; those from c.cfg.Nodes on are
// draining. If one fails, the others are stopped.
func (c *Cluster) startNodes(total int) error {
	type result struct {
		n   *node.Node
		err error
	}
	results := make([]chan result, total)
	for i := range total {
		results[i] = make(chan result, 1)
		go func() {
			n, err := c.startNode(i)
			results[i] <- result{n, err}
		}()
	}
	c.members = make([]*member, total)
	var failed error
	for i := range total {
		id := NodeID(i)
		if failed == nil {
			fmt.Fprintf(c.out, "  starting %s ... ", id)
		}
		r := <-results[i]
		switch {
		case r.err != nil && failed == nil:
			fmt.Fprintln(c.out, "failed")
			failed = fmt.Errorf("start %s: %w", id, r.err)
		case r.err != nil:
		case failed != nil:
			c.members[i] = &member{node: r.n} // stopped below
		default:
			state := shardmap.NodeActive
			if i >= c.cfg.Nodes {
				state = shardmap.NodeDraining
			}
			c.members[i] = &member{node: r.n, entry: shardmap.Node{ID: id, API: r.n.Addr(), Raft: r.n.RaftAddr(), State: state}}
			fmt.Fprintf(c.out, "listening on %s (raft %s)%s\n", r.n.Addr(), r.n.RaftAddr(), map[bool]string{true: ", draining"}[i >= c.cfg.Nodes])
		}
	}
	if failed != nil {
		c.stopAll()
		return failed
	}
	return nil
}

// startNode opens and starts node i.
func (c *Cluster) startNode(i int) (*node.Node, error) {
	id := NodeID(i)
	port := 0
	if c.cfg.NodeBasePort != 0 {
		port = c.cfg.NodeBasePort + i
	}
	n, err := node.New(node.Config{
		ID:         id,
		Listen:     net.JoinHostPort(c.cfg.NodeHost, strconv.Itoa(port)),
		RaftListen: net.JoinHostPort(c.cfg.NodeHost, "0"),
		Raft:       c.cfg.Raft,
		NoHandOff:  true,
		// Every node of the cluster runs in this process: none outlives a restart.
		NoRestartQuiet:   true,
		DataDir:          filepath.Join(c.cfg.DataDir, id),
		UnsafeNoFsync:    c.cfg.UnsafeNoFsync,
		GraphCacheHalves: c.cfg.GraphCacheHalves,
		BlockCacheBytes:  c.cfg.BlockCacheBytes,
		Source:           shardmap.NewFile(c.mapPath, c.cfg.Logger),
		Logger:           c.cfg.Logger,
	})
	if err == nil {
		err = n.Start(context.Background())
	}
	return n, err
}

// startRouter starts the router and waits until it is ready. It hands requests to the nodes
// of this process directly, not over loopback.
func (c *Cluster) startRouter(ctx context.Context) error {
	local := map[string]*wire.Server{}
	for _, mb := range c.running() {
		local[mb.entry.API] = mb.node.WireServer()
	}
	rt, err := router.New(router.Config{Listen: c.cfg.Listen, Source: shardmap.NewFile(c.mapPath, c.cfg.Logger), Logger: c.cfg.Logger, Local: local,
		GraphTimeout: c.cfg.GraphTimeout, GraphMaxRows: c.cfg.GraphMaxRows, Pprof: c.cfg.Pprof})
	if err == nil {
		err = rt.Start(context.Background())
	}
	if err != nil {
		return fmt.Errorf("start router: %w", err)
	}
	c.router = rt
	return waitURL(ctx, c.RouterURL()+"/readyz", 30*time.Second)
}

// RouterURL is the router's base URL, e.g. http://127.0.0.1:8080.
func (c *Cluster) RouterURL() string { return "http://" + c.router.Addr() }

// Map is the shard map the cluster last wrote.
func (c *Cluster) Map() *shardmap.Map { return c.m }

// Node returns the running node with the given ID.
func (c *Cluster) Node(id string) (*node.Node, bool) {
	for _, mb := range c.running() {
		if mb.entry.ID == id {
			return mb.node, true
		}
	}
	return nil, false
}

// running returns the running nodes, by index.
func (c *Cluster) running() []*member {
	var out []*member
	for _, mb := range c.members {
		if mb != nil {
			out = append(out, mb)
		}
	}
	return out
}

// entries returns the running nodes' map entries.
func (c *Cluster) entries() []shardmap.Node {
	var out []shardmap.Node
	for _, mb := range c.running() {
		out = append(out, mb.entry)
	}
	return out
}

// Shutdown stops the router, then the nodes, last first: requests in flight finish, then
// writes commit, and every engine closes cleanly. Each part is given as long as ctx had left
// when Shutdown was called (a part that overruns does not cut the next one short); without a
// deadline each waits for its requests in flight. Calls after the first return its result.
func (c *Cluster) Shutdown(ctx context.Context) error {
	c.stopOnce.Do(func() { c.stopErr = c.shutdown(ctx) })
	return c.stopErr
}

func (c *Cluster) shutdown(ctx context.Context) error {
	grace, bounded := time.Duration(0), false
	if d, ok := ctx.Deadline(); ok {
		grace, bounded = time.Until(d), true
	}
	stop := func(s interface{ Shutdown(context.Context) error }) error {
		pctx, cancel := context.WithoutCancel(ctx), func() {}
		if bounded {
			pctx, cancel = context.WithTimeout(pctx, grace)
		}
		defer cancel()
		return s.Shutdown(pctx)
	}
	var errs []error
	if c.router != nil {
		errs = append(errs, stop(c.router))
	}
	running := c.running()
	for i := len(running) - 1; i >= 0; i-- {
		errs = append(errs, stop(running[i].node))
	}
	return errors.Join(errs...)
}

// stopAll shuts everything down after a failed start, each part within stopGrace.
func (c *Cluster) stopAll() {
	ctx, cancel := context.WithTimeout(context.Background(), stopGrace)
	defer cancel()
	_ = c.Shutdown(ctx)
}

// readMap reads the map in the data directory (nil when there is none).
func readMap(path string) (*shardmap.Map, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read shard map: %w", err)
	}
	m, err := shardmap.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (fix or remove it; the data directories are untouched)", path, err)
	}
	return m, nil
}
