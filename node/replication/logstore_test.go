package replication

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	. "github.com/onsi/gomega"
)

func openTestStore(t testing.TB) (*boltStore, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "raft.db")
	s, err := openBoltStore(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

func TestBoltStoreLogs(t *testing.T) {
	g := NewWithT(t)
	s, path := openTestStore(t)

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
	g.Expect(s.Close()).To(Succeed())
	s2, err := openBoltStore(path)
	g.Expect(err).NotTo(HaveOccurred())
	defer s2.Close()
	last, _ = s2.LastIndex()
	g.Expect(last).To(Equal(uint64(8)))
	g.Expect(s2.GetLog(4, &out)).To(Succeed())
	g.Expect(out.Extensions).To(Equal([]byte("ext")))
}

func TestBoltStoreStable(t *testing.T) {
	g := NewWithT(t)
	s, _ := openTestStore(t)
	_, err := s.Get([]byte("missing"))
	g.Expect(err).To(MatchError("not found")) // the text Raft checks for
	_, err = s.GetUint64([]byte("missing"))
	g.Expect(err).To(MatchError("not found"))
	g.Expect(s.Set([]byte("k"), []byte("v"))).To(Succeed())
	g.Expect(s.Get([]byte("k"))).To(Equal([]byte("v")))
	g.Expect(s.SetUint64([]byte("term"), 42)).To(Succeed())
	g.Expect(s.GetUint64([]byte("term"))).To(Equal(uint64(42)))
}

// BenchmarkBoltStoreAppend measures fsynced appends of 128-byte entries, the log's cost
// per Raft append, for batches of the sizes Raft forms under load.
func BenchmarkBoltStoreAppend(b *testing.B) {
	for _, batch := range []int{1, 16, 128} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s, _ := openTestStore(b)
			data := make([]byte, 128)
			logs := make([]*raft.Log, batch)
			idx := uint64(0)
			b.SetBytes(int64(batch * len(data)))
			b.ResetTimer()
			for b.Loop() {
				for i := range logs {
					idx++
					logs[i] = &raft.Log{Index: idx, Term: 1, Type: raft.LogCommand, Data: data}
				}
				if err := s.StoreLogs(logs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(idx)/b.Elapsed().Seconds(), "entries/s")
		})
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
