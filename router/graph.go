package router

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
	"sync"
	"time"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/exec"
	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/shardapi"
	"github.com/torua/torua/graph/value"
	"github.com/torua/torua/internal/fanout"
	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/internal/nodeapi"
	"github.com/torua/torua/internal/wire"
	"github.com/torua/torua/shardmap"
)

// The graph API (docs/graph.md): POST /graph/{graph}/query runs an openCypher query with
// graph/exec, which calls the shards through graphCluster: forwardTo's leader following and
// retries, over the nodes' graph API (reads over the wire protocol, the rest over HTTP).

// maxQueryBody bounds a query request (the query and its parameters).
const maxQueryBody = 16 << 20

// QueryRequest is the body of POST /graph/{graph}/query.
type QueryRequest struct {
	Query  string         `json:"query"`
	Params map[string]any `json:"params,omitempty"`
	// Timeout, a Go duration ("5s"), shortens the query's time limit.
	Timeout string `json:"timeout,omitempty"`
}

// QueryResponse is its answer: columns, rows of JSON values (nodes, relationships and paths
// as objects, see graph/value.ToJSON) and what the query did.
type QueryResponse struct {
	Columns []string   `json:"columns"`
	Rows    [][]any    `json:"rows"`
	Stats   exec.Stats `json:"stats"`
}

// QueryErrorBody is the error body of a query that failed on its own terms: where, when the
// fault has a place in the query.
type QueryErrorBody struct {
	Error  string `json:"error"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
}

func (rt *Router) graphRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /graph/{graph}/query", rt.handleQuery)
	mux.HandleFunc("POST /graph/{graph}/import", rt.handleImport)
	mux.HandleFunc("DELETE /graph/{graph}", rt.handleDropGraph)
	mux.HandleFunc("GET /graph", rt.handleGraphs)
	mux.HandleFunc("/graph/{graph}/query", httpx.OnlyMethods(rt.log, "POST"))
	mux.HandleFunc("/graph/{graph}/import", httpx.OnlyMethods(rt.log, "POST"))
	mux.HandleFunc("/graph", httpx.OnlyMethods(rt.log, "GET"))
}

func (rt *Router) handleQuery(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxQueryBody+1))
	if err != nil {
		err = fmt.Errorf("%w: reading the request: %v", httpx.ErrBadRequest, err)
	} else if len(body) > maxQueryBody {
		err = fmt.Errorf("%w: the request is more than the %d bytes allowed", httpx.ErrTooLarge, maxQueryBody)
	}
	var out *QueryResponse
	if err == nil {
		out, err = rt.query(r.Context(), r.PathValue("graph"), body)
	}
	if err != nil {
		rt.writeQueryError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// serveQuery answers a query over the wire protocol (wire.OpQuery) as handleQuery answers it
// over HTTP: the same JSON body in, the same status and JSON body out.
func (rt *Router) serveQuery(ctx context.Context, req *wire.Request) wire.Response {
	out, err := rt.query(ctx, req.Key, req.Value)
	if err != nil {
		if status, body := queryErrorBody(err); status != 0 {
			b, _ := json.Marshal(body)
			return wire.Response{Status: status, Body: b}
		}
		return httpx.WireError(rt.log, req, err)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return httpx.WireError(rt.log, req, fmt.Errorf("encode the answer: %w", err))
	}
	return wire.Response{Status: http.StatusOK, Body: b}
}

// query runs the query request body (QueryRequest's JSON) on graph.
func (rt *Router) query(ctx context.Context, graph string, body []byte) (*QueryResponse, error) {
	var req QueryRequest
	params, err := decodeQuery(body, &req)
	if err != nil {
		return nil, err
	}
	var opts exec.Options
	if req.Timeout != "" {
		if opts.Timeout, err = time.ParseDuration(req.Timeout); err != nil || opts.Timeout <= 0 {
			return nil, fmt.Errorf("%w: timeout %q is not a positive duration like \"5s\"", httpx.ErrBadRequest, req.Timeout)
		}
	}
	if rt.holder.Current() == nil {
		return nil, fmt.Errorf("%w: no valid shard map yet", httpx.ErrUnavailable)
	}
	res, err := rt.graph.Query(ctx, graph, req.Query, params, opts)
	if err != nil {
		return nil, err
	}
	out := &QueryResponse{Columns: res.Columns, Rows: make([][]any, len(res.Rows)), Stats: res.Stats}
	for i, row := range res.Rows {
		out.Rows[i] = make([]any, len(row))
		for j, v := range row {
			out.Rows[i][j] = value.ToJSON(v)
		}
	}
	return out, nil
}

// decodeQuery reads a query request, with numbers kept exact: integers stay integers.
func decodeQuery(body []byte, req *QueryRequest) (map[string]any, error) {
	// One decoder for the whole body, numbers kept as written (1 is an integer, 1.0 a float).
	var raw struct {
		Query   string `json:"query"`
		Params  any    `json:"params"`
		Timeout string `json:"timeout"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	err := dec.Decode(&raw)
	if _, end := dec.Token(); err == nil && !errors.Is(end, io.EOF) {
		err = errors.New("more after the JSON object")
	}
	if err != nil {
		return nil, fmt.Errorf("%w: the body must be JSON {\"query\": \"...\", \"params\": {...}}: %v", httpx.ErrBadRequest, err)
	}
	if raw.Query == "" {
		return nil, fmt.Errorf("%w: the body has no query", httpx.ErrBadRequest)
	}
	req.Query, req.Timeout = raw.Query, raw.Timeout
	params := map[string]any{}
	if raw.Params != nil {
		v, err := value.FromJSON(raw.Params)
		if err != nil {
			return nil, fmt.Errorf("%w: params: %v", httpx.ErrBadRequest, err)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: params must be a JSON object", httpx.ErrBadRequest)
		}
		params = m
	}
	return params, nil
}

