package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/torua/torua/router/client"
	"github.com/torua/torua/router/client/bench"
	"github.com/torua/torua/router/client/benchstore"
)

func init() { register(newBenchCmd) }

func newBenchCmd() *cobra.Command {
	var (
		cf          clientFlags
		cfg         bench.Config
		mode        string
		consistency string
		preload     bool
		jsonOut     bool
		protocol    string
		graph       graphBenchFlags
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load a router with GETs and PUTs and report throughput and latency",
		Long: `Send GETs, PUTs or a mix of both to a router from --concurrency clients, each with one
request in flight, over a set of --keys keys, until --count operations have finished or
--duration has passed. Then print the throughput, the errors by kind and the latency
percentiles (HDR histogram, microsecond resolution); --json prints the same as JSON.

A get run finds its keys only if they were written before: --preload writes each key once
first. GETs of missing keys are counted as misses, not errors.

With --graph it runs openCypher queries instead (one-hop, two-hop, three-hop, shortest path)
from random start vertices of a generated power-law graph, each kind at each of --clients
client counts for --duration; --load generates the graph and imports it first, reporting
edges/s. The table adds the mean rounds and shard requests per query.`,
		Example: `  torua bench --mode put --concurrency 32 --duration 10s
  torua bench --mode get --preload --keys 100000 --count 1000000
  torua bench --mode mixed --read-ratio 0.9 --json > result.json
  torua bench --graph --load --vertices 10000 --edges 100000 --clients 1,8 --duration 5s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := graph.check(cmd); err != nil {
				return err
			}
			if cmd.Flags().Changed("count") && !cmd.Flags().Changed("duration") {
				cfg.Duration = 0 // a count alone bounds the run
			}
			if graph.on {
				return runGraphBench(cmd, &graph, &cf, protocol, cfg.Count, cfg.Duration, jsonOut)
			}
			cfg.Mode = bench.Mode(mode)
			switch consistency {
			case "":
			case "stale":
				cfg.Stale = true
			default:
				return fmt.Errorf("--consistency %q: want \"\" or stale", consistency)
			}
			if cfg.Mode != bench.ModeMixed && cmd.Flags().Changed("read-ratio") {
				return fmt.Errorf("--read-ratio applies to --mode mixed only")
			}
			opts, err := protocolOptions(protocol, client.WithMaxConnsPerHost(cfg.Concurrency))
			if err != nil {
				return err
			}
			c, err := cf.client(opts...)
			if err != nil {
				return err
			}
			defer c.Close()
			r, err := bench.NewRunner(benchstore.New(c), cfg)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// Fail at once, not with an error per operation, when nothing listens at the URL.
			if _, err := c.Cluster(ctx); errors.Is(err, client.ErrUnreachable) {
				return err
			}
			stderr := cmd.ErrOrStderr()
			bar := !jsonOut && isTerminalWriter(stderr)

			if preload {
				stopProgress := startBenchProgress(stderr, bar, "preload", int64(cfg.Keys), 0, r)
				err := r.Preload(ctx)
				stopProgress()
				if err != nil {
					return err
				}
			}
			stopProgress := startBenchProgress(stderr, bar, "bench", cfg.Count, cfg.Duration, r)
			res := r.Run(ctx)
			stopProgress()

			out := cmd.OutOrStdout()
			if jsonOut {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				err = enc.Encode(benchJSON{URL: c.URL(), Protocol: protocol, Result: res})
			} else {
				fmt.Fprintf(out, "router %s (%s)\n", c.URL(), protocol)
				err = res.WriteTable(out)
			}
			if err != nil {
				return err
			}
			if res.Ops == 0 && res.ErrorCount > 0 {
				return fmt.Errorf("all %d operations failed", res.ErrorCount)
			}
			return nil
		},
	}
	cf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&mode, "mode", "put", "operations to send: put, get or mixed")
	f.Float64Var(&cfg.ReadRatio, "read-ratio", 0.9, "share of GETs in mixed mode (0..1)")
	f.IntVarP(&cfg.Concurrency, "concurrency", "c", 32, "clients, each with one request in flight")
	f.IntVar(&cfg.Keys, "keys", 10000, "size of the key set")
	f.IntVar(&cfg.ValueSize, "value-size", 128, "bytes per value written")
	f.DurationVarP(&cfg.Duration, "duration", "d", 10*time.Second, "stop after this long")
	f.Int64VarP(&cfg.Count, "count", "n", 0, "stop after this many operations (alone, it replaces the default --duration)")
	f.StringVar(&cfg.Prefix, "prefix", "bench/", "prefix of every key")
	f.StringVar(&consistency, "consistency", "", `read consistency: "" (linearizable) or stale`)
	f.BoolVar(&preload, "preload", false, "write every key once before the run")
	f.BoolVar(&jsonOut, "json", false, "print the result as JSON")
	graph.register(f)
	f.StringVar(&protocol, "protocol", "wire", "protocol for GETs, PUTs and graph queries: wire (Torua's binary protocol, one shared connection) or http (one keep-alive connection per client)")
	return cmd
}

// benchJSON is what bench --json prints: the result and the router it was taken against.
type benchJSON struct {
	URL      string `json:"url"`
	Protocol string `json:"protocol"`
	*bench.Result
}

func isTerminalWriter(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// startBenchProgress shows phase's progress on w until the returned stop: a progress bar on a
// terminal, otherwise a line every two seconds. total is the number of operations the phase
// ends at, or 0 when only duration bounds it.
func startBenchProgress(w io.Writer, bar bool, phase string, total int64, duration time.Duration, r *bench.Runner) (stop func()) {
	if !bar {
		return r.ReportProgress(w, phase, total, 2*time.Second)
	}
	// The bar counts operations when a count bounds the phase, milliseconds otherwise.
	start := time.Now()
	byTime := total == 0
	barMax := total
	if byTime {
		barMax = duration.Milliseconds()
	}
	pb := progressbar.NewOptions64(barMax,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(true),
	)
	update := func() {
		pb.Describe(r.Describe(phase, total, time.Since(start)))
		if byTime {
			_ = pb.Set64(min(time.Since(start).Milliseconds(), barMax))
		} else {
			done, _ := r.Progress()
			_ = pb.Set64(min(done, barMax))
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				_ = pb.Finish()
				return
			case <-tick.C:
				update()
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// protocolOptions adds to opts what --protocol asks for: wire (client.WithWire) or http.
func protocolOptions(protocol string, opts ...client.Option) ([]client.Option, error) {
	switch protocol {
	case "wire":
		return append(opts, client.WithWire()), nil
	case "http":
		return opts, nil
	}
	return nil, fmt.Errorf("--protocol %q: want wire or http", protocol)
}
