//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The clients' retry policy and the scenarios' budget (docs/testing.md, "Budget").
//
// An attempt is one request through a router. It succeeds when the store gives a definite
// answer: a read that finds the key (200) or not (404), an acknowledged write (2xx), a
// compare-and-set refused because the revision moved on (412). Anything else fails it: no
// ready router, a refused connection, a timeout, 421, 429, 5xx.
//
// An operation is what a client means to do (write this key, read that one) and is made of
// attempts: after a failed attempt the client waits (backoff, doubling from firstBackoff up to
// maxBackoff) and tries again. The operation fails if none of the attempts it started within
// retryWindow of its first one succeeded. A failed operation is counted, and the client goes
// on trying the same operation until an attempt succeeds or the load stops, so that the span
// during which the key was unavailable ends at a real answer. An operation the load's stop
// cut short before it succeeded or failed is not counted.
const (
	attemptTimeout = 10 * time.Second
	retryWindow    = 10 * time.Second
	firstBackoff   = 100 * time.Millisecond
	maxBackoff     = time.Second

	// maxFailedPerMille and maxUnavailable are the budget: at most 0.1% of the operations
	// fail after their retries, and no key is unavailable for longer than 5 s, except in
	// scenarios that take a quorum away on purpose.
	maxFailedPerMille = 1
	maxUnavailable    = 5 * time.Second
)

// Client classes, the rows of a scenario's table.
const (
	classWriters   = "writers"
	classReaders   = "readers"
	classRegisters = "registers"
)

// availability records every attempt of a load's clients and counts their operations.
//
// A key's unavailability is measured from the attempts on it (every client's): for an attempt
// a that started at s, the wait is e - s, where e is the earliest end of a successful attempt
// on the same key that started at or after s (a itself, if it succeeded). A key's longest
// unavailability is its longest wait; a wait with no such success before the load stopped
// ends at the stop (reported as open). A quick successful attempt waits only its own latency;
// a key that failed from t0 and answered again at t1 waited t1 - t0.
type availability struct {
	mu       sync.Mutex
	attempts map[string][]attempt // by key
	classes  map[string]*classFigures
}

type attempt struct {
	start, end time.Time
	ok         bool
}

// classFigures are one client class's counts.
type classFigures struct {
	ops, failed    int // operations counted; failed after the retries
	failedAttempts int
	samples        []string // the first failed attempts, with their errors
}

func newAvailability() *availability {
	return &availability{attempts: map[string][]attempt{}, classes: map[string]*classFigures{}}
}

// operation runs one operation on key (see the retry policy): try makes one attempt and says
// whether it succeeded and, when not, why. It returns whether the operation succeeded within
// the retry window.
func (a *availability) operation(ctx context.Context, class, key string, try func(context.Context) (bool, string)) bool {
	first := time.Now()
	wait := firstBackoff
	failed := false
	for {
		start := time.Now()
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		ok, why := try(actx)
		cancel()
		end := time.Now()
		if !ok && ctx.Err() != nil {
			return false // the load stopped: this attempt says nothing about the store
		}
		a.record(class, key, attempt{start: start, end: end, ok: ok}, why)
		if ok {
			if !failed {
				a.count(class, false)
			}
			return !failed
		}
		if !failed && end.Sub(first) >= retryWindow {
			failed = true
			a.count(class, true)
		}
		if !backoff(ctx, wait) {
			return false
		}
		wait = min(2*wait, maxBackoff)
	}
}

func (a *availability) class(name string) *classFigures {
	c := a.classes[name]
	if c == nil {
		c = &classFigures{}
		a.classes[name] = c
	}
	return c
}

func (a *availability) record(class, key string, at attempt, why string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.attempts[key] = append(a.attempts[key], at)
	if !at.ok {
		c := a.class(class)
		c.failedAttempts++
		if len(c.samples) < 5 {
			c.samples = append(c.samples, at.start.Format("15:04:05.000 ")+why)
		}
	}
}