// writeQueryError answers a failed query (queryErrorBody), or nothing when the client went
// away: nobody reads an answer.
func (rt *Router) writeQueryError(w http.ResponseWriter, r *http.Request, err error) {
	status, body := queryErrorBody(err)
	switch {
	case status != 0:
		httpx.WriteJSON(w, status, body)
	case r.Context().Err() != nil:
	default:
		httpx.WriteError(w, r, rt.log, err)
	}
}

// queryErrorBody is the answer to a query's own failure: 400 with the place for a query's
// own fault, 409 for a refusal on its terms, 413 for the row limit, 503 for the time limit;
// status 0 for the rest (the shards' answers, as internal/httpx maps them).
func queryErrorBody(err error) (int, QueryErrorBody) {
	var ce *cypher.Error
	var qe *exec.QueryError
	body := QueryErrorBody{Error: err.Error()}
	status := 0
	switch {
	case errors.As(err, &ce):
		status, body.Line, body.Column = http.StatusBadRequest, ce.Pos.Line, ce.Pos.Column
	case errors.As(err, &qe):
		status, body.Line, body.Column = http.StatusBadRequest, qe.Pos.Line, qe.Pos.Column
	case errors.As(err, new(*exec.ConflictError)):
		status = http.StatusConflict
	case errors.Is(err, exec.ErrTooManyRows):
		status = http.StatusRequestEntityTooLarge
	case errors.Is(err, exec.ErrTimeLimit):
		status = http.StatusServiceUnavailable
	}
	return status, body
}

func (rt *Router) handleGraphs(w http.ResponseWriter, r *http.Request) {
	if rt.holder.Current() == nil {
		httpx.WriteError(w, r, rt.log, fmt.Errorf("%w: no valid shard map yet", httpx.ErrUnavailable))
		return
	}
	names, err := rt.graph.Graphs(r.Context())
	if err != nil {
		httpx.WriteError(w, r, rt.log, err)
		return
	}
	if names == nil {
		names = []string{}
	}
	httpx.WriteJSON(w, http.StatusOK, map[string][]string{"graphs": names})
}

