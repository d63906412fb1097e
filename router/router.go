package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/internal/wire"
	"github.com/torua/torua/router/client"
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
	client  *http.Client
	wire    *wire.Pool
	srv     *httpx.Server

	retries *prometheus.CounterVec

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
		client: &http.Client{
			Timeout: cfg.Timeout,
			Transport: &http.Transport{
				DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
				MaxIdleConns:        4096,
				MaxIdleConnsPerHost: 512,
				IdleConnTimeout:     90 * time.Second,
			},
			// A node never redirects; a redirect would mean a mangled key.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "torua", Subsystem: "router", Name: "retries_total",
			Help: "Requests to nodes retried, by reason (leader_hint, no_leader, unreachable, failed_read, unavailable_read).",
		}, []string{"reason"}),
	}
	rt.holder = shardmap.NewHolder(rt.log, metrics.Registry())
	metrics.Registry().MustRegister(rt.retries)
	return rt, nil
}

// Start binds the public API and starts following the shard map.
func (rt *Router) Start(ctx context.Context) error {
	ws := wire.NewServer(rt.serveWire, wire.ServerOptions{
		MaxValueSize: int(rt.cfg.MaxValueSize), Logger: rt.log, Observe: rt.metrics.ObserveWire,
	})
	srv, err := httpx.Start(rt.cfg.Listen, rt.metrics.Wrap(rt.routes()), rt.log, ws)
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
	rt.client.CloseIdleConnections()
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
	return mux
}

// reply is a node's answer as the router relays it.
type reply struct {
	status   int
	revision uint64 // the ETag's revision; 0: none
	body     []byte
}

// handleKey serves a key request of the HTTP API through do.
func (rt *Router) handleKey(w http.ResponseWriter, r *http.Request) {
	req := &wire.Request{Key: r.PathValue("key")}
	err := httpx.CheckKey(req.Key)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		req.Op = wire.OpGet
		var stale bool
		if err == nil {
			stale, err = httpx.ParseConsistency(r)
		}
		if stale {
			req.Flags |= wire.FlagStale
		}
	case http.MethodPut, http.MethodDelete:
		req.Op = wire.OpPut
		if r.Method == http.MethodDelete {
			req.Op = wire.OpDelete
		}
		if err == nil {
			req.Cond, err = httpx.ParsePrecondition(r.Header)
		}
		if err == nil && req.Op == wire.OpPut {
			req.Value, err = httpx.ReadValue(r, rt.cfg.MaxValueSize)
		}
	}
	var rep reply
	if err == nil {
		rep, err = rt.do(r.Context(), req)
	}
	if err != nil {
		httpx.WriteError(w, r, rt.log, err)
		return
	}
	h := w.Header()
	if rep.revision != 0 {
		h.Set("ETag", httpx.ETag(rep.revision))
	}
	switch {
	case req.Op == wire.OpGet && rep.status == http.StatusOK && r.Header.Get("If-None-Match") == h.Get("ETag"):
		w.WriteHeader(http.StatusNotModified)
		return
	case rep.status == http.StatusOK:
		h.Set("Content-Type", "application/octet-stream")
	case len(rep.body) > 0:
		h.Set("Content-Type", "application/json")
	}
	if rep.status == http.StatusTooManyRequests || rep.status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	h.Set("Content-Length", strconv.Itoa(len(rep.body)))
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)
}

// serveWire serves a key request of the wire protocol through do.
func (rt *Router) serveWire(ctx context.Context, req *wire.Request) wire.Response {
	err := httpx.CheckWireRequest(req, rt.cfg.MaxValueSize)
	var rep reply
	if err == nil {
		rep, err = rt.do(ctx, req)
	}
	if err != nil {
		return httpx.WireError(rt.log, req, err)
	}
	return wire.Response{Status: rep.status, Revision: rep.revision, Body: rep.body}
}

// do sends a key request to the leader of the key's shard, over the wire protocol (see
// forwardTo).
func (rt *Router) do(ctx context.Context, req *wire.Request) (reply, error) {
	key := []byte(req.Key)
	return rt.forwardTo(ctx, req.Op == wire.OpGet, func(m *shardmap.Map) int { return m.ShardFor(key) },
		func(ctx context.Context, node shardmap.Node) (reply, error) {
			ctx, cancel := context.WithTimeout(ctx, rt.cfg.Timeout)
			defer cancel()
			resp, err := rt.wire.Do(ctx, node.API, req)
			if err != nil {
				return reply{}, err
			}
			return reply{status: resp.Status, revision: resp.Revision, body: resp.Body}, nil
		})
}

