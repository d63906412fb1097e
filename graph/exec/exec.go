package exec

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/shardapi"
	"github.com/torua/torua/graph/value"
)

// Cluster is what the executor needs of the cluster: the placement of vertices and one call
// per shard, sent to the shard's leader (the router follows leader hints and retries reads).
// Errors carry the answer's meaning as internal/httpx's sentinels.
type Cluster interface {
	// Shards is the cluster's shard count.
	Shards() int
	// ShardOf is the shard of vertex id of graph.
	ShardOf(graph string, id layout.ID) int
	Read(ctx context.Context, graph string, shard int, r *shardapi.ReadRequest) (*shardapi.ReadResponse, error)
	// Reads sends one round's reads, one per shard of parts, in as few requests as it can (one
	// per node), and returns each shard's answer; it fails when any part fails.
	Reads(ctx context.Context, graph string, parts map[int]*shardapi.ReadRequest) (map[int]*shardapi.ReadResponse, error)
	Write(ctx context.Context, graph string, shard int, r *shardapi.WriteRequest) (*shardapi.WriteResponse, error)
	SetCatalog(ctx context.Context, graph string, shard int, c *shardapi.Catalog) (*shardapi.Catalog, error)
	// Backfill writes the entries of an index for a batch of the shard's vertices after
	// after, and returns where the next batch starts (0: done).
	Backfill(ctx context.Context, graph string, shard int, label, prop string, after layout.ID) (layout.ID, error)
	Drop(ctx context.Context, graph string, shard int) (*shardapi.DropResponse, error)
	// Load sends a part of a bulk load's run to the shard (BulkLoad).
	Load(ctx context.Context, graph string, shard int, r *shardapi.LoadRequest) (*shardapi.LoadResponse, error)
	Graphs(ctx context.Context, shard int) ([]string, error)
}

// Config bounds queries.
type Config struct {
	// MaxRows bounds every intermediate result of a query (DefaultMaxRows when 0).
	MaxRows int
	// Timeout bounds a query's run (DefaultTimeout when 0); a query may ask for less.
	Timeout time.Duration
	// Stale reads each shard's replica state instead of linearizably (for benchmarks).
	Stale bool
	// SpoolDir holds bulk loads' spool files while they run (os.TempDir() when empty): about
	// the size of the load's keys and values.
	SpoolDir string
}

// Defaults of Config.
const (
	DefaultMaxRows = 1_000_000
	DefaultTimeout = 30 * time.Second
	// batchSize bounds the mutations or vertices of one request to one shard.
	batchSize = 2000
	// expandLimit bounds the halves one hop request may return.
	expandLimit = 1 << 20
)

// Executor runs queries against a Cluster. It is safe for concurrent use.
type Executor struct {
	c   Cluster
	cfg Config

	plans plans

	mu       sync.Mutex
	catalogs map[string]cachedCatalog
}

// New returns an Executor over c.
func New(c Cluster, cfg Config) *Executor {
	if cfg.MaxRows <= 0 {
		cfg.MaxRows = DefaultMaxRows
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &Executor{c: c, cfg: cfg, catalogs: map[string]cachedCatalog{}}
}

// Result is a query's answer.
type Result struct {
	Columns []string
	Rows    []Row
	Stats   Stats
}

// Stats count what a query did, and what it cost in requests: Rounds are the rounds of
// parallel requests to shards, Requests the requests (each to one shard).
type Stats struct {
	NodesCreated         int   `json:"nodesCreated,omitempty"`
	NodesDeleted         int   `json:"nodesDeleted,omitempty"`
	RelationshipsCreated int   `json:"relationshipsCreated,omitempty"`
	RelationshipsDeleted int   `json:"relationshipsDeleted,omitempty"`
	PropertiesSet        int   `json:"propertiesSet,omitempty"`
	LabelsAdded          int   `json:"labelsAdded,omitempty"`
	LabelsRemoved        int   `json:"labelsRemoved,omitempty"`
	IndexesAdded         int   `json:"indexesAdded,omitempty"`
	IndexesRemoved       int   `json:"indexesRemoved,omitempty"`
	ConstraintsAdded     int   `json:"constraintsAdded,omitempty"`
	ConstraintsRemoved   int   `json:"constraintsRemoved,omitempty"`
	Rounds               int64 `json:"rounds"`
	Requests             int64 `json:"requests"`
	ElapsedMicros        int64 `json:"elapsedMicros"`
	// Pending counts edges whose other half was not written when the query was answered
	// (its node delivers it shortly; see docs/graph.md).
	Pending int `json:"pending,omitempty"`
}

// Options tune one query.
type Options struct {
	// Timeout, when positive and below the executor's, bounds this query.
	Timeout time.Duration
}

// Query parses and runs query on graph with params (values of graph/value's model). Query
// errors are *cypher.Error (syntax) or *QueryError; limits wrap ErrTooManyRows or
// ErrTimeLimit; the cluster's errors are passed on.
func (x *Executor) Query(ctx context.Context, graph, query string, params map[string]any, opts Options) (*Result, error) {
	start := time.Now()
	if err := layout.CheckGraphName(graph); err != nil {
		return nil, &QueryError{Msg: err.Error()}
	}
	q, err := x.plans.parse(query)
	if err != nil {
		return nil, err
	}
	timeout := x.cfg.Timeout
	if opts.Timeout > 0 && opts.Timeout < timeout {
		timeout = opts.Timeout
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("%w of %s", ErrTimeLimit, timeout))
	defer cancel()
	r := x.newRun(ctx, graph, params)
	var res *Result
	if q.Schema != nil {
		res, err = r.schema(q.Schema)
	} else {
		res, err = r.query(q)
	}
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && errors.Is(cause, ErrTimeLimit) {
			return nil, cause
		}
		return nil, err
	}
	res.Stats.Rounds = r.rounds.Load()
	res.Stats.Requests = r.requests.Load()
	res.Stats.ElapsedMicros = time.Since(start).Microseconds()
	return res, nil
}

