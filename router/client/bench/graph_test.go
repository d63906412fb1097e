package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/torua/torua/router/client/bench"
)

// bruteForce answers q by enumerating edge sequences with distinct edges (openCypher's
// relationship uniqueness within a pattern) and, for Shortest, by growing reachable sets
// level by level: independent of MemGraph's marks and shortcuts.
func bruteForce(g *bench.Graph, q bench.GraphQuery, from, to int64) int64 {
	hops := map[bench.GraphQuery]int{bench.OneHop: 1, bench.TwoHop: 2, bench.ThreeHop: 3}[q]
	if q == bench.Shortest {
		reached := map[int64]bool{from: true}
		for depth := int64(1); depth <= bench.MaxPathLength; depth++ {
			next := map[int64]bool{}
			for _, e := range g.Edges {
				if reached[int64(e.Src)] {
					next[int64(e.Dst)] = true
				}
			}
			if next[to] {
				return depth
			}
			for v := range next {
				reached[v] = true
			}
		}
		return bench.NoPath
	}
	ends := map[int32]bool{}
	rows := int64(0)
	var walk func(at int64, used []int, left int)
	walk = func(at int64, used []int, left int) {
		if left == 0 {
			rows++
			ends[g.Edges[used[len(used)-1]].Dst] = true
			return
		}
		for i, e := range g.Edges {
			if int64(e.Src) == at && !slices.Contains(used, i) {
				walk(int64(e.Dst), append(used, i), left-1)
			}
		}
	}
	walk(from, nil, hops)
	if q == bench.OneHop {
		return rows
	}
	return int64(len(ends))
}

// TestMemGraphAgainstBruteForce: on random graphs, small and dense enough that paths come
// back to their start (the case three-hop's edge uniqueness is about), the floor answers
// every query as brute force does.
func TestMemGraphAgainstBruteForce(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(40) {
		v := 6 + int(seed%5)*2
		spec := bench.GraphSpec{Vertices: v, Edges: v*(v-1)/4 - int(seed%3)*2, Seed: seed}
		g, err := bench.GenerateGraph(spec)
		if err != nil {
			t.Fatal(err)
		}
		m := bench.NewMemGraph(g)
		for from := range int64(spec.Vertices) {
			for _, q := range bench.GraphQueries {
				to := (from + 1 + int64(seed)) % int64(spec.Vertices)
				if to == from {
					to = (to + 1) % int64(spec.Vertices)
				}
				a, err := m.Query(ctx, q, from, to)
				if err != nil {
					t.Fatal(err)
				}
				if want := bruteForce(g, q, from, to); a.Value != want {
					t.Fatalf("seed %d, %s from %d to %d: %d, want %d; edges %v", seed, q, from, to, a.Value, want, g.Edges)
				}
			}
		}
	}
}

// TestMemGraphThreeHopEdgeUniqueness: a→x→a→x uses a→x twice, so x is not a three-hop end
// through it; with a second way back (a→w→a), x is.
func TestMemGraphThreeHopEdgeUniqueness(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		edges []bench.Edge
		want  int64
	}{
		{[]bench.Edge{{0, 1}, {1, 0}}, 0},
		{[]bench.Edge{{0, 1}, {1, 0}, {0, 2}}, 1},         // a→1→a→2 ends at 2
		{[]bench.Edge{{0, 1}, {1, 0}, {0, 2}, {2, 0}}, 2}, // ...and a→2→a→1 at 1
	} {
		m := bench.NewMemGraph(&bench.Graph{Spec: bench.GraphSpec{Vertices: 3, Edges: len(tt.edges)}, Edges: tt.edges})
		if a, _ := m.Query(ctx, bench.ThreeHop, 0, 0); a.Value != tt.want {
			t.Errorf("%v: three-hop from 0 = %d, want %d", tt.edges, a.Value, tt.want)
		}
	}
}

func TestMemGraphOutsideTheGraph(t *testing.T) {
	g, _ := bench.GenerateGraph(bench.GraphSpec{Vertices: 10, Edges: 20})
	m := bench.NewMemGraph(g)
	for _, tt := range []struct {
		q        bench.GraphQuery
		from, to int64
		want     int64
	}{
		{bench.OneHop, 10, 0, 0},
		{bench.TwoHop, -1, 0, 0},
		{bench.Shortest, 0, 10, bench.NoPath},
		{bench.Shortest, 3, 3, bench.NoPath},
	} {
		if a, err := m.Query(context.Background(), tt.q, tt.from, tt.to); err != nil || a.Value != tt.want {
			t.Errorf("%s %d→%d: %v, %v; want %d", tt.q, tt.from, tt.to, a, err, tt.want)
		}
	}
}

