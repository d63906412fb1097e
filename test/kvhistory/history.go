package kvhistory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// History records the operations of every client of one test, with one clock. It is safe for
// concurrent use.
type History struct {
	start time.Time

	mu      sync.Mutex
	ops     []Record
	clients int
	acked   map[string]int // acknowledged writes per key
	dropped map[string]int // operations not recorded (ResNone), per target
	odd     []string       // answers that break the API contract
}

// New returns an empty history whose clock starts now.
func New() *History {
	return &History{start: time.Now(), acked: map[string]int{}, dropped: map[string]int{}}
}

// Now returns the history's clock: monotonic nanoseconds since it started.
func (h *History) Now() int64 { return int64(time.Since(h.start)) }

// Time returns the wall-clock time of a reading of the history's clock.
func (h *History) Time(t int64) time.Time { return h.start.Add(time.Duration(t)) }

// NewClient returns a fresh client ID. A client whose operation ended with an unknown outcome
// takes a new ID: that operation stays open until the end of the history, and one client ID
// must not have two open operations.
func (h *History) NewClient() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.clients++
	return h.clients - 1
}

// Add records r unless nothing happened (ResNone), which it only counts.
func (h *History) Add(r Record) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.Out.Result == ResNone {
		h.dropped[r.Via]++
		return
	}
	h.ops = append(h.ops, r)
	if r.In.Op != OpGet && r.Out.Result == ResOK {
		h.acked[r.In.Key]++
	}
}

// Contract records an answer that breaks the API contract; Check reports it.
func (h *History) Contract(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.odd = append(h.odd, fmt.Sprintf(format, args...))
}

// AckedWrites returns the number of acknowledged writes to the keys for which keep is true.
func (h *History) AckedWrites(keep func(key string) bool) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for k, c := range h.acked {
		if keep(k) {
			n += c
		}
	}
	return n
}

// Summary counts the history's operations by kind and result.
func (h *History) Summary() string { return h.SummaryVia("") }

// SummaryVia counts the operations sent through the named target (every one if via is "")
// by kind and result.
func (h *History) SummaryVia(via string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	counts := map[string]int{}
	n := 0
	for _, r := range h.ops {
		if via == "" || r.Via == via {
			counts[string(r.In.Op)+" "+string(r.Out.Result)]++
			n++
		}
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, counts[k])
	}
	dropped := 0
	for v, c := range h.dropped {
		if via == "" || v == via {
			dropped += c
		}
	}
	return fmt.Sprintf("%d operations (%s; %d refused writes and failed reads not recorded)", n, strings.Join(parts, ", "), dropped)
}

// Operations returns the history for porcupine. Operations of unknown outcome complete at
// the end of the history: after every other operation, so that they may be linearized
// anywhere after their call, including never (last).
func (h *History) Operations() []porcupine.Operation {
	h.mu.Lock()
	defer h.mu.Unlock()
	var end int64
	for _, r := range h.ops {
		end = max(end, r.Call, r.Return)
	}
	ops := make([]porcupine.Operation, len(h.ops))
	for i, r := range h.ops {
		ret := r.Return
		if r.Out.Result == ResUnknown {
			ret = end + 1
		}
		ops[i] = porcupine.Operation{ClientId: r.Client, Input: r.In, Call: r.Call, Output: r.Out, Return: ret, Metadata: r.Via}
	}
	return ops
}

