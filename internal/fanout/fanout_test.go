package fanout

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunRunsEveryTaskWithinTheLimit(t *testing.T) {
	for _, limit := range []int{0, 1, 2, 3, 10} {
		for _, n := range []int{0, 1, 2, 5, 20} {
			var ran, running, most atomic.Int64
			tasks := make([]func(context.Context) error, n)
			for i := range tasks {
				tasks[i] = func(context.Context) error {
					now := running.Add(1)
					for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
					}
					runtime.Gosched()
					running.Add(-1)
					ran.Add(1)
					return nil
				}
			}
			if err := Run(context.Background(), limit, tasks); err != nil {
				t.Fatal(err)
			}
			if ran.Load() != int64(n) {
				t.Fatalf("limit %d, %d tasks: %d ran", limit, n, ran.Load())
			}
			if limit > 0 && most.Load() > int64(limit) {
				t.Fatalf("limit %d, %d tasks: %d ran at once", limit, n, most.Load())
			}
		}
	}
}

func TestRunReturnsTheFirstErrorAndCancelsTheOthers(t *testing.T) {
	boom := errors.New("boom")
	var cancelled atomic.Int64
	tasks := []func(context.Context) error{
		func(ctx context.Context) error { <-ctx.Done(); cancelled.Add(1); return ctx.Err() },
		func(ctx context.Context) error { <-ctx.Done(); cancelled.Add(1); return ctx.Err() },
		func(context.Context) error { return boom },
	}
	if err := Run(context.Background(), 0, tasks); !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want the failing task's error", err)
	}
	if cancelled.Load() != 2 {
		t.Fatalf("%d tasks saw their context end, want 2", cancelled.Load())
	}
	// One task runs in the caller's goroutine and gets the caller's context.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Run(ctx, 0, []func(context.Context) error{func(ctx context.Context) error { return ctx.Err() }})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run of one task = %v, want the caller's context's error", err)
	}
}

// More tasks waiting at once than there are kept workers: the rest get goroutines of their
// own, and every task runs.
func TestRunBeyondTheKeptWorkers(t *testing.T) {
	const runs = 3 * maxWorkers
	release := make(chan struct{})
	var started, ran atomic.Int64
	done := make(chan error, runs)
	for range runs {
		go func() {
			done <- Run(context.Background(), 0, []func(context.Context) error{
				func(context.Context) error { started.Add(1); <-release; ran.Add(1); return nil },
				func(context.Context) error { started.Add(1); <-release; ran.Add(1); return nil },
			})
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for started.Load() < 2*runs { // every task is waiting at once: none waits for a worker
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d tasks started", started.Load(), 2*runs)
		}
		runtime.Gosched()
	}
	close(release)
	for range runs {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if ran.Load() != 2*runs {
		t.Fatalf("%d tasks ran, want %d", ran.Load(), 2*runs)
	}
}
