// Command etcdbench loads an etcd cluster the way `torua bench` loads a Torua router, so that
// the two can be compared in one run (hack/bench-vs-etcd.sh):
//
//	etcdbench [flags]                 run one benchmark against etcd and print its result
//	etcdbench compare DIR RUN...      print a table comparing DIR/torua-RUN.json to DIR/etcd-RUN.json
//	etcdbench variants DIR NAME...    print a table of DIR/variant-NAME.json (Torua-only runs)
//
// The load model is router/client/bench's: --concurrency workers, each with one request in
// flight, pick keys uniformly from a set of --keys keys named as torua names them, until
// --count operations have finished or --duration has passed; latencies go into HDR histograms
// (1µs..60s, 3 significant digits). A PUT is an etcd Put of a --value-size random value; a GET
// is a Range of one key, linearizable by default or serializable with
// --consistency serializable (etcd's counterpart of torua's stale reads: answered by the
// member the request reaches, without asking the leader). --preload writes every key once
// before the run. The output, table or --json, has the layout of `torua bench`.
//
// The client is one clientv3.Client over every endpoint: gRPC balances requests round-robin
// over the members and multiplexes them on one HTTP/2 connection per member.
//
// It is a module of its own (hack/etcdbench/go.mod) so that the main module gains no etcd
// dependency. The runner, histograms and output are router/client/bench's, the same code as
// `torua bench`; this command adds the etcd Store (store.go) and the comparison table.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/torua/torua/router/client/bench"
)

func main() {
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "compare":
		err = compare(os.Stdout, os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "variants":
		err = variants(os.Stdout, os.Args[2:])
	default:
		err = run(os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcdbench:", err)
		os.Exit(1)
	}
}

// output is what --json prints: the result and the endpoints it was taken against.
type output struct {
	Endpoints []string `json:"endpoints"`
	*bench.Result
}

// run parses the benchmark flags, runs the benchmark and prints its result.
func run(args []string) error {
	var (
		cfg         bench.Config
		mode        string
		consistency string
		endpoints   string
		preload     bool
		jsonOut     bool
	)
	flags := flag.NewFlagSet("etcdbench", flag.ContinueOnError)
	flags.StringVar(&endpoints, "endpoints", "127.0.0.1:2379", "etcd client URLs or host:port, comma-separated")
	flags.StringVar(&mode, "mode", "put", "operations to send: put, get or mixed")
	flags.Float64Var(&cfg.ReadRatio, "read-ratio", 0.9, "share of GETs in mixed mode (0..1)")
	flags.IntVar(&cfg.Concurrency, "concurrency", 32, "clients, each with one request in flight")
	flags.IntVar(&cfg.Keys, "keys", 10000, "size of the key set")
	flags.IntVar(&cfg.ValueSize, "value-size", 128, "bytes per value written")
	flags.DurationVar(&cfg.Duration, "duration", 10*time.Second, "stop after this long")
	flags.Int64Var(&cfg.Count, "count", 0, "stop after this many operations (alone, it replaces the default --duration)")
	flags.DurationVar(&cfg.Timeout, "timeout", 30*time.Second, "bound on each operation (0: none)")
	flags.StringVar(&cfg.Prefix, "prefix", "bench/", "prefix of every key")
	flags.StringVar(&consistency, "consistency", "", `read consistency: "" (linearizable) or serializable`)
	flags.BoolVar(&preload, "preload", false, "write every key once before the run")
	flags.BoolVar(&jsonOut, "json", false, "print the result as JSON")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flags.Args())
	}
	set := map[string]bool{}
	flags.Visit(func(f *flag.Flag) { set[f.Name] = true })
	cfg.Mode = bench.Mode(mode)
	switch consistency {
	case "":
	case "serializable":
		cfg.Stale = true
	default:
		return fmt.Errorf("--consistency %q: want \"\" or serializable", consistency)
	}
	if cfg.Mode != bench.ModeMixed && set["read-ratio"] {
		return fmt.Errorf("--read-ratio applies to --mode mixed only")
	}
	if set["count"] && !set["duration"] {
		cfg.Duration = 0 // a count alone bounds the run
	}

	eps := strings.Split(endpoints, ",")
	// No client logging: it would log a warning for every operation the end of a run cuts
	// short. Failed operations are counted by kind in the result instead.
	cli, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer func() { _ = cli.Close() }()
	r, err := bench.NewRunner(etcdStore{kv: cli}, cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Fail at once, not with an error per operation, when a member does not answer.
	for _, ep := range eps {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := cli.Status(sctx, ep)
		cancel()
		if err != nil {
			return fmt.Errorf("etcd member %s: %w", ep, err)
		}
	}

	if preload {
		stopProgress := r.ReportProgress(os.Stderr, "preload", int64(cfg.Keys), 2*time.Second)
		err := r.Preload(ctx)
		stopProgress()
		if err != nil {
			return err
		}
	}
	stopProgress := r.ReportProgress(os.Stderr, "bench", cfg.Count, 2*time.Second)
	res := r.Run(ctx)
	stopProgress()

	if jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(output{Endpoints: eps, Result: res})
	} else {
		fmt.Printf("etcd %s\n", endpoints)
		err = res.WriteTable(os.Stdout)
	}
	if err != nil {
		return err
	}
	if res.Ops == 0 && res.ErrorCount > 0 {
		return fmt.Errorf("all %d operations failed", res.ErrorCount)
	}
	return nil
}

