package bench

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// GraphReport is the outcome of a graph run. Its JSON form is what `torua bench --graph
// --json` and hack/graphbench print, and what `graphbench compare` reads.
type GraphReport struct {
	// Store names what was measured ("torua", "postgres", "memory") and Target where it
	// was (a URL, a DSN without its password).
	Store  string `json:"store"`
	Target string `json:"target,omitempty"`
	// Protocol is how Torua's queries travelled: "wire" or "http".
	Protocol string `json:"protocol,omitempty"`
	// Graph is the generated graph's spec.
	Graph GraphSpec `json:"graph"`
	// Load is the bulk load's outcome, when the run loaded the graph.
	Load *LoadResult `json:"load,omitempty"`
	// Probes are each kind's fixed queries and their answers (GraphConfig.Probes).
	Probes map[GraphQuery][]ProbeAnswer `json:"probes,omitempty"`
	// Results are the cases, in the order they ran.
	Results []*GraphResult `json:"results"`
}

// ProbeAnswer is one probe's answer: Value, or the kind of the error it met.
type ProbeAnswer struct {
	From  int64  `json:"from"`
	To    int64  `json:"to,omitempty"`
	Value int64  `json:"value"`
	Error string `json:"error,omitempty"`
	// Detail is the failed query's error message: Error alone ("transport") does not say
	// what happened.
	Detail string `json:"detail,omitempty"`
}

// LoadResult is a bulk load's outcome: vertices first, then edges.
type LoadResult struct {
	Vertices       int     `json:"vertices"`
	Edges          int     `json:"edges"`
	VertexSeconds  float64 `json:"vertexSeconds"`
	EdgeSeconds    float64 `json:"edgeSeconds"`
	VerticesPerSec float64 `json:"verticesPerSec"`
	EdgesPerSec    float64 `json:"edgesPerSec"`
	// Batches is the number of batches sent, Retries how many were sent again after a
	// transient failure.
	Batches int `json:"batches"`
	Retries int `json:"retries,omitempty"`
	// Bulk is a bulk load (one request: Batches 1, VertexSeconds 0, EdgeSeconds and both rates
	// over the whole load).
	Bulk bool `json:"bulk,omitempty"`
	// SettleSeconds is how long the store went on compacting after the load, before the
	// queries ran (0: not measured).
	SettleSeconds float64 `json:"settleSeconds,omitempty"`
}

// GraphResult is the outcome of one case: one kind of query at one number of clients.
type GraphResult struct {
	Query   GraphQuery `json:"query"`
	Clients int        `json:"clients"`
	// Elapsed is the wall time of the case, in seconds.
	Elapsed float64 `json:"elapsedSeconds"`
	// Ops counts the queries that succeeded; OpsPerSec is Ops / Elapsed.
	Ops       int64   `json:"ops"`
	OpsPerSec float64 `json:"opsPerSec"`
	// ErrorCount is the sum of Errors, the failed queries by kind.
	ErrorCount int64            `json:"errorCount"`
	Errors     map[string]int64 `json:"errors"`
	// Latency summarises the latencies of the successful queries.
	Latency Latency `json:"latency"`
	// MeanAnswer is the mean GraphAnswer.Value of the successful queries (for Shortest, of
	// those that found a path); Found counts Shortest's queries that found one.
	MeanAnswer float64 `json:"meanAnswer"`
	Found      int64   `json:"found,omitempty"`
	// MeanRounds and MeanRequests are the mean rounds of shard requests and shard requests
	// per query, as the store reports them (0 when it does not).
	MeanRounds   float64 `json:"meanRounds"`
	MeanRequests float64 `json:"meanRequests"`
	// Histogram holds every successful query's latency in microseconds.
	Histogram *hdrhistogram.Histogram `json:"-"`
}

type graphWorkerStats struct {
	hist                  *hdrhistogram.Histogram
	errors                map[string]int64
	answers, found        int64
	sum, rounds, requests int64
}

