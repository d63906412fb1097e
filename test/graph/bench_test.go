package graph

import (
	"context"
	"os"
	"runtime/pprof"
	"strconv"
	"testing"

	"github.com/torua/torua/internal/local"
	"github.com/torua/torua/internal/local/localtest"
	"github.com/torua/torua/router/client"
	"github.com/torua/torua/router/client/bench"
	"github.com/torua/torua/router/client/benchstore"
)

// The graph benchmarks run the queries of `torua bench --graph` (bench.GraphQueryText) in
// this process, against a cluster shaped as the measurement is (3 nodes, replication
// factor 3, 16 shards) but with fsync off, so that `go test -bench -cpuprofile` shows where a
// query's time goes in the router and the nodes together. The graph is bench.GenerateGraph's
// power-law graph: TORUA_BENCH_VERTICES and TORUA_BENCH_EDGES set its size (10,000 and
// 100,000 by default). The figures that count are `torua bench --graph`'s against `torua
// local` (docs/benchmarks.md); these are for profiles.
//
//	go test ./test/graph -run '^$' -bench Graph -cpuprofile cpu.out
//
// With TORUA_BENCH_QUERY_PROFILE=file, BenchmarkGraphQuery writes a CPU profile of its queries
// alone (not of the load before them) to file.

func BenchmarkGraphImport(b *testing.B) {
	g := benchGraph(b)
	for b.Loop() {
		b.StopTimer()
		store := benchCluster(b)
		b.StartTimer()
		res, err := bench.LoadGraph(context.Background(), g, store, 2000, 4, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(res.EdgesPerSec, "edges/s")
		b.ReportMetric(res.VerticesPerSec, "vertices/s")
	}
}

func BenchmarkGraphQuery(b *testing.B) {
	g := benchGraph(b)
	store := benchCluster(b)
	if _, err := bench.LoadGraph(context.Background(), g, store, 2000, 4, nil); err != nil {
		b.Fatal(err)
	}
	if name := os.Getenv("TORUA_BENCH_QUERY_PROFILE"); name != "" {
		f, err := os.Create(name)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		})
	}
	for _, q := range []bench.GraphQuery{bench.OneHop, bench.TwoHop, bench.ThreeHop, bench.Shortest} {
		b.Run(string(q), func(b *testing.B) {
			var rounds, requests int64
			i := 0
			for b.Loop() {
				pair := bench.ProbePairs(uint64(i), g.Spec.Vertices, 1)[0]
				i++
				a, err := store.Query(context.Background(), q, pair[0], pair[1])
				if err != nil {
					b.Fatal(err)
				}
				rounds += a.Rounds
				requests += a.Requests
			}
			b.ReportMetric(float64(rounds)/float64(i), "rounds/op")
			b.ReportMetric(float64(requests)/float64(i), "requests/op")
		})
	}
}

func benchGraph(b *testing.B) *bench.Graph {
	spec := bench.GraphSpec{Vertices: envInt(b, "TORUA_BENCH_VERTICES", 10_000), Edges: envInt(b, "TORUA_BENCH_EDGES", 100_000), Seed: 1}
	g, err := bench.GenerateGraph(spec)
	if err != nil {
		b.Fatal(err)
	}
	return g
}

func benchCluster(b *testing.B) *benchstore.Graph {
	c := localtest.Start(b, local.Config{Nodes: 3, ReplicationFactor: 3, Shards: 16})
	cl, err := client.New(c.RouterURL(), client.WithMaxConnsPerHost(8))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	return benchstore.NewGraph(cl, "bench")
}

func envInt(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a whole number of at least 1", name, s)
	}
	return n
}
