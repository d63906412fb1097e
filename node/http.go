package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/internal/wire"
	"github.com/torua/torua/node/engine"
	"github.com/torua/torua/node/replication"
)

func (n *Node) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /store/{key...}", n.limit(n.handleGet))
	mux.HandleFunc("PUT /store/{key...}", n.limit(n.handlePut))
	mux.HandleFunc("DELETE /store/{key...}", n.limit(n.handleDelete))
	mux.HandleFunc("GET /store", n.limit(n.handleList))
	mux.HandleFunc("/store", httpx.OnlyMethods(n.log, "GET", "HEAD"))
	mux.HandleFunc("GET /internal/status", func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, n.Status())
	})
	mux.HandleFunc("GET /internal/raft-state", func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, n.raftState())
	})
	mux.HandleFunc("GET /internal/shardmap", n.handleShardMap)
	mux.HandleFunc("POST /internal/transfer-leadership", n.handleTransferLeadership)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := n.ready(); err != nil {
			httpx.WriteError(w, r, n.log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.Handle("GET /metrics", n.metrics.Handler())
	return mux
}

// limit answers 429 when MaxInFlight requests are already being served.
func (n *Node) limit(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case n.limiter <- struct{}{}:
			defer func() { <-n.limiter }()
			h(w, r)
		default:
			httpx.WriteError(w, r, n.log, fmt.Errorf("%w: %d requests in flight", httpx.ErrOverloaded, cap(n.limiter)))
		}
	}
}

func (n *Node) handleGet(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	stale, err := httpx.ParseConsistency(r)
	var v engine.Value
	if err == nil {
		v, err = n.getKey(r.Context(), key, stale)
	}
	if err != nil {
		n.writeError(w, r, key, err)
		return
	}
	etag := httpx.ETag(v.Revision)
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(v.Data)))
	_, _ = w.Write(v.Data)
}

func (n *Node) handlePut(w http.ResponseWriter, r *http.Request) {
	n.write(w, r, engine.OpPut)
}

func (n *Node) handleDelete(w http.ResponseWriter, r *http.Request) {
	n.write(w, r, engine.OpDelete)
}

func (n *Node) write(w http.ResponseWriter, r *http.Request, kind engine.OpKind) {
	key := r.PathValue("key")
	op := engine.Op{Kind: kind, Key: []byte(key)}
	err := httpx.CheckKey(key)
	var pre httpx.Precondition
	if err == nil {
		pre, err = httpx.ParsePrecondition(r.Header)
		op.Cond = condition(pre)
	}
	if err == nil && kind == engine.OpPut {
		op.Value, err = httpx.ReadValue(r, n.cfg.MaxValueSize)
	}
	var res engine.Result
	if err == nil {
		res, err = n.writeKey(r.Context(), op)
	}
	if err != nil {
		n.writeError(w, r, key, err)
		return
	}
	w.Header().Set("ETag", httpx.ETag(res.Revision))
	w.WriteHeader(http.StatusNoContent)
}

// getKey reads key from its shard's replica on this node, with Get's consistency.
func (n *Node) getKey(ctx context.Context, key string, stale bool) (engine.Value, error) {
	if err := httpx.CheckKey(key); err != nil {
		return engine.Value{}, err
	}
	rep, err := n.replicaFor(key)
	if err != nil {
		return engine.Value{}, err
	}
	return rep.Get(ctx, []byte(key), stale)
}

// writeKey applies op (a checked key) through its shard's replica on this node; a failed
// precondition is the error.
func (n *Node) writeKey(ctx context.Context, op engine.Op) (engine.Result, error) {
	rep, err := n.replicaFor(string(op.Key))
	if err != nil {
		return engine.Result{}, err
	}
	res, err := rep.Write(ctx, op)
	if err == nil {
		err = res.Err
	}
	return res, err
}

func (n *Node) handleList(w http.ResponseWriter, r *http.Request) {
	p, err := httpx.ParseList(r)
	if err != nil {
		httpx.WriteError(w, r, n.log, err)
		return
	}
	stale, err := httpx.ParseConsistency(r)
	if err != nil {
		httpx.WriteError(w, r, n.log, err)
		return
	}
	h := n.hosting.Load()
	if h.m == nil {
		httpx.WriteError(w, r, n.log, fmt.Errorf("%w: no valid shard map yet", httpx.ErrUnavailable))
		return
	}
	shards := make([]int, 0, len(h.replicas))
	if s := r.URL.Query().Get("shards"); s != "" {
		for _, f := range strings.Split(s, ",") {
			id, err := strconv.Atoi(f)
			if err != nil {
				httpx.WriteError(w, r, n.log, fmt.Errorf("%w: shards must be a comma-separated list of shard numbers", httpx.ErrBadRequest))
				return
			}
			if _, ok := h.replicas[id]; !ok {
				httpx.WriteError(w, r, n.log, &misdirected{shard: id, node: n.cfg.ID, version: h.m.Version})
				return
			}
			shards = append(shards, id)
		}
	} else {
		for s := range h.replicas {
			shards = append(shards, s)
		}
	}
	// Each shard's first limit keys, merged: the page is the smallest limit keys of the union.
	var keys []string
	more := false
	for _, s := range shards {
		ks, m, err := h.replicas[s].List(r.Context(), []byte(p.Prefix), []byte(p.After), p.Limit, stale)
		if err != nil {
			n.writeError(w, r, "", fmt.Errorf("list shard %d: %w", s, err))
			return
		}
		more = more || m
		for _, k := range ks {
			keys = append(keys, string(k))
		}
	}
	httpx.WriteJSON(w, http.StatusOK, httpx.Page(keys, p.Limit, more))
}

