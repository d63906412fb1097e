package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/torua/torua/router/client/bench"
)

// TestCompare: the table has a column per report and a row per case, the probes of a report
// that answers like the floor agree, and the goals compare Torua with PostgreSQL.
func TestCompare(t *testing.T) {
	dir := t.TempDir()
	spec := bench.GraphSpec{Vertices: 100, Edges: 400, Seed: 1}
	probes := map[bench.GraphQuery][]bench.ProbeAnswer{bench.TwoHop: {{From: 3, Value: 12}, {From: 5, Value: 0}}}
	result := func(q bench.GraphQuery, clients int, qps float64, p50 int64) *bench.GraphResult {
		return &bench.GraphResult{Query: q, Clients: clients, Ops: 10, OpsPerSec: qps, MeanAnswer: 7,
			Latency: bench.Latency{P50: p50, P99: 2 * p50}}
	}
	write := func(name string, rep *bench.GraphReport) string {
		rep.Graph = spec
		b, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, name+".json")
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	files := []string{
		write("torua", &bench.GraphReport{Store: "torua", Probes: probes, Load: &bench.LoadResult{EdgesPerSec: 2500},
			Results: []*bench.GraphResult{result(bench.OneHop, 1, 900, 800), result(bench.TwoHop, 8, 300, 5000)}}),
		write("postgres", &bench.GraphReport{Store: "postgres", Probes: map[bench.GraphQuery][]bench.ProbeAnswer{
			bench.TwoHop: {{From: 3, Value: 12}, {From: 5, Error: "transport", Detail: "EOF"}}},
			Results: []*bench.GraphResult{result(bench.TwoHop, 8, 100, 20000)}}),
		write("memory", &bench.GraphReport{Store: "memory", Probes: probes,
			Results: []*bench.GraphResult{result(bench.OneHop, 1, 1e6, 1), result(bench.TwoHop, 8, 1e5, 20)}}),
	}
	var out strings.Builder
	if err := compare(&out, files); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| query | clients | torua q/s | p50 | p99 | postgres q/s | p50 | p99 | memory q/s | p50 | p99 | mean answer |",
		"| one-hop | 1 | 900 | 800µs | 1.60ms | – | – | – | 1000000 | 1µs | 2µs | 7.0 |",
		"| two-hop | 8 | 300 | 5.00ms | 10.0ms | 100 | 20.0ms | 40.0ms |",
		"torua 2/2; postgres 1/2; first difference: two-hop from 5 to 0: 0 (transport: EOF), want 0;",
		"| import ≥ 100,000 edges/s | 2500 edges/s | **not met** |",
		"| one-hop p50 ≤ 1 ms, 1 clients | 800µs | met |",
		"| two-hop ≥ 2× PostgreSQL, 8 clients | 3.00× the queries/s (p50 4.00× as fast) | met |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	other := write("other", &bench.GraphReport{Store: "torua", Graph: bench.GraphSpec{Vertices: 5}})
	if err := os.WriteFile(other, []byte(`{"store":"torua","graph":{"vertices":5}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := compare(&out, []string{files[0], other}); err == nil || !strings.Contains(err.Error(), "compare runs on one graph") {
		t.Errorf("compare of two graphs: %v", err)
	}
}
