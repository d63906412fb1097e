package replication

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/node/engine"
)

// runWriters runs op b.N times in total from writers goroutines and reports ops/s.
func runWriters(b *testing.B, writers int, op func(i int64) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	b.ResetTimer()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				if err := op(i); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// benchCluster is a test cluster with production Raft settings (the loopback test timing
// makes a loaded 2-core machine elect, and the tests' compaction settings are not
// production's), its engines fsyncing if durable.
func benchCluster(b *testing.B, durable bool) *testCluster {
	c := newTestCluster(b)
	c.durable = durable
	c.config = func(cfg *Config) {
		*cfg = DefaultConfig()
		cfg.RaftLogLevel = "off"
	}
	return c
}

// BenchmarkGroup measures a 3-replica group on loopback TCP: the Raft log is fsynced (in
// the engine), the state machine applies unsynced, 100-byte values.
func BenchmarkGroup(b *testing.B) {
	g := NewWithT(b)
	c := benchCluster(b, true)
	c.startGroup(nodes3, 0)
	l := waitLeader(g, c, 0)
	grp := l.groups[0]
	ctx := context.Background()
	value := make([]byte, 100)
	var keyN atomic.Int64
	put := func(int64) error {
		_, err := grp.Write(ctx, engine.Op{Kind: engine.OpPut, Key: fmt.Appendf(nil, "key-%d", keyN.Add(1)%10000), Value: value})
		return err
	}
	for _, writers := range []int{1, 32} {
		b.Run(fmt.Sprintf("put/writers=%d", writers), func(b *testing.B) { runWriters(b, writers, put) })
	}
	for i := range 10 {
		_, err := grp.Write(ctx, engine.Op{Kind: engine.OpPut, Key: fmt.Appendf(nil, "key-%d", i), Value: value})
		g.Expect(err).NotTo(HaveOccurred())
	}
	for _, mode := range []struct {
		name  string
		stale bool
	}{{"linearizable", false}, {"stale", true}} {
		for _, readers := range []int{1, 32} {
			b.Run(fmt.Sprintf("get-%s/readers=%d", mode.name, readers), func(b *testing.B) {
				runWriters(b, readers, func(i int64) error {
					_, err := grp.Get(ctx, fmt.Appendf(nil, "key-%d", i%10), mode.stale)
					return err
				})
			})
		}
	}
	if !grp.IsLeader() {
		b.Log("NB: leadership changed during the run; the figures include an election")
	}
}

// BenchmarkGroups measures PUTs spread over several 3-replica groups on the same three nodes
// (16, as `torua local` has), 32 writers each writing to shard i mod groups, so that each
// group carries 32/groups writes in flight. Set against BenchmarkGroup's 32 writers on one
// group, it is the cost of independent Raft rounds: every group appends, replicates and
// commits on its own, and fewer writes share each round and each fsync. The "nosync"
// variants turn the engines' fsyncs off (never done in Torua) to show the disk's share.
func BenchmarkGroups(b *testing.B) {
	for _, groups := range []int{4, 16} {
		for _, durable := range []bool{true, false} {
			name := fmt.Sprintf("groups=%d/put/writers=32", groups)
			if !durable {
				name += "/nosync"
			}
			b.Run(name, func(b *testing.B) { benchmarkGroups(b, groups, durable) })
		}
	}
}

func benchmarkGroups(b *testing.B, groups int, durable bool) {
	g := NewWithT(b)
	c := benchCluster(b, durable)
	shards := make([]int, groups)
	for i := range shards {
		shards[i] = i
	}
	c.startGroup(nodes3, shards...)
	leaders := make([]*Group, groups)
	for s := range shards {
		leaders[s] = waitLeader(g, c, s).groups[s]
	}
	ctx := context.Background()
	value := make([]byte, 100)
	runWriters(b, 32, func(i int64) error {
		s := int(i % int64(groups))
		_, err := leaders[s].Write(ctx, engine.Op{Kind: engine.OpPut, Key: fmt.Appendf(nil, "key-%d", i%10000), Value: value})
		return err
	})
}
