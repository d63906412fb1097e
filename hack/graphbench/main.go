// Command graphbench runs `torua bench --graph`'s queries on the systems Torua's graph store
// is compared with, so that hack/bench-graph-vs-postgres.sh can put them side by side:
//
//	graphbench postgres --dsn DSN [flags]   PostgreSQL: vertex/edge tables, joins, a BFS function
//	graphbench memory [flags]               the in-memory floor: one process, no network
//	graphbench compare FILE...              one table of the --json reports FILE...
//
// The graph, the query kinds, the runner, the probes and the output are router/client/bench's,
// the same code as `torua bench --graph`: the same --vertices, --edges and --seed make the
// same graph. postgres --load replaces the tables vertex and edge (and the function
// shortest_path_length) in the database of --dsn; memory generates the graph at every start.
//
// It is a module of its own (hack/graphbench/go.mod) so that the main module gains no
// PostgreSQL driver.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/torua/torua/router/client/bench"
)

func main() {
	var err error
	switch {
	case len(os.Args) > 1 && (os.Args[1] == "postgres" || os.Args[1] == "memory"):
		err = run(os.Args[1], os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "compare":
		err = compare(os.Stdout, os.Args[2:])
	default:
		err = errors.New("usage: graphbench postgres|memory [flags] | graphbench compare FILE")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "graphbench:", err)
		os.Exit(1)
	}
}

// run parses the flags of `torua bench --graph` that apply, runs the cases against store and
// prints the report.
func run(store string, args []string) error {
	var (
		spec              bench.GraphSpec
		dsn, clients, qs  string
		load, jsonOut     bool
		duration, timeout time.Duration
		count             int64
		probes            int
		warmup            time.Duration
	)
	flags := flag.NewFlagSet("graphbench "+store, flag.ContinueOnError)
	flags.IntVar(&spec.Vertices, "vertices", 100_000, "vertices of the generated graph")
	flags.IntVar(&spec.Edges, "edges", 1_000_000, "edges of the generated graph")
	flags.Uint64Var(&spec.Seed, "seed", 1, "seed of the generated graph")
	flags.StringVar(&clients, "clients", "1,8", "client counts to run each query kind with, comma-separated")
	flags.StringVar(&qs, "queries", "one-hop,two-hop,three-hop,shortest", "query kinds to run, comma-separated")
	flags.DurationVar(&duration, "duration", 10*time.Second, "length of each case")
	flags.Int64Var(&count, "count", 0, "queries per case (alone, it replaces the default --duration)")
	flags.DurationVar(&timeout, "timeout", 60*time.Second, "bound on each query (0: none)")
	flags.IntVar(&probes, "probes", 20, "fixed queries of each kind answered first, to check answers against other stores")
	flags.DurationVar(&warmup, "warmup", 0, "run each kind this long at the largest client count before its cases, unrecorded")
	flags.BoolVar(&jsonOut, "json", false, "print the report as JSON")
	if store == "postgres" {
		flags.StringVar(&dsn, "dsn", "", "PostgreSQL connection string (libpq keyword/value or URL)")
		flags.BoolVar(&load, "load", false, "replace the tables with the generated graph first (COPY, then indexes)")
	}
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flags.Args())
	}
	set := map[string]bool{}
	flags.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["count"] && !set["duration"] {
		duration = 0
	}
	cfg := bench.GraphConfig{Vertices: spec.Vertices, Duration: duration, Count: count, Timeout: timeout, Probes: probes, ProbeSeed: spec.Seed, Warmup: warmup}
	var err error
	if cfg.Queries, err = bench.ParseGraphQueries(qs); err != nil {
		return fmt.Errorf("--queries: %w", err)
	}
	if cfg.Clients, err = bench.ParseClients(clients); err != nil {
		return fmt.Errorf("--clients: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := spec.Validate(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	rep := &bench.GraphReport{Store: store, Graph: spec}
	var gs bench.GraphStore
	switch store {
	case "postgres":
		if dsn == "" {
			return fmt.Errorf("--dsn is required")
		}
		pg, err := openPostgres(ctx, dsn, slices.Max(cfg.Clients))
		if err != nil {
			return err
		}
		defer pg.pool.Close()
		rep.Target = pg.pool.Config().ConnConfig.Host
		if load {
			g, err := generate(spec)
			if err != nil {
				return err
			}
			if rep.Load, err = pg.load(ctx, g); err != nil {
				return err
			}
		}
		gs = pg
	case "memory":
		g, err := generate(spec)
		if err != nil {
			return err
		}
		t0 := time.Now()
		gs = bench.NewMemGraph(g)
		build := time.Since(t0).Seconds()
		rep.Load = &bench.LoadResult{Vertices: spec.Vertices, Edges: spec.Edges, EdgeSeconds: build, Batches: 1,
			EdgesPerSec: float64(spec.Edges) / max(build, 1e-9)}
	}
	r, err := bench.NewGraphRunner(gs, cfg)
	if err != nil {
		return err
	}
	res := r.Run(ctx, func(q bench.GraphQuery, n int) { fmt.Fprintf(os.Stderr, "%s %s, %d clients\n", store, q, n) })
	rep.Probes, rep.Results = res.Probes, res.Results
	if jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.WriteTable(os.Stdout)
}

func generate(spec bench.GraphSpec) (*bench.Graph, error) {
	fmt.Fprintf(os.Stderr, "generating %d vertices, %d edges (seed %d)\n", spec.Vertices, spec.Edges, spec.Seed)
	return bench.GenerateGraph(spec)
}
