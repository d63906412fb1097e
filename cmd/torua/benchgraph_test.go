package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/torua/torua/internal/local"
	"github.com/torua/torua/internal/local/localtest"
	"github.com/torua/torua/router/client/bench"
	"github.com/torua/torua/router/client/clienttest"
)

// TestBenchGraphArguments: flags of the other kind of bench and settings that make no sense
// are refused, naming the flag, before any request is sent.
func TestBenchGraphArguments(t *testing.T) {
	fake := clienttest.NewRouter(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--graph", "--mode", "get"}, "--mode applies to the key-value bench, not --graph"},
		{[]string{"--graph", "--concurrency", "4"}, "--concurrency applies to the key-value bench"},
		{[]string{"--graph", "--preload"}, "--preload applies to the key-value bench"},
		{[]string{"--vertices", "10"}, "--vertices applies to --graph only"},
		{[]string{"--load"}, "--load applies to --graph only"},
		{[]string{"--mode", "get", "--clients", "1"}, "--clients applies to --graph only"},
		{[]string{"--graph", "--queries", "one-hop,four-hop"}, `--queries: query kind "four-hop"`},
		{[]string{"--graph", "--queries", "shortest,shortest"}, "named twice"},
		{[]string{"--graph", "--clients", "1,0"}, `--clients: client count "0"`},
		{[]string{"--graph", "--clients", "eight"}, `--clients: client count "eight"`},
		{[]string{"--graph", "--vertices", "1"}, "--vertices, --edges: vertices 1"},
		{[]string{"--graph", "--vertices", "10", "--edges", "100"}, "at most 22"},
		{[]string{"--graph", "--batch", "0"}, "--batch 0"},
		{[]string{"--graph", "--in-flight", "0"}, "--in-flight 0"},
		{[]string{"--graph", "--bulk"}, "--bulk is a way to --load: give both"},
		{[]string{"--bulk"}, "--bulk applies to --graph only"},
		{[]string{"--graph", "--probes", "-1"}, "must not be negative"},
		{[]string{"--graph", "--duration", "0s"}, "bounded"},
	} {
		_, _, err := runCLI(t, "", append([]string{"bench", "--url", fake.URL}, tt.args...)...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("bench %q: %v, want an error with %q", tt.args, err, tt.want)
		}
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d requests were sent by invalid runs", n)
	}
	// The graph flags' defaults are the scale.
	cmd := newBenchCmd()
	for name, want := range map[string]string{"vertices": "100000", "edges": "1000000", "seed": "1", "clients": "1,8",
		"queries": "one-hop,two-hop,three-hop,shortest", "duration": "10s", "load": "false", "graph": "false"} {
		if got := cmd.Flags().Lookup(name).DefValue; got != want {
			t.Errorf("--%s defaults to %q, want %q", name, got, want)
		}
	}
}

// TestBenchGraphAgainstACluster: a smoke test against a real one-node cluster in this process
// (fsync off: durability is not what it checks). --load imports a tiny generated graph; every
// case runs and succeeds; the probes answer exactly as the in-memory floor does on the same
// generated graph (its queries over the wire protocol, by default); a second run without
// --load, over HTTP, finds the graph and prints the table.
func TestBenchGraphAgainstACluster(t *testing.T) {
	c := localtest.Start(t, local.Config{Nodes: 1, Shards: 4})
	url := "--url=" + c.RouterURL()
	spec := bench.GraphSpec{Vertices: 300, Edges: 2000, Seed: 3}
	out, errOut, err := runCLI(t, "", "bench", url, "--graph", "--load", "--vertices", "300", "--edges", "2000", "--seed", "3",
		"--batch", "500", "--clients", "1,2", "--duration", "1s", "--probes", "10", "--json")
	if err != nil {
		t.Fatalf("bench --graph --load: %v\nstderr: %s", err, errOut)
	}
	var rep bench.GraphReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if rep.Store != "torua" || rep.Protocol != "wire" || rep.Graph != spec || rep.Load == nil || rep.Load.Vertices != 300 || rep.Load.Edges != 2000 ||
		rep.Load.Batches != 5 || rep.Load.EdgesPerSec <= 0 {
		t.Fatalf("report %+v, load %+v", rep, rep.Load)
	}
	if len(rep.Results) != 8 {
		t.Fatalf("%d cases, want 4 kinds × 2 client counts", len(rep.Results))
	}
	for _, res := range rep.Results {
		if res.Ops == 0 || res.ErrorCount != 0 || res.Latency.Count != res.Ops || res.MeanRounds < 1 || res.MeanRequests < 1 {
			t.Errorf("%s × %d: %+v", res.Query, res.Clients, res)
		}
	}
	g, err := bench.GenerateGraph(spec)
	if err != nil {
		t.Fatal(err)
	}
	floor := bench.NewMemGraph(g)
	for _, q := range bench.GraphQueries {
		if len(rep.Probes[q]) != 10 {
			t.Fatalf("%s: %d probes, want 10", q, len(rep.Probes[q]))
		}
		for _, p := range rep.Probes[q] {
			want, _ := floor.Query(context.Background(), q, p.From, p.To)
			if p.Error != "" || p.Value != want.Value {
				t.Errorf("%s from %d to %d: torua %d (%s), the in-memory floor %d", q, p.From, p.To, p.Value, p.Error, want.Value)
			}
		}
	}

	out, errOut, err = runCLI(t, "", "bench", url, "--graph", "--vertices", "300", "--edges", "2000", "--queries", "two-hop",
		"--clients", "2", "--count", "20", "--probes", "0", "--protocol", "http")
	if err != nil {
		t.Fatalf("bench --graph: %v\nstderr: %s", err, errOut)
	}
	for _, want := range []string{"router " + c.RouterURL() + " (http), graph bench", "two-hop, 2 clients", "queries 20,", "mean count", "rounds", "shard requests", "p99.9"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "load:") {
		t.Errorf("a run without --load reports a load:\n%s", out)
	}
	_, _, err = runCLI(t, "", "bench", url, "--graph", "--graph-name", "nothing", "--count", "1")
	if err == nil || !strings.Contains(err.Error(), `graph "nothing" does not exist: load it with --load`) {
		t.Errorf("bench --graph on a missing graph: %v", err)
	}

	// --bulk replaces the graph by one bulk load, whose probes answer the same.
	out, errOut, err = runCLI(t, "", "bench", url, "--graph", "--load", "--bulk", "--vertices", "300", "--edges", "2000", "--seed", "3",
		"--batch", "500", "--queries", "two-hop", "--clients", "1", "--count", "10", "--probes", "10")
	if err != nil {
		t.Fatalf("bench --graph --load --bulk: %v\nstderr: %s", err, errOut)
	}
	if !regexp.MustCompile(`(?m)^bulk load: 300 vertices and 2000 edges in [0-9.]+s \([0-9]+ edges/s\)$`).MatchString(out) {
		t.Errorf("the table does not report the bulk load:\n%s", out)
	}
	for _, want := range []string{"two-hop, 1 clients", "queries 10,"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
