package node

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/internal/wire"
	"github.com/torua/torua/node/engine"
)

// newWireServer serves the wire protocol's key requests on the API port, with the same
// limits, semantics and answers as /store/{key}.
func (n *Node) newWireServer() *wire.Server {
	return wire.NewServer(n.serveWire, wire.ServerOptions{
		MaxValueSize: int(n.cfg.MaxValueSize),
		Logger:       n.log,
		Observe:      n.metrics.ObserveWire,
	})
}

func (n *Node) serveWire(ctx context.Context, req *wire.Request) wire.Response {
	select {
	case n.limiter <- struct{}{}:
		defer func() { <-n.limiter }()
	default:
		return n.wireError(req, fmt.Errorf("%w: %d requests in flight", httpx.ErrOverloaded, cap(n.limiter)))
	}
	if req.Op == wire.OpGet {
		v, err := n.getKey(ctx, req.Key, req.Stale())
		if err != nil {
			return n.wireError(req, err)
		}
		return wire.Response{Status: http.StatusOK, Revision: v.Revision, Body: v.Data}
	}
	op := engine.Op{Kind: engine.OpPut, Key: []byte(req.Key), Value: req.Value, Cond: wireCondition(req)}
	err := httpx.CheckKey(req.Key)
	switch {
	case err != nil:
	case req.Op == wire.OpDelete && len(req.Value) > 0:
		err = fmt.Errorf("%w: a DELETE carries no value", httpx.ErrBadRequest)
	case req.Op == wire.OpDelete:
		op.Kind = engine.OpDelete
	case int64(len(req.Value)) > n.cfg.MaxValueSize:
		err = fmt.Errorf("%w: the value is %d bytes, over the limit of %d", httpx.ErrTooLarge, len(req.Value), n.cfg.MaxValueSize)
	}
	var res engine.Result
	if err == nil {
		res, err = n.writeKey(ctx, op)
	}
	if err != nil {
		return n.wireError(req, err)
	}
	return wire.Response{Status: http.StatusNoContent, Revision: res.Revision}
}

// wireError answers a wire request with the status and JSON body the HTTP API gives err.
func (n *Node) wireError(req *wire.Request, err error) wire.Response {
	err = n.keyError(req.Key, wireConditionText(req), err)
	status, body := httpx.Describe(err)
	if status == http.StatusInternalServerError {
		n.log.Error("Request failed", "op", req.Op.String(), "key", req.Key, "err", err)
	}
	b, _ := json.Marshal(body)
	return wire.Response{Status: status, Body: b}
}

func wireCondition(req *wire.Request) engine.Condition {
	switch req.Cond {
	case wire.CondRevision:
		return engine.Condition{Kind: engine.CondRevision, Revision: req.Revision}
	case wire.CondExists:
		return engine.Condition{Kind: engine.CondExists}
	case wire.CondAbsent:
		return engine.Condition{Kind: engine.CondAbsent}
	}
	return engine.Condition{}
}

// wireConditionText describes a wire request's precondition as the HTTP header would.
func wireConditionText(req *wire.Request) string {
	switch req.Cond {
	case wire.CondRevision:
		return `If-Match: "` + strconv.FormatUint(req.Revision, 10) + `"`
	case wire.CondExists:
		return "If-Match: *"
	case wire.CondAbsent:
		return "If-None-Match: *"
	}
	return "no precondition"
}
