package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/internal/kv"
	"github.com/torua/torua/node/engine"
)

func (n *Node) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /store/{key...}", n.limit(n.handleGet))
	mux.HandleFunc("PUT /store/{key...}", n.limit(n.handlePut))
	mux.HandleFunc("DELETE /store/{key...}", n.limit(n.handleDelete))
	mux.HandleFunc("GET /store", n.limit(n.handleList))
	mux.HandleFunc("/store", httpx.OnlyMethods(n.log, "GET", "HEAD"))
	mux.HandleFunc("POST /txn", n.limit(n.handleTxn))
	mux.HandleFunc("/txn", httpx.OnlyMethods(n.log, "POST"))
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
	n.graphRoutes(mux)
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

// handleTxn applies a transaction (kv.TxnRequest): 200 with kv.TxnResult once committed,
// 412 naming the failed op (ErrorBody.Failed) once aborted.
func (n *Node) handleTxn(w http.ResponseWriter, r *http.Request) {
	ops, err := n.readTxn(r)
	var res []engine.Result
	if err == nil {
		res, err = n.txn(r.Context(), ops)
	}
	if err != nil {
		n.writeError(w, r, err)
		return
	}
	out := kv.TxnResult{Revisions: make([]uint64, len(res))}
	for i, v := range res {
		out.Revisions[i] = v.Revision
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// txnBodyLimit is the most bytes a POST /txn body may hold: room for MaxTxnOps ops with
// the longest keys, and four of the largest values (base64 makes three bytes four).
func (n *Node) txnBodyLimit() int64 {
	return 2*httpx.MaxKeySize*kv.MaxTxnOps + 4*n.cfg.MaxValueSize
}

// readTxn decodes and checks a POST /txn body into engine ops: ErrTooLarge for a body, a
// value or an op count over its limit, ErrBadRequest for anything else malformed, each
// naming the op at fault.
func (n *Node) readTxn(r *http.Request) ([]engine.Op, error) {
	limit := n.txnBodyLimit()
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: the transaction is %d bytes, more than the %d allowed", httpx.ErrTooLarge, r.ContentLength, limit)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the transaction: %v", httpx.ErrBadRequest, err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: the transaction is more than the %d bytes allowed", httpx.ErrTooLarge, limit)
	}
	var req kv.TxnRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("%w: the transaction is not a JSON object {\"ops\": [...]}: %v", httpx.ErrBadRequest, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: the transaction has data after its JSON object", httpx.ErrBadRequest)
	}
	switch {
	case len(req.Ops) == 0:
		return nil, fmt.Errorf("%w: a transaction needs at least one op", httpx.ErrBadRequest)
	case len(req.Ops) > kv.MaxTxnOps:
		return nil, fmt.Errorf("%w: the transaction has %d ops, more than the %d allowed", httpx.ErrTooLarge, len(req.Ops), kv.MaxTxnOps)
	}
	ops := make([]engine.Op, len(req.Ops))
	for i, o := range req.Ops {
		if ops[i], err = n.txnOp(o); err != nil {
			return nil, fmt.Errorf("op %d: %w", i, err)
		}
	}
	return ops, nil
}

// txnOp checks one op of a transaction and converts it.
func (n *Node) txnOp(o kv.TxnOp) (engine.Op, error) {
	op := engine.Op{Key: []byte(o.Key), Value: o.Value}
	switch o.Op {
	case kv.TxnPut:
		op.Kind = engine.OpPut
	case kv.TxnDelete:
		op.Kind = engine.OpDelete
	case kv.TxnCheck:
		op.Kind = engine.OpCheck
	default:
		return op, fmt.Errorf("%w: op must be %q, %q or %q, got %q", httpx.ErrBadRequest, kv.TxnPut, kv.TxnDelete, kv.TxnCheck, o.Op)
	}
	if err := httpx.CheckKey(o.Key); err != nil {
		return op, err
	}
	switch {
	case op.Kind != engine.OpPut && o.Value != nil:
		return op, fmt.Errorf("%w: only a put has a value", httpx.ErrBadRequest)
	case int64(len(o.Value)) > n.cfg.MaxValueSize:
		return op, fmt.Errorf("%w: the value is %d bytes, more than the %d allowed", httpx.ErrTooLarge, len(o.Value), n.cfg.MaxValueSize)
	}
	var err error
	op.Cond, err = txnPrecondition(o.IfMatch, o.IfNoneMatch)
	return op, err
}

// txnPrecondition reads an op's ifMatch and ifNoneMatch as httpx.ParsePrecondition reads
// the If-Match and If-None-Match headers, except that ifMatch takes a bare revision ("7")
// as well as an entity tag ("\"7\"").
func txnPrecondition(ifMatch, ifNoneMatch string) (kv.Precondition, error) {
	switch {
	case ifMatch != "" && ifNoneMatch != "":
		return kv.Precondition{}, fmt.Errorf("%w: send ifMatch or ifNoneMatch, not both", httpx.ErrBadRequest)
	case ifNoneMatch == "*":
		return kv.Precondition{Kind: kv.CondAbsent}, nil
	case ifNoneMatch != "":
		return kv.Precondition{}, fmt.Errorf("%w: ifNoneMatch must be *, got %q", httpx.ErrBadRequest, ifNoneMatch)
	case ifMatch == "*":
		return kv.Precondition{Kind: kv.CondExists}, nil
	case ifMatch != "":
		rev, err := strconv.ParseUint(ifMatch, 10, 64)
		if err != nil {
			rev, err = httpx.ParseETag(ifMatch)
		}
		if err != nil || rev == 0 {
			return kv.Precondition{}, fmt.Errorf("%w: ifMatch must be *, a revision like \"42\" or its entity tag \"\\\"42\\\"\", got %q", httpx.ErrBadRequest, ifMatch)
		}
		return kv.Precondition{Kind: kv.CondRevision, Revision: rev}, nil
	}
	return kv.Precondition{}, nil
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
