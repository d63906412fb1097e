package shardapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/internal/nodeapi"
)

// ReadRequest asks one shard for reads that are answered from one consistent view of it:
// linearizable, or the replica's possibly older state with Stale. Each part that is set is
// answered in the ReadResponse field of the same name.
type ReadRequest struct {
	Stale    bool             `json:"stale,omitempty"`
	Vertices *VerticesRequest `json:"vertices,omitempty"`
	Expand   *ExpandRequest   `json:"expand,omitempty"`
	Scan     *ScanRequest     `json:"scan,omitempty"`
	Index    *IndexRequest    `json:"index,omitempty"`
	Catalog  bool             `json:"catalog,omitempty"`
}

// VerticesRequest reads vertices by id: those that exist and pass Filter come back, in the
// order of IDs.
type VerticesRequest struct {
	IDs    []layout.ID   `json:"ids"`
	Filter *VertexFilter `json:"filter,omitempty"`
}

// ExpandRequest is one hop from the frontier's vertices on one shard: the vertices of IDs that
// pass SourceFilter (all, when nil) are expanded along their edges in each of Dirs, of Types
// (any, when empty), whose properties pass EdgeFilter. With Sources, the vertices that passed
// come back too (a hop that needs their properties reads them here, not in another round).
// At most Limit halves come back (More then says some were left out).
//
// With Ends, the halves do not come back: only the distinct other ends of the halves found
// (at most Limit), without those of the edges Exclude lists for their vertex. A hop whose
// rows differ only in the vertex they reach (its relationship unnamed, the vertex it
// leaves from read no more) asks for that.
type ExpandRequest struct {
	IDs          []layout.ID               `json:"ids"`
	SourceFilter *VertexFilter             `json:"sourceFilter,omitempty"`
	Sources      bool                      `json:"sources,omitempty"`
	Dirs         []layout.Direction        `json:"dirs"`
	Types        []string                  `json:"types,omitempty"`
	EdgeFilter   *PropFilter               `json:"edgeFilter,omitempty"`
	Limit        int                       `json:"limit"`
	Ends         bool                      `json:"ends,omitempty"`
	Exclude      map[layout.ID][]layout.ID `json:"exclude,omitempty"`
}

// ScanRequest lists the shard's vertices with Label (every vertex when empty) that pass
// Filter, by ascending id after After, at most Limit.
type ScanRequest struct {
	Label  string        `json:"label,omitempty"`
	After  layout.ID     `json:"after,omitempty"`
	Limit  int           `json:"limit"`
	Filter *VertexFilter `json:"filter,omitempty"`
}

// IndexRequest looks up the index of Label and Property for the values in Range: the ids of
// the shard's matching vertices, at most Limit. With Fetch, the vertices that pass Filter come
// back too (in Scanned), read in the same view: the index and its vertices share the shard.
type IndexRequest struct {
	Label    string        `json:"label"`
	Property string        `json:"property"`
	Range    Range         `json:"range"`
	Limit    int           `json:"limit"`
	Fetch    bool          `json:"fetch,omitempty"`
	Filter   *VertexFilter `json:"filter,omitempty"`
}

// ReadResponse answers a ReadRequest.
type ReadResponse struct {
	Vertices []*Vertex `json:"vertices,omitempty"`
	// Sources are an Expand's vertices that passed its SourceFilter (with Sources); Passed
	// their ids only (with a SourceFilter and without Sources).
	Sources []*Vertex   `json:"sources,omitempty"`
	Passed  []layout.ID `json:"passed,omitempty"`
	Halves  []*Half     `json:"halves,omitempty"`
	// Ends are an Expand's distinct other ends (with Ends), in ascending order.
	Ends PackedIDs `json:"ends,omitempty"`
	// Scanned are a Scan's vertices (or an Index lookup's, with Fetch); IDs an Index lookup's.
	Scanned []*Vertex   `json:"scanned,omitempty"`
	IDs     []layout.ID `json:"ids,omitempty"`
	// More says that an Expand, Scan or Index part stopped at its limit.
	More bool `json:"more,omitempty"`
	// Catalog is the shard's copy of the graph's catalog.
	Catalog *Catalog `json:"catalog,omitempty"`
}

// ReadsRequest carries the reads of one round for several shards whose replicas one node
// leads, in one request: each part is answered as its ReadRequest alone would be.
type ReadsRequest struct {
	Parts []ReadPart `json:"parts"`
}

// ReadPart is one shard's read of a ReadsRequest.
type ReadPart struct {
	Shard int          `json:"shard"`
	Read  *ReadRequest `json:"read"`
}

// ReadsResponse answers a ReadsRequest, part by part, in its order.
type ReadsResponse struct {
	Parts []ReadPartResult `json:"parts"`
}

