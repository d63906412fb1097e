package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/torua/torua/router/client/bench"
)

// namedReport is a report and the name of its column: its file's name without .json.
type namedReport struct {
	name string
	*bench.GraphReport
}

// caseKey names a case: a query kind at a client count.
type caseKey struct {
	q       bench.GraphQuery
	clients int
}

func (r namedReport) result(k caseKey) *bench.GraphResult {
	for _, res := range r.Results {
		if res.Query == k.q && res.Clients == k.clients {
			return res
		}
	}
	return nil
}

// compare prints one Markdown table of the cases of the reports in files (throughput, p50,
// p99 of each), the load of each, whether their probes agree with the in-memory floor's (or
// the first report's), and, for each Torua report, the goals against PostgreSQL's
// report.
func compare(w io.Writer, files []string) error {
	if len(files) == 0 {
		return fmt.Errorf("compare: name the --json reports to compare")
	}
	var reps []namedReport
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var rep bench.GraphReport
		if err := json.Unmarshal(b, &rep); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if len(reps) > 0 && rep.Graph != reps[0].Graph {
			return fmt.Errorf("%s is of graph %+v, %s of %+v: compare runs on one graph", f, rep.Graph, files[0], reps[0].Graph)
		}
		reps = append(reps, namedReport{strings.TrimSuffix(filepath.Base(f), ".json"), &rep})
	}
	var b strings.Builder
	g := reps[0].Graph
	fmt.Fprintf(&b, "# graph: %d vertices, %d edges, seed %d\n\n", g.Vertices, g.Edges, g.Seed)
	writeCases(&b, reps)
	b.WriteString("\n")
	writeLoads(&b, reps)
	b.WriteString("\n")
	writeAgreement(&b, reps)
	if pg := slices.IndexFunc(reps, func(r namedReport) bool { return r.Store == "postgres" }); pg >= 0 {
		for _, r := range reps {
			if r.Store == "torua" {
				b.WriteString("\n")
				writeGoals(&b, r, reps[pg])
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cases lists every case of the reports, in the order of bench.GraphQueries, then clients.
func cases(reps []namedReport) []caseKey {
	var out []caseKey
	for _, r := range reps {
		for _, res := range r.Results {
			if k := (caseKey{res.Query, res.Clients}); !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	slices.SortFunc(out, func(a, b caseKey) int {
		if d := slices.Index(bench.GraphQueries, a.q) - slices.Index(bench.GraphQueries, b.q); d != 0 {
			return d
		}
		return a.clients - b.clients
	})
	return out
}

func writeCases(b *strings.Builder, reps []namedReport) {
	b.WriteString("| query | clients |")
	sep := "|---|---|"
	for _, r := range reps {
		fmt.Fprintf(b, " %s q/s | p50 | p99 |", r.name)
		sep += "---|---|---|"
	}
	b.WriteString(" mean answer |\n" + sep + "---|\n")
	for _, k := range cases(reps) {
		fmt.Fprintf(b, "| %s | %d |", k.q, k.clients)
		answer := ""
		for _, r := range reps {
			res := r.result(k)
			if res == nil {
				b.WriteString(" – | – | – |")
				continue
			}
			fmt.Fprintf(b, " %s | %s | %s |", qps(res), bench.FormatMicros(float64(res.Latency.P50)), bench.FormatMicros(float64(res.Latency.P99)))
			if answer == "" {
				answer = fmt.Sprintf("%.1f", res.MeanAnswer)
				if k.q == bench.Shortest && res.Ops > 0 {
					answer = fmt.Sprintf("%.2f (%.0f%% found)", res.MeanAnswer, 100*float64(res.Found)/float64(res.Ops))
				}
			}
		}
		fmt.Fprintf(b, " %s |\n", answer)
	}
}

// qps is a case's throughput, with its failed queries when there were any.
func qps(res *bench.GraphResult) string {
	s := fmt.Sprintf("%.0f", res.OpsPerSec)
	if res.OpsPerSec < 10 {
		s = fmt.Sprintf("%.2f", res.OpsPerSec)
	}
	if res.ErrorCount > 0 {
		s += fmt.Sprintf(" (%d failed)", res.ErrorCount)
	}
	return s
}

func writeLoads(b *strings.Builder, reps []namedReport) {
	b.WriteString("| load | vertices/s | edges/s | edges, s | compactions after, s |\n|---|---|---|---|---|\n")
	for _, r := range reps {
		if l := r.Load; l != nil {
			vps := "–" // the floor builds its arrays in one step
			if l.VertexSeconds > 0 {
				vps = fmt.Sprintf("%.0f", l.VerticesPerSec)
			}
			settle := "–"
			if l.SettleSeconds > 0 {
				settle = fmt.Sprintf("%.1f", l.SettleSeconds)
			}
			name := r.name
			if l.Bulk {
				name += " (bulk load: its rate is over vertices and edges together)"
			}
			fmt.Fprintf(b, "| %s | %s | %.0f | %.2f | %s |\n", name, vps, l.EdgesPerSec, l.EdgeSeconds, settle)
		}
	}
}

// writeAgreement says, for each report, on how many of the reference's probes it gave the
// same answer: the reference is the in-memory floor if there is one.
func writeAgreement(b *strings.Builder, reps []namedReport) {
	ref := max(slices.IndexFunc(reps, func(r namedReport) bool { return r.Store == "memory" }), 0)
	fmt.Fprintf(b, "answers of the probes, against %s:", reps[ref].name)
	for i, r := range reps {
		if i == ref {
			continue
		}
		same, total := 0, 0
		var first string
		for q, want := range reps[ref].Probes {
			got, ok := r.Probes[q]
			if !ok {
				continue // a report of fewer kinds
			}
			for j, p := range want {
				total++
				if j < len(got) && got[j] == p {
					same++
				} else if first == "" && j < len(got) {
					why := got[j].Error
					if got[j].Detail != "" {
						why += ": " + got[j].Detail
					}
					first = fmt.Sprintf("; first difference: %s from %d to %d: %d (%s), want %d", q, p.From, p.To, got[j].Value, why, p.Value)
				}
			}
		}
		fmt.Fprintf(b, " %s %d/%d%s;", r.name, same, total, first)
	}
	b.WriteString("\n")
}

// writeGoals checks issue 18's performance goals for a Torua report against PostgreSQL's.
func writeGoals(b *strings.Builder, t, pg namedReport) {
	fmt.Fprintf(b, "| goal (%s) | measured | |\n|---|---|---|\n", t.name)
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**not met**"
	}
	if t.Load != nil {
		fmt.Fprintf(b, "| import ≥ 100,000 edges/s | %.0f edges/s | %s |\n", t.Load.EdgesPerSec, verdict(t.Load.EdgesPerSec >= 100_000))
	}
	for _, k := range cases([]namedReport{t}) {
		res := t.result(k)
		if k.q == bench.OneHop {
			fmt.Fprintf(b, "| one-hop p50 ≤ 1 ms, %d clients | %s | %s |\n", k.clients,
				bench.FormatMicros(float64(res.Latency.P50)), verdict(res.Latency.P50 <= 1000))
			continue
		}
		base := pg.result(k)
		if base == nil || base.OpsPerSec == 0 || res.Latency.P50 == 0 {
			fmt.Fprintf(b, "| %s ≥ 2× PostgreSQL, %d clients | no PostgreSQL case | |\n", k.q, k.clients)
			continue
		}
		ratio := res.OpsPerSec / base.OpsPerSec
		fmt.Fprintf(b, "| %s ≥ 2× PostgreSQL, %d clients | %s× the queries/s (p50 %s× as fast) | %s |\n", k.q, k.clients,
			formatRatio(ratio), formatRatio(float64(base.Latency.P50)/float64(res.Latency.P50)), verdict(ratio >= 2))
	}
}

// formatRatio writes a ratio with two significant digits at least: 3.00, 0.35, 0.0042.
func formatRatio(r float64) string {
	if r >= 0.1 {
		return fmt.Sprintf("%.2f", r)
	}
	return fmt.Sprintf("%.2g", r)
}