func (rt *Router) handleDropGraph(w http.ResponseWriter, r *http.Request) {
	graph := r.PathValue("graph")
	found, err := rt.graph.Drop(r.Context(), graph)
	var qe *exec.QueryError
	switch {
	case errors.As(err, &qe):
		err = fmt.Errorf("%w: %v", httpx.ErrBadRequest, qe.Msg)
	case err == nil && !found:
		err = fmt.Errorf("%w: graph %q", httpx.ErrNotFound, graph)
	}
	if err != nil {
		httpx.WriteError(w, r, rt.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// graphCluster is the cluster as graph/exec sees it.
type graphCluster struct {
	rt  *Router
	api *shardapi.Client
	// httpSince holds, by node address, when a node refused graph reads over the wire
	// protocol (a node of an earlier version): until httpFor has passed, its reads go over
	// HTTP.
	httpSince *sync.Map
}

// httpFor is how long a node that refused graph reads over the wire protocol gets them over
// HTTP before the wire protocol is tried again (it may have been upgraded).
const httpFor = time.Minute

var _ exec.Cluster = graphCluster{}

func newGraphCluster(rt *Router) graphCluster {
	return graphCluster{rt: rt, api: shardapi.NewClient(rt.nodes), httpSince: &sync.Map{}}
}

func (c graphCluster) Shards() int {
	if m := c.rt.holder.Current(); m != nil {
		return m.Shards
	}
	return 0
}

func (c graphCluster) ShardOf(graph string, id layout.ID) int {
	m := c.rt.holder.Current()
	if m == nil {
		return 0
	}
	return m.ShardFor(layout.VertexKey(graph, id))
}

// call sends one request to shard's leader through forwardTo: reads are retried on other
// replicas; writes only while nothing was done.
func (c graphCluster) call(ctx context.Context, read bool, shard int, send func(ctx context.Context, addr string) error) error {
	var last error
	rep, err := c.rt.forwardTo(ctx, read, func(*shardmap.Map) int { return shard },
		func(ctx context.Context, node shardmap.Node) (reply, error) {
			last = send(ctx, node.API)
			return httpReply(last)
		})
	if err != nil {
		return err
	}
	if rep.status != http.StatusOK {
		var e httpx.ErrorBody
		_ = json.Unmarshal(rep.body, &e)
		if rep.status == http.StatusConflict {
			// A refusal on the query's own terms ("cannot delete vertex 7: it still has
			// relationships"): the shard it came from means nothing to the query's author.
			return fmt.Errorf("%w: %s", httpx.ErrConflict, strings.TrimPrefix(e.Error, httpx.ErrConflict.Error()+": "))
		}
		return fmt.Errorf("%w: shard %d: %s", sentinelOf(rep.status), shard, e.Error)
	}
	if last != nil {
		return fmt.Errorf("%w: shard %d: %v", httpx.ErrBadGateway, shard, last)
	}
	return nil
}

// sentinelOf maps a node's answer back to the sentinel it was made from.
func sentinelOf(status int) error {
	switch status {
	case http.StatusBadRequest:
		return httpx.ErrBadRequest
	case http.StatusNotFound:
		return httpx.ErrNotFound
	case http.StatusConflict:
		return httpx.ErrConflict
	case http.StatusPreconditionFailed:
		return httpx.ErrPreconditionFailed
	case http.StatusRequestEntityTooLarge:
		return httpx.ErrTooLarge
	case http.StatusTooManyRequests:
		return httpx.ErrOverloaded
	case http.StatusServiceUnavailable:
		return httpx.ErrUnavailable
	}
	return httpx.ErrBadGateway
}

// callFor is call for a request whose answer is a T.
func callFor[T any](ctx context.Context, c graphCluster, read bool, shard int, send func(ctx context.Context, addr string) (T, error)) (T, error) {
	var out T
	err := c.call(ctx, read, shard, func(ctx context.Context, addr string) (err error) {
		out, err = send(ctx, addr)
		return err
	})
	return out, err
}

// Read sends one shard's read as a round of one part (sendReads).
func (c graphCluster) Read(ctx context.Context, graph string, shard int, r *shardapi.ReadRequest) (*shardapi.ReadResponse, error) {
	return callFor(ctx, c, true, shard, func(ctx context.Context, addr string) (*shardapi.ReadResponse, error) {
		res, err := c.sendReads(ctx, addr, graph, &shardapi.ReadsRequest{Parts: []shardapi.ReadPart{{Shard: shard, Read: r}}})
		if err != nil {
			return nil, err
		}
		if p := res.Parts[0]; p.Status != 0 {
			return nil, &nodeapi.Error{Method: "graph reads", Addr: addr, Path: " shard " + strconv.Itoa(shard), StatusCode: p.Status,
				Body: httpx.ErrorBody{Error: p.Error, Leader: p.Leader}}
		}
		return res.Parts[0].Read, nil
	})
}

// sendReads sends a round's reads to the node at addr over the wire protocol: one frame each
// way on a connection that many requests share, or under torua local a call in this process.
// A node that cannot take them so gets them over HTTP: a node of an earlier version (for
// httpFor), and a request or an answer too large for a frame (each time).
func (c graphCluster) sendReads(ctx context.Context, addr, graph string, r *shardapi.ReadsRequest) (*shardapi.ReadsResponse, error) {
	since, refused := c.httpSince.Load(addr)
	if refused && time.Since(since.(time.Time)) < httpFor {
		return c.api.Reads(ctx, addr, graph, r)
	}
	b, err := shardapi.EncodeReadsRequest(r)
	if err != nil {
		return nil, fmt.Errorf("graph reads to %s: encode the request: %w", addr, err)
	}
	req := &wire.Request{Op: wire.OpGraphReads, Key: graph, Value: b}
	resp, err := c.rt.wire.Do(ctx, addr, req)
	switch {
	case err != nil:
		return nil, err
	case wire.Unsupported(req, resp):
		c.rt.log.Info("A node does not take graph reads over the wire protocol; sending them over HTTP", "node", addr)
		c.httpSince.Store(addr, time.Now())
		return c.api.Reads(ctx, addr, graph, r)
	case resp.Status == http.StatusRequestEntityTooLarge:
		return c.api.Reads(ctx, addr, graph, r)
	case resp.Status != http.StatusOK:
		var body httpx.ErrorBody
		_ = json.Unmarshal(resp.Body, &body)
		return nil, &nodeapi.Error{Method: "wire graph_reads", Addr: addr, StatusCode: resp.Status, Body: body}
	}
	if refused {
		c.httpSince.Delete(addr) // upgraded since
	}
	out, err := shardapi.DecodeReads(resp.Body)
	if err == nil && len(out.Parts) != len(r.Parts) {
		err = fmt.Errorf("%d answers for %d parts", len(out.Parts), len(r.Parts))
	}
	if err != nil {
		return nil, fmt.Errorf("wire graph_reads %s: %v: %w", addr, err, nodeapi.ErrBadAnswer)
	}
	return out, nil
}

// Reads sends one round's reads: the parts for shards the router believes one node leads go
// to it in one request. A part that node does not answer (it does not lead the shard, or
// has no map yet), and every part of a request that failed, is sent again on its own, through
// Read (which follows leader hints and tries other replicas); a part refused on its merits
// fails the round.
func (c graphCluster) Reads(ctx context.Context, graph string, parts map[int]*shardapi.ReadRequest) (map[int]*shardapi.ReadResponse, error) {
	out := make(map[int]*shardapi.ReadResponse, len(parts))
	var mu sync.Mutex
	alone := func(ctx context.Context, shard int) error {
		res, err := c.Read(ctx, graph, shard, parts[shard])
		mu.Lock()
		out[shard] = res
		mu.Unlock()
		return err
	}
	byNode := map[string][]int{}
	m := c.rt.holder.Current()
	for shard := range parts {
		id := ""
		if m != nil {
			id = c.rt.leaderOf(m, shard)
		}
		byNode[id] = append(byNode[id], shard)
	}
	var tasks []func(ctx context.Context) error
	for id, shards := range byNode {
		node, known := shardmap.Node{}, false
		if m != nil {
			node, known = m.Node(id)
		}
		if !known || len(shards) == 1 {
			for _, shard := range shards {
				tasks = append(tasks, func(ctx context.Context) error { return alone(ctx, shard) })
			}
			continue
		}
		tasks = append(tasks, func(ctx context.Context) error {
			req := &shardapi.ReadsRequest{Parts: make([]shardapi.ReadPart, len(shards))}
			for i, shard := range shards {
				req.Parts[i] = shardapi.ReadPart{Shard: shard, Read: parts[shard]}
			}
			res, err := c.sendReads(ctx, node.API, graph, req)
			if err != nil {
				c.rt.log.Debug("A node's reads failed; sending its parts one by one", "node", id, "err", err)
			}
			for i, shard := range shards {
				switch {
				case err != nil || res.Parts[i].Status == http.StatusMisdirectedRequest || res.Parts[i].Status == http.StatusServiceUnavailable:
					if err := alone(ctx, shard); err != nil {
						return err
					}
				case res.Parts[i].Status != 0:
					return fmt.Errorf("%w: shard %d: %s", sentinelOf(res.Parts[i].Status), shard, res.Parts[i].Error)
				default:
					mu.Lock()
					out[shard] = res.Parts[i].Read
					mu.Unlock()
				}
			}
			return nil
		})
	}
	if err := fanout.Run(ctx, 0, tasks); err != nil {
		return nil, err
	}
	return out, nil
}

func (c graphCluster) Write(ctx context.Context, graph string, shard int, r *shardapi.WriteRequest) (*shardapi.WriteResponse, error) {
	return callFor(ctx, c, false, shard, func(ctx context.Context, addr string) (*shardapi.WriteResponse, error) {
		return c.api.Write(ctx, addr, graph, shard, r)
	})
}

func (c graphCluster) Load(ctx context.Context, graph string, shard int, r *shardapi.LoadRequest) (*shardapi.LoadResponse, error) {
	return callFor(ctx, c, false, shard, func(ctx context.Context, addr string) (*shardapi.LoadResponse, error) {
		return c.api.Load(ctx, addr, graph, shard, r)
	})
}

func (c graphCluster) SetCatalog(ctx context.Context, graph string, shard int, cat *shardapi.Catalog) (*shardapi.Catalog, error) {
	return callFor(ctx, c, false, shard, func(ctx context.Context, addr string) (*shardapi.Catalog, error) {
		return c.api.SetCatalog(ctx, addr, graph, shard, &shardapi.CatalogRequest{Catalog: *cat})
	})
}

func (c graphCluster) Backfill(ctx context.Context, graph string, shard int, label, prop string, after layout.ID) (layout.ID, error) {
	out, err := callFor(ctx, c, false, shard, func(ctx context.Context, addr string) (*shardapi.BackfillResponse, error) {
		return c.api.Backfill(ctx, addr, graph, shard, &shardapi.BackfillRequest{Label: label, Property: prop, After: after})
	})
	if err != nil {
		return 0, err
	}
	return out.Next, nil
}

func (c graphCluster) Drop(ctx context.Context, graph string, shard int) (*shardapi.DropResponse, error) {
	return callFor(ctx, c, false, shard, func(ctx context.Context, addr string) (*shardapi.DropResponse, error) {
		return c.api.Drop(ctx, addr, graph, shard)
	})
}

func (c graphCluster) Graphs(ctx context.Context, shard int) ([]string, error) {
	return callFor(ctx, c, true, shard, func(ctx context.Context, addr string) ([]string, error) {
		return c.api.Graphs(ctx, addr, shard)
	})
}

// maxImportBody bounds one import batch.
const maxImportBody = 64 << 20

// handleImport loads one batch of vertices and edges (graph/exec.ImportBatch as JSON; numbers
// keep their kind: 1 is an integer, 1.0 a float); with ?bulk=true, the body is the whole
// load of a new graph, batch after batch (graph/exec.BulkLoad).
func (rt *Router) handleImport(w http.ResponseWriter, r *http.Request) {
	if bulk := r.URL.Query().Get("bulk"); bulk != "" {
		if on, err := strconv.ParseBool(bulk); err != nil {
			httpx.WriteError(w, r, rt.log, fmt.Errorf("%w: bulk=%q is not true or false", httpx.ErrBadRequest, bulk))
			return
		} else if on {
			rt.handleBulkLoad(w, r)
			return
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxImportBody+1))
	if err == nil && len(body) > maxImportBody {
		err = fmt.Errorf("%w: an import batch is at most %d bytes: send several", httpx.ErrTooLarge, maxImportBody)
	} else if err != nil {
		err = fmt.Errorf("%w: reading the batch: %v", httpx.ErrBadRequest, err)
	}
	var batch *exec.ImportBatch
	if err == nil {
		batch, err = decodeImport(body)
	}
	if err == nil && rt.holder.Current() == nil {
		err = fmt.Errorf("%w: no valid shard map yet", httpx.ErrUnavailable)
	}
	var res *exec.ImportResult
	if err == nil {
		res, err = rt.graph.Import(r.Context(), r.PathValue("graph"), batch)
	}
	if err != nil {
		rt.writeQueryError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, res)
}

// handleBulkLoad loads a new graph from the request's body: import batches one after the
// other (a JSON stream), read as they arrive.
func (rt *Router) handleBulkLoad(w http.ResponseWriter, r *http.Request) {
	if rt.holder.Current() == nil {
		httpx.WriteError(w, r, rt.log, fmt.Errorf("%w: no valid shard map yet", httpx.ErrUnavailable))
		return
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	// io.EOF only at the body's clean end: a body cut short (the client went away) is an
	// error, never a load that ends early.
	next := func() (*exec.ImportBatch, error) {
		return decodeBatch(dec, "the load must be import batches, JSON {\"keys\", \"vertices\", \"edges\"} one after another")
	}
	graph := r.PathValue("graph")
	rt.log.Info("Bulk load started", "graph", graph)
	res, err := rt.graph.BulkLoad(r.Context(), graph, next)
	if err != nil {
		rt.log.Warn("Bulk load failed", "graph", graph, "err", err)
		rt.writeQueryError(w, r, err)
		return
	}
	rt.log.Info("Bulk load done", "graph", graph, "vertices", res.Vertices, "edges", res.Edges,
		"keys", res.Keys, "bytes", res.Bytes, "requests", res.Requests, "spooled", res.Spooled, "loaded", res.Loaded)
	httpx.WriteJSON(w, http.StatusOK, res)
}

// decodeImport decodes a batch, turning its JSON values into graph values exactly.
func decodeImport(body []byte) (*exec.ImportBatch, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	const what = "the batch must be JSON {\"keys\", \"vertices\", \"edges\"}"
	b, err := decodeBatch(dec, what)
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %s: the body is empty", httpx.ErrBadRequest, what)
	}
	return b, err
}

// decodeBatch decodes the next batch of dec, or returns io.EOF at the input's clean end;
// what says what the input must be, in its errors.
func decodeBatch(dec *json.Decoder, what string) (*exec.ImportBatch, error) {
	var raw struct {
		Keys     map[string]string `json:"keys"`
		Vertices []struct {
			Labels []string        `json:"labels"`
			Props  json.RawMessage `json:"properties"`
		} `json:"vertices"`
		Edges []struct {
			Type string `json:"type"`
			From struct {
				Label string          `json:"label"`
				Key   json.RawMessage `json:"key"`
			} `json:"from"`
			To struct {
				Label string          `json:"label"`
				Key   json.RawMessage `json:"key"`
			} `json:"to"`
			Rank  int64           `json:"rank"`
			Props json.RawMessage `json:"properties"`
		} `json:"edges"`
	}
	if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
		return nil, io.EOF
	} else if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", httpx.ErrBadRequest, what, err)
	}
	props := func(raw json.RawMessage, what string) (map[string]any, error) {
		if len(raw) == 0 || string(raw) == "null" {
			return nil, nil
		}
		v, err := value.FromJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", httpx.ErrBadRequest, what, err)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: %s: properties must be an object", httpx.ErrBadRequest, what)
		}
		return m, nil
	}
	key := func(raw json.RawMessage, what string) (any, error) {
		v, err := value.FromJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: key: %v", httpx.ErrBadRequest, what, err)
		}
		return v, nil
	}
	b := &exec.ImportBatch{Keys: raw.Keys}
	for i, v := range raw.Vertices {
		p, err := props(v.Props, fmt.Sprintf("vertex %d", i))
		if err != nil {
			return nil, err
		}
		b.Vertices = append(b.Vertices, exec.ImportVertex{Labels: v.Labels, Props: p})
	}
	for i, e := range raw.Edges {
		what := fmt.Sprintf("edge %d", i)
		p, err := props(e.Props, what)
		if err != nil {
			return nil, err
		}
		from, err := key(e.From.Key, what)
		if err != nil {
			return nil, err
		}
		to, err := key(e.To.Key, what)
		if err != nil {
			return nil, err
		}
		if e.Type == "" {
			return nil, fmt.Errorf("%w: %s has no type", httpx.ErrBadRequest, what)
		}
		b.Edges = append(b.Edges, exec.ImportEdge{Type: e.Type, From: exec.VertexRef{Label: e.From.Label, Key: from},
			To: exec.VertexRef{Label: e.To.Label, Key: to}, Rank: e.Rank, Props: p})
	}
	return b, nil
}