// LostWrites lists the keys whose final read (final: key -> the answer of a read made after
// every other operation of the history) contradicts an acknowledged write: it reads absent
// though a write was acknowledged, names a value nobody wrote to it, names an acknowledged
// write at another revision, or names a write that an acknowledged write followed in real time.
func (h *History) LostWrites(final map[string]Output) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	type write struct {
		rec   Record
		acked bool
	}
	byValue := map[string]write{}
	lastAckedCall := map[string]int64{}   // key -> latest call time of an acknowledged write
	lastAckedValue := map[string]Record{} // key -> that write
	for _, r := range h.ops {
		if r.In.Op == OpGet || (r.Out.Result != ResOK && r.Out.Result != ResUnknown) {
			continue
		}
		acked := r.Out.Result == ResOK
		byValue[r.In.Value] = write{rec: r, acked: acked}
		if acked {
			if c, ok := lastAckedCall[r.In.Key]; !ok || r.Call > c {
				lastAckedCall[r.In.Key] = r.Call
				lastAckedValue[r.In.Key] = r
			}
		}
	}
	var lost []string
	keys := make([]string, 0, len(final))
	for k := range final {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		f := final[key]
		last, anyAcked := lastAckedValue[key]
		if f.Result == ResNotFound {
			if anyAcked {
				lost = append(lost, fmt.Sprintf("%s reads absent; %q was acknowledged at revision %d", key, last.In.Value, last.Out.Rev))
			}
			continue
		}
		w, ok := byValue[f.Value]
		switch {
		case !ok || w.rec.In.Key != key:
			lost = append(lost, fmt.Sprintf("%s reads %q@%d, which no client wrote to it", key, f.Value, f.Rev))
		case w.acked && w.rec.Out.Rev != f.Rev:
			lost = append(lost, fmt.Sprintf("%s reads %q@%d; that write was acknowledged at revision %d", key, f.Value, f.Rev, w.rec.Out.Rev))
		case w.acked && anyAcked && lastAckedCall[key] > w.rec.Return:
			lost = append(lost, fmt.Sprintf("%s reads %q@%d; %q (revision %d) was acknowledged after that write completed", key, f.Value, f.Rev, last.In.Value, last.Out.Rev))
		}
	}
	return lost
}

// Dump writes the history as JSON lines to path.
func (h *History) Dump(path string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, r := range h.ops {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// Verdict is what Check found.
type Verdict struct {
	// Result is porcupine's: Ok, Illegal (not linearizable) or Unknown (the check timed out).
	Result porcupine.CheckResult
	// Info is porcupine's, for the visualisation.
	Info porcupine.LinearizationInfo
	// Lost lists acknowledged writes the final reads contradict (LostWrites).
	Lost []string
	// Contract lists answers that broke the API contract.
	Contract []string
	// Summary counts the operations (History.Summary); Took is how long the check ran.
	Summary string
	Took    time.Duration
}

// OK reports whether the history is linearizable, no write was lost and the API contract held.
func (v *Verdict) OK() bool {
	return v.Result == porcupine.Ok && len(v.Lost) == 0 && len(v.Contract) == 0
}

// Check runs the linearizability checker over h, which must hold the final reads too (for
// up to timeout), and the lost-write check against them.
func (h *History) Check(final map[string]Output, timeout time.Duration) *Verdict {
	h.mu.Lock()
	v := &Verdict{Contract: slices.Clone(h.odd)}
	h.mu.Unlock()
	v.Lost = h.LostWrites(final)
	v.Summary = h.Summary()
	start := time.Now()
	v.Result, v.Info = porcupine.CheckOperationsVerbose(Model, h.Operations(), timeout)
	v.Took = time.Since(start)
	return v
}

// WriteArtefacts writes the porcupine visualisation (linearizability.html) and the history
// (history.json) into dir and returns their paths.
func (h *History) WriteArtefacts(v *Verdict, dir string) (visualisation, history string, err error) {
	visualisation = filepath.Join(dir, "linearizability.html")
	history = filepath.Join(dir, "history.json")
	var errs []error
	if err := porcupine.VisualizePath(Model, v.Info, visualisation); err != nil {
		errs = append(errs, fmt.Errorf("write the visualisation: %w", err))
	}
	if err := h.Dump(history); err != nil {
		errs = append(errs, fmt.Errorf("write the history: %w", err))
	}
	return visualisation, history, errors.Join(errs...)
}
