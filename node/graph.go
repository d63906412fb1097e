package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/shardapi"
	"github.com/torua/torua/graph/store"
	"github.com/torua/torua/internal/fanout"
	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/internal/kv"
	"github.com/torua/torua/internal/wire"
	"github.com/torua/torua/node/engine"
)

// The node's graph API (graph/shardapi): the router's query executor reads and writes one
// shard per request here, and nodes deliver each other's outbox records (graphoutbox.go). The
// work itself is graph/store's; this file decodes requests, picks the replica and maps errors.

// maxGraphBody bounds a graph request's body: an import batch or a large frontier.
const maxGraphBody = 64 << 20

// backfillBatch is how many vertices one backfill request indexes (one Raft entry).
const backfillBatch = 500

// maxGraphLimit bounds the rows one read part may ask for.
const maxGraphLimit = 1 << 20

func (n *Node) graphRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /internal/graph/{graph}/{shard}/{op}", n.limit(n.handleGraph))
	mux.HandleFunc("POST /internal/graphs/{shard}", n.limit(n.handleGraphs))
	mux.HandleFunc("POST /internal/graph/{graph}/reads", n.limit(n.handleReads))
}

// graphReplica returns the replica of the request's shard, checking the graph's name.
func (n *Node) graphReplica(r *http.Request) (graph string, shard int, rep Replica, err error) {
	graph = r.PathValue("graph")
	if err := layout.CheckGraphName(graph); err != nil {
		return "", 0, nil, fmt.Errorf("%w: %v", httpx.ErrBadRequest, err)
	}
	shard, rep, err = n.shardReplica(r.PathValue("shard"))
	return graph, shard, rep, err
}

func (n *Node) shardReplica(s string) (int, Replica, error) {
	shard, err := strconv.Atoi(s)
	if err != nil || shard < 0 {
		return 0, nil, fmt.Errorf("%w: shard %q is not a shard number", httpx.ErrBadRequest, s)
	}
	h := n.hosting.Load()
	if err := n.hosts(h, []int{shard}); err != nil {
		return 0, nil, err
	}
	return shard, h.replicas[shard], nil
}

