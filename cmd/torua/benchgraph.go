package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/torua/torua/router/client"
	"github.com/torua/torua/router/client/bench"
	"github.com/torua/torua/router/client/benchstore"
)

// graphBenchFlags are the flags of `torua bench --graph`.
type graphBenchFlags struct {
	on       bool
	spec     bench.GraphSpec
	name     string
	load     bool
	bulk     bool
	clients  string
	queries  string
	batch    int
	inflight int
	probes   int
	warmup   time.Duration
}

// kvOnlyFlags and graphOnlyFlags are the flags that make sense with one kind of bench only.
var (
	kvOnlyFlags    = []string{"mode", "read-ratio", "concurrency", "keys", "value-size", "prefix", "consistency", "preload"}
	graphOnlyFlags = []string{"vertices", "edges", "seed", "load", "clients", "queries", "graph-name", "batch", "in-flight", "bulk", "probes", "warmup"}
)

func (g *graphBenchFlags) register(f *pflag.FlagSet) {
	f.BoolVar(&g.on, "graph", false, "run the graph bench: openCypher queries on a generated power-law graph (the flags below)")
	f.IntVar(&g.spec.Vertices, "vertices", 100_000, "graph: vertices of the generated graph")
	f.IntVar(&g.spec.Edges, "edges", 1_000_000, "graph: edges of the generated graph")
	f.Uint64Var(&g.spec.Seed, "seed", 1, "graph: seed of the generated graph")
	f.BoolVar(&g.load, "load", false, "graph: drop --graph-name, generate the graph and load it through the import API first")
	f.StringVar(&g.clients, "clients", "1,8", "graph: client counts to run each query kind with, comma-separated")
	f.StringVar(&g.queries, "queries", "one-hop,two-hop,three-hop,shortest", "graph: query kinds to run, comma-separated")
	f.StringVar(&g.name, "graph-name", "bench", "graph: name of the graph")
	f.IntVar(&g.batch, "batch", 10_000, "graph: vertices or edges per import batch")
	f.IntVar(&g.inflight, "in-flight", 4, "graph: import batches in flight")
	f.BoolVar(&g.bulk, "bulk", false, "graph: with --load, load the graph as one bulk load (POST /graph/{graph}/import?bulk=true)")
	f.IntVar(&g.probes, "probes", 20, "graph: fixed queries of each kind answered first, to check answers against other stores")
	f.DurationVar(&g.warmup, "warmup", 0, "graph: run each kind this long at the largest client count before its cases, unrecorded")
}

// check refuses flags of the other kind of bench, naming the first one set.
func (g *graphBenchFlags) check(cmd *cobra.Command) error {
	wrong, kind := kvOnlyFlags, "the key-value bench, not --graph"
	if !g.on {
		wrong, kind = graphOnlyFlags, "--graph only"
	}
	for _, name := range wrong {
		if cmd.Flags().Changed(name) {
			return fmt.Errorf("--%s applies to %s", name, kind)
		}
	}
	return nil
}

// config turns the flags into the runner's configuration; count and duration are the
// bench's shared flags.
func (g *graphBenchFlags) config(count int64, duration, timeout time.Duration) (bench.GraphConfig, error) {
	cfg := bench.GraphConfig{Vertices: g.spec.Vertices, Count: count, Duration: duration, Timeout: timeout,
		Probes: g.probes, ProbeSeed: g.spec.Seed, Warmup: g.warmup}
	var err error
	if cfg.Queries, err = bench.ParseGraphQueries(g.queries); err != nil {
		return cfg, fmt.Errorf("--queries: %w", err)
	}
	if cfg.Clients, err = bench.ParseClients(g.clients); err != nil {
		return cfg, fmt.Errorf("--clients: %w", err)
	}
	if err := g.spec.Validate(); err != nil {
		return cfg, fmt.Errorf("--vertices, --edges: %w", err)
	}
	if g.batch < 1 || g.inflight < 1 {
		return cfg, fmt.Errorf("--batch %d, --in-flight %d: want at least 1", g.batch, g.inflight)
	}
	if g.bulk && !g.load {
		return cfg, errors.New("--bulk is a way to --load: give both")
	}
	return cfg, cfg.Validate()
}