// compare reads the --json output of `torua bench` and of etcdbench for each run named in
// args[1:] (DIR/torua-RUN.json and DIR/etcd-RUN.json, DIR being args[0]) and prints one
// Markdown table: throughput, p50 and p99 of both, and torua/etcd ratios. A run whose file
// is missing on one side (the run failed) is listed as failed.
func compare(w io.Writer, args []string) error {
	if len(args) < 2 {
		return errors.New("usage: etcdbench compare DIR RUN [RUN ...]")
	}
	dir := args[0]
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "| Load\t| ops/s torua / etcd (ratio)\t| p50 torua / etcd (ratio)\t| p99 torua / etcd (ratio)\t| errors torua / etcd\t|")
	fmt.Fprintln(tw, "|---\t|---\t|---\t|---\t|---\t|")
	var notes []string
	for _, name := range args[1:] {
		var t, e bench.Result
		tok, err := readJSON(filepath.Join(dir, "torua-"+name+".json"), &t)
		if err != nil {
			return err
		}
		eok, err := readJSON(filepath.Join(dir, "etcd-"+name+".json"), &e)
		if err != nil {
			return err
		}
		if !tok || !eok {
			failed := map[bool]string{true: "ok", false: "failed"}
			fmt.Fprintf(tw, "| %s\t| torua %s, etcd %s\t|\t|\t|\t|\n", name, failed[tok], failed[eok])
			continue
		}
		if t.Mode != e.Mode || t.Concurrency != e.Concurrency || t.Keys != e.Keys || t.ValueSize != e.ValueSize || t.Stale != e.Stale {
			return fmt.Errorf("run %s: torua and etcd ran different loads", name)
		}
		fmt.Fprintf(tw, "| %s\t| %s / %s (%s)\t| %s / %s (%s)\t| %s / %s (%s)\t| %d / %d\t|\n", label(&t),
			thousands(t.OpsPerSec), thousands(e.OpsPerSec), ratio(t.OpsPerSec, e.OpsPerSec),
			bench.FormatMicros(float64(t.Latency.P50)), bench.FormatMicros(float64(e.Latency.P50)), ratio(float64(t.Latency.P50), float64(e.Latency.P50)),
			bench.FormatMicros(float64(t.Latency.P99)), bench.FormatMicros(float64(e.Latency.P99)), ratio(float64(t.Latency.P99), float64(e.Latency.P99)),
			t.ErrorCount, e.ErrorCount)
		if t.Misses > 0 || e.Misses > 0 {
			notes = append(notes, fmt.Sprintf("%s: GETs of missing keys: torua %d, etcd %d", name, t.Misses, e.Misses))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range notes {
		if _, err := fmt.Fprintln(w, "note:", n); err != nil {
			return err
		}
	}
	return nil
}

// variants prints one Markdown table of the runs DIR/variant-NAME.json, NAME from args[1:]:
// throughput, p50 and p99; a missing file is a failed run.
func variants(w io.Writer, args []string) error {
	if len(args) < 2 {
		return errors.New("usage: etcdbench variants DIR NAME [NAME ...]")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "| Torua variant\t| Load\t| ops/s\t| p50\t| p99\t| errors\t|")
	fmt.Fprintln(tw, "|---\t|---\t|---\t|---\t|---\t|---\t|")
	for _, name := range args[1:] {
		var r bench.Result
		ok, err := readJSON(filepath.Join(args[0], "variant-"+name+".json"), &r)
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintf(tw, "| %s\t| failed\t|\t|\t|\t|\t|\n", name)
			continue
		}
		fmt.Fprintf(tw, "| %s\t| %s\t| %s\t| %s\t| %s\t| %d\t|\n", name, label(&r), thousands(r.OpsPerSec),
			bench.FormatMicros(float64(r.Latency.P50)), bench.FormatMicros(float64(r.Latency.P99)), r.ErrorCount)
	}
	return tw.Flush()
}

// readJSON decodes the JSON file at path into v. It reports false, and no error, when the
// file does not exist or is empty.
func readJSON(path string, v any) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(b) == 0) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	return true, nil
}

// label describes a run's load: "PUT, 32 clients", "GET stale / serializable, 32 clients".
func label(r *bench.Result) string {
	var s string
	switch r.Mode {
	case bench.ModePut:
		s = "PUT"
	case bench.ModeGet:
		s = "GET linearizable"
	default:
		s = fmt.Sprintf("%.0f%% GET / PUT", r.ReadRatio*100)
	}
	if r.Stale {
		s = strings.Replace(s, "GET linearizable", "GET", 1) + " stale / serializable"
	}
	clients := "clients"
	if r.Concurrency == 1 {
		clients = "client"
	}
	return fmt.Sprintf("%s, %d %s", s, r.Concurrency, clients)
}

// ratio formats a/b as "0.72×", or "-" when b is 0.
func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// thousands formats x rounded to an integer with comma separators: 12,345.
func thousands(x float64) string {
	s := fmt.Sprintf("%.0f", x)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
