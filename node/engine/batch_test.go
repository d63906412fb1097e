package engine

import (
	"errors"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/internal/kv"
)

// TestBatchCommitsShardsAtOnce: applies of several shards in one batch are visible only
// once it commits, with the results Apply gave; a shard takes one Apply per
// batch; a batch closed without commit writes nothing and leaves the write cache right.
func TestBatchCommitsShardsAtOnce(t *testing.T) {
	g := NewWithT(t)
	e := openEngine(t, "", false)
	_, err := e.Apply(1, []Op{put("a", "0")}, ApplyOptions{AppliedIndex: 1})
	g.Expect(err).NotTo(HaveOccurred())

	b, err := e.NewBatch()
	g.Expect(err).NotTo(HaveOccurred())
	r1, err := b.Apply(1, []Op{put("a", "1"), {Kind: OpPut, Key: []byte("a"), Value: []byte("x"), Cond: kv.Precondition{Kind: kv.CondAbsent}}}, 2)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(r1).To(Equal([]Result{{Revision: 2}, {Err: ErrConditionFailed}}))
	r2, err := b.Apply(2, []Op{put("b", "1")}, 7)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(r2).To(Equal([]Result{{Revision: 1}}))
	_, err = b.Apply(1, []Op{put("c", "1")}, 3)
	g.Expect(errors.Is(err, ErrInvalidArgument)).To(BeTrue(), "a second apply of a shard in one batch")
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

// TestApplyShardsIsOneWrite: ApplyShards gives each shard its results and applied index;
// a shard named twice fails the call and writes nothing of any shard.
func TestApplyShardsIsOneWrite(t *testing.T) {
	g := NewWithT(t)
	e := openEngine(t, "", false)
	res, err := e.ApplyShards([]ShardApply{
		{Shard: 1, Ops: []Op{put("a", "1")}, AppliedIndex: 4},
		{Shard: 2, Ops: []Op{put("b", "1"), put("b", "2")}, AppliedIndex: 9},
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res).To(Equal([][]Result{{{Revision: 1}}, {{Revision: 1}, {Revision: 2}}}))
	for shard, want := range map[int]uint64{1: 4, 2: 9} {
		st, err := e.ShardStats(shard)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(st.AppliedIndex).To(Equal(want))
	}

	_, err = e.ApplyShards([]ShardApply{
		{Shard: 3, Ops: []Op{put("c", "1")}, AppliedIndex: 1},
		{Shard: 1, Ops: []Op{put("a", "2")}, AppliedIndex: 5},
		{Shard: 1, Ops: []Op{put("a", "3")}, AppliedIndex: 6},
	})
	g.Expect(errors.Is(err, ErrInvalidArgument)).To(BeTrue(), "shard 1 twice: %v", err)
	st, err := e.ShardStats(3)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st).To(Equal(ShardStats{}), "nothing of the failed call is written")
	v, err := e.Get(1, []byte("a"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(v.Data)).To(Equal("1"))
}