// runGraphBench is `torua bench --graph`: optionally load the generated graph, then run each
// query kind at each client count and print the report.
func runGraphBench(cmd *cobra.Command, g *graphBenchFlags, cf *clientFlags, protocol string, count int64, duration time.Duration, jsonOut bool) error {
	cfg, err := g.config(count, duration, 0)
	if err != nil {
		return err
	}
	opts, err := protocolOptions(protocol, client.WithMaxConnsPerHost(max(slices.Max(cfg.Clients), g.inflight)))
	if err != nil {
		return err
	}
	c, err := cf.client(opts...)
	if err != nil {
		return err
	}
	defer c.Close()
	store := benchstore.NewGraph(c, g.name)
	r, err := bench.NewGraphRunner(store, cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	graphs, err := c.Graphs(ctx)
	if err != nil {
		return err // nothing listens, or no graph API: say so once
	}
	stderr := cmd.ErrOrStderr()
	rep := &bench.GraphReport{Store: "torua", Target: c.URL(), Protocol: protocol, Graph: g.spec}
	switch exists := slices.Contains(graphs, g.name); {
	case g.load:
		if rep.Load, err = loadGraph(ctx, stderr, c, store, g, exists); err != nil {
			return err
		}
	case !exists:
		return fmt.Errorf("graph %q does not exist: load it with --load", g.name)
	}
	run := r.Run(ctx, func(q bench.GraphQuery, n int) { fmt.Fprintf(stderr, "%s, %d clients\n", q, n) })
	rep.Probes, rep.Results = run.Probes, run.Results
	out := cmd.OutOrStdout()
	if jsonOut {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		fmt.Fprintf(out, "router %s (%s), graph %s\n", c.URL(), protocol, g.name)
		err = rep.WriteTable(out)
	}
	if err != nil {
		return err
	}
	var ops, failed int64
	for _, res := range rep.Results {
		ops += res.Ops
		failed += res.ErrorCount
	}
	if ops == 0 && failed > 0 {
		return fmt.Errorf("all %d queries failed", failed)
	}
	return nil
}

// loadGraph generates the graph and loads it through the import API, replacing the graph of
// that name, with a progress line every two seconds.
func loadGraph(ctx context.Context, w io.Writer, c *client.Client, s *benchstore.Graph, g *graphBenchFlags, exists bool) (*bench.LoadResult, error) {
	if exists {
		if err := c.DropGraph(ctx, s.Name()); err != nil && !errors.Is(err, client.ErrNotFound) {
			return nil, fmt.Errorf("drop graph %q: %w", s.Name(), err)
		}
	}
	fmt.Fprintf(w, "generating %d vertices, %d edges (seed %d)\n", g.spec.Vertices, g.spec.Edges, g.spec.Seed)
	graph, err := bench.GenerateGraph(g.spec)
	if err != nil {
		return nil, err
	}
	var done atomic.Int64
	stop := bench.ReportEvery(w, 2*time.Second, func(elapsed time.Duration) string {
		return fmt.Sprintf("load: %d/%d vertices and edges (%.0fs)", done.Load(), g.spec.Vertices+g.spec.Edges, elapsed.Seconds())
	})
	var res *bench.LoadResult
	if g.bulk {
		res, err = s.BulkLoad(ctx, graph, g.batch, &done)
	} else {
		res, err = bench.LoadGraph(ctx, graph, s, g.batch, g.inflight, &done)
	}
	stop()
	if err != nil {
		return nil, err
	}
	res.SettleSeconds, err = settle(ctx, w, c)
	return res, err
}

// settleQuiet is how long no node may run a compaction for the store to count as settled;
// settleLimit bounds the wait.
const (
	settleQuiet = 3 * time.Second
	settleLimit = 15 * time.Minute
)

// settle waits until no node has run a compaction for settleQuiet (the engines have paid
// the debt a bulk load leaves, which slows reads until then), with a progress line every
// two seconds, and returns how long it waited. Past settleLimit it says so and goes on.
func settle(ctx context.Context, w io.Writer, c *client.Client) (float64, error) {
	start := time.Now()
	var quietSince time.Time
	var last time.Time
	for {
		info, err := c.Cluster(ctx)
		if err != nil {
			return 0, fmt.Errorf("wait for compactions after the load: %w", err)
		}
		running, debt := int64(0), uint64(0)
		for _, n := range info.Nodes {
			if n.Status != nil {
				running += n.Status.Compactions.Running
				debt += n.Status.Compactions.DebtBytes
			}
		}
		now := time.Now()
		switch {
		case running > 0:
			quietSince = time.Time{}
		case quietSince.IsZero():
			quietSince = now
		case now.Sub(quietSince) >= settleQuiet:
			return quietSince.Sub(start).Seconds(), nil
		}
		if now.Sub(start) > settleLimit {
			fmt.Fprintf(w, "settle: compactions still running after %s; measuring anyway\n", settleLimit)
			return now.Sub(start).Seconds(), nil
		}
		if now.Sub(last) >= 2*time.Second {
			fmt.Fprintf(w, "settle: %d compactions running, %.0f MiB left to compact (%.0fs)\n", running, float64(debt)/(1<<20), now.Sub(start).Seconds())
			last = now
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