func (st *graphWorkerStats) record(d time.Duration, a GraphAnswer) {
	us := min(max(d.Microseconds(), minLatencyUs), maxLatencyUs)
	_ = st.hist.RecordValue(us) // in range by construction
	st.answers++
	st.rounds += a.Rounds
	st.requests += a.Requests
	if a.Value != NoPath {
		st.found++
		st.sum += a.Value
	}
}

func (r *GraphRunner) graphResult(q GraphQuery, clients int, workers []*graphWorkerStats, elapsed time.Duration) *GraphResult {
	res := &GraphResult{Query: q, Clients: clients, Elapsed: elapsed.Seconds(), Errors: map[string]int64{}, Histogram: newHistogram()}
	var answers, found, sum, rounds, requests int64
	for _, st := range workers {
		res.Histogram.Merge(st.hist)
		for kind, n := range st.errors {
			res.Errors[kind] += n
			res.ErrorCount += n
		}
		answers += st.answers
		found += st.found
		sum += st.sum
		rounds += st.rounds
		requests += st.requests
	}
	res.Ops = res.Histogram.TotalCount()
	res.Latency = summarize(res.Histogram)
	if elapsed > 0 {
		res.OpsPerSec = float64(res.Ops) / elapsed.Seconds()
	}
	if found > 0 {
		res.MeanAnswer = float64(sum) / float64(found)
	}
	if q == Shortest {
		res.Found = found
	}
	if answers > 0 {
		res.MeanRounds = float64(rounds) / float64(answers)
		res.MeanRequests = float64(requests) / float64(answers)
	}
	return res
}

// WriteTable writes rep for people: the graph, the load, then each case as `torua bench`
// writes a run (its settings, throughput, the latency table and the errors by kind), with
// the mean answer and the mean rounds and shard requests per query.
func (rep *GraphReport) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "graph %d vertices, %d edges, seed %d\n", rep.Graph.Vertices, rep.Graph.Edges, rep.Graph.Seed)
	if l := rep.Load; l != nil && l.Bulk {
		fmt.Fprintf(&b, "bulk load: %d vertices and %d edges in %.2fs (%.0f edges/s)\n", l.Vertices, l.Edges, l.EdgeSeconds, l.EdgesPerSec)
	} else if l != nil {
		fmt.Fprintf(&b, "load: %d vertices in %.2fs (%.0f/s), %d edges in %.2fs (%.0f edges/s), %d batches",
			l.Vertices, l.VertexSeconds, l.VerticesPerSec, l.Edges, l.EdgeSeconds, l.EdgesPerSec, l.Batches)
		if l.Retries > 0 {
			fmt.Fprintf(&b, ", %d sent again", l.Retries)
		}
		b.WriteString("\n")
	}
	for _, res := range rep.Results {
		b.WriteString("\n")
		res.writeCase(&b)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (res *GraphResult) writeCase(b *strings.Builder) {
	fmt.Fprintf(b, "%s, %d clients, %.2fs\n", res.Query, res.Clients, res.Elapsed)
	fmt.Fprintf(b, "queries %d, %.1f queries/s, errors %d; ", res.Ops, res.OpsPerSec, res.ErrorCount)
	switch res.Query {
	case OneHop:
		fmt.Fprintf(b, "mean rows %.1f", res.MeanAnswer)
	case Shortest:
		fmt.Fprintf(b, "paths found %d, mean length %.2f", res.Found, res.MeanAnswer)
	default:
		fmt.Fprintf(b, "mean count %.1f", res.MeanAnswer)
	}
	if res.MeanRounds > 0 {
		fmt.Fprintf(b, "; per query %.2f rounds, %.1f shard requests", res.MeanRounds, res.MeanRequests)
	}
	b.WriteString("\n\n")
	_ = writeLatencyTable(b, []latencyRow{{string(res.Query), res.Latency}}) // a Builder does not fail
	writeErrors(b, res.Errors)
}
