package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/torua/torua/graph/value"
	"github.com/torua/torua/internal/wire"
)

// maxQueryAnswer bounds the body of a query's answer the client reads.
const maxQueryAnswer = 1 << 30

// QueryResult is a graph query's answer. Rows hold graph values as the router sends them in
// JSON, decoded exactly: integers as int64, floats as float64, strings, booleans, nil, lists
// ([]any) and maps (map[string]any); a node is a map {"id", "labels", "properties"}, a
// relationship {"id", "type", "start", "end", "properties"} and a path {"nodes",
// "relationships"}.
type QueryResult struct {
	Columns []string
	Rows    [][]any
	// Stats say what the query changed and what it cost (docs/graph.md).
	Stats map[string]any
}

// QueryOption tunes one query.
type QueryOption func(body map[string]any)

// QueryTimeout asks the router to stop the query after d (it applies the lower of d and its
// own limit, --graph-timeout): the query's work stops on the cluster too, where a context
// deadline only stops the client waiting (the router notices the closed connection).
func QueryTimeout(d time.Duration) QueryOption {
	return func(body map[string]any) {
		if d > 0 {
			body["timeout"] = d.String()
		}
	}
}

// Query runs an openCypher query on graph with params (Go values: numbers, strings, booleans,
// nil, slices and string-keyed maps). A query's own fault is an *Error with status 400 and,
// when it has a place, its Line and Column.
func (c *Client) Query(ctx context.Context, graph, query string, params map[string]any, opts ...QueryOption) (*QueryResult, error) {
	body := map[string]any{"query": query}
	for _, o := range opts {
		o(body)
	}
	if len(params) > 0 {
		p, err := value.Normalize(map[string]any(params))
		if err != nil {
			return nil, fmt.Errorf("query parameters: %w", err)
		}
		body["params"] = value.ToJSON(p)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("query parameters: %w", err)
	}
	if c.wire != nil && graph != "" && len(b) <= maxWireQuery && !c.queryOverHTTP.Load() {
		return c.queryWire(ctx, graph, b)
	}
	return c.postGraph(ctx, graph, "query", b)
}

// maxWireQuery bounds a query request sent over the wire protocol (WithWire); a longer one
// goes over HTTP: a router takes frames of about its value limit (1 MiB by default).
const maxWireQuery = 512 << 10

// queryWire sends a query request over the wire protocol: the body and the answer are the
// HTTP API's. A router of an earlier version refuses the op; then this Client sends its
// queries over HTTP.
func (c *Client) queryWire(ctx context.Context, graph string, body []byte) (*QueryResult, error) {
	req := &wire.Request{Op: wire.OpQuery, Key: graph, Value: body}
	resp, err := c.doWire(ctx, req, http.StatusOK)
	if err != nil {
		if wire.Unsupported(req, resp) {
			c.queryOverHTTP.Store(true)
			return c.postGraph(ctx, graph, "query", body)
		}
		return nil, err
	}
	return decodeQueryResult("query "+graph, resp.Body)
}

// postGraph posts body to /graph/{graph}/{op} and decodes a query-shaped answer.
func (c *Client) postGraph(ctx context.Context, graph, op string, body []byte) (*QueryResult, error) {
	u := c.base + "/graph/" + url.PathEscape(graph) + "/" + op
	resp, err := c.do(ctx, http.MethodPost, u, http.Header{"Content-Type": {"application/json"}}, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, readError(resp)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxQueryAnswer))
	if err != nil {
		return nil, fmt.Errorf("POST %s: read the answer: %w", u, err)
	}
	return decodeQueryResult("POST "+u, data)
}

// decodeQueryResult decodes a query-shaped answer; what names the request in errors.
func decodeQueryResult(what string, data []byte) (*QueryResult, error) {
	// One decoder for the whole answer, numbers kept as written (1 is an integer, 1.0 a
	// float): a decoder per row cost more than the rows.
	var raw struct {
		Columns []string       `json:"columns"`
		Rows    []any          `json:"rows"`
		Stats   map[string]any `json:"stats"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%s: the answer is not a query result: %w", what, err)
	}
	out := &QueryResult{Columns: raw.Columns, Rows: make([][]any, len(raw.Rows))}
	for i, r := range raw.Rows {
		v, err := value.FromJSON(r)
		if err != nil {
			return nil, fmt.Errorf("%s: row %d: %w", what, i, err)
		}
		row, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%s: row %d is not a list", what, i)
		}
		out.Rows[i] = row
	}
	if raw.Stats != nil {
		v, err := value.FromJSON(raw.Stats)
		if err != nil {
			return nil, fmt.Errorf("%s: stats: %w", what, err)
		}
		out.Stats, _ = v.(map[string]any)
	}
	return out, nil
}

// Graphs lists the cluster's graphs.
func (c *Client) Graphs(ctx context.Context) ([]string, error) {
	resp, err := c.do(ctx, http.MethodGet, c.base+"/graph", nil, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, readError(resp)
	}
	var out struct {
		Graphs []string `json:"graphs"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxQueryAnswer)).Decode(&out); err != nil {
		return nil, fmt.Errorf("GET /graph: %w", err)
	}
	return out.Graphs, nil
}

// DropGraph deletes graph and everything in it; ErrNotFound when there is no such graph.
func (c *Client) DropGraph(ctx context.Context, graph string) error {
	resp, err := c.do(ctx, http.MethodDelete, c.base+"/graph/"+url.PathEscape(graph), nil, nil)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusNoContent {
		return readError(resp)
	}
	drain(resp.Body)
	return nil
}

// ImportResult counts what an import batch did.
type ImportResult struct {
	Vertices      int `json:"vertices"`
	Edges         int `json:"edges"`
	VerticesFound int `json:"verticesFound"`
	EdgesFound    int `json:"edgesFound"`
	Pending       int `json:"pending"`
}

// BulkResult is what a bulk load did (POST /graph/{graph}/import?bulk=true, docs/graph.md).
type BulkResult struct {
	Vertices int    `json:"vertices"`
	Edges    int    `json:"edges"`
	Keys     int64  `json:"keys"`
	Bytes    int64  `json:"bytes"`
	Requests int64  `json:"requests"`
	Spooled  string `json:"spooled"`
	Loaded   string `json:"loaded"`
}

// BulkLoad loads a new or empty graph from body: import batches (Import's JSON), one after the
// other, read by the router as they come. It returns once every key is on the shards. The
// graph answers no query while it runs; if it fails, drop the graph and load it again.
// NB: it is one request for the whole load: use a client without a timeout (WithTimeout(0)).
func (c *Client) BulkLoad(ctx context.Context, graph string, body io.Reader) (*BulkResult, error) {
	var out BulkResult
	if err := c.postImport(ctx, c.base+"/graph/"+url.PathEscape(graph)+"/import?bulk=true", body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Import loads one batch (the JSON body of POST /graph/{graph}/import: {"keys", "vertices",
// "edges"}, docs/graph.md) into graph.
func (c *Client) Import(ctx context.Context, graph string, batch []byte) (*ImportResult, error) {
	var out ImportResult
	if err := c.postImport(ctx, c.base+"/graph/"+url.PathEscape(graph)+"/import", bytes.NewReader(batch), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// postImport posts body to the import URL u and decodes the answer into out.
func (c *Client) postImport(ctx context.Context, u string, body io.Reader, out any) error {
	resp, err := c.do(ctx, http.MethodPost, u, http.Header{"Content-Type": {"application/json"}}, body)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return readError(resp)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxQueryAnswer)).Decode(out); err != nil {
		return fmt.Errorf("POST %s: %w", u, err)
	}
	return nil
}
