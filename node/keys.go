package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/internal/kv"
	"github.com/torua/torua/node/engine"
	"github.com/torua/torua/node/replication"
	"github.com/torua/torua/shardmap"
)

// The node's key operations, whatever transport carried the request: the HTTP API
// (http.go) and the wire protocol (wire.go) decode a request, call these, and encode the
// answer. Keys come checked (httpx.CheckKey): each transport reports a bad key before
// anything else of the request, in its own order.
//
// Errors are the shared sentinels of internal/httpx (wrapped with context), so that one
// table, httpx.Describe, gives both transports their status and body: a wire answer's
// status is the HTTP API's status for the same outcome.

// admit takes one of the MaxInFlight request slots, or fails with ErrOverloaded; release
// gives it back.
func (n *Node) admit() (release func(), err error) {
	select {
	case n.limiter <- struct{}{}:
		return func() { <-n.limiter }, nil
	default:
		return nil, fmt.Errorf("%w: %d requests in flight", httpx.ErrOverloaded, cap(n.limiter))
	}
}

// get reads key from its shard's replica on this node: linearizable, or this replica's
// possibly older state with stale.
func (n *Node) get(ctx context.Context, key string, stale bool) (engine.Value, error) {
	rep, err := n.replicaFor(key)
	if err != nil {
		return engine.Value{}, err
	}
	v, err := rep.Get(ctx, []byte(key), stale)
	if err != nil {
		return engine.Value{}, n.keyError(key, kv.Precondition{}, err)
	}
	return v, nil
}

// write applies op (a put or a delete, with its precondition) through its shard's replica
// on this node and returns once it is committed and applied. A failed precondition is the
// error (ErrPreconditionFailed), as is a delete of a missing key (ErrNotFound).
func (n *Node) write(ctx context.Context, op engine.Op) (engine.Result, error) {
	key := string(op.Key)
	rep, err := n.replicaFor(key)
	if err != nil {
		return engine.Result{}, err
	}
	res, err := rep.Write(ctx, op)
	if err == nil {
		err = res.Err
	}
	if err != nil {
		return engine.Result{}, n.keyError(key, op.Cond, err)
	}
	return res, nil
}

// txn applies ops (puts, deletes and checks, keys checked) through the replica of their
// shard on this node, all of them or none, and returns once the transaction is committed
// and applied. Every key must be on one shard under the node's map (else ErrBadRequest,
// saying how to place keys together); an aborted transaction is the error, a txnAborted
// (ErrPreconditionFailed) naming the op that failed.
func (n *Node) txn(ctx context.Context, ops []engine.Op) ([]engine.Result, error) {
	h := n.hosting.Load()
	if h.m == nil {
		return nil, fmt.Errorf("%w: no valid shard map yet", httpx.ErrUnavailable)
	}
	shard := h.m.ShardFor(ops[0].Key)
	for _, op := range ops[1:] {
		if s := h.m.ShardFor(op.Key); s != shard {
			return nil, fmt.Errorf("%w: the transaction's keys are on different shards (%q on shard %d, %q on shard %d), "+
				"and a transaction runs on one shard: give its keys one hash tag, a suffix {tag} as in \"user:{42}\" and "+
				"\"follows:{42}\", which places a key by its tag alone under the %q hash scheme (this map's is %q)",
				httpx.ErrBadRequest, ops[0].Key, shard, op.Key, s, shardmap.HashXXHash64Tag, h.m.Hash)
		}
	}
	rep, ok := h.replicas[shard]
	if !ok {
		return nil, &misdirected{shard: shard, node: n.cfg.ID, version: h.m.Version}
	}
	res, err := rep.Txn(ctx, ops)
	if err != nil {
		return nil, n.keyError("", kv.Precondition{}, err)
	}
	for i, r := range res {
		if r.Err != nil && !errors.Is(r.Err, engine.ErrAborted) {
			return nil, &txnAborted{index: i, op: ops[i], err: r.Err}
		}
	}
	return res, nil
}

// txnAborted is a 412 answer naming the op of an aborted transaction that failed.
type txnAborted struct {
	index int
	op    engine.Op
	err   error // engine.ErrConditionFailed or engine.ErrNotFound
}

func (e *txnAborted) Error() string {
	why := fmt.Sprintf("key %q does not match %s", e.op.Key, e.op.Cond)
	if errors.Is(e.err, engine.ErrNotFound) {
		why = fmt.Sprintf("key %q to delete does not exist", e.op.Key)
	}
	return fmt.Sprintf("%v: the transaction was aborted at op %d: %s; nothing was written", httpx.ErrPreconditionFailed, e.index, why)
}
func (e *txnAborted) Unwrap() error           { return httpx.ErrPreconditionFailed }
func (e *txnAborted) Detail() httpx.ErrorBody { return httpx.ErrorBody{Failed: &e.index} }

// listQuery is a listing of the keys this node holds.
type listQuery struct {
	httpx.ListParams
	// Stale lists this node's possibly older state instead of linearizably.
	Stale bool
	// Shards are the shards to list, each hosted here; nil lists every shard hosted here.
	Shards []int
}

// list returns the first q.Limit keys (ascending) with q.Prefix after q.After over the
// shards of q, and whether more follow. Keys in the reserved namespace (the graph store's)
// are never listed.
func (n *Node) list(ctx context.Context, q listQuery) (keys []string, more bool, err error) {
	h := n.hosting.Load()
	if err := n.hosts(h, q.Shards); err != nil {
		return nil, false, err
	}
	shards := q.Shards
	if shards == nil {
		shards = make([]int, 0, len(h.replicas))
		for s := range h.replicas {
			shards = append(shards, s)
		}
	}
	// Each shard's first limit keys, merged: the page is the smallest limit keys of the union.
	for _, s := range shards {
		ks, m, err := h.replicas[s].List(ctx, []byte(q.Prefix), []byte(kv.ListAfter(q.Prefix, q.After)), q.Limit, q.Stale)
		if err != nil {
			return nil, false, n.keyError("", kv.Precondition{}, fmt.Errorf("list shard %d: %w", s, err))
		}
		more = more || m
		for _, k := range ks {
			keys = append(keys, string(k))
		}
	}
	return keys, more, nil
}

// hosts is nil if h has a map and hosts every one of shards: else ErrUnavailable (no map
// yet) or ErrMisdirected naming the first shard that is not hosted here.
func (n *Node) hosts(h *hosting, shards []int) error {
	if h.m == nil {
		return fmt.Errorf("%w: no valid shard map yet", httpx.ErrUnavailable)
	}
	for _, s := range shards {
		if _, ok := h.replicas[s]; !ok {
			return &misdirected{shard: s, node: n.cfg.ID, version: h.m.Version}
		}
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

// keyError maps engine and replication errors onto the shared sentinels (pre is the
// request's precondition, named in a 412). A replica that is not the leader answers 421
// with the leader it knows: nothing was done, so the request is safe to send there.
func (n *Node) keyError(key string, pre kv.Precondition, err error) error {
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

func (n *Node) mapVersion() uint64 {
	if m := n.hosting.Load().m; m != nil {
		return m.Version
	}
	return 0
}

// misdirected is a 421 answer for a shard this node does not host under its map.
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
