package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/torua/torua/graph/exec"
	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/internal/nodeapi"
	"github.com/torua/torua/internal/wire"
	"github.com/torua/torua/shardmap"
)

// Config configures a Router.
type Config struct {
	// Listen is the public API's address, e.g. ":8080" or "127.0.0.1:0".
	Listen string
	// Source delivers shard maps.
	Source shardmap.Source
	// MaxValueSize limits a value's size (default httpx.DefaultMaxValueSize).
	MaxValueSize int64
	// Timeout bounds one request to a node (default 10s).
	Timeout time.Duration
	// RetryBudget bounds how long a request may wait for a shard's leader (an election, a
	// node restarting) before it is answered 503 (default 5s).
	RetryBudget time.Duration
	// PingInterval is how often the router pings each node it has a connection to, and
	// PingTimeout how long a ping may go unanswered before the node counts as down
	// (defaults 500ms and 1.5s; a negative PingInterval turns pings off). A node that is
	// down (hung, stopped, cut off) fails the requests in flight to it (a read is sent to
	// another replica, a write answered 502) and is skipped like a node that refuses
	// connections until it answers a ping again; without pings, every request to it would
	// wait for Timeout.
	PingInterval, PingTimeout time.Duration
	// Logger receives structured logs (default: discard).
	Logger *slog.Logger
	// GraphMaxRows bounds the intermediate results of a graph query (default
	// exec.DefaultMaxRows), and GraphTimeout its run (default exec.DefaultTimeout).
	GraphMaxRows int
	GraphTimeout time.Duration
	// SpoolDir holds bulk loads' spool files while they run (os.TempDir() when empty):
	// about the size of the load's keys and values.
	SpoolDir string
	// Pprof serves Go's profiles (net/http/pprof) under /debug/pprof/ on the router's port:
	// for finding where a query's time goes (with torua local, the nodes' too, as they run
	// in the same process). Off by default: a profile costs CPU and shows internals.
	Pprof bool
	// Local holds the wire servers of nodes running in the router's own process (`torua
	// local`), by their API address: their requests are handed over in process rather
	// than sent over loopback connections.
	Local map[string]*wire.Server
}

// Router is a running router.
type Router struct {
	cfg     Config
	log     *slog.Logger
	holder  *shardmap.Holder
	metrics *httpx.Metrics
	nodes   *nodeapi.Client // the nodes' HTTP API: listings, status
	wire    *wire.Pool
	srv     *httpx.Server

	retries *prometheus.CounterVec
	// graph runs graph queries (graph.go).
	graph *exec.Executor

	// leaders caches each shard's leader as nodes last named it.
	leadersMu sync.RWMutex
	leaders   map[int]string

	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once
	stopErr  error
}

// New returns a Router; Start serves it.
func New(cfg Config) (*Router, error) {
	if cfg.Source == nil {
		return nil, errors.New("router: a shard map source is required")
	}
	if cfg.MaxValueSize <= 0 {
		cfg.MaxValueSize = httpx.DefaultMaxValueSize
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.RetryBudget <= 0 {
		cfg.RetryBudget = 5 * time.Second
	}
	if cfg.PingInterval == 0 {
		cfg.PingInterval = 500 * time.Millisecond
	}
	if cfg.PingTimeout <= 0 {
		cfg.PingTimeout = 3 * cfg.PingInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	metrics := httpx.NewMetrics("router")
	rt := &Router{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "router"),
		metrics: metrics,
		leaders: map[int]string{},
		wire: &wire.Pool{DialTimeout: 2 * time.Second, Local: cfg.Local,
			PingInterval: max(cfg.PingInterval, 0), PingTimeout: cfg.PingTimeout},
		nodes: nodeapi.New(nodeapi.Config{Timeout: cfg.Timeout, MaxIdleConnsPerHost: 512}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "torua", Subsystem: "router", Name: "retries_total",
			Help: "Requests to nodes retried, by reason (leader_hint, no_leader, unreachable, failed_read, unavailable_read).",
		}, []string{"reason"}),
	}
	rt.holder = shardmap.NewHolder(rt.log, metrics.Registry())
	rt.graph = exec.New(newGraphCluster(rt),
		exec.Config{MaxRows: cfg.GraphMaxRows, Timeout: cfg.GraphTimeout, SpoolDir: cfg.SpoolDir})
	metrics.Registry().MustRegister(rt.retries)
	return rt, nil
}

// Start binds the public API and starts following the shard map.
func (rt *Router) Start(ctx context.Context) error {
	ws := wire.NewServer(rt.serveWire, wire.ServerOptions{
		MaxValueSize: int(rt.cfg.MaxValueSize), Logger: rt.log, Observe: rt.metrics.ObserveWire,
	})
	srv, err := httpx.Start(rt.cfg.Listen, rt.metrics.Wrap(rt.routes(), rt.log), rt.log, ws)
	if err != nil {
		return err
	}
	rt.srv = srv
	ctx, rt.cancel = context.WithCancel(ctx)
	rt.wg.Add(2)
	go func() {
		defer rt.wg.Done()
		if err := rt.cfg.Source.Run(ctx, rt.holder); err != nil {
			rt.log.Error("Shard map source stopped", "err", err)
		}
	}()
	go func() {
		defer rt.wg.Done()
		rt.pruneConns(ctx)
	}()
	rt.log.Info("Router started", "addr", srv.Addr())
	return nil
}

// Addr is the bound address.
func (rt *Router) Addr() string { return rt.srv.Addr() }

// pruneConns drops the wire connections to addresses no map lists any more (a node that
// left, a pod that came back on a new IP), at each map change.
func (rt *Router) pruneConns(ctx context.Context) {
	for {
		changed := rt.holder.Changed()
		if m := rt.holder.Current(); m != nil {
			keep := make(map[string]bool, len(m.Nodes))
			for _, n := range m.Nodes {
				keep[n.API] = true
			}
			rt.wire.Retain(keep)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// Holder is the router's shard map holder.
func (rt *Router) Holder() *shardmap.Holder { return rt.holder }

// Shutdown stops accepting requests and finishes in-flight ones until ctx ends. Calls after
// the first return its result.
func (rt *Router) Shutdown(ctx context.Context) error {
	rt.stopOnce.Do(func() { rt.stopErr = rt.shutdown(ctx) })
	return rt.stopErr
}

func (rt *Router) shutdown(ctx context.Context) error {
	var err error
	if rt.srv != nil {
		err = rt.srv.Shutdown(ctx)
	}
	if rt.cancel != nil {
		rt.cancel()
	}
	rt.wg.Wait()
	rt.nodes.Close()
	rt.wire.Close()
	return err
}

func (rt *Router) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /data/{key...}", rt.handleKey)
	mux.HandleFunc("PUT /data/{key...}", rt.handleKey)
	mux.HandleFunc("DELETE /data/{key...}", rt.handleKey)
	mux.HandleFunc("GET /data", rt.handleList)
	mux.HandleFunc("/data", httpx.OnlyMethods(rt.log, "GET", "HEAD"))
	mux.HandleFunc("POST /txn", rt.handleTxn)
	rt.graphRoutes(mux)
	mux.HandleFunc("GET /cluster", rt.handleCluster)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if rt.holder.Current() == nil {
			httpx.WriteError(w, r, rt.log, fmt.Errorf("%w: no valid shard map yet", httpx.ErrUnavailable))
			return
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.Handle("GET /metrics", rt.metrics.Handler())
	if rt.cfg.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}