// flaky fails the queries from vertices divisible by 4 and answers the others from a
// MemGraph: a store that fails on purpose, which no real store does on demand.
type flaky struct{ *bench.MemGraph }

var errFlaky = errors.New("flaky")

func (f flaky) Query(ctx context.Context, q bench.GraphQuery, from, to int64) (bench.GraphAnswer, error) {
	if from%4 == 0 {
		return bench.GraphAnswer{}, errFlaky
	}
	a, err := f.MemGraph.Query(ctx, q, from, to)
	a.Rounds, a.Requests = 2, 5
	return a, err
}

func (flaky) ErrorKind(err error) string { return err.Error() }

func TestGraphRunnerCasesAndProbes(t *testing.T) {
	g, _ := bench.GenerateGraph(bench.GraphSpec{Vertices: 200, Edges: 1500, Seed: 2})
	m := bench.NewMemGraph(g)
	cfg := bench.GraphConfig{Vertices: 200, Queries: []bench.GraphQuery{bench.TwoHop, bench.Shortest}, Clients: []int{1, 3},
		Count: 90, Probes: 5, ProbeSeed: 9}
	r, err := bench.NewGraphRunner(flaky{m}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var cases []string
	rep := r.Run(context.Background(), func(q bench.GraphQuery, n int) { cases = append(cases, string(q)+"×"+string(rune('0'+n))) })
	if want := []string{"two-hop×1", "two-hop×3", "shortest×1", "shortest×3"}; !slices.Equal(cases, want) {
		t.Fatalf("cases %v, want %v", cases, want)
	}
	if len(rep.Results) != 4 {
		t.Fatalf("%d results", len(rep.Results))
	}
	for _, res := range rep.Results {
		if res.Ops+res.ErrorCount != 90 || res.Errors["flaky"] != res.ErrorCount || res.ErrorCount == 0 || res.Ops == 0 {
			t.Errorf("%s×%d: ops %d, errors %v; want 90 in all, some failed", res.Query, res.Clients, res.Ops, res.Errors)
		}
		if res.Latency.Count != res.Ops || res.MeanRounds != 2 || res.MeanRequests != 5 || res.MeanAnswer <= 0 {
			t.Errorf("%s×%d: %+v", res.Query, res.Clients, res)
		}
		if (res.Query == bench.Shortest) != (res.Found > 0) {
			t.Errorf("%s: found %d", res.Query, res.Found)
		}
	}
	// Probes: the same pairs for every store, answered as the store answers them.
	pairs := bench.ProbePairs(9, 200, 5)
	for q, answers := range rep.Probes {
		for i, p := range answers {
			want, _ := m.Query(context.Background(), q, pairs[i][0], pairs[i][1])
			switch {
			case p.From != pairs[i][0] || (q == bench.Shortest) != (p.To != 0):
				t.Errorf("%s probe %d: %+v for pair %v", q, i, p, pairs[i])
			case p.From%4 == 0 && p.Error != "flaky":
				t.Errorf("%s probe %d: %+v, want the error's kind", q, i, p)
			case p.From%4 != 0 && (p.Value != want.Value || p.Error != ""):
				t.Errorf("%s probe %d: %+v, want %d", q, i, p, want.Value)
			}
		}
	}

	var out bytes.Buffer
	if err := rep.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"two-hop, 3 clients", "shortest, 1 clients", "mean count", "paths found", "2.00 rounds, 5.0 shard requests", "p99.9", "flaky"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back bench.GraphReport
	if err := json.Unmarshal(b, &back); err != nil || len(back.Results) != 4 || back.Results[0].Latency.P50 != rep.Results[0].Latency.P50 {
		t.Errorf("JSON round trip: %v\n%s", err, b)
	}
}

func TestGraphConfigValidate(t *testing.T) {
	ok := bench.GraphConfig{Vertices: 10, Queries: bench.GraphQueries, Clients: []int{1}, Count: 1}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*bench.GraphConfig){
		"vertices":  func(c *bench.GraphConfig) { c.Vertices = 1 },
		"queries":   func(c *bench.GraphConfig) { c.Queries = nil },
		"kind":      func(c *bench.GraphConfig) { c.Queries = []bench.GraphQuery{"four-hop"} },
		"clients":   func(c *bench.GraphConfig) { c.Clients = []int{1, 0} },
		"unbounded": func(c *bench.GraphConfig) { c.Count, c.Duration = 0, 0 },
		"probes":    func(c *bench.GraphConfig) { c.Probes = -1 },
	} {
		c := ok
		mut(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, c)
		}
	}
}

