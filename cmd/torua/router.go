package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/router"
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
		Long: `Run a router: it serves the public API (/data, /cluster, /healthz, /readyz, /metrics) and sends
each key request to the node that serves the key's shard.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			log, closeLog, err := logs.logger()
			if err != nil {
				return err
			}
			defer closeLog()
			if cfg.Source, err = maps.source(log); err != nil {
				return err
			}
			cfg.Logger = log
			rt, err := router.New(cfg)
			if err != nil {
				return err
			}
			if err := rt.Start(context.Background()); err != nil {
				return err
			}
			return serveUntilSignal(log, grace, rt)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", ":8080", "public API address")
	f.Int64Var(&cfg.MaxValueSize, "max-value-size", httpx.DefaultMaxValueSize, "largest value accepted, in bytes")
	f.DurationVar(&cfg.Timeout, "node-timeout", 10*time.Second, "time limit of one request to a node")
	f.DurationVar(&grace, "shutdown-grace", 20*time.Second, "how long SIGTERM waits for in-flight requests")
	maps.addFlags(f)
	logs.addFlags(f, "-")
	return cmd
}
