package bench

import (
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
)

// Describe is one line of a phase's progress: "bench: 1200/5000 ops, 600 ops/s, 0 errors".
// total is the number of operations the phase ends at, or 0 when only a duration bounds it.
func (r *Runner) Describe(phase string, total int64, elapsed time.Duration) string {
	done, failed := r.Progress()
	ops := strconv.FormatInt(done, 10)
	if total > 0 {
		ops += "/" + strconv.FormatInt(total, 10)
	}
	return fmt.Sprintf("%s: %s ops, %.0f ops/s, %d errors", phase, ops, float64(done)/max(elapsed.Seconds(), 1e-3), failed)
}

// ReportProgress writes Describe's line, with the seconds elapsed, to w every interval until
// the returned stop is called (for logs and pipes; cmd/torua draws a bar on terminals).
func (r *Runner) ReportProgress(w io.Writer, phase string, total int64, interval time.Duration) (stop func()) {
	return ReportEvery(w, interval, func(elapsed time.Duration) string {
		return fmt.Sprintf("%s (%.0fs)", r.Describe(phase, total, elapsed), elapsed.Seconds())
	})
}

// ReportEvery writes line's text, given the time since the call, to w every interval until
// the returned stop is called.
func ReportEvery(w io.Writer, interval time.Duration, line func(elapsed time.Duration) string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	wg.Go(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				fmt.Fprintln(w, line(time.Since(start)))
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}