func (a *availability) count(class string, failed bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.class(class)
	c.ops++
	if failed {
		c.failed++
	}
}

// budgetFigures are a load's figures for the budget.
type budgetFigures struct {
	classes map[string]classFigures
	total   classFigures
	// longest is the longest unavailability of any key, key the key, at when its wait
	// began; open means no success ended it before the load stopped.
	longest time.Duration
	key     string
	at      time.Time
	open    bool
}

// figures computes the figures; waits still open end at stopped.
func (a *availability) figures(stopped time.Time) budgetFigures {
	a.mu.Lock()
	defer a.mu.Unlock()
	f := budgetFigures{classes: map[string]classFigures{}}
	for name, c := range a.classes {
		f.classes[name] = *c
		f.total.ops += c.ops
		f.total.failed += c.failed
		f.total.failedAttempts += c.failedAttempts
	}
	for key, as := range a.attempts {
		d, at, open := longestWait(as, stopped)
		if d > f.longest {
			f.longest, f.key, f.at, f.open = d, key, at, open
		}
	}
	return f
}

// longestWait is the longest wait of one key's attempts (see availability), when it began
// and whether it was still open at stopped.
func longestWait(as []attempt, stopped time.Time) (time.Duration, time.Time, bool) {
	as = slices.Clone(as)
	slices.SortFunc(as, func(x, y attempt) int { return x.start.Compare(y.start) })
	var longest time.Duration
	var at time.Time
	open := false
	// Going backwards, next is the earliest end of a success that started at or after the
	// current attempt's start.
	var next time.Time
	for i := len(as) - 1; i >= 0; i-- {
		x := as[i]
		if x.ok && (next.IsZero() || x.end.Before(next)) {
			next = x.end
		}
		end, isOpen := next, false
		if end.IsZero() {
			end, isOpen = stopped, true
		}
		if d := end.Sub(x.start); d > longest {
			longest, at, open = d, x.start, isOpen
		}
	}
	return longest, at, open
}

// scenarioBudget is the outcome of one scenario, for its table and the suite's summary.
type scenarioBudget struct {
	scenario string
	figures  budgetFigures
	// linearizable is "yes", "NO" or "unknown (the check timed out)"; history counts the
	// register operations.
	linearizable string
	history      string
	lost         int // acknowledged writes found missing or wrong at the end
	// exempt says why the budget is not asserted ("" when it is).
	exempt string
}

// withinBudget lists how the scenario broke the budget (nothing when exempt).
func (b *scenarioBudget) withinBudget() []string {
	if b.exempt != "" {
		return nil
	}
	var out []string
	f := b.figures
	if f.total.failed*1000 > f.total.ops*maxFailedPerMille {
		out = append(out, fmt.Sprintf("%d of %d operations failed after their retries (%.3f%%; budget %.1f%%)",
			f.total.failed, f.total.ops, 100*float64(f.total.failed)/float64(max(f.total.ops, 1)), float64(maxFailedPerMille)/10))
	}
	if f.longest > maxUnavailable {
		out = append(out, fmt.Sprintf("key %q was unavailable for %s from %s%s (budget %s)",
			f.key, f.longest.Round(time.Millisecond), f.at.Format("15:04:05.000"), openNote(f.open), maxUnavailable))
	}
	return out
}

func openNote(open bool) string {
	if open {
		return " until the load stopped"
	}
	return ""
}

