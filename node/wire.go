package node

import (
	"context"
	"net/http"

	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/internal/kv"
	"github.com/torua/torua/internal/wire"
	"github.com/torua/torua/node/engine"
)

// newWireServer serves the wire protocol's key requests on the API port, with the same
// limits, semantics and answers as /store/{key}, and the router's graph reads
// (serveGraphReads), as /internal/graph/{graph}/reads.
func (n *Node) newWireServer() *wire.Server {
	return wire.NewServer(n.serveWire, wire.ServerOptions{
		MaxValueSize: int(n.cfg.MaxValueSize),
		Logger:       n.log,
		Observe:      n.metrics.ObserveWire,
	})
}

// serveWire decodes a wire request into a key operation (keys.go) and encodes its outcome.
func (n *Node) serveWire(ctx context.Context, req *wire.Request) wire.Response {
	release, err := n.admit()
	if err != nil {
		return n.wireError(req, err)
	}
	defer release()
	if req.Op == wire.OpGraphReads {
		return n.serveGraphReads(ctx, req)
	}
	if err := httpx.CheckWireRequest(req, n.cfg.MaxValueSize); err != nil {
		return n.wireError(req, err)
	}
	if req.Op == wire.OpGet {
		v, err := n.get(ctx, req.Key, req.Stale())
		if err != nil {
			return n.wireError(req, err)
		}
		return wire.Response{Status: http.StatusOK, Revision: v.Revision, Body: v.Data}
	}
	op := engine.Op{Kind: engine.OpPut, Key: []byte(req.Key), Value: req.Value, Cond: req.Cond}
	if req.Op == wire.OpDelete {
		op.Kind = engine.OpDelete
	}
	if op.Cond.Kind > kv.CondAbsent {
		op.Cond = kv.Precondition{} // a cond byte of no known kind is no precondition, as it always was
	}
	res, err := n.write(ctx, op)
	if err != nil {
		return n.wireError(req, err)
	}
	return wire.Response{Status: http.StatusNoContent, Revision: res.Revision}
}

// wireError answers a wire request with the status and JSON body the HTTP API gives err.
func (n *Node) wireError(req *wire.Request, err error) wire.Response {
	return httpx.WireError(n.log, req, err)
}