// forwardTo sends a request with send to the leader of the shard shardOf picks under the
// current map and returns its answer, except when the node says or shows that it did
// nothing, which makes a retry safe:
//   - 421 with a leader hint: the request goes to that leader (the hint is cached);
//   - 421 without one (no leader known, or the node does not host the shard under its
//     map): the map is reloaded and the next replica tried, with a growing pause;
//   - a refused connection (or a request the node never read): the next replica is tried;
//   - any failure of a read, or a 503 answer to one (it changes nothing): the next replica
//     is tried.
//
// A write that failed after it was sent is answered 502 and never retried: it may have
// been applied. Retries stop after RetryBudget with 503.
func (rt *Router) forwardTo(ctx context.Context, read bool, shardOf func(*shardmap.Map) int,
	send func(context.Context, shardmap.Node) (reply, error)) (reply, error) {
	deadline := time.Now().Add(rt.cfg.RetryBudget)
	pause := 10 * time.Millisecond
	target := ""
	var lastErr error
	hints, misses := 0, 0 // leader hints followed; tries that found no leader
	refusals := 0         // consecutive refused connections
	for attempt := 0; ; attempt++ {
		m := rt.holder.Current()
		if m == nil {
			return reply{}, fmt.Errorf("%w: no valid shard map yet", httpx.ErrUnavailable)
		}
		shard := shardOf(m)
		if target == "" {
			target = rt.leaderOf(m, shard)
		}
		node, ok := m.Node(target)
		if !ok {
			rt.forgetLeader(shard, target)
			target = ""
			continue
		}
		if attempt > 0 && time.Now().After(deadline) {
			return reply{}, fmt.Errorf("%w: shard %d is unreachable: no replica answered as its leader within %s (last: %v)", httpx.ErrUnavailable, shard, rt.cfg.RetryBudget, lastErr)
		}
		rep, err := send(ctx, node)
		var next string // the node to try next
		switch {
		case err != nil && (refused(err) || read):
			if ctx.Err() != nil {
				rt.suspect(m, shard, node.ID)
				return reply{}, fmt.Errorf("%w: the client went away: %v", httpx.ErrUnavailable, ctx.Err())
			}
			reason := "unreachable"
			if !refused(err) {
				reason = "failed_read"
			}
			lastErr = fmt.Errorf("node %s (%s): %w", node.ID, node.API, err)
			if refused(err) {
				// Every replica refusing means every replica is down, not an election:
				// waiting cannot help.
				if refusals++; refusals >= len(m.Replicas(shard)) {
					return reply{}, fmt.Errorf("%w: shard %d is unreachable: every replica refused the connection (last: %v)", httpx.ErrUnavailable, shard, lastErr)
				}
			}
			rt.retries.WithLabelValues(reason).Inc()
			rt.forgetLeader(shard, node.ID)
			next = nextReplica(m, shard, node.ID)
		case err != nil:
			// A write that failed after it was sent is not retried, but the node that
			// did not answer (paused, partitioned) is not asked first next time.
			rt.suspect(m, shard, node.ID)
			if ctx.Err() != nil {
				return reply{}, fmt.Errorf("%w: the client went away: %v", httpx.ErrUnavailable, ctx.Err())
			}
			return reply{}, fmt.Errorf("%w: node %s (%s) failed during the request, which may or may not have been applied: %v", httpx.ErrBadGateway, node.ID, node.API, err)
		case read && rep.status == http.StatusServiceUnavailable:
			// A read changes nothing, and another replica may serve it: this one may have
			// no map yet (it just started) or be closing the shard.
			refusals = 0
			var e httpx.ErrorBody
			_ = json.Unmarshal(rep.body, &e)
			lastErr = fmt.Errorf("node %s answered 503: %s", node.ID, e.Error)
			rt.retries.WithLabelValues("unavailable_read").Inc()
			rt.forgetLeader(shard, node.ID)
			next = nextReplica(m, shard, node.ID)
		case rep.status == http.StatusMisdirectedRequest:
			refusals = 0
			var e httpx.ErrorBody
			_ = json.Unmarshal(rep.body, &e)
			lastErr = fmt.Errorf("node %s: %s", node.ID, e.Error)
			if e.Leader != "" && e.Leader != node.ID && hints < 3 {
				hints++
				rt.retries.WithLabelValues("leader_hint").Inc()
				rt.setLeader(shard, e.Leader)
				target = e.Leader
				continue
			}
			rt.retries.WithLabelValues("no_leader").Inc()
			rt.forgetLeader(shard, node.ID)
			if m.Version < e.MapVersion || attempt == 0 {
				if err := rt.cfg.Source.Reload(ctx, rt.holder); err != nil && !errors.Is(err, shardmap.ErrStale) {
					rt.log.Warn("Shard map reload after 421 failed", "err", err)
				}
			}
			next = nextReplica(m, shard, node.ID)
			if cur := rt.holder.Current(); cur != m {
				next = "" // a new map: start from its view of the shard
			}
		default:
			return rep, nil
		}
		// Go round the replicas at once; pause each time all of them have been tried.
		hints = 0
		if misses++; misses%len(m.Replicas(shard)) == 0 {
			select {
			case <-ctx.Done():
				return reply{}, fmt.Errorf("%w: the client went away: %v", httpx.ErrUnavailable, ctx.Err())
			case <-time.After(pause):
			}
			pause = min(2*pause, 500*time.Millisecond)
		}
		target = next
	}
}