// starNeedsVariables refuses RETURN * (at pos) with no variable in scope (openCypher's
// NoVariablesInScope), whatever the rows. WITH * may pass no variable on (MATCH () CREATE ()
// WITH * CREATE ()).
func starNeedsVariables(s *Scope, p *cypher.Projection, pos cypher.Pos) error {
	if !p.Star || slices.ContainsFunc(s.Names(), func(n string) bool { return !strings.HasPrefix(n, hidden) }) {
		return nil
	}
	return errorf(pos, "RETURN * needs a variable in scope, and there is none")
}

// checkFunctions refuses a call of a function Torua does not have, wherever q makes it,
// before anything runs: a query whose rows are all filtered out would never say so.
func checkFunctions(q *cypher.Query) error {
	parts := [][]cypher.Clause{q.Clauses}
	for _, u := range q.Unions {
		parts = append(parts, u.Clauses)
	}
	var err error
	for _, clauses := range parts {
		for _, c := range clauses {
			for _, x := range clauseExprs(c) {
				walk(x, func(y cypher.Expr) bool {
					f, ok := y.(*cypher.FuncCall)
					if ok && err == nil && !cypher.IsAggregate(f) && f.Name != "exists" {
						if _, known := functions[f.Name]; !known {
							err = errorf(f.Pos, "unknown function %s", f.Shown())
						}
					}
					return err == nil
				})
			}
		}
	}
	return err
}

// newRun starts the state of one query on graph.
func (x *Executor) newRun(ctx context.Context, graph string, params map[string]any) *run {
	r := &run{x: x, ctx: ctx, graph: graph, env: &Env{Params: params, Ctx: ctx}, nodes: map[layout.ID]*value.Node{},
		refs: map[layout.ID]*value.Node{}, rels: map[layout.ID]*value.Relationship{}, inc: map[layout.ID]uint64{}}
	r.env.FetchNode = r.fetchNode
	r.deleted = map[deletedKey]bool{}
	r.env.Deleted = r.wasDeleted
	return r
}

// run is one query's state.
type run struct {
	x     *Executor
	ctx   context.Context
	graph string
	env   *Env
	cat   *shardapi.Catalog
	stats Stats
	// nodes are the vertices loaded so far, one *value.Node per id shared by every row, so that
	// a SET seen in one row is seen in all, as openCypher's entities are references.
	nodes map[layout.ID]*value.Node
	// refs are the references by id handed out for vertices not loaded (one per id).
	refs map[layout.ID]*value.Node
	// rels are the relationships met so far, one per edge id, likewise.
	rels map[layout.ID]*value.Relationship
	// inc are the incarnations of the vertices loaded or created, for the edges made to them.
	inc              map[layout.ID]uint64
	rounds, requests atomic.Int64
	// deleted are the vertices and edges the query's DELETEs removed (wasDeleted).
	deleted map[deletedKey]bool
	// clauses are the query's clauses and at the index of the one running (for the analysis
	// of what later clauses read).
	clauses []cypher.Clause
	at      int
	// outer are the clauses (and the index of the running one) of the FOREACHs whose bodies
	// are running, outermost first: what follows them is read later too.
	outer []frame
}

// frame is a list of clauses and the index of the one running.
type frame struct {
	clauses []cypher.Clause
	at      int
}

func (r *run) query(q *cypher.Query) (*Result, error) {
	var err error
	if r.cat, err = r.x.catalog(r.ctx, r.graph, q.Writes()); err != nil {
		return nil, err
	}
	if r.cat.Loading != 0 {
		return nil, &ConflictError{Msg: r.cat.LoadingError(r.graph)}
	}
	res, err := r.single(q.Clauses)
	if err == nil && q.Unions != nil {
		res, err = r.union(res, q.Unions)
	}
	if err != nil {
		return nil, err
	}
	res.Stats = r.stats
	return res, nil
}

