package replication

import (
	"bytes"
	"io"
	"log/slog"
	"testing"

	"github.com/hashicorp/raft"
	. "github.com/onsi/gomega"

	"github.com/torua/torua/node/engine"
)

func openEngine(t testing.TB) *engine.Engine {
	t.Helper()
	eng, err := engine.Open(t.TempDir(), engine.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	return eng
}

func newTestFSM(t testing.TB, eng *engine.Engine, shard int) *fsm {
	t.Helper()
	f, err := newFSM(shard, eng, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func putEntry(t testing.TB, index uint64, key, value string) *raft.Log {
	t.Helper()
	b, err := encodeOps([]engine.Op{{Kind: engine.OpPut, Key: []byte(key), Value: []byte(value)}})
	if err != nil {
		t.Fatal(err)
	}
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: b}
}

func TestFSMApplyAndIdempotentReplay(t *testing.T) {
	g := NewWithT(t)
	eng := openEngine(t)
	f := newTestFSM(t, eng, 3)

	cas, err := encodeOps([]engine.Op{
		{Kind: engine.OpPut, Key: []byte("a"), Value: []byte("a2"), Cond: engine.Condition{Kind: engine.CondRevision, Revision: 1}},
		{Kind: engine.OpPut, Key: []byte("a"), Value: []byte("a3"), Cond: engine.Condition{Kind: engine.CondRevision, Revision: 1}},
	})
	g.Expect(err).NotTo(HaveOccurred())
	first := []*raft.Log{
		putEntry(t, 1, "a", "a1"),
		{Index: 2, Term: 1, Type: raft.LogConfiguration},
		{Index: 3, Term: 1, Type: raft.LogCommand, Data: cas},
	}
	resp := f.ApplyBatch(first)
	g.Expect(resp).To(HaveLen(3))
	g.Expect(resp[0].(applyResult).results).To(Equal([]engine.Result{{Revision: 1}}))
	g.Expect(resp[1]).To(BeNil())
	g.Expect(resp[2].(applyResult).results).To(Equal([]engine.Result{{Revision: 2}, {Err: engine.ErrConditionFailed}}))
	st, err := eng.ShardStats(3)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st.AppliedIndex).To(Equal(uint64(3)))

	// A restart replays the log from the start: a new FSM over the same engine skips what
	// the engine already has and applies the rest, once.
	f2 := newTestFSM(t, eng, 3)
	g.Expect(f2.applied.Load()).To(Equal(uint64(3)))
	replay := append(first, putEntry(t, 4, "b", "b1"), putEntry(t, 5, "a", "a4"))
	resp = f2.ApplyBatch(replay)
	g.Expect(resp[0]).To(BeNil())
	g.Expect(resp[2]).To(BeNil())
	g.Expect(resp[3].(applyResult).results).To(Equal([]engine.Result{{Revision: 3}}))
	g.Expect(resp[4].(applyResult).results).To(Equal([]engine.Result{{Revision: 4}}))
	g.Expect(f2.ApplyBatch(replay[3:])).To(Equal([]any{nil, nil}), "a second replay changes nothing")

	v, err := eng.Get(3, []byte("a"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(v).To(Equal(engine.Value{Data: []byte("a4"), Revision: 4}))
	st, err = eng.ShardStats(3)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st.AppliedIndex).To(Equal(uint64(5)))
	g.Expect(st.Keys).To(Equal(int64(2)))
	g.Expect(st.Revision).To(Equal(uint64(4)))
}

func TestFSMPanicsOnBadEntries(t *testing.T) {
	good := putEntry(t, 1, "k", "v").Data
	tests := []struct {
		name string
		log  *raft.Log
	}{
		{"unknown command type", &raft.Log{Index: 1, Type: raft.LogCommand, Data: append([]byte{99}, good[1:]...)}},
		{"undecodable command", &raft.Log{Index: 1, Type: raft.LogCommand, Data: good[:len(good)-1]}},
		{"empty command", &raft.Log{Index: 1, Type: raft.LogCommand}},
		{"unexpected log type", &raft.Log{Index: 1, Type: raft.LogBarrier}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			eng := openEngine(t)
			f := newTestFSM(t, eng, 0)
			g.Expect(func() {
				f.ApplyBatch([]*raft.Log{putEntry(t, 1, "x", "y"), {Index: 2, Type: tt.log.Type, Data: tt.log.Data}})
			}).
				To(PanicWith(ContainSubstring("shard 0: log entry 2")))
			st, err := eng.ShardStats(0)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(st.AppliedIndex).To(BeZero(), "nothing of the batch is applied")
		})
	}
}

// memSink is a raft.SnapshotSink in memory.
type memSink struct {
	bytes.Buffer
	closed, cancelled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Close() error  { s.closed = true; return nil }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }

func TestFSMSnapshotIsPointInTime(t *testing.T) {
	g := NewWithT(t)
	src := newTestFSM(t, openEngine(t), 5)
	src.ApplyBatch([]*raft.Log{putEntry(t, 1, "a", "1"), putEntry(t, 2, "b", "2")})
	snap, err := src.Snapshot()
	g.Expect(err).NotTo(HaveOccurred())
	defer snap.Release()
	// Entries applied after Snapshot returned are not in it.
	src.ApplyBatch([]*raft.Log{putEntry(t, 3, "c", "3")})
	var sink memSink
	g.Expect(snap.Persist(&sink)).To(Succeed())
	g.Expect(sink.closed).To(BeTrue())

	dstEng := openEngine(t)
	dst := newTestFSM(t, dstEng, 5)
	dst.ApplyBatch([]*raft.Log{putEntry(t, 1, "old", "gone")})
	g.Expect(dst.Restore(io.NopCloser(&sink))).To(Succeed())
	g.Expect(dst.applied.Load()).To(Equal(uint64(2)))
	keys, _, err := dstEng.List(5, nil, nil, 10)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(keys).To(Equal([][]byte{[]byte("a"), []byte("b")}))
	// Replay after the restore continues from the snapshot's index.
	resp := dst.ApplyBatch([]*raft.Log{putEntry(t, 2, "b", "x"), putEntry(t, 3, "c", "3")})
	g.Expect(resp[0]).To(BeNil())
	g.Expect(resp[1].(applyResult).results).To(Equal([]engine.Result{{Revision: 3}}))
}

func TestFSMSnapshotReleasedWithoutPersist(t *testing.T) {
	f := newTestFSM(t, openEngine(t), 1)
	f.ApplyBatch([]*raft.Log{putEntry(t, 1, "a", "1")})
	snap, err := f.Snapshot()
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	snap.Release() // must not leak the streaming goroutine or block
	snap.Release()
}
