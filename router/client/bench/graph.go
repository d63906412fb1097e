package bench

import (
	"context"
	"fmt"
	mathrand "math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// GraphQuery is a kind of graph query a graph run sends. Every store answers each kind with
// the semantics of its openCypher form (GraphQueryText), on the graph of GenerateGraph:
// vertices :V {id} and edges :E.
type GraphQuery string

const (
	// OneHop lists the out-neighbours of a vertex; its answer is how many there are.
	OneHop GraphQuery = "one-hop"
	// TwoHop counts the distinct vertices at the end of a path of two edges.
	TwoHop GraphQuery = "two-hop"
	// ThreeHop counts the distinct vertices at the end of a path of three distinct edges.
	ThreeHop GraphQuery = "three-hop"
	// Shortest is the length of a shortest directed path of at most MaxPathLength edges
	// between two different vertices, or NoPath.
	Shortest GraphQuery = "shortest"
)

// GraphQueries are every kind, in the order runs take them.
var GraphQueries = []GraphQuery{OneHop, TwoHop, ThreeHop, Shortest}

// MaxPathLength bounds the paths Shortest looks for.
const MaxPathLength = 6

// NoPath is Shortest's answer when no path of at most MaxPathLength edges exists.
const NoPath = -1

// GraphQueryText is the openCypher query of each kind, with its parameters: $id the start
// vertex, $a and $b the ends of a shortest path.
var GraphQueryText = map[GraphQuery]string{
	OneHop:   "MATCH (a:V {id: $id})-[:E]->(b) RETURN b.id",
	TwoHop:   "MATCH (a:V {id: $id})-[:E]->()-[:E]->(c) RETURN count(DISTINCT c)",
	ThreeHop: "MATCH (a:V {id: $id})-[:E]->()-[:E]->()-[:E]->(c) RETURN count(DISTINCT c)",
	Shortest: "MATCH (a:V {id: $a}), (b:V {id: $b}) MATCH p = shortestPath((a)-[:E*.." +
		strconv.Itoa(MaxPathLength) + "]->(b)) RETURN length(p)",
}

// ParseGraphQueries parses a comma-separated list of kinds ("one-hop,shortest").
func ParseGraphQueries(s string) ([]GraphQuery, error) {
	var out []GraphQuery
	for _, f := range strings.Split(s, ",") {
		q := GraphQuery(strings.TrimSpace(f))
		if !slices.Contains(GraphQueries, q) {
			return nil, fmt.Errorf("query kind %q: want one of one-hop, two-hop, three-hop, shortest", q)
		}
		if slices.Contains(out, q) {
			return nil, fmt.Errorf("query kind %q named twice", q)
		}
		out = append(out, q)
	}
	return out, nil
}

// ParseClients parses a comma-separated list of client counts ("1,8").
func ParseClients(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("client count %q: want a whole number of at least 1", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// GraphAnswer is one query's answer, reduced to what runs compare, and what it cost.
type GraphAnswer struct {
	// Value is the number of rows for OneHop, the count for TwoHop and ThreeHop, the path's
	// length or NoPath for Shortest.
	Value int64
	// Rounds and Requests are the rounds of parallel shard requests and the shard requests
	// the query took, as the store reports them (0 when it does not).
	Rounds, Requests int64
}

// GraphStore is what a graph run queries: Torua through its router (cmd/torua), PostgreSQL
// (hack/graphbench), or the in-memory floor (MemGraph). Query is called from every worker at
// once.
type GraphStore interface {
	// Query answers one query of kind q from vertex from (and, for Shortest, to vertex to,
	// never equal to from).
	Query(ctx context.Context, q GraphQuery, from, to int64) (GraphAnswer, error)
	// ErrorKind names the kind of a failed query, as GraphResult.Errors counts them.
	ErrorKind(err error) string
}

// GraphConfig describes the cases of a graph run: each kind of Queries at each of Clients.
type GraphConfig struct {
	// Vertices is the number of vertices of the graph (ids 0..Vertices-1), from which start
	// vertices are drawn uniformly.
	Vertices int
	// Queries are the kinds to run, in order.
	Queries []GraphQuery
	// Clients are the numbers of workers to run each kind with, each with one query in flight.
	Clients []int
	// Duration stops each case after this long (0: no time bound).
	Duration time.Duration
	// Count stops each case after this many queries, failed ones included (0: no count
	// bound). At least one of Duration and Count must be set.
	Count int64
	// Timeout bounds each query (0: only the store's own bound).
	Timeout time.Duration
	// Warmup, when set, runs each kind at the largest client count for this long before its
	// cases, unrecorded: caches (the store's and the system's) fill before anything is timed.
	Warmup time.Duration
	// Probes is the number of fixed queries of each kind answered, one at a time and
	// untimed, before its cases: their answers let runs against different stores be checked
	// against each other. They are drawn from ProbeSeed.
	Probes    int
	ProbeSeed uint64
}

// Validate reports the first setting that makes no sense.
func (c *GraphConfig) Validate() error {
	switch {
	case c.Vertices < 2:
		return fmt.Errorf("vertices %d: want at least 2", c.Vertices)
	case len(c.Queries) == 0:
		return fmt.Errorf("no query kinds to run")
	case len(c.Clients) == 0:
		return fmt.Errorf("no client counts to run")
	case slices.Min(c.Clients) < 1:
		return fmt.Errorf("clients %d: want at least 1", slices.Min(c.Clients))
	case c.Duration < 0 || c.Count < 0 || c.Timeout < 0 || c.Probes < 0 || c.Warmup < 0:
		return fmt.Errorf("duration, count, timeout, warm-up and probes must not be negative")
	case c.Duration == 0 && c.Count == 0:
		return fmt.Errorf("set a duration or a count: a run must be bounded")
	}
	for _, q := range c.Queries {
		if _, ok := GraphQueryText[q]; !ok {
			return fmt.Errorf("query kind %q: want one of one-hop, two-hop, three-hop, shortest", q)
		}
	}
	return nil
}

// GraphRunner runs the cases of a graph run against one GraphStore. Progress may be called
// from any goroutine while Run runs.
type GraphRunner struct {
	cfg   GraphConfig
	store GraphStore

	done   atomic.Int64 // queries finished in the current case, failed ones included
	failed atomic.Int64
}

// NewGraphRunner returns a GraphRunner for cfg that sends its queries to store.
func NewGraphRunner(store GraphStore, cfg GraphConfig) (*GraphRunner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &GraphRunner{cfg: cfg, store: store}, nil
}

// Progress returns how many queries of the current case have finished and how many of those
// failed.
func (r *GraphRunner) Progress() (done, failed int64) { return r.done.Load(), r.failed.Load() }

// ProbePairs returns the n (from, to) pairs the probes of every kind use: the same for every
// store given the same seed and vertex count, from != to.
func ProbePairs(seed uint64, vertices, n int) [][2]int64 {
	rng := mathrand.New(mathrand.NewPCG(seed, 0x70726f6265)) // "probe"
	out := make([][2]int64, n)
	for i := range out {
		out[i] = randomPair(rng, vertices)
	}
	return out
}

// randomPair draws two different vertices uniformly.
func randomPair(rng *mathrand.Rand, vertices int) [2]int64 {
	a := rng.Int64N(int64(vertices))
	b := rng.Int64N(int64(vertices - 1))
	if b >= a {
		b++
	}
	return [2]int64{a, b}
}

// Probe answers the probes of kind q one at a time. A probe that fails is answered with its
// error's kind, so that a comparison shows it.
func (r *GraphRunner) Probe(ctx context.Context, q GraphQuery) []ProbeAnswer {
	pairs := ProbePairs(r.cfg.ProbeSeed, r.cfg.Vertices, r.cfg.Probes)
	out := make([]ProbeAnswer, len(pairs))
	for i, p := range pairs {
		octx, cancel := r.opContext(ctx)
		a, err := r.store.Query(octx, q, p[0], p[1])
		cancel()
		out[i] = ProbeAnswer{From: p[0], To: p[1], Value: a.Value}
		if err != nil {
			out[i] = ProbeAnswer{From: p[0], To: p[1], Error: r.store.ErrorKind(err), Detail: err.Error()}
		}
		if q != Shortest {
			out[i].To = 0
		}
	}
	return out
}

// Run runs every case: for each kind, its probes, its warm-up, then one case per client count.
// It stops early, with the cases done so far, when ctx ends.
func (r *GraphRunner) Run(ctx context.Context, progress func(q GraphQuery, clients int)) *GraphReport {
	rep := &GraphReport{Probes: map[GraphQuery][]ProbeAnswer{}}
	for _, q := range r.cfg.Queries {
		if r.cfg.Probes > 0 {
			rep.Probes[q] = r.Probe(ctx, q)
		}
		if r.cfg.Warmup > 0 {
			r.runCase(ctx, q, slices.Max(r.cfg.Clients), r.cfg.Warmup, 0)
		}
		for _, n := range r.cfg.Clients {
			if ctx.Err() != nil {
				return rep
			}
			if progress != nil {
				progress(q, n)
			}
			rep.Results = append(rep.Results, r.RunCase(ctx, q, n))
		}
	}
	return rep
}

// RunCase sends queries of kind q from clients workers until Count of them have finished or
// Duration has passed, or ctx is done; it then waits for the queries in flight. A query cut
// short by the end of the case is not counted; failed ones are counted by kind.
func (r *GraphRunner) RunCase(ctx context.Context, q GraphQuery, clients int) *GraphResult {
	return r.runCase(ctx, q, clients, r.cfg.Duration, r.cfg.Count)
}

// runCase is RunCase bounded by duration and count (0: no bound) instead of the config's.
func (r *GraphRunner) runCase(ctx context.Context, q GraphQuery, clients int, duration time.Duration, count int64) *GraphResult {
	r.done.Store(0)
	r.failed.Store(0)
	if duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, duration)
		defer cancel()
	}
	var issued atomic.Int64
	workers := make([]*graphWorkerStats, clients)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		st := &graphWorkerStats{hist: newHistogram(), errors: map[string]int64{}}
		workers[w] = st
		wg.Go(func() { r.work(ctx, q, uint64(w), count, &issued, st) })
	}
	wg.Wait()
	return r.graphResult(q, clients, workers, time.Since(start))
}

func (r *GraphRunner) work(ctx context.Context, q GraphQuery, seed uint64, count int64, issued *atomic.Int64, st *graphWorkerStats) {
	rng := mathrand.New(mathrand.NewPCG(seed, uint64(time.Now().UnixNano())))
	for ctx.Err() == nil {
		if count > 0 && issued.Add(1) > count {
			return
		}
		p := randomPair(rng, r.cfg.Vertices)
		octx, cancel := r.opContext(ctx)
		t0 := time.Now()
		a, err := r.store.Query(octx, q, p[0], p[1])
		lat := time.Since(t0)
		cancel()
		if err != nil && ctx.Err() != nil {
			return // cut short by the end of the case
		}
		r.done.Add(1)
		if err != nil {
			st.errors[r.store.ErrorKind(err)]++
			r.failed.Add(1)
			continue
		}
		st.record(lat, a)
	}
}

// opContext bounds one query by GraphConfig.Timeout.
func (r *GraphRunner) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.cfg.Timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, r.cfg.Timeout)
}