// single runs the clauses of one query (of a UNION's parts, one).
func (r *run) single(clauses []cypher.Clause) (*Result, error) {
	var err error
	r.clauses = clauses
	rows, scope := []Row{{}}, NewScope()
	res := &Result{}
	for i, c := range clauses {
		r.at = i
		switch c := c.(type) {
		case *cypher.Match:
			rows, scope, err = r.match(rows, scope, c)
		case *cypher.Unwind:
			rows, scope, err = r.env.Unwind(rows, scope, c, r.x.cfg.MaxRows)
		case *cypher.With:
			rows, scope, err = r.project(rows, scope, &c.Projection, c.Where)
		case *cypher.Return:
			if err = starNeedsVariables(scope, &c.Projection, c.Pos); err == nil {
				rows, scope, err = r.project(rows, scope, &c.Projection, nil)
			}
			if err == nil {
				res.Columns = scope.Names()
				res.Rows = rows
			}
		default:
			rows, scope, err = r.update(rows, scope, c)
		}
		if err == nil {
			err = r.checkRows(len(rows))
		}
		if err != nil {
			return nil, err
		}
	}
	if res.Columns == nil {
		res.Columns = []string{}
		res.Rows = []Row{}
	}
	return res, nil
}

// update runs one updating clause (at the top of a query or in a FOREACH's body).
func (r *run) update(rows []Row, scope *Scope, c cypher.Clause) ([]Row, *Scope, error) {
	var err error
	switch c := c.(type) {
	case *cypher.Create:
		return r.create(rows, scope, c.Patterns)
	case *cypher.Merge:
		return r.merge(rows, scope, c)
	case *cypher.Set:
		err = r.set(rows, scope, c.Items)
	case *cypher.Remove:
		err = r.remove(rows, scope, c.Items)
	case *cypher.Delete:
		err = r.delete(rows, scope, c)
	case *cypher.Foreach:
		err = r.foreach(rows, scope, c)
	default:
		err = errorf(c.Position(), "%T is not supported", c)
	}
	return rows, scope, err
}

// fetchNode loads one vertex for startNode() and endNode() when the row does not hold it (one
// round for the first call per vertex).
func (r *run) fetchNode(id uint64) (*value.Node, error) {
	if n, ok := r.nodes[layout.ID(id)]; ok {
		return n, nil
	}
	if err := r.loadAll([]layout.ID{layout.ID(id)}); err != nil {
		return nil, err
	}
	if n, ok := r.nodes[layout.ID(id)]; ok {
		return n, nil
	}
	return nil, nil // deleted meanwhile: null
}

// checkRows fails a query whose intermediate result grew past the row limit, or whose time
// ran out.
func (r *run) checkRows(n int) error {
	if n > r.x.cfg.MaxRows {
		return fmt.Errorf("%w: more than %d rows (the router's --graph-max-rows); narrow the query", ErrTooManyRows, r.x.cfg.MaxRows)
	}
	if err := context.Cause(r.ctx); err != nil {
		return err
	}
	return nil
}

// fanout calls fn for each shard of shards in parallel: one round of requests. It returns the
// first error.
func (r *run) fanout(shards []int, fn func(ctx context.Context, shard int) error) error {
	return r.parallel(len(shards), func(ctx context.Context, i int) error { return fn(ctx, shards[i]) })
}

// parallel runs fn(0..n-1) at once, as one round of n requests (each to one shard), and
// returns the first error; the others are cancelled then.
func (r *run) parallel(n int, fn func(ctx context.Context, i int) error) error {
	if n == 0 {
		return nil
	}
	r.rounds.Add(1)
	r.requests.Add(int64(n))
	if n == 1 {
		return fn(r.ctx, 0)
	}
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	errs := make(chan error, n)
	for i := range n {
		go func() {
			err := fn(ctx, i)
			if err != nil {
				cancel()
			}
			errs <- err
		}()
	}
	var first error
	for range n {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// reads runs one round of reads, one per shard of parts, sent together (Cluster.Reads).
func (r *run) reads(parts map[int]*shardapi.ReadRequest) (map[int]*shardapi.ReadResponse, error) {
	if len(parts) == 0 {
		return nil, nil
	}
	r.rounds.Add(1)
	r.requests.Add(int64(len(parts)))
	return r.x.c.Reads(r.ctx, r.graph, parts)
}

// allShards is 0..Shards()-1.
func (r *run) allShards() []int {
	out := make([]int, r.x.c.Shards())
	for i := range out {
		out[i] = i
	}
	return out
}

// byShard groups ids by their shard, keeping each group in first-seen order without
// duplicates.
func (r *run) byShard(ids []layout.ID) map[int][]layout.ID {
	out := map[int][]layout.ID{}
	seen := make(map[layout.ID]bool, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			s := r.x.c.ShardOf(r.graph, id)
			out[s] = append(out[s], id)
		}
	}
	return out
}