// maxNodeJSON bounds a node's JSON answer (a listing of 10,000 keys of 1 KiB, with room).
const maxNodeJSON = 32 << 20

// sendHTTP sends a GET of path and query to node over HTTP and reads the whole answer
// (JSON: listings, status), up to maxNodeJSON.
func (rt *Router) sendHTTP(ctx context.Context, node shardmap.Node, pathAndQuery string) (reply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+node.API+pathAndQuery, nil)
	if err != nil {
		return reply{}, err
	}
	resp, err := rt.client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxNodeJSON))
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, body: body}, nil
}

// leaderOf returns the cached leader of shard if the map still has that node, else the
// shard's first replica (the preferred leader the nodes hand leadership to).
func (rt *Router) leaderOf(m *shardmap.Map, shard int) string {
	rt.leadersMu.RLock()
	id, ok := rt.leaders[shard]
	rt.leadersMu.RUnlock()
	if ok {
		if _, inMap := m.Node(id); inMap {
			return id
		}
	}
	return m.Replicas(shard)[0]
}

func (rt *Router) setLeader(shard int, id string) {
	rt.leadersMu.Lock()
	rt.leaders[shard] = id
	rt.leadersMu.Unlock()
}

// forgetLeader drops the cached leader of shard if it is id.
func (rt *Router) forgetLeader(shard int, id string) {
	rt.leadersMu.Lock()
	if rt.leaders[shard] == id {
		delete(rt.leaders, shard)
	}
	rt.leadersMu.Unlock()
}

// suspect makes the next request for shard start at the replica after id if id is the one
// the router would ask first: id did not answer, and asking it again would wait again.
func (rt *Router) suspect(m *shardmap.Map, shard int, id string) {
	if rt.leaderOf(m, shard) == id {
		rt.setLeader(shard, nextReplica(m, shard, id))
	}
}

// nextReplica returns the replica of shard after id in map order (wrapping), or the first
// replica if id is not one.
func nextReplica(m *shardmap.Map, shard int, id string) string {
	rs := m.Replicas(shard)
	i := slices.Index(rs, id)
	return rs[(i+1)%len(rs)]
}

// refused reports whether err says the request never reached the node.
func refused(err error) bool {
	var op *net.OpError
	return errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &op) && op.Op == "dial") || errors.Is(err, wire.ErrNotSent)
}

