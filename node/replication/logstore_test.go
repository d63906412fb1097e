package replication

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	. "github.com/onsi/gomega"

	"github.com/torua/torua/node/engine"
)

// storeKinds opens each log store kind in a fresh directory; reopen closes it and opens it
// again over the same files.
var storeKinds = []struct {
	name string
	open func(t testing.TB, sync bool) (s logStore, reopen func() logStore)
}{
	{"engine", func(t testing.TB, sync bool) (logStore, func() logStore) {
		dir := t.TempDir()
		var eng *engine.Engine
		open := func() logStore {
			var err error
			if eng, err = engine.Open(dir, engine.Options{NoSync: !sync}); err != nil {
				t.Fatal(err)
			}
			return &engineStore{eng: eng, shard: 7}
		}
		s := open()
		t.Cleanup(func() { _ = eng.Close() })
		return s, func() logStore { _ = eng.Close(); return open() }
	}},
	{"bolt", func(t testing.TB, _ bool) (logStore, func() logStore) {
		path := filepath.Join(t.TempDir(), "raft.db")
		var s *boltStore
		open := func() logStore {
			var err error
			if s, err = openBoltStore(path); err != nil {
				t.Fatal(err)
			}
			return s
		}
		first := open()
		t.Cleanup(func() { _ = s.Close() })
		return first, func() logStore { _ = s.Close(); return open() }
	}},
}

func TestLogStoreLogs(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind.name, func(t *testing.T) {
			g := NewWithT(t)
			s, reopen := kind.open(t, false)

			first, err := s.FirstIndex()
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(first).To(BeZero())
			var out raft.Log
			g.Expect(s.GetLog(1, &out)).To(MatchError(raft.ErrLogNotFound))

			at := time.Unix(1700000000, 123)
			var logs []*raft.Log
			for i := uint64(1); i <= 10; i++ {
				logs = append(logs, &raft.Log{Index: i, Term: 2, Type: raft.LogCommand, Data: []byte(fmt.Sprint(i)), AppendedAt: at})
			}
			logs[3].Type, logs[3].Data, logs[3].Extensions = raft.LogConfiguration, nil, []byte("ext")
			g.Expect(s.StoreLogs(logs[:9])).To(Succeed())
			g.Expect(s.StoreLog(logs[9])).To(Succeed())
			for _, want := range logs {
				g.Expect(s.GetLog(want.Index, &out)).To(Succeed())
				g.Expect(out.Index).To(Equal(want.Index))
				g.Expect(out.Term).To(Equal(want.Term))
				g.Expect(out.Type).To(Equal(want.Type))
				g.Expect(out.Data).To(Equal(want.Data))
				g.Expect(out.Extensions).To(Equal(want.Extensions))
				g.Expect(out.AppendedAt.Equal(at)).To(BeTrue())
			}

			g.Expect(s.DeleteRange(1, 3)).To(Succeed())  // compaction
			g.Expect(s.DeleteRange(9, 10)).To(Succeed()) // conflict truncation
			first, _ = s.FirstIndex()
			last, _ := s.LastIndex()
			g.Expect([]uint64{first, last}).To(Equal([]uint64{4, 8}))

			// Everything survives a reopen.
			s2 := reopen()
			first, _ = s2.FirstIndex()
			last, _ = s2.LastIndex()
			g.Expect([]uint64{first, last}).To(Equal([]uint64{4, 8}))
			g.Expect(s2.GetLog(4, &out)).To(Succeed())
			g.Expect(out.Extensions).To(Equal([]byte("ext")))
		})
	}
}

func TestLogStoreStable(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind.name, func(t *testing.T) {
			g := NewWithT(t)
			s, reopen := kind.open(t, false)
			_, err := s.Get([]byte("missing"))
			g.Expect(err).To(MatchError("not found")) // the text Raft checks for
			_, err = s.GetUint64([]byte("missing"))
			g.Expect(err).To(MatchError("not found"))
			g.Expect(s.Set([]byte("k"), []byte("v"))).To(Succeed())
			g.Expect(s.Get([]byte("k"))).To(Equal([]byte("v")))
			g.Expect(s.SetUint64([]byte("term"), 42)).To(Succeed())
			s = reopen()
			g.Expect(s.GetUint64([]byte("term"))).To(Equal(uint64(42)))
		})
	}
}

