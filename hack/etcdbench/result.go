package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Result is the outcome of a run. Its fields and JSON names are those of bench.Result in
// router/client/bench, so that `etcdbench --json` and `torua bench --json` decode alike.
type Result struct {
	// Mode, ReadRatio (mixed mode only), Concurrency, Keys, ValueSize and Stale repeat the
	// run's Config; Stale is Config.Serializable.
	Mode        Mode    `json:"mode"`
	ReadRatio   float64 `json:"readRatio,omitempty"`
	Concurrency int     `json:"concurrency"`
	Keys        int     `json:"keys"`
	ValueSize   int     `json:"valueSize"`
	Stale       bool    `json:"stale,omitempty"`
	// Elapsed is the wall time of the run, in seconds.
	Elapsed float64 `json:"elapsedSeconds"`
	// Ops counts the operations that succeeded (GETs of missing keys included).
	Ops int64 `json:"ops"`
	// OpsPerSec is Ops / Elapsed.
	OpsPerSec float64 `json:"opsPerSec"`
	// Misses counts GETs that found no key (run without --preload).
	Misses int64 `json:"misses"`
	// ErrorCount is the sum of Errors.
	ErrorCount int64 `json:"errorCount"`
	// Errors counts failed operations by kind (see ErrorKind).
	Errors map[string]int64 `json:"errors"`
	// Latency summarises the latencies of every successful operation; ByOp splits them into
	// "get" and "put" (only the operations the run sent).
	Latency Latency            `json:"latency"`
	ByOp    map[string]Latency `json:"byOp"`
}

// Latency is a summary of a latency histogram, in microseconds.
type Latency struct {
	// Count is the number of operations summarised.
	Count int64 `json:"count"`
	// Min, Mean and Max are the smallest, average and largest latency.
	Min  int64   `json:"minUs"`
	Mean float64 `json:"meanUs"`
	Max  int64   `json:"maxUs"`
	// P50 .. P999 are the 50th, 90th, 99th and 99.9th percentiles.
	P50  int64 `json:"p50Us"`
	P90  int64 `json:"p90Us"`
	P99  int64 `json:"p99Us"`
	P999 int64 `json:"p999Us"`
}

func summarize(h *hdrhistogram.Histogram) Latency {
	if h.TotalCount() == 0 {
		return Latency{}
	}
	return Latency{
		Count: h.TotalCount(),
		Min:   h.Min(),
		Mean:  h.Mean(),
		P50:   h.ValueAtQuantile(50),
		P90:   h.ValueAtQuantile(90),
		P99:   h.ValueAtQuantile(99),
		P999:  h.ValueAtQuantile(99.9),
		Max:   h.Max(),
	}
}

// result merges the workers' histograms and counters into a Result.
func (r *Runner) result(workers []*workerStats, elapsed time.Duration) *Result {
	res := &Result{
		Mode:        r.cfg.Mode,
		Concurrency: r.cfg.Concurrency,
		Keys:        r.cfg.Keys,
		ValueSize:   r.cfg.ValueSize,
		Stale:       r.cfg.Serializable,
		Elapsed:     elapsed.Seconds(),
		Errors:      map[string]int64{},
		ByOp:        map[string]Latency{},
	}
	if r.cfg.Mode == ModeMixed {
		res.ReadRatio = r.cfg.ReadRatio
	}
	all := newHistogram()
	for o := range numOps {
		h := newHistogram()
		for _, st := range workers {
			h.Merge(st.hists[o])
		}
		all.Merge(h)
		if h.TotalCount() > 0 {
			res.ByOp[o.String()] = summarize(h)
		}
	}
	for _, st := range workers {
		res.Misses += st.misses
		for kind, n := range st.errors {
			res.Errors[kind] += n
			res.ErrorCount += n
		}
	}
	res.Ops = all.TotalCount()
	res.Latency = summarize(all)
	if elapsed > 0 {
		res.OpsPerSec = float64(res.Ops) / elapsed.Seconds()
	}
	return res
}

// WriteTable writes res for people, in the layout of `torua bench`: the run's settings,
// throughput, a latency table and the errors by kind.
func (res *Result) WriteTable(w io.Writer) error {
	var b strings.Builder
	mode := string(res.Mode)
	if res.Mode == ModeMixed {
		mode = fmt.Sprintf("mixed (%.0f%% reads)", res.ReadRatio*100)
	}
	if res.Stale {
		mode += ", serializable reads"
	}
	fmt.Fprintf(&b, "mode %s, %d clients, %d keys, %d-byte values, %.2fs\n",
		mode, res.Concurrency, res.Keys, res.ValueSize, res.Elapsed)
	fmt.Fprintf(&b, "ops %d, %.1f ops/s, errors %d", res.Ops, res.OpsPerSec, res.ErrorCount)
	if res.Misses > 0 {
		fmt.Fprintf(&b, ", misses %d", res.Misses)
	}
	b.WriteString("\n\n")

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "latency\tcount\tmin\tmean\tp50\tp90\tp99\tp99.9\tmax\t")
	row := func(name string, l Latency) {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", name, l.Count,
			FormatMicros(float64(l.Min)), FormatMicros(l.Mean), FormatMicros(float64(l.P50)),
			FormatMicros(float64(l.P90)), FormatMicros(float64(l.P99)), FormatMicros(float64(l.P999)),
			FormatMicros(float64(l.Max)))
	}
	if len(res.ByOp) != 1 {
		row("all", res.Latency)
	}
	for _, name := range slices.Sorted(maps.Keys(res.ByOp)) {
		row(name, res.ByOp[name])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(res.Errors) > 0 {
		b.WriteString("\nerrors\n")
		for _, kind := range slices.Sorted(maps.Keys(res.Errors)) {
			fmt.Fprintf(&b, "  %-18s %d\n", kind, res.Errors[kind])
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// FormatMicros formats a latency given in microseconds with three significant digits:
// "87µs", "1.23ms", "2.50s" (as bench.FormatMicros does).
func FormatMicros(us float64) string {
	switch {
	case us < 1000:
		return fmt.Sprintf("%.0fµs", us)
	case us < 10_000:
		return fmt.Sprintf("%.2fms", us/1000)
	case us < 100_000:
		return fmt.Sprintf("%.1fms", us/1000)
	case us < 1_000_000:
		return fmt.Sprintf("%.0fms", us/1000)
	default:
		return fmt.Sprintf("%.2fs", us/1_000_000)
	}
}
