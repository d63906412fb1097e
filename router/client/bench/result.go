package bench

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

// Result is the outcome of a run. Its JSON form is what `torua bench --json` prints.
type Result struct {
	// Mode, ReadRatio (mixed mode only), Concurrency, Keys, ValueSize and Stale repeat the
	// run's Config.
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
	// Misses counts GETs answered 404: the key was never written (run without --preload).
	Misses int64 `json:"misses"`
	// ErrorCount is the sum of Errors.
	ErrorCount int64 `json:"errorCount"`
	// Errors counts failed operations by kind (see ErrorKind).
	Errors map[string]int64 `json:"errors"`
	// Latency summarises the latencies of every successful operation; ByOp splits them into
	// "get" and "put" (only the operations the run sent).
	Latency Latency            `json:"latency"`
	ByOp    map[string]Latency `json:"byOp"`
	// Histogram holds every successful operation's latency in microseconds.
	Histogram *hdrhistogram.Histogram `json:"-"`
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

func (r *Runner) result(workers []*workerStats, elapsed time.Duration) *Result {
	res := &Result{
		Mode:        r.cfg.Mode,
		Concurrency: r.cfg.Concurrency,
		Keys:        r.cfg.Keys,
		ValueSize:   r.cfg.ValueSize,
		Stale:       r.cfg.Stale,
		Elapsed:     elapsed.Seconds(),
		Errors:      map[string]int64{},
		ByOp:        map[string]Latency{},
		Histogram:   newHistogram(),
	}
	if r.cfg.Mode == ModeMixed {
		res.ReadRatio = r.cfg.ReadRatio
	}
	var byOp [numOps]*hdrhistogram.Histogram
	for o := range byOp {
		byOp[o] = newHistogram()
	}
	for _, st := range workers {
		for o, h := range st.hists {
			byOp[o].Merge(h)
		}
		res.Misses += st.misses
		for kind, n := range st.errors {
			res.Errors[kind] += n
			res.ErrorCount += n
		}
	}
	for o, h := range byOp {
		res.Histogram.Merge(h)
		if h.TotalCount() > 0 {
			res.ByOp[op(o).String()] = summarize(h)
		}
	}
	res.Ops = res.Histogram.TotalCount()
	res.Latency = summarize(res.Histogram)
	if elapsed > 0 {
		res.OpsPerSec = float64(res.Ops) / elapsed.Seconds()
	}
	return res
}

// WriteTable writes res for people: the run's settings, throughput, a latency table and the
// errors by kind.
func (res *Result) WriteTable(w io.Writer) error {
	var b strings.Builder
	mode := string(res.Mode)
	if res.Mode == ModeMixed {
		mode = fmt.Sprintf("mixed (%.0f%% reads)", res.ReadRatio*100)
	}
	if res.Stale {
		mode += ", stale reads"
	}
	fmt.Fprintf(&b, "mode %s, %d clients, %d keys, %d-byte values, %.2fs\n",
		mode, res.Concurrency, res.Keys, res.ValueSize, res.Elapsed)
	fmt.Fprintf(&b, "ops %d, %.1f ops/s, errors %d", res.Ops, res.OpsPerSec, res.ErrorCount)
	if res.Misses > 0 {
		fmt.Fprintf(&b, ", misses (404) %d", res.Misses)
	}
	b.WriteString("\n\n")

	var rows []latencyRow
	if len(res.ByOp) != 1 {
		rows = append(rows, latencyRow{"all", res.Latency})
	}
	for _, name := range slices.Sorted(maps.Keys(res.ByOp)) {
		rows = append(rows, latencyRow{name, res.ByOp[name]})
	}
	if err := writeLatencyTable(&b, rows); err != nil {
		return err
	}
	writeErrors(&b, res.Errors)
	_, err := io.WriteString(w, b.String())
	return err
}

// latencyRow is one named row of a latency table.
type latencyRow struct {
	name string
	l    Latency
}

// writeLatencyTable writes the latency table of `torua bench` (count, min, mean, p50, p90,
// p99, p99.9, max) with one line per row.
func writeLatencyTable(w io.Writer, rows []latencyRow) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "latency\tcount\tmin\tmean\tp50\tp90\tp99\tp99.9\tmax\t")
	for _, r := range rows {
		l := r.l
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.name, l.Count,
			FormatMicros(float64(l.Min)), FormatMicros(l.Mean), FormatMicros(float64(l.P50)),
			FormatMicros(float64(l.P90)), FormatMicros(float64(l.P99)), FormatMicros(float64(l.P999)),
			FormatMicros(float64(l.Max)))
	}
	return tw.Flush()
}

// writeErrors writes the failed operations by kind, if there are any.
func writeErrors(b *strings.Builder, errs map[string]int64) {
	if len(errs) == 0 {
		return
	}
	b.WriteString("\nerrors\n")
	for _, kind := range slices.Sorted(maps.Keys(errs)) {
		fmt.Fprintf(b, "  %-18s %d\n", kind, errs[kind])
	}
}

// FormatMicros formats a latency given in microseconds with three significant digits:
// "87µs", "1.23ms", "2.50s".
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
