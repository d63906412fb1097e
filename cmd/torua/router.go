package main

import (
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/torua/torua/graph/exec"
	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/router"
	"github.com/torua/torua/shardmap"
)

func init() { register(newRouterCmd) }

func newRouterCmd() *cobra.Command {
	var (
		cfg   router.Config
		maps  mapSourceOptions
		logs  logOptions
		grace time.Duration
	)
	cmd := &cobra.Command{
		Use:   "router",
		Short: "Run a router",
		Long: `Run a router: it serves the public API (/data, /txn, /graph, /cluster, /healthz, /readyz,
/metrics), sends each key request to the node that serves the key's shard, and plans and runs
graph queries over the shards (docs/graph.md).`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return serve(&logs, &maps, grace, func(log *slog.Logger, src shardmap.Source) (server, error) {
				cfg.Logger, cfg.Source = log, src
				return router.New(cfg)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", ":8080", "public API address")
	f.Int64Var(&cfg.MaxValueSize, "max-value-size", httpx.DefaultMaxValueSize, "largest value accepted, in bytes")
	f.DurationVar(&cfg.Timeout, "node-timeout", 10*time.Second, "time limit of one request to a node")
	f.DurationVar(&cfg.PingInterval, "node-ping-interval", 500*time.Millisecond, "how often each node is pinged (negative: never)")
	f.DurationVar(&cfg.PingTimeout, "node-ping-timeout", 1500*time.Millisecond, "how long a ping may go unanswered before the node is skipped as down until it answers again")
	f.DurationVar(&cfg.GraphTimeout, "graph-timeout", exec.DefaultTimeout, "time limit of a graph query (a query may ask for less)")
	f.IntVar(&cfg.GraphMaxRows, "graph-max-rows", exec.DefaultMaxRows, "largest intermediate result of a graph query, in rows (413 beyond)")
	f.StringVar(&cfg.SpoolDir, "spool-dir", "", "directory for bulk loads' spool files, about the size of a load (default: the system's temporary directory)")
	addPprofFlag(f, &cfg.Pprof)
	f.DurationVar(&grace, "shutdown-grace", 20*time.Second, "how long SIGTERM waits for in-flight requests")
	maps.addFlags(f)
	logs.addFlags(f, "-")
	return cmd
}