// ReadPartResult is a part's answer, or why there is none: Status is the HTTP status the part
// alone would have been answered with (0 when answered), Error its message, and Leader the
// shard's leader when the node does not lead it but knows who does.
type ReadPartResult struct {
	Read   *ReadResponse `json:"read,omitempty"`
	Status int           `json:"status,omitempty"`
	Error  string        `json:"error,omitempty"`
	Leader string        `json:"leader,omitempty"`
}

// WriteRequest applies mutations on one shard, atomically (see graph/store's Write).
type WriteRequest struct {
	Mutations []Mutation `json:"mutations"`
}

// WriteResponse answers a WriteRequest.
type WriteResponse struct {
	Outcomes []Outcome `json:"outcomes"`
	// Pending counts the outbox records the write made that the node could not deliver
	// before answering: their other halves follow later (the node's sweep delivers them).
	Pending int `json:"pending,omitempty"`
}

// ApplyRequest sets the halves outbox records name, all on one shard, in one transaction,
// unless Expires has passed.
type ApplyRequest struct {
	Outboxes []*Outbox `json:"outboxes"`
	Expires  time.Time `json:"expires"`
}

// ApplyResponse has one result per record of an ApplyRequest.
type ApplyResponse struct {
	Results []ApplyResult `json:"results"`
}

// CatalogRequest sets the shard's copy of the graph's catalog to Catalog, unless the copy's
// version is already that or higher. The answer is the copy after the request.
type CatalogRequest struct {
	Catalog Catalog `json:"catalog"`
}

// BackfillRequest writes the entries of the index of Label and Property for a batch of the
// shard's vertices with Label, by ascending id after After.
type BackfillRequest struct {
	Label    string    `json:"label"`
	Property string    `json:"property"`
	After    layout.ID `json:"after,omitempty"`
}

// BackfillResponse says where the next batch starts (0: the shard is done).
type BackfillResponse struct {
	Next layout.ID `json:"next,omitempty"`
}

// DropResponse answers a drop of a graph on one shard: Deleted keys were removed in this call;
// More means keys are left (the caller calls again).
type DropResponse struct {
	Deleted int  `json:"deleted"`
	More    bool `json:"more,omitempty"`
}

// GraphsResponse lists the graphs a shard holds a catalog copy of.
type GraphsResponse struct {
	Graphs []string `json:"graphs"`
}

// Client calls the graph API of nodes, shard by shard. It does not find leaders: a node that
// does not lead the shard answers 421 (nodeapi.Error), and the caller picks another replica.
type Client struct {
	c *nodeapi.Client
	// jsonSince holds, by node address, when the node last refused a binary read request
	// (a string to a time.Time): until jsonFor has passed, its read requests go as JSON.
	jsonSince sync.Map
	now       func() time.Time
}

// jsonFor is how long the Client sends JSON read requests to a node that refused a binary
// one: one refused request in that time is what a node of an earlier version costs, and a
// node upgraded in place is sent binary again after it.
const jsonFor = time.Minute

// NewClient returns a Client over c.
func NewClient(c *nodeapi.Client) *Client { return &Client{c: c, now: time.Now} }

// Path is the path of op for graph's shard on a node.
func Path(graph string, shard int, op string) string {
	return "/internal/graph/" + url.PathEscape(graph) + "/" + strconv.Itoa(shard) + "/" + op
}

// Read sends a ReadRequest in the binary encoding (ReadRequestMediaType), asking for the
// binary answer (ReadMediaType); it reads the answer by its Content-Type, so a node that only
// writes JSON is read as well. A node that refuses the binary request (a node of an earlier
// version) is sent it again as JSON, and is sent JSON for a while (jsonFor).
//
// The router no longer calls it (its reads go as rounds, over the wire protocol or Reads);
// nodes keep answering /read for routers of an earlier version, and the node's tests drive
// that endpoint through it.
func (c *Client) Read(ctx context.Context, addr, graph string, shard int, r *ReadRequest) (*ReadResponse, error) {
	path := Path(graph, shard, "read")
	encode := func() ([]byte, error) { return EncodeReadRequest(r) }
	body, contentType, err := c.postRead(ctx, addr, path, r, ReadRequestMediaType, encode, ReadMediaType)
	if err != nil {
		return nil, err
	}
	out, err := decodeAnswer(body, contentType, ReadMediaType, DecodeRead)
	if err != nil {
		return nil, fmt.Errorf("POST %s%s: %w", addr, path, err)
	}
	return out, nil
}

// ReadsPath is the path of a node's reads of several shards of graph.
func ReadsPath(graph string) string { return "/internal/graph/" + url.PathEscape(graph) + "/reads" }

