package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/node/engine"
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
		release, err := n.admit()
		if err != nil {
			httpx.WriteError(w, r, n.log, err)
			return
		}
		defer release()
		h(w, r)
	}
}

func (n *Node) handleGet(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	stale, err := httpx.ParseConsistency(r)
	if err == nil {
		err = httpx.CheckKey(key)
	}
	var v engine.Value
	if err == nil {
		v, err = n.get(r.Context(), key, stale)
	}
	if err != nil {
		n.writeError(w, r, err)
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
	n.handleWrite(w, r, engine.OpPut)
}

func (n *Node) handleDelete(w http.ResponseWriter, r *http.Request) {
	n.handleWrite(w, r, engine.OpDelete)
}

func (n *Node) handleWrite(w http.ResponseWriter, r *http.Request, kind engine.OpKind) {
	key := r.PathValue("key")
	op := engine.Op{Kind: kind, Key: []byte(key)}
	err := httpx.CheckKey(key)
	if err == nil {
		op.Cond, err = httpx.ParsePrecondition(r.Header)
	}
	if err == nil && kind == engine.OpPut {
		op.Value, err = httpx.ReadValue(r, n.cfg.MaxValueSize)
	}
	var res engine.Result
	if err == nil {
		res, err = n.write(r.Context(), op)
	}
	if err != nil {
		n.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", httpx.ETag(res.Revision))
	w.WriteHeader(http.StatusNoContent)
}

func (n *Node) handleList(w http.ResponseWriter, r *http.Request) {
	var q listQuery
	var err error
	q.ListParams, err = httpx.ParseList(r)
	if err == nil {
		q.Stale, err = httpx.ParseConsistency(r)
	}
	if err == nil {
		q.Shards, err = n.parseShards(r.URL.Query().Get("shards"))
	}
	var keys []string
	var more bool
	if err == nil {
		keys, more, err = n.list(r.Context(), q)
	}
	if err != nil {
		n.writeError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, httpx.Page(keys, q.Limit, more))
}

// parseShards reads ?shards= (a comma-separated list of shard numbers; nil when empty). A
// list with a malformed number is ErrBadRequest, unless a shard named before it is not
// hosted here (or there is no map yet): that error comes first, as the list is read in order.
func (n *Node) parseShards(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var shards []int
	for _, f := range strings.Split(s, ",") {
		id, err := strconv.Atoi(f)
		if err != nil {
			if err := n.hosts(n.hosting.Load(), shards); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("%w: shards must be a comma-separated list of shard numbers", httpx.ErrBadRequest)
		}
		shards = append(shards, id)
	}
	return shards, nil
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

// writeError answers a key request with err's status and body (httpx.Describe). A replica
// that is not the leader also names the leader it knows in a header.
func (n *Node) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var nl *notLeader
	if errors.As(err, &nl) && nl.err.Leader != "" {
		w.Header().Set(LeaderHeader, nl.err.Leader)
	}
	httpx.WriteError(w, r, n.log, err)
}

// LeaderHeader names the shard's leader in a 421 answer of a replica that is not it.
const LeaderHeader = "Torua-Leader"