func TestParseGraphFlags(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []bench.GraphQuery
		err  string
	}{
		{"one-hop", []bench.GraphQuery{bench.OneHop}, ""},
		{"shortest, two-hop", []bench.GraphQuery{bench.Shortest, bench.TwoHop}, ""},
		{"one-hop,four-hop", nil, `"four-hop"`},
		{"one-hop,one-hop", nil, "twice"},
		{"", nil, `""`},
	} {
		got, err := bench.ParseGraphQueries(tt.in)
		if (tt.err == "" && (err != nil || !slices.Equal(got, tt.want))) || (tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err))) {
			t.Errorf("ParseGraphQueries(%q) = %v, %v", tt.in, got, err)
		}
	}
	for _, tt := range []struct {
		in   string
		want []int
	}{{"1,8", []int{1, 8}}, {" 4 ", []int{4}}, {"0", nil}, {"1,x", nil}, {"", nil}} {
		got, err := bench.ParseClients(tt.in)
		if !slices.Equal(got, tt.want) || (tt.want == nil) != (err != nil) {
			t.Errorf("ParseClients(%q) = %v, %v", tt.in, got, err)
		}
	}
}

// memLoader collects what LoadGraph sends, failing the first try of every third edge batch
// transiently.
type memLoader struct {
	mu       sync.Mutex
	vertices []int
	edges    []bench.Edge
	calls    atomic.Int64
}

var errTransient = errors.New("try again")

func (l *memLoader) LoadVertices(_ context.Context, from, to int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for v := from; v < to; v++ {
		l.vertices = append(l.vertices, v)
	}
	return nil
}

func (l *memLoader) LoadEdges(_ context.Context, edges []bench.Edge) error {
	if l.calls.Add(1)%3 == 0 {
		return errTransient
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.edges = append(l.edges, edges...)
	return nil
}

func (*memLoader) Transient(err error) bool { return errors.Is(err, errTransient) }

func TestLoadGraph(t *testing.T) {
	g, _ := bench.GenerateGraph(bench.GraphSpec{Vertices: 1000, Edges: 9999, Seed: 1})
	l := &memLoader{}
	var done atomic.Int64
	res, err := bench.LoadGraph(context.Background(), g, l, 1000, 3, &done)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(l.vertices)
	if len(l.vertices) != 1000 || l.vertices[999] != 999 || slices.Compact(l.vertices)[999] != 999 {
		t.Errorf("vertices loaded: %d", len(l.vertices))
	}
	less := func(a, b bench.Edge) int { return int(a.Src-b.Src)*1_000_000 + int(a.Dst-b.Dst) }
	want := slices.SortedFunc(slices.Values(g.Edges), less)
	if got := slices.SortedFunc(slices.Values(l.edges), less); !slices.Equal(got, want) {
		t.Errorf("edges loaded: %d of %d", len(got), len(want))
	}
	if res.Vertices != 1000 || res.Edges != 9999 || res.Batches != 11 || res.Retries == 0 || done.Load() != 10999 || res.EdgesPerSec <= 0 {
		t.Errorf("result %+v, done %d", res, done.Load())
	}
	// A failure that is not transient stops the load.
	if _, err := bench.LoadGraph(context.Background(), g, failingLoader{l}, 500, 2, nil); !errors.Is(err, errFlaky) {
		t.Errorf("LoadGraph with a failing loader: %v", err)
	}
}

type failingLoader struct{ *memLoader }

func (failingLoader) LoadEdges(context.Context, []bench.Edge) error { return errFlaky }

// counting counts the queries a MemGraph answers.
type counting struct {
	*bench.MemGraph
	n atomic.Int64
}

func (c *counting) Query(ctx context.Context, q bench.GraphQuery, from, to int64) (bench.GraphAnswer, error) {
	c.n.Add(1)
	return c.MemGraph.Query(ctx, q, from, to)
}

// TestGraphRunnerWarmsUpUnrecorded: a warm-up sends queries before each kind's cases, and
// none of them counts in the results.
func TestGraphRunnerWarmsUpUnrecorded(t *testing.T) {
	g, _ := bench.GenerateGraph(bench.GraphSpec{Vertices: 200, Edges: 1500, Seed: 2})
	store := &counting{MemGraph: bench.NewMemGraph(g)}
	cfg := bench.GraphConfig{Vertices: 200, Queries: []bench.GraphQuery{bench.OneHop, bench.TwoHop}, Clients: []int{1, 2},
		Count: 20, Warmup: 20 * time.Millisecond}
	r, err := bench.NewGraphRunner(store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rep := r.Run(context.Background(), nil)
	for _, res := range rep.Results {
		if res.Ops != 20 {
			t.Errorf("%s×%d: %d queries recorded, want the case's 20", res.Query, res.Clients, res.Ops)
		}
	}
	if n := store.n.Load(); n <= 4*20 {
		t.Errorf("the store answered %d queries, want more than the cases' %d: no warm-up ran", n, 4*20)
	}
}