// Reads sends a ReadsRequest to one node, in the binary encoding (ReadsRequestMediaType) and
// asking for the binary answer (ReadsMediaType), as Read sends a ReadRequest.
func (c *Client) Reads(ctx context.Context, addr, graph string, r *ReadsRequest) (*ReadsResponse, error) {
	path := ReadsPath(graph)
	encode := func() ([]byte, error) { return EncodeReadsRequest(r) }
	body, contentType, err := c.postRead(ctx, addr, path, r, ReadsRequestMediaType, encode, ReadsMediaType)
	if err != nil {
		return nil, err
	}
	out, err := decodeAnswer(body, contentType, ReadsMediaType, DecodeReads)
	if err != nil {
		return nil, fmt.Errorf("POST %s%s: %w", addr, path, err)
	}
	if len(out.Parts) != len(r.Parts) {
		return nil, fmt.Errorf("POST %s%s: %d answers for %d parts: %w", addr, path, len(out.Parts), len(r.Parts), nodeapi.ErrBadAnswer)
	}
	return out, nil
}

// postRead sends a read request to the node at addr, encoded by encode as mediaType, or as the
// JSON of in when the node refused mediaType within jsonFor; it asks for accept, and returns
// the answer as nodeapi's PostRaw does.
func (c *Client) postRead(ctx context.Context, addr, path string, in any, mediaType string, encode func() ([]byte, error), accept string) ([]byte, string, error) {
	if since, ok := c.jsonSince.Load(addr); !ok || c.now().Sub(since.(time.Time)) >= jsonFor {
		b, err := encode()
		if err != nil {
			return nil, "", fmt.Errorf("POST %s%s: encode the request: %w", addr, path, err)
		}
		body, contentType, err := c.c.PostRaw(ctx, addr, path, b, mediaType, accept)
		if !refusedMedia(err) {
			if ok && err == nil {
				c.jsonSince.Delete(addr)
			}
			return body, contentType, err
		}
		c.jsonSince.Store(addr, c.now())
	}
	return c.c.PostJSONRaw(ctx, addr, path, in, accept)
}

// refusedMedia reports whether err is a node's refusal of a request's Content-Type: 415, or
// the 400 of a node from before the binary read requests, which read every body as JSON (and
// said so); a node that reads the binary request never answers that to it.
func refusedMedia(err error) bool {
	switch nodeapi.StatusCode(err) {
	case http.StatusUnsupportedMediaType:
		return true
	case http.StatusBadRequest:
		var e *nodeapi.Error
		return errors.As(err, &e) && strings.Contains(e.Body.Error, "not valid JSON")
	}
	return false
}

// Write sends a WriteRequest.
func (c *Client) Write(ctx context.Context, addr, graph string, shard int, r *WriteRequest) (*WriteResponse, error) {
	var out WriteResponse
	return &out, c.c.PostJSON(ctx, addr, Path(graph, shard, "write"), r, &out)
}

// Apply sends an ApplyRequest.
func (c *Client) Apply(ctx context.Context, addr, graph string, shard int, r *ApplyRequest) (*ApplyResponse, error) {
	var out ApplyResponse
	if err := c.c.PostJSON(ctx, addr, Path(graph, shard, "apply"), r, &out); err != nil {
		return nil, err
	}
	if len(out.Results) != len(r.Outboxes) {
		return nil, fmt.Errorf("apply: %d results for %d records: %w", len(out.Results), len(r.Outboxes), nodeapi.ErrBadAnswer)
	}
	return &out, nil
}

// SetCatalog sends a CatalogRequest.
func (c *Client) SetCatalog(ctx context.Context, addr, graph string, shard int, r *CatalogRequest) (*Catalog, error) {
	var out Catalog
	return &out, c.c.PostJSON(ctx, addr, Path(graph, shard, "catalog"), r, &out)
}

// Backfill sends a BackfillRequest.
func (c *Client) Backfill(ctx context.Context, addr, graph string, shard int, r *BackfillRequest) (*BackfillResponse, error) {
	var out BackfillResponse
	return &out, c.c.PostJSON(ctx, addr, Path(graph, shard, "backfill"), r, &out)
}

// Drop deletes a batch of graph's keys on the shard.
func (c *Client) Drop(ctx context.Context, addr, graph string, shard int) (*DropResponse, error) {
	var out DropResponse
	return &out, c.c.PostJSON(ctx, addr, Path(graph, shard, "drop"), struct{}{}, &out)
}

// Graphs lists the graphs of the shard.
func (c *Client) Graphs(ctx context.Context, addr string, shard int) ([]string, error) {
	var out GraphsResponse
	if err := c.c.PostJSON(ctx, addr, "/internal/graphs/"+strconv.Itoa(shard), struct{}{}, &out); err != nil {
		return nil, fmt.Errorf("list graphs: %w", err)
	}
	return out.Graphs, nil
}