func (n *Node) handleGraph(w http.ResponseWriter, r *http.Request) {
	graph, shard, rep, err := n.graphReplica(r)
	var out any
	if err == nil {
		ctx := r.Context()
		switch op := r.PathValue("op"); op {
		case "read":
			var req *shardapi.ReadRequest
			var res *shardapi.ReadResponse
			if req, err = decodeGraphBodyAs(r, shardapi.ReadRequestMediaType, shardapi.DecodeReadRequest); err == nil {
				res, err = n.graphRead(ctx, rep, shard, graph, req)
			}
			if err == nil && shardapi.AcceptsMedia(r.Header, shardapi.ReadMediaType) {
				b, err := shardapi.EncodeRead(res)
				n.writeEncoded(w, r, shardapi.ReadMediaType, b, err)
				return
			}
			out = res
		case "write":
			var req shardapi.WriteRequest
			if err = decodeGraphBody(r, &req); err == nil {
				out, err = n.graphWrite(ctx, rep, shard, graph, &req)
			}
		case "apply":
			var req shardapi.ApplyRequest
			if err = decodeGraphBody(r, &req); err == nil && slices.Contains(req.Outboxes, nil) {
				err = fmt.Errorf("%w: an empty outbox record", httpx.ErrBadRequest)
			}
			if err == nil {
				var res []shardapi.ApplyResult
				res, err = n.graph.Apply(ctx, rep, shard, graph, req.Outboxes, req.Expires)
				out = shardapi.ApplyResponse{Results: res}
			}
		case "catalog":
			var req shardapi.CatalogRequest
			if err = decodeGraphBody(r, &req); err == nil {
				out, err = n.graph.SetCatalog(ctx, rep, shard, graph, &req.Catalog)
			}
		case "backfill":
			var req shardapi.BackfillRequest
			if err = decodeGraphBody(r, &req); err == nil {
				var res shardapi.BackfillResponse
				res.Next, err = n.graph.BackfillIndex(ctx, rep, shard, graph, req.Label, req.Property, req.After, backfillBatch)
				out = res
			}
		case "load":
			var req *shardapi.LoadRequest
			if req, err = decodeGraphBodyAs(r, shardapi.LoadMediaType, shardapi.DecodeLoadRequest); err == nil {
				var res shardapi.LoadResponse
				res.Revision, err = store.Load(ctx, rep, graph, req.Pairs)
				out = res
			}
		case "drop":
			var res shardapi.DropResponse
			res.Deleted, res.More, err = store.Drop(ctx, rep, graph, 1000)
			out = res
		default:
			err = fmt.Errorf("%w: no graph operation %q", httpx.ErrNotFound, op)
		}
	}
	if err != nil {
		n.writeError(w, r, n.graphError(err))
		return
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// handleReads answers the reads of several shards in one request (a round's requests to the
// shards this node leads) over HTTP; the router sends them over the wire protocol
// (serveGraphReads), and this way when the answer is too large for a frame.
func (n *Node) handleReads(w http.ResponseWriter, r *http.Request) {
	graph := r.PathValue("graph")
	var req *shardapi.ReadsRequest
	err := layout.CheckGraphName(graph)
	if err != nil {
		err = fmt.Errorf("%w: %v", httpx.ErrBadRequest, err)
	} else {
		req, err = decodeGraphBodyAs(r, shardapi.ReadsRequestMediaType, shardapi.DecodeReadsRequest)
	}
	if err != nil {
		n.writeError(w, r, err)
		return
	}
	out, err := n.reads(r.Context(), graph, req)
	if err != nil {
		n.writeError(w, r, err)
		return
	}
	if shardapi.AcceptsMedia(r.Header, shardapi.ReadsMediaType) {
		b, err := shardapi.EncodeReads(out)
		n.writeEncoded(w, r, shardapi.ReadsMediaType, b, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// serveGraphReads answers a wire request of graph reads (wire.OpGraphReads) as handleReads
// answers a binary one.
func (n *Node) serveGraphReads(ctx context.Context, req *wire.Request) wire.Response {
	if err := layout.CheckGraphName(req.Key); err != nil {
		return n.wireError(req, fmt.Errorf("%w: %v", httpx.ErrBadRequest, err))
	}
	in, err := shardapi.DecodeReadsRequest(req.Value)
	if err != nil {
		return n.wireError(req, fmt.Errorf("%w: %v", httpx.ErrBadRequest, err))
	}
	out, err := n.reads(ctx, req.Key, in)
	if err != nil {
		return n.wireError(req, err)
	}
	b, err := shardapi.EncodeReads(out)
	if err != nil {
		return n.wireError(req, fmt.Errorf("encode the answer as %s: %w", shardapi.ReadsMediaType, err))
	}
	return wire.Response{Status: http.StatusOK, Body: b}
}

// reads answers each part of req as its own read request would be answered, its error
// included.
func (n *Node) reads(ctx context.Context, graph string, req *shardapi.ReadsRequest) (*shardapi.ReadsResponse, error) {
	if i := slices.IndexFunc(req.Parts, func(p shardapi.ReadPart) bool { return p.Read == nil }); i >= 0 {
		return nil, fmt.Errorf("%w: part %d has no read", httpx.ErrBadRequest, i)
	}
	out := &shardapi.ReadsResponse{Parts: make([]shardapi.ReadPartResult, len(req.Parts))}
	// The parts are read in parallel, on at most as many goroutines as there are cores: a
	// query waits for its slowest node's parts.
	tasks := make([]func(context.Context) error, len(req.Parts))
	for i, p := range req.Parts {
		tasks[i] = func(ctx context.Context) error {
			res, err := n.readPart(ctx, graph, p)
			if err != nil {
				err = n.graphError(err)
				status, body := httpx.Describe(err)
				out.Parts[i] = shardapi.ReadPartResult{Status: status, Error: body.Error}
				if nl := (*notLeader)(nil); errors.As(err, &nl) {
					out.Parts[i].Leader = nl.err.Leader
				}
				return nil
			}
			out.Parts[i].Read = res
			return nil
		}
	}
	_ = fanout.Run(ctx, runtime.GOMAXPROCS(0), tasks) // parts report their own errors
	return out, nil
}

// writeEncoded answers b, an answer encoded as mediaType, or the error of its encoding.
func (n *Node) writeEncoded(w http.ResponseWriter, r *http.Request, mediaType string, b []byte, err error) {
	if err != nil {
		n.writeError(w, r, fmt.Errorf("encode the answer as %s: %w", mediaType, err))
		return
	}
	w.Header().Set("Content-Type", mediaType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func (n *Node) readPart(ctx context.Context, graph string, p shardapi.ReadPart) (*shardapi.ReadResponse, error) {
	shard, rep, err := n.shardReplica(strconv.Itoa(p.Shard))
	if err != nil {
		return nil, err
	}
	return n.graphRead(ctx, rep, shard, graph, p.Read)
}

func (n *Node) handleGraphs(w http.ResponseWriter, r *http.Request) {
	_, rep, err := n.shardReplica(r.PathValue("shard"))
	var names []string
	if err == nil {
		err = rep.Read(r.Context(), false, func(v *engine.View) (err error) {
			names, err = store.Graphs(v, true)
			return err
		})
	}
	if err != nil {
		n.writeError(w, r, n.graphError(err))
		return
	}
	httpx.WriteJSON(w, http.StatusOK, shardapi.GraphsResponse{Graphs: names})
}

// decodeGraphBody decodes the request's JSON body into v. A body of another Content-Type
// than JSON (none is read as JSON) is refused (graphBody).
func decodeGraphBody(r *http.Request, v any) error {
	body, _, err := graphBody(r)
	if err != nil {
		return err
	}
	return unmarshalGraphBody(body, v)
}

// decodeGraphBodyAs decodes the request's body with decode when its Content-Type is mediaType
// (a binary encoding of graph/shardapi), else as decodeGraphBody does.
func decodeGraphBodyAs[T any](r *http.Request, mediaType string, decode func([]byte) (*T, error)) (*T, error) {
	body, binary, err := graphBody(r, mediaType)
	if err != nil {
		return nil, err
	}
	if binary != "" {
		v, err := decode(body)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", httpx.ErrBadRequest, err)
		}
		return v, nil
	}
	var v T
	if err := unmarshalGraphBody(body, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// graphBody reads the request's body, and the one of binaries its Content-Type names (""
// for JSON, or no Content-Type). It refuses any other Content-Type with
// ErrUnsupportedMediaType (415): a client that sent an encoding this node does not read sends
// JSON instead.
// NB: the 400 of a body that is not JSON says "not valid JSON", which is how nodes from before
// the 415 refused a binary body, and how graph/shardapi's Client still recognises them.
func graphBody(r *http.Request, binaries ...string) (body []byte, binary string, err error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !shardapi.IsMedia(ct, "application/json") {
		i := slices.IndexFunc(binaries, func(mt string) bool { return shardapi.IsMedia(ct, mt) })
		if i < 0 {
			return nil, "", fmt.Errorf("%w: Content-Type %q; this operation reads %s",
				httpx.ErrUnsupportedMediaType, ct, strings.Join(append([]string{"application/json"}, binaries...), " or "))
		}
		binary = binaries[i]
	}
	if r.ContentLength > maxGraphBody {
		return nil, "", fmt.Errorf("%w: the request is %d bytes, more than the %d allowed", httpx.ErrTooLarge, r.ContentLength, maxGraphBody)
	}
	body, err = readBody(r, maxGraphBody+1)
	if err != nil {
		return nil, "", fmt.Errorf("%w: reading the request: %v", httpx.ErrBadRequest, err)
	}
	if len(body) > maxGraphBody {
		return nil, "", fmt.Errorf("%w: the request is more than the %d bytes allowed", httpx.ErrTooLarge, maxGraphBody)
	}
	return body, binary, nil
}

// readBody reads at most limit bytes of r's body into a buffer of the size its Content-Length
// announces: a bulk load's parts are megabytes, which io.ReadAll grew by copying.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	if n := r.ContentLength; n > 0 && n < limit {
		buf.Grow(int(n) + bytes.MinRead) // ReadFrom grows the buffer unless MinRead bytes are free
	}
	_, err := buf.ReadFrom(io.LimitReader(r.Body, limit))
	return buf.Bytes(), err
}

// unmarshalGraphBody decodes a JSON body into v.
func unmarshalGraphBody(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: the request is not valid JSON for this operation: %v", httpx.ErrBadRequest, err)
	}
	return nil
}

// graphRead answers a read request from one view of the shard.
func (n *Node) graphRead(ctx context.Context, rep Replica, shard int, graph string, req *shardapi.ReadRequest) (*shardapi.ReadResponse, error) {
	limits := []int{}
	if req.Expand != nil {
		limits = append(limits, req.Expand.Limit)
	}
	if req.Scan != nil {
		limits = append(limits, req.Scan.Limit)
	}
	if req.Index != nil {
		limits = append(limits, req.Index.Limit)
	}
	for _, limit := range limits {
		if limit < 1 || limit > maxGraphLimit {
			return nil, fmt.Errorf("%w: a read's limit must be in 1..%d, got %d", httpx.ErrBadRequest, maxGraphLimit, limit)
		}
	}
	var out shardapi.ReadResponse
	err := rep.Read(ctx, req.Stale, func(v *engine.View) error {
		return readParts(v, n.adjacency.Cached(v, shard), graph, req, &out)
	})
	// What only a write needs stays home: a hop's answer can hold many thousands of halves.
	for _, h := range out.Halves {
		h.Gen, h.Revision = 0, 0
	}
	return &out, err
}

// readParts answers the parts of req from view v; adj reads v's adjacency (through the
// node's adjacency cache).
func readParts(v *engine.View, adj store.Reader, graph string, req *shardapi.ReadRequest, out *shardapi.ReadResponse) error {
	var err error
	if q := req.Vertices; q != nil {
		if out.Vertices, err = store.GetVertices(v, graph, q.IDs, q.Filter); err != nil {
			return err
		}
	}
	if q := req.Expand; q != nil {
		ids := q.IDs
		if q.SourceFilter != nil || q.Sources {
			srcs, err := store.GetVertices(v, graph, q.IDs, q.SourceFilter)
			if err != nil {
				return err
			}
			ids = make([]layout.ID, len(srcs))
			for i, s := range srcs {
				ids[i] = s.ID
			}
			if q.Sources {
				out.Sources = srcs
			} else {
				out.Passed = ids
			}
		}
		if q.Ends {
			if err := readEnds(adj, graph, ids, q, out); err != nil {
				return err
			}
		} else if err := readHalves(adj, graph, ids, q, out); err != nil {
			return err
		}
	}
	if q := req.Scan; q != nil {
		var more bool
		if out.Scanned, more, err = store.ScanVertices(v, graph, q.Label, q.After, q.Limit, q.Filter); err != nil {
			return err
		}
		out.More = out.More || more
	}
	if q := req.Index; q != nil {
		var more bool
		if out.IDs, more, err = store.IndexLookup(v, graph, q.Label, q.Property, q.Range, q.Limit); err != nil {
			return err
		}
		out.More = out.More || more
		if q.Fetch {
			if out.Scanned, err = store.GetVertices(v, graph, out.IDs, q.Filter); err != nil {
				return err
			}
		}
	}
	if req.Catalog {
		if out.Catalog, _, err = store.ReadCatalog(v, graph); err != nil {
			return err
		}
	}
	return nil
}

// readHalves answers an Expand: the halves of the edges of ids (the vertices that passed its
// source filter).
func readHalves(v store.Reader, graph string, ids []layout.ID, q *shardapi.ExpandRequest, out *shardapi.ReadResponse) error {
	for _, dir := range q.Dirs {
		hs, more, err := store.Expand(v, graph, ids, dir, q.Types, q.EdgeFilter, q.Limit-len(out.Halves))
		if err != nil {
			return err
		}
		out.Halves = append(out.Halves, hs...)
		if more {
			out.More = true
			break
		}
	}
	return nil
}

// readEnds answers an Expand with Ends: the distinct other ends of the edges of ids, in
// ascending order.
func readEnds(v store.Reader, graph string, ids []layout.ID, q *shardapi.ExpandRequest, out *shardapi.ReadResponse) error {
	// A set, not a slice sorted at the end: from busy vertices a hop reaches millions of
	// halves and tens of thousands of distinct ends.
	var ends layout.IDSet
	ends.Reserve(min(64*len(ids), 1<<15)) // a few dozen per vertex: growing costs more than filling
	for _, dir := range q.Dirs {
		more, err := store.ExpandEnds(v, graph, ids, dir, q.Types, q.EdgeFilter, q.Exclude, &ends, q.Limit)
		if err != nil {
			return err
		}
		if more {
			out.More = true
			break
		}
	}
	out.Ends = ends.TakeSorted()
	return nil
}

// graphWrite applies a write and delivers its outbox records before answering, so that a
// query that wrote an edge finds both halves when it is answered (unless a delivery failed:
// the sweep delivers it later, and Pending says so).
func (n *Node) graphWrite(ctx context.Context, rep Replica, shard int, graph string, req *shardapi.WriteRequest) (*shardapi.WriteResponse, error) {
	res, err := n.graph.Write(ctx, rep, shard, graph, req.Mutations)
	if err != nil {
		return nil, err
	}
	out := &shardapi.WriteResponse{Outcomes: res.Outcomes}
	left, err := n.deliver(ctx, rep, shard, graph, res.Outbox, nil)
	if err != nil {
		out.Pending = left
		n.log.Debug("Outbox records left for the sweep", "graph", graph, "shard", shard, "records", left, "err", err)
	}
	return out, nil
}

// graphError maps the graph store's errors onto the shared sentinels.
func (n *Node) graphError(err error) error {
	switch {
	case errors.Is(err, store.ErrSemantic):
		return fmt.Errorf("%w: %s", httpx.ErrConflict, store.Reason(err))
	case errors.Is(err, store.ErrConflict):
		return fmt.Errorf("%w: %v; nothing was written, retry", httpx.ErrUnavailable, err)
	case errors.Is(err, store.ErrNotLoading):
		return fmt.Errorf("%w: %v", httpx.ErrConflict, err)
	case errors.Is(err, store.ErrExpired):
		return fmt.Errorf("%w: %v", httpx.ErrBadRequest, err)
	}
	return n.keyError("", kv.Precondition{}, err)
}
