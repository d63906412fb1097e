package benchstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/torua/torua/router/client"
	"github.com/torua/torua/router/client/bench"
)

// Graph sends the graph bench's queries and import batches to a router: the bench.GraphStore
// and bench.GraphLoader of `torua bench --graph`.
type Graph struct {
	c     *client.Client
	graph string
}

// NewGraph returns a Graph over c that queries and loads the graph named graph.
func NewGraph(c *client.Client, graph string) *Graph { return &Graph{c: c, graph: graph} }

// Name is the graph's name.
func (s *Graph) Name() string { return s.graph }

var (
	_ bench.GraphStore  = (*Graph)(nil)
	_ bench.GraphLoader = (*Graph)(nil)
)

// Query runs q's openCypher form (bench.GraphQueryText) and reads its answer and the rounds
// and shard requests of its stats.
func (s *Graph) Query(ctx context.Context, q bench.GraphQuery, from, to int64) (bench.GraphAnswer, error) {
	params := map[string]any{"id": from}
	if q == bench.Shortest {
		params = map[string]any{"a": from, "b": to}
	}
	res, err := s.c.Query(ctx, s.graph, bench.GraphQueryText[q], params)
	if err != nil {
		return bench.GraphAnswer{}, err
	}
	a := bench.GraphAnswer{Rounds: statInt(res.Stats, "rounds"), Requests: statInt(res.Stats, "requests")}
	switch {
	case q == bench.OneHop:
		a.Value = int64(len(res.Rows))
	case q == bench.Shortest && len(res.Rows) == 0:
		a.Value = bench.NoPath
	default:
		n, ok := firstInt(res.Rows)
		if !ok {
			return a, fmt.Errorf("%s: the answer is not one integer: %v", q, res.Rows)
		}
		a.Value = n
	}
	return a, nil
}

func firstInt(rows [][]any) (int64, bool) {
	if len(rows) != 1 || len(rows[0]) != 1 {
		return 0, false
	}
	n, ok := rows[0][0].(int64)
	return n, ok
}

func statInt(stats map[string]any, name string) int64 {
	n, _ := stats[name].(int64)
	return n
}

// ErrorKind names a failed query's kind as the key-value bench does.
func (s *Graph) ErrorKind(err error) string { return Store{}.ErrorKind(err) }

// Transient reports a 503, no answer, or a 502 or 504 (a node that failed or timed out during
// the request, which may or may not have applied it): an import batch is idempotent, so
// sending it again is harmless.
func (s *Graph) Transient(err error) bool {
	var e *client.Error
	return errors.Is(err, client.ErrUnavailable) ||
		(errors.As(err, &e) && (e.Status == http.StatusBadGateway || e.Status == http.StatusGatewayTimeout))
}

// importKeys declares :V's primary key, id, in every batch.
const importKeys = `{"keys":{"V":"id"},`

// LoadVertices imports the vertices :V {id} with ids from..to-1.
func (s *Graph) LoadVertices(ctx context.Context, from, to int) error {
	_, err := s.c.Import(ctx, s.graph, vertexBatch(from, to))
	return err
}

// vertexBatch is the import batch of the vertices :V {id} with ids from..to-1.
func vertexBatch(from, to int) []byte {
	b := make([]byte, 0, 64+(to-from)*48)
	b = append(b, importKeys+`"vertices":[`...)
	for v := from; v < to; v++ {
		if v > from {
			b = append(b, ',')
		}
		b = append(b, `{"labels":["V"],"properties":{"id":`...)
		b = strconv.AppendInt(b, int64(v), 10)
		b = append(b, "}}"...)
	}
	return append(b, "]}"...)
}

// LoadEdges imports edges as (:V {id: src})-[:E]->(:V {id: dst}), without properties.
func (s *Graph) LoadEdges(ctx context.Context, edges []bench.Edge) error {
	_, err := s.c.Import(ctx, s.graph, edgeBatch(edges))
	return err
}

// edgeBatch is the import batch of edges.
func edgeBatch(edges []bench.Edge) []byte {
	b := make([]byte, 0, 64+len(edges)*80)
	b = append(b, importKeys+`"edges":[`...)
	for i, e := range edges {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":"E","from":{"label":"V","key":`...)
		b = strconv.AppendInt(b, int64(e.Src), 10)
		b = append(b, `},"to":{"label":"V","key":`...)
		b = strconv.AppendInt(b, int64(e.Dst), 10)
		b = append(b, "}}"...)
	}
	return append(b, "]}"...)
}

// BulkLoad loads g into a new graph in one bulk load (client.BulkLoad): the batches LoadGraph
// would send, in order, as the one request's body. done counts the vertices and edges sent;
// the result's rates are over the whole load, the shards' writing included.
func (s *Graph) BulkLoad(ctx context.Context, g *bench.Graph, batch int, done *atomic.Int64) (*bench.LoadResult, error) {
	if batch < 1 {
		return nil, fmt.Errorf("batch %d: want at least 1", batch)
	}
	pr, pw := io.Pipe()
	start := time.Now()
	go func() {
		var err error
		for lo := 0; lo < g.Spec.Vertices && err == nil; lo += batch {
			hi := min(lo+batch, g.Spec.Vertices)
			_, err = pw.Write(vertexBatch(lo, hi))
			done.Add(int64(hi - lo))
		}
		for lo := 0; lo < len(g.Edges) && err == nil; lo += batch {
			hi := min(lo+batch, len(g.Edges))
			_, err = pw.Write(edgeBatch(g.Edges[lo:hi]))
			done.Add(int64(hi - lo))
		}
		pw.CloseWithError(err)
	}()
	res, err := s.c.BulkLoad(ctx, s.graph, pr)
	_ = pr.CloseWithError(errors.New("the router answered"))
	if err != nil {
		return nil, err
	}
	secs := time.Since(start).Seconds()
	return &bench.LoadResult{Vertices: res.Vertices, Edges: res.Edges, Bulk: true, EdgeSeconds: secs,
		VerticesPerSec: float64(res.Vertices) / secs, EdgesPerSec: float64(res.Edges) / secs, Batches: 1}, nil
}
