package router

import (
	"context"
	"net/http"
	"strconv"

	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/internal/wire"
	"github.com/torua/torua/shardmap"
)

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

// serveWire serves a key request of the wire protocol through do, and a graph query
// (serveQuery).
func (rt *Router) serveWire(ctx context.Context, req *wire.Request) wire.Response {
	if req.Op == wire.OpQuery {
		return rt.serveQuery(ctx, req)
	}
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
