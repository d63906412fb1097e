package multiraft

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/node/engine"
)

// kvSM applies commands "key len | key | value" as puts to its shard in the engine.
type kvSM struct {
	eng   *engine.Engine
	shard int
	app   atomic.Uint64
}

func newKVSM(eng *engine.Engine, shard int) *kvSM {
	s := &kvSM{eng: eng, shard: shard}
	st, _ := eng.ShardStats(shard)
	s.app.Store(st.AppliedIndex)
	return s
}

func (s *kvSM) Applied() uint64 { return s.app.Load() }

func (s *kvSM) Apply(cmds [][]byte, last uint64) []any {
	ops := make([]engine.Op, len(cmds))
	for i, c := range cmds {
		n := binary.BigEndian.Uint16(c)
		ops[i] = engine.Op{Kind: engine.OpPut, Key: c[2 : 2+n], Value: c[2+n:]}
	}
	res, err := s.eng.Apply(s.shard, ops, engine.ApplyOptions{AppliedIndex: last})
	if err != nil {
		panic(err)
	}
	out := make([]any, len(res))
	for i := range res {
		out[i] = res[i]
	}
	s.app.Store(last)
	return out
}

func (s *kvSM) Snapshot(w *bytes.Buffer) error { return s.eng.SnapshotShard(s.shard, w) }

func (s *kvSM) Restore(data []byte) error {
	if err := s.eng.RestoreShard(s.shard, bytes.NewReader(data)); err != nil {
		return err
	}
	st, err := s.eng.ShardStats(s.shard)
	if err != nil {
		return err
	}
	s.app.Store(st.AppliedIndex)
	return nil
}

func putCmd(key string, value []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(key)))
	b = append(b, key...)
	return append(b, value...)
}

type testNode struct {
	name   string
	addr   string
	eng    *engine.Engine
	host   *Host
	groups map[int]*Group
}

type testCluster struct {
	t     testing.TB
	mu    sync.Mutex
	addrs map[string]string
	nodes []*testNode
}

func (c *testCluster) resolve(name string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a, ok := c.addrs[name]; ok {
		return a, nil
	}
	return "", fmt.Errorf("unknown node %s", name)
}

func newCluster(t testing.TB, n int, durable bool, tick time.Duration) *testCluster {
	c := &testCluster{t: t, addrs: map[string]string{}}
	dir := t.TempDir()
	for i := range n {
		name := fmt.Sprintf("node-%d", i)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		c.addrs[name] = ln.Addr().String()
		eng, err := engine.Open(filepath.Join(dir, name), engine.Options{NoSync: !durable})
		if err != nil {
			t.Fatal(err)
		}
		h, err := NewHost(Config{NodeID: name, Engine: eng, Listener: ln, Resolve: c.resolve, Tick: tick})
		if err != nil {
			t.Fatal(err)
		}
		for j := range n {
			h.learn(fmt.Sprintf("node-%d", j))
		}
		c.nodes = append(c.nodes, &testNode{name: name, eng: eng, host: h, groups: map[int]*Group{}})
	}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			_ = nd.host.Close()
			_ = nd.eng.Close()
		}
	})
	return c
}

func (c *testCluster) startGroups(shards int) {
	var voters []string
	for _, nd := range c.nodes {
		voters = append(voters, nd.name)
	}
	for _, nd := range c.nodes {
		for s := range shards {
			g, err := nd.host.Open(s, newKVSM(nd.eng, s))
			if err != nil {
				c.t.Fatal(err)
			}
			if err := g.Bootstrap(voters); err != nil {
				c.t.Fatal(err)
			}
			nd.groups[s] = g
		}
	}
}

func (c *testCluster) leader(g Gomega, shard int) *Group {
	var l *Group
	g.Eventually(func() bool {
		for _, nd := range c.nodes {
			if nd.groups[shard].IsLeader() {
				l = nd.groups[shard]
				return true
			}
		}
		return false
	}, 20*time.Second, 10*time.Millisecond).Should(BeTrue(), "shard %d has no leader", shard)
	return l
}

func TestWritesReplicate(t *testing.T) {
	g := NewWithT(t)
	c := newCluster(t, 3, false, 10*time.Millisecond)
	c.startGroups(4)
	ctx := context.Background()
	for s := range 4 {
		l := c.leader(g, s)
		for i := range 20 {
			_, err := l.Propose(ctx, putCmd(fmt.Sprintf("k%d", i), []byte("v")))
			g.Expect(err).NotTo(HaveOccurred())
		}
		g.Expect(l.ReadBarrier(ctx)).To(Succeed())
		v, err := c.nodes[0].eng.Get(s, []byte("k3"))
		_ = v
		_ = err
	}
	for _, nd := range c.nodes {
		for s := range 4 {
			g.Eventually(func() int64 {
				st, _ := nd.eng.ShardStats(s)
				return st.Keys
			}, 10*time.Second, 10*time.Millisecond).Should(BeEquivalentTo(20), "node %s shard %d", nd.name, s)
		}
	}
}

func BenchmarkGroups(b *testing.B) {
	for _, groups := range []int{1, 16} {
		b.Run(fmt.Sprintf("groups=%d/put/writers=32", groups), func(b *testing.B) {
			g := NewWithT(b)
			c := newCluster(b, 3, os.Getenv("NOSYNC") == "", 100*time.Millisecond)
			c.startGroups(groups)
			leaders := make([]*Group, groups)
			for s := range groups {
				leaders[s] = c.leader(g, s)
			}
			value := make([]byte, 100)
			ctx := context.Background()
			var next atomic.Int64
			var wg sync.WaitGroup
			var failed atomic.Value
			b.ResetTimer()
			for range 32 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						s := int(i % int64(groups))
						if _, err := leaders[s].Propose(ctx, putCmd(fmt.Sprintf("key-%d", i%10000), value)); err != nil {
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
			var rounds, syncs, nanos, synced uint64
			for _, nd := range c.nodes {
				rounds += nd.host.Rounds.Load()
				syncs += nd.host.Syncs.Load()
				nanos += nd.host.SyncNanos.Load()
				synced += nd.host.Synced.Load()
			}
			b.ReportMetric(float64(syncs)/float64(b.N), "fsyncs/op")
			b.ReportMetric(float64(rounds)/float64(b.N), "rounds/op")
			b.ReportMetric(float64(nanos)/float64(syncs)/1e6, "ms/fsync")
			b.ReportMetric(float64(synced)/float64(syncs), "resp/fsync")
		})
	}
}
