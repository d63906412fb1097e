package engine

import (
	"errors"
	"fmt"
	"testing"

	. "github.com/onsi/gomega"
)

// logIndexes returns the indexes of shard's log entries from lo on, with their bytes.
func logIndexes(t testing.TB, e *Engine, shard int, lo uint64) map[uint64]string {
	t.Helper()
	got := map[uint64]string{}
	if err := e.LogEntries(shard, lo, func(i uint64, data []byte) bool {
		got[i] = string(data)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func entries(lo, hi uint64, tag string) []LogEntry {
	var out []LogEntry
	for i := lo; i <= hi; i++ {
		out = append(out, LogEntry{Index: i, Data: []byte(fmt.Sprint(tag, i))})
	}
	return out
}

// TestWriteRaftKeepsShardsApart: a log suffix replaced by a new leader's entries, a
// compacted prefix and stable values, each of one shard, leave other shards' Raft state
// and data alone; DeleteRaftState removes one shard's whole Raft state and keeps its data.
func TestWriteRaftKeepsShardsApart(t *testing.T) {
	g := NewWithT(t)
	e := openEngine(t, "", false)
	_, err := e.Apply(1, []Op{put("k", "v")}, ApplyOptions{AppliedIndex: 3})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(e.WriteRaft([]RaftWrite{
		{Shard: 1, Entries: entries(1, 10, "a"), Stable: []StableValue{{Name: []byte("hs"), Value: []byte("one")}}},
		{Shard: 2, Entries: entries(1, 5, "b")},
	}, true)).To(Succeed())
	// A new leader's entries from 7 on replace 7..10; the prefix below 4 is compacted.
	g.Expect(e.WriteRaft([]RaftWrite{{Shard: 1, DeleteFrom: 7, Entries: entries(7, 8, "c"), DeleteBelow: 4,
		Stable: []StableValue{{Name: []byte("hs"), Value: []byte("two")}}}}, false)).To(Succeed())
	g.Expect(e.SyncWAL()).To(Succeed())

	want := map[uint64]string{4: "a4", 5: "a5", 6: "a6", 7: "c7", 8: "c8"}
	g.Expect(logIndexes(t, e, 1, 0)).To(Equal(want))
	g.Expect(logIndexes(t, e, 1, 6)).To(Equal(map[uint64]string{6: "a6", 7: "c7", 8: "c8"}))
	g.Expect(logIndexes(t, e, 2, 0)).To(HaveLen(5))
	v, err := e.Stable(1, []byte("hs"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(v)).To(Equal("two"))
	_, err = e.Stable(2, []byte("hs"))
	g.Expect(errors.Is(err, ErrNotFound)).To(BeTrue())

	g.Expect(e.DeleteRaftState(1)).To(Succeed())
	g.Expect(logIndexes(t, e, 1, 0)).To(BeEmpty())
	_, err = e.Stable(1, []byte("hs"))
	g.Expect(errors.Is(err, ErrNotFound)).To(BeTrue())
	g.Expect(logIndexes(t, e, 2, 0)).To(HaveLen(5))
	got, err := e.Get(1, []byte("k"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(got.Data)).To(Equal("v"), "the shard's data is not Raft state")
}

// TestBatchCommitsShardsAtOnce: applies of several shards and Raft writes in one batch are
// visible only once it commits, with the results Apply gave; a shard takes one Apply per
// batch; a batch closed without commit writes nothing and leaves the write cache right.
func TestBatchCommitsShardsAtOnce(t *testing.T) {
	g := NewWithT(t)
	e := openEngine(t, "", false)
	_, err := e.Apply(1, []Op{put("a", "0")}, ApplyOptions{AppliedIndex: 1})
	g.Expect(err).NotTo(HaveOccurred())

	b, err := e.NewBatch()
	g.Expect(err).NotTo(HaveOccurred())
	r1, err := b.Apply(1, []Op{put("a", "1"), {Kind: OpPut, Key: []byte("a"), Value: []byte("x"), Cond: Condition{Kind: CondAbsent}}}, 2)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(r1).To(Equal([]Result{{Revision: 2}, {Err: ErrConditionFailed}}))
	r2, err := b.Apply(2, []Op{put("b", "1")}, 7)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(r2).To(Equal([]Result{{Revision: 1}}))
	_, err = b.Apply(1, []Op{put("c", "1")}, 3)
	g.Expect(errors.Is(err, ErrInvalidArgument)).To(BeTrue(), "a second apply of a shard in one batch")
	g.Expect(b.WriteRaft(RaftWrite{Shard: 2, Entries: entries(1, 7, "e")})).To(Succeed())
	g.Expect(b.Empty()).To(BeFalse())

	v, err := e.Get(1, []byte("a"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(v.Data)).To(Equal("0"), "nothing is visible before the commit")
	g.Expect(b.Commit(false)).To(Succeed())
	v, err = e.Get(1, []byte("a"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(v).To(Equal(Value{Data: []byte("1"), Revision: 2}))
	st, err := e.ShardStats(2)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect([]uint64{st.AppliedIndex, st.Revision}).To(Equal([]uint64{7, 1}))
	g.Expect(logIndexes(t, e, 2, 0)).To(HaveLen(7))

	// Abandoned: nothing written, and the next Apply does not build on what it evaluated.
	b, err = e.NewBatch()
	g.Expect(err).NotTo(HaveOccurred())
	_, err = b.Apply(1, []Op{put("a", "lost")}, 9)
	g.Expect(err).NotTo(HaveOccurred())
	b.Close()
	res, err := e.Apply(1, []Op{put("a", "2")}, ApplyOptions{AppliedIndex: 9})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res).To(Equal([]Result{{Revision: 3}}), "the abandoned batch took no revision")
	st, err = e.ShardStats(1)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect([]any{st.Keys, st.Revision, st.AppliedIndex}).To(Equal([]any{int64(1), uint64(3), uint64(9)}))
}
