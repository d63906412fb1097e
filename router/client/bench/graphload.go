package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// GraphLoader writes a generated graph into a store, batch by batch. Its methods are called
// from several goroutines at once, and a batch that failed transiently is sent again: loading
// a batch twice must change nothing the second time.
type GraphLoader interface {
	// LoadVertices writes the vertices with ids from..to-1.
	LoadVertices(ctx context.Context, from, to int) error
	// LoadEdges writes edges; their vertices exist.
	LoadEdges(ctx context.Context, edges []Edge) error
	// Transient reports whether a failed batch may be sent again.
	Transient(err error) bool
}

// loadAttempts bounds how often LoadGraph sends one batch.
const loadAttempts = 5

// LoadGraph writes g through l: every vertex, then every edge, in batches of batch items
// with inflight batches in flight, each phase timed on its own. done, when not nil, counts
// the vertices and edges written so far (for progress lines). It stops at the first batch
// that fails for good.
func LoadGraph(ctx context.Context, g *Graph, l GraphLoader, batch, inflight int, done *atomic.Int64) (*LoadResult, error) {
	if batch < 1 || inflight < 1 {
		return nil, fmt.Errorf("batch %d, in flight %d: want at least 1 of each", batch, inflight)
	}
	if done == nil {
		done = new(atomic.Int64)
	}
	res := &LoadResult{Vertices: g.Spec.Vertices, Edges: len(g.Edges)}
	var retries atomic.Int64
	send := func(ctx context.Context, n int, load func(ctx context.Context, lo, hi int) error) error {
		batches := (n + batch - 1) / batch
		res.Batches += batches
		return forEachBatch(ctx, batches, inflight, func(ctx context.Context, i int) error {
			lo, hi := i*batch, min((i+1)*batch, n)
			var err error
			for try := range loadAttempts {
				if try > 0 {
					retries.Add(1)
				}
				if err = load(ctx, lo, hi); err == nil || !l.Transient(err) || ctx.Err() != nil {
					break
				}
			}
			if err != nil {
				return err
			}
			done.Add(int64(hi - lo))
			return nil
		})
	}
	t0 := time.Now()
	err := send(ctx, g.Spec.Vertices, func(ctx context.Context, lo, hi int) error {
		if err := l.LoadVertices(ctx, lo, hi); err != nil {
			return fmt.Errorf("load vertices %d..%d: %w", lo, hi-1, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.VertexSeconds = time.Since(t0).Seconds()
	t1 := time.Now()
	err = send(ctx, len(g.Edges), func(ctx context.Context, lo, hi int) error {
		if err := l.LoadEdges(ctx, g.Edges[lo:hi]); err != nil {
			return fmt.Errorf("load edges %d..%d: %w", lo, hi-1, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.EdgeSeconds = time.Since(t1).Seconds()
	res.Retries = int(retries.Load())
	res.VerticesPerSec = float64(res.Vertices) / max(res.VertexSeconds, 1e-9)
	res.EdgesPerSec = float64(res.Edges) / max(res.EdgeSeconds, 1e-9)
	return res, nil
}

// forEachBatch calls do for batches 0..n-1, inflight at a time, and returns the first error
// (cancelling the rest).
func forEachBatch(ctx context.Context, n, inflight int, do func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(inflight, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := do(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}
