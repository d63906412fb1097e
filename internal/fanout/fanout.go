// Package fanout runs the independent parts of one request at once: the shards of a graph
// read round, on the router and on a node.
package fanout

import (
	"context"
	"sync"
	"sync/atomic"
)

// Run runs tasks at once, at most limit at a time (any number when limit < 1), the last in
// the caller's goroutine, and returns the first error they return, which cancels the others'
// ctx.
//
// Why the caller's goroutine, and kept workers for the others: a new goroutine starts with a
// small stack and grows it, by copying, as its task goes deep (a shard's read through
// Pebble). Measured on a one-hop query, the copying cost a tenth of all the CPU; the
// caller's stack, and a worker's, has grown already. (gRPC's server keeps stream workers for
// the same reason.)
func Run(ctx context.Context, limit int, tasks []func(ctx context.Context) error) error {
	if len(tasks) <= 1 || limit == 1 {
		for _, t := range tasks {
			if err := t(ctx); err != nil {
				return err
			}
		}
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		once  sync.Once
		first error
		wg    sync.WaitGroup
		slots chan struct{}
	)
	fail := func(err error) {
		if err != nil {
			once.Do(func() { first = err; cancel() })
		}
	}
	if limit > 0 {
		slots = make(chan struct{}, limit-1) // the caller is one
	}
	for _, t := range tasks[:len(tasks)-1] {
		if slots != nil {
			slots <- struct{}{}
		}
		wg.Add(1)
		spawn(func() {
			defer wg.Done()
			if slots != nil {
				defer func() { <-slots }()
			}
			fail(t(ctx))
		})
	}
	fail(tasks[len(tasks)-1](ctx))
	wg.Wait()
	return first
}

// work hands a task to a kept worker that waits for one (unbuffered: a send succeeds only
// then).
var work = make(chan func())

// workers counts the kept workers; past maxWorkers busy ones, a task gets a goroutine of its
// own.
var workers atomic.Int32

const maxWorkers = 64

func spawn(f func()) {
	select {
	case work <- f:
		return
	default:
	}
	if workers.Add(1) <= maxWorkers {
		go func() {
			f()
			for f := range work {
				f()
			}
		}()
		return
	}
	workers.Add(-1)
	go f()
}