// TestEngineStoreIsPerShard: shards' logs and stable values do not mix, and deleting one
// shard's Raft state leaves the others and the shard's data alone.
func TestEngineStoreIsPerShard(t *testing.T) {
	g := NewWithT(t)
	eng := openEngine(t)
	a, b := &engineStore{eng: eng, shard: 1}, &engineStore{eng: eng, shard: 2}
	g.Expect(a.StoreLogs([]*raft.Log{{Index: 5, Term: 1}, {Index: 6, Term: 1}})).To(Succeed())
	g.Expect(b.StoreLogs([]*raft.Log{{Index: 1, Term: 1}})).To(Succeed())
	g.Expect(a.SetUint64([]byte("term"), 3)).To(Succeed())
	g.Expect(b.SetUint64([]byte("term"), 4)).To(Succeed())
	_, err := eng.Apply(1, []engine.Op{{Kind: engine.OpPut, Key: []byte("k"), Value: []byte("v")}}, engine.ApplyOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	first, _ := a.FirstIndex()
	last, _ := a.LastIndex()
	g.Expect([]uint64{first, last}).To(Equal([]uint64{5, 6}))
	g.Expect(eng.DeleteRaftState(1)).To(Succeed())
	last, _ = a.LastIndex()
	g.Expect(last).To(BeZero())
	_, err = a.GetUint64([]byte("term"))
	g.Expect(err).To(MatchError("not found"))
	last, _ = b.LastIndex()
	g.Expect(last).To(Equal(uint64(1)))
	g.Expect(b.GetUint64([]byte("term"))).To(Equal(uint64(4)))
	g.Expect(eng.Get(1, []byte("k"))).To(HaveField("Data", []byte("v")))
}

// BenchmarkLogStoreAppend measures synced appends of 128-byte entries, the log's cost per
// Raft append, for batches of the sizes Raft forms under load, with one writer (one group)
// and with 16 concurrent writers (16 groups of a node appending at once: the engine store
// shares Pebble's WAL fsyncs between them, bbolt files cannot).
func BenchmarkLogStoreAppend(b *testing.B) {
	for _, kind := range storeKinds {
		for _, groups := range []int{1, 16} {
			for _, batch := range []int{1, 16} {
				b.Run(fmt.Sprintf("%s/groups=%d/batch=%d", kind.name, groups, batch), func(b *testing.B) {
					stores := make([]logStore, groups)
					for i := range stores {
						if kind.name == "engine" && i > 0 {
							stores[i] = &engineStore{eng: stores[0].(*engineStore).eng, shard: i}
							continue
						}
						stores[i], _ = kind.open(b, true)
					}
					data := make([]byte, 128)
					var total atomic.Int64
					b.ResetTimer()
					var wg sync.WaitGroup
					per := max(b.N/groups, 1)
					for _, s := range stores {
						wg.Go(func() {
							logs := make([]*raft.Log, batch)
							idx := uint64(0)
							for range per {
								for i := range logs {
									idx++
									logs[i] = &raft.Log{Index: idx, Term: 1, Type: raft.LogCommand, Data: data}
								}
								if err := s.StoreLogs(logs); err != nil {
									b.Error(err)
									return
								}
								total.Add(int64(batch))
							}
						})
					}
					wg.Wait()
					b.ReportMetric(float64(total.Load())/b.Elapsed().Seconds(), "entries/s")
					b.ReportMetric(float64(per*groups)/b.Elapsed().Seconds(), "appends/s")
				})
			}
		}
	}
}

// BenchmarkFsyncFloor appends 128 bytes and fsyncs, the least any durable log append costs
// on this disk: a bbolt commit takes about two of these (data pages, then the meta page),
// a write-ahead log (Pebble's) one.
func BenchmarkFsyncFloor(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "wal"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	data := make([]byte, 128)
	for b.Loop() {
		if _, err := f.Write(data); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}