// handleList gathers a page from every node, each asked for the shards it serves, and merges them.
func (rt *Router) handleList(w http.ResponseWriter, r *http.Request) {
	p, err := httpx.ParseList(r)
	if err != nil {
		httpx.WriteError(w, r, rt.log, err)
		return
	}
	m := rt.holder.Current()
	if m == nil {
		httpx.WriteError(w, r, rt.log, fmt.Errorf("%w: no valid shard map yet", httpx.ErrUnavailable))
		return
	}
	// One request per node for the shards it leads (as far as the router knows); a node
	// that fails them is bypassed shard by shard, each following leader hints.
	byNode := map[string][]int{}
	for s := range m.Shards {
		id := rt.leaderOf(m, s)
		byNode[id] = append(byNode[id], s)
	}
	q := url.Values{"prefix": {p.Prefix}, "after": {p.After}, "limit": {strconv.Itoa(p.Limit)}}
	if c := r.URL.Query().Get("consistency"); c != "" {
		q.Set("consistency", c)
	}
	type result struct {
		page httpx.ListPage
		err  error
	}
	results := make(chan result, len(byNode))
	for id, shards := range byNode {
		node, _ := m.Node(id)
		go func() {
			var page httpx.ListPage
			err := rt.getJSON(r.Context(), node, "/store?"+withParam(q, "shards", joinInts(shards)).Encode(), &page)
			if err != nil {
				page, err = rt.listShards(r.Context(), shards, q)
			}
			results <- result{page, err}
		}()
	}
	var keys []string
	more := false
	for range byNode {
		res := <-results
		if res.err != nil && err == nil {
			err = res.err
		}
		keys = append(keys, res.page.Keys...)
		more = more || res.page.Next != ""
	}
	if err != nil {
		httpx.WriteError(w, r, rt.log, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, httpx.Page(keys, p.Limit, more))
}

// listShards lists each shard on its own through forwardTo (leader hints, retries) and
// merges the pages.
func (rt *Router) listShards(ctx context.Context, shards []int, q url.Values) (httpx.ListPage, error) {
	var out httpx.ListPage
	for _, s := range shards {
		path := "/store?" + withParam(q, "shards", strconv.Itoa(s)).Encode()
		rep, err := rt.forwardTo(ctx, true, func(*shardmap.Map) int { return s },
			func(ctx context.Context, node shardmap.Node) (reply, error) { return rt.sendHTTP(ctx, node, path) })
		if err != nil {
			return out, err
		}
		if rep.status != http.StatusOK {
			return out, fmt.Errorf("%w: listing shard %d answered %d", httpx.ErrUnavailable, s, rep.status)
		}
		var page httpx.ListPage
		if err := json.Unmarshal(rep.body, &page); err != nil {
			return out, fmt.Errorf("%w: listing shard %d: %v", httpx.ErrBadGateway, s, err)
		}
		out.Keys = append(out.Keys, page.Keys...)
		if page.Next != "" {
			out.Next = page.Next
		}
	}
	return out, nil
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

// withParam returns a copy of q with k set to v.
func withParam(q url.Values, k, v string) url.Values {
	c := url.Values{}
	for key, vs := range q {
		c[key] = vs
	}
	c.Set(k, v)
	return c
}

// getJSON fetches a node's JSON resource, turning failures into the router's errors.
func (rt *Router) getJSON(ctx context.Context, node shardmap.Node, path string, v any) error {
	rep, err := rt.sendHTTP(ctx, node, path)
	switch {
	case err != nil && refused(err):
		return fmt.Errorf("%w: node %s (%s) is unreachable", httpx.ErrUnavailable, node.ID, node.API)
	case err != nil:
		return fmt.Errorf("%w: node %s (%s): %v", httpx.ErrBadGateway, node.ID, node.API, err)
	case rep.status == http.StatusMisdirectedRequest || rep.status == http.StatusServiceUnavailable:
		var e httpx.ErrorBody
		_ = json.Unmarshal(rep.body, &e)
		return fmt.Errorf("%w: node %s: %s", httpx.ErrUnavailable, node.ID, e.Error)
	case rep.status != http.StatusOK:
		var e httpx.ErrorBody
		_ = json.Unmarshal(rep.body, &e)
		return fmt.Errorf("%w: node %s answered %d: %s", httpx.ErrBadGateway, node.ID, rep.status, e.Error)
	}
	if err := json.Unmarshal(rep.body, v); err != nil {
		return fmt.Errorf("%w: node %s: %v", httpx.ErrBadGateway, node.ID, err)
	}
	return nil
}

// handleCluster reports the map and each node's reachability and status.
func (rt *Router) handleCluster(w http.ResponseWriter, r *http.Request) {
	m := rt.holder.Current()
	info := client.ClusterInfo{Map: m, Nodes: []client.NodeInfo{}}
	if m != nil {
		info.Nodes = make([]client.NodeInfo, len(m.Nodes))
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for i, n := range m.Nodes {
			info.Nodes[i] = client.NodeInfo{ID: n.ID, API: n.API, State: n.State}
			wg.Go(func() {
				var st shardmap.NodeStatus
				if err := rt.getJSON(ctx, n, "/internal/status", &st); err != nil {
					info.Nodes[i].Error = err.Error()
					return
				}
				info.Nodes[i].Reachable, info.Nodes[i].Status = true, &st
			})
		}
		wg.Wait()
	}
	httpx.WriteJSON(w, http.StatusOK, info)
}