// table is the scenario's table: one row per client class and the total.
func (b *scenarioBudget) table() string {
	var s strings.Builder
	f := b.figures
	fmt.Fprintf(&s, "Budget of scenario %q", b.scenario)
	if b.exempt != "" {
		fmt.Fprintf(&s, " (not asserted: %s)", b.exempt)
	}
	fmt.Fprintf(&s, "\n  %-10s %10s %8s %9s %16s\n", "clients", "operations", "failed", "failed %", "failed attempts")
	row := func(name string, c classFigures) {
		fmt.Fprintf(&s, "  %-10s %10d %8d %8.3f%% %16d\n", name, c.ops, c.failed, 100*float64(c.failed)/float64(max(c.ops, 1)), c.failedAttempts)
	}
	for _, name := range []string{classWriters, classReaders, classRegisters} {
		if c, ok := f.classes[name]; ok {
			row(name, c)
		}
	}
	row("total", f.total)
	fmt.Fprintf(&s, "  longest unavailability: %s, key %q from %s%s\n", f.longest.Round(time.Millisecond), f.key, f.at.Format("15:04:05.000"), openNote(f.open))
	fmt.Fprintf(&s, "  registers linearizable: %s (%s)\n", b.linearizable, b.history)
	fmt.Fprintf(&s, "  acknowledged writes lost or wrong: %d\n", b.lost)
	for _, name := range []string{classWriters, classReaders, classRegisters} {
		if c, ok := f.classes[name]; ok && len(c.samples) > 0 {
			fmt.Fprintf(&s, "  first failed attempts of the %s:\n    %s\n", name, strings.Join(c.samples, "\n    "))
		}
	}
	return s.String()
}

// budgetSummary collects every scenario's outcome for the table printed after the suite.
type budgetSummary struct {
	mu   sync.Mutex
	rows []*scenarioBudget
}

func (s *budgetSummary) add(b *scenarioBudget) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rows = append(s.rows, b)
}

// markdown is the summary as a Markdown table (docs/operations.md keeps one).
func (s *budgetSummary) markdown() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	b.WriteString("| Scenario | Operations | Failed after retries | Longest unavailability (key) | Linearizable | Lost writes | Budget |\n")
	b.WriteString("|---|---:|---:|---|---|---:|---|\n")
	for _, r := range s.rows {
		f := r.figures
		verdict := "within"
		switch {
		case r.exempt != "":
			verdict = "not asserted (" + r.exempt + ")"
		case len(r.withinBudget()) > 0:
			verdict = "**over**"
		}
		fmt.Fprintf(&b, "| %s | %d | %d (%.3f%%) | %s (`%s`)%s | %s | %d | %s |\n", r.scenario, f.total.ops, f.total.failed,
			100*float64(f.total.failed)/float64(max(f.total.ops, 1)), f.longest.Round(10*time.Millisecond), f.key,
			openNote(f.open), r.linearizable, r.lost, verdict)
	}
	return b.String()
}

// TestLongestWait pins down the unavailability measure on hand-made attempts.
func TestLongestWait(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	try := func(start, end int, ok bool) attempt { return attempt{start: at(start), end: at(end), ok: ok} }
	tests := []struct {
		name     string
		attempts []attempt
		want     time.Duration
		open     bool
	}{
		{"one quick success waits its latency", []attempt{try(0, 20, true)}, 20 * time.Millisecond, false},
		{"failures until a retry succeeds", []attempt{try(0, 10, false), try(110, 120, false), try(320, 330, true)}, 330 * time.Millisecond, false},
		{"another client's later success ends the wait", []attempt{try(0, 10, false), try(50, 60, true), try(200, 210, true)}, 60 * time.Millisecond, false},
		{"a success that started before the failure does not end it", []attempt{try(0, 100, true), try(50, 60, false), try(500, 510, true)}, 460 * time.Millisecond, false},
		{"a slow success waits all of it", []attempt{try(0, 6000, true)}, 6 * time.Second, false},
		{"no success before the stop", []attempt{try(0, 10, true), try(100, 110, false)}, 900 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, open := longestWait(tt.attempts, at(1000))
			if got != tt.want || open != tt.open {
				t.Errorf("longestWait = %s (open %v), want %s (open %v)", got, open, tt.want, tt.open)
			}
		})
	}
}