// handleShardMap answers the shard map this node holds (the newest valid one it accepted),
// so the operator can restore a published map that was lost or overwritten; 404 before the
// node has accepted any.
func (n *Node) handleShardMap(w http.ResponseWriter, r *http.Request) {
	m := n.holder.Current()
	if m == nil {
		httpx.WriteError(w, r, n.log, fmt.Errorf("%w: node %s holds no shard map yet", httpx.ErrNotFound, n.cfg.ID))
		return
	}
	httpx.WriteJSON(w, http.StatusOK, m)
}

// TransferResult is the body of POST /internal/transfer-leadership.
type TransferResult struct {
	// HandedOff counts the shard leaderships handed to another replica.
	HandedOff int `json:"handedOff"`
	// Kept lists the shards this node still leads because no other voter could take over
	// (a group of one, or no other voter reachable and caught up).
	Kept []int `json:"kept"`
}

// handleTransferLeadership hands every leadership this node holds to an up-to-date voter
// before a planned restart (the operator calls it during rolling updates). It answers once
// every hand-off has finished or failed.
func (n *Node) handleTransferLeadership(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), handOffTimeout)
	defer cancel()
	handed, kept := n.transferLeaderships(ctx)
	res := TransferResult{HandedOff: handed, Kept: append([]int{}, kept...)}
	n.log.Info("Leadership hand-off requested", "handedOff", res.HandedOff, "kept", res.Kept)
	httpx.WriteJSON(w, http.StatusOK, res)
}

// condition is the engine's form of a request's precondition.
func condition(p httpx.Precondition) engine.Condition {
	switch p.Cond {
	case wire.CondRevision:
		return engine.Condition{Kind: engine.CondRevision, Revision: p.Revision}
	case wire.CondExists:
		return engine.Condition{Kind: engine.CondExists}
	case wire.CondAbsent:
		return engine.Condition{Kind: engine.CondAbsent}
	}
	return engine.Condition{}
}

// writeError answers a key request with keyError's mapping of err. A replica that is not
// the leader also names the leader it knows in a header.
func (n *Node) writeError(w http.ResponseWriter, r *http.Request, key string, err error) {
	pre, _ := httpx.ParsePrecondition(r.Header) // a 412 happens only after it parsed
	err = n.keyError(key, pre, err)
	var nl *notLeader
	if errors.As(err, &nl) && nl.err.Leader != "" {
		w.Header().Set(LeaderHeader, nl.err.Leader)
	}
	httpx.WriteError(w, r, n.log, err)
}

// keyError maps engine and replication errors onto the shared HTTP sentinels (pre is the
// request's precondition, named in a 412). A replica that is not the leader
// answers 421 with the leader it knows: nothing was done, so the request is safe to send
// there.
func (n *Node) keyError(key string, pre httpx.Precondition, err error) error {
	var nl *replication.NotLeaderError
	switch {
	case errors.Is(err, engine.ErrNotFound):
		return fmt.Errorf("%w: key %q", httpx.ErrNotFound, key)
	case errors.Is(err, engine.ErrConditionFailed):
		return fmt.Errorf("%w: key %q does not match %s", httpx.ErrPreconditionFailed, key, pre)
	case errors.As(err, &nl):
		return &notLeader{err: nl, version: n.mapVersion()}
	case errors.Is(err, replication.ErrUnknownOutcome):
		return fmt.Errorf("%w: the write may or may not have been applied (%v); read the key before retrying", httpx.ErrUnavailable, err)
	case errors.Is(err, replication.ErrNotProposed):
		return fmt.Errorf("%w: %v; nothing was written, retry", httpx.ErrUnavailable, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: the request ended before the shard answered (%v)", httpx.ErrUnavailable, err)
	case errors.Is(err, replication.ErrClosed), errors.Is(err, engine.ErrClosed):
		return fmt.Errorf("%w: the shard is closing on this node; retry", httpx.ErrUnavailable)
	}
	return err
}

// LeaderHeader names the shard's leader in a 421 answer of a replica that is not it.
const LeaderHeader = "Torua-Leader"

// notLeader is a 421 answer of a replica that is not its shard's leader.
type notLeader struct {
	err     *replication.NotLeaderError
	version uint64
}

func (e *notLeader) Error() string { return e.err.Error() }
func (e *notLeader) Unwrap() error { return httpx.ErrMisdirected }
func (e *notLeader) Detail() httpx.ErrorBody {
	return httpx.ErrorBody{MapVersion: e.version, Leader: e.err.Leader}
}

func (n *Node) mapVersion() uint64 {
	if m := n.hosting.Load().m; m != nil {
		return m.Version
	}
	return 0
}
