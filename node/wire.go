package node

import (
	"context"
	"fmt"
	"net/http"

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
	if err := httpx.CheckWireRequest(req, n.cfg.MaxValueSize); err != nil {
		return n.wireError(req, err)
	}
	if req.Op == wire.OpGet {
		v, err := n.getKey(ctx, req.Key, req.Stale())
		if err != nil {
			return n.wireError(req, err)
		}
		return wire.Response{Status: http.StatusOK, Revision: v.Revision, Body: v.Data}
	}
	op := engine.Op{Kind: engine.OpPut, Key: []byte(req.Key), Value: req.Value, Cond: condition(wirePrecondition(req))}
	if req.Op == wire.OpDelete {
		op.Kind = engine.OpDelete
	}
	res, err := n.writeKey(ctx, op)
	if err != nil {
		return n.wireError(req, err)
	}
	return wire.Response{Status: http.StatusNoContent, Revision: res.Revision}
}

// wireError answers a wire request with the status and JSON body the HTTP API gives err.
func (n *Node) wireError(req *wire.Request, err error) wire.Response {
	return httpx.WireError(n.log, req, n.keyError(req.Key, wirePrecondition(req), err))
}

func wirePrecondition(req *wire.Request) httpx.Precondition {
	return httpx.Precondition{Cond: req.Cond, Revision: req.Revision}
}
