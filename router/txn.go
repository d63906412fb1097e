package router

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/internal/kv"
	"github.com/torua/torua/shardmap"
)

// handleTxn forwards POST /txn to the leader of the shard of its first key: the node checks
// the rest (every key on that shard, the ops, their limits) and applies it all or nothing.
// A transaction is a write: once sent it is not sent again (502 if its node failed).
func (rt *Router) handleTxn(w http.ResponseWriter, r *http.Request) {
	limit := 2*httpx.MaxKeySize*kv.MaxTxnOps + 4*rt.cfg.MaxValueSize
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err == nil && int64(len(body)) > limit {
		err = fmt.Errorf("%w: the transaction is more than the %d bytes allowed", httpx.ErrTooLarge, limit)
	} else if err != nil {
		err = fmt.Errorf("%w: reading the transaction: %v", httpx.ErrBadRequest, err)
	}
	var req kv.TxnRequest
	if err == nil {
		if jerr := json.Unmarshal(body, &req); jerr != nil {
			err = fmt.Errorf("%w: the transaction is not valid JSON: %v", httpx.ErrBadRequest, jerr)
		} else if len(req.Ops) == 0 {
			err = fmt.Errorf("%w: a transaction needs at least one op", httpx.ErrBadRequest)
		} else {
			err = httpx.CheckKey(req.Ops[0].Key)
		}
	}
	if err != nil {
		httpx.WriteError(w, r, rt.log, err)
		return
	}
	key := []byte(req.Ops[0].Key)
	var out kv.TxnResult
	rep, err := rt.forwardTo(r.Context(), false, func(m *shardmap.Map) int { return m.ShardFor(key) },
		func(ctx context.Context, node shardmap.Node) (reply, error) {
			return httpReply(rt.nodes.PostJSON(ctx, node.API, "/txn", json.RawMessage(body), &out))
		})
	if err != nil {
		httpx.WriteError(w, r, rt.log, err)
		return
	}
	if rep.status == http.StatusOK {
		httpx.WriteJSON(w, http.StatusOK, out)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(rep.body)))
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)
}
