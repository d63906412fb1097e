// Package fanout runs the independent parts of one request at once: the shards of a graph
// read round, on the router and on a node.
package fanout

import (
	"context"
	"sync"

	"golang.org/x/sync/errgroup"
)

// Run runs tasks at once, at most limit at a time (any number when limit < 1), the last in
// the caller's goroutine, and returns the first error they return, which cancels the others'
// ctx.
//
// Why the caller's goroutine: a new goroutine starts with a small stack and grows it, by
// copying, as its task goes deep (a shard's read through Pebble). Measured on a one-hop
// query, the copying cost a tenth of all the CPU; the caller's stack has grown already.
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
	)
	fail := func(err error) {
		if err != nil {
			once.Do(func() { first = err; cancel() })
		}
	}
	var g errgroup.Group
	if limit > 0 {
		g.SetLimit(limit - 1) // the caller is one
	}
	for _, t := range tasks[:len(tasks)-1] {
		g.Go(func() error { fail(t(ctx)); return nil })
	}
	fail(tasks[len(tasks)-1](ctx))
	_ = g.Wait()
	return first
}
