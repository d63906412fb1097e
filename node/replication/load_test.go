package replication

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/torua/torua/internal/binenc"
	"github.com/torua/torua/node/engine"
)

// loadPairs returns n pairs "<prefix>00000".. with values "v<i>".
func loadPairs(prefix string, n int) []engine.Pair {
	ps := make([]engine.Pair, n)
	for i := range ps {
		ps[i] = engine.Pair{Key: fmt.Appendf(nil, "%s%05d", prefix, i), Value: fmt.Appendf(nil, "v%d", i)}
	}
	return ps
}

// loadEntry is the log entry of proposal id carrying a load of pairs.
func loadEntry(t testing.TB, index, id uint64, pairs []engine.Pair) *pb.Entry {
	t.Helper()
	cmd, err := encodeLoad(pairs)
	if err != nil {
		t.Fatal(err)
	}
	return &pb.Entry{Index: new(index), Term: new(uint64(1)), Type: pb.EntryNormal.Enum(),
		Data: append(binary.BigEndian.AppendUint64(nil, id), cmd...)}
}

// TestApplyLoadsInLogOrder: a load among ordinary entries applies in log order (a put before
// it is replaced by it, a put after it replaces what it wrote), answers its proposal with
// its last revision, and a replica that restarts and is handed the log again holds the same
// shard.
func TestApplyLoadsInLogOrder(t *testing.T) {
	g := NewWithT(t)
	entries := []*pb.Entry{
		proposalEntry(t, 1, 1, putOp("k00001", "before")),
		loadEntry(t, 2, 2, loadPairs("k", 3)),
		proposalEntry(t, 3, 3, putOp("k00002", "after")),
		loadEntry(t, 4, 4, loadPairs("m", 2)),
		loadEntry(t, 5, 5, loadPairs("n", 2)),
	}
	want := map[uint64]proposal{
		1: {results: []engine.Result{{Revision: 1}}},
		2: {results: []engine.Result{{Revision: 4}}},
		3: {results: []engine.Result{{Revision: 5}}},
		4: {results: []engine.Result{{Revision: 7}}},
		5: {results: []engine.Result{{Revision: 9}}},
	}
	for replica, eng := range applyOnTwoReplicas(t, entries, want, 2) {
		for key, value := range map[string]string{"k00000": "v0", "k00001": "v1", "k00002": "after", "m00001": "v1", "n00000": "v0"} {
			v, err := eng.Get(3, []byte(key))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(string(v.Data)).To(Equal(value), "replica %d key %s", replica, key)
		}
		st, err := eng.ShardStats(3)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect([]any{st.Keys, st.Revision, st.AppliedIndex}).To(Equal([]any{int64(7), uint64(9), uint64(5)}))
	}
}

func TestEncodeLoadRefusesBadRuns(t *testing.T) {
	g := NewWithT(t)
	for name, ps := range map[string][]engine.Pair{
		"none":         nil,
		"out of order": {{Key: []byte("b")}, {Key: []byte("a")}},
		"repeated":     {{Key: []byte("a")}, {Key: []byte("a")}},
	} {
		_, err := encodeLoad(ps)
		g.Expect(errors.Is(err, engine.ErrInvalidArgument)).To(BeTrue(), "%s: %v", name, err)
	}
	cmd, err := encodeLoad(loadPairs("k", 3))
	g.Expect(err).NotTo(HaveOccurred())
	got, err := decodeCommand(cmd)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got.load).To(Equal(loadPairs("k", 3)))
	for cut := 1; cut < len(cmd); cut++ {
		_, err := decodeCommand(cmd[:cut])
		g.Expect(errors.Is(err, errDecode)).To(BeTrue(), "cut at %d", cut)
	}
}

// A load command is written compressed (version 2); the log of an earlier binary holds
// version 1, uncompressed, which decodes as before. A compressed length past the bound is
// refused before anything is allocated for it.
func TestLoadCommandVersions(t *testing.T) {
	g := NewWithT(t)
	pairs := loadPairs("graph/bench/v/", 5000)
	cmd, err := encodeLoad(pairs)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cmd[:2]).To(Equal([]byte{byte(cmdLoad), loadVersionS2}))
	v1 := []byte{byte(cmdLoad), opsVersion}
	v1 = binary.AppendUvarint(v1, uint64(len(pairs)))
	for _, p := range pairs {
		v1 = binenc.AppendBytes(binenc.AppendBytes(v1, p.Key), p.Value)
	}
	g.Expect(len(cmd)).To(BeNumerically("<", len(v1)/2), "sorted keys compress")
	for _, b := range [][]byte{cmd, v1} {
		got, err := decodeCommand(b)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(got.typ).To(Equal(cmdLoad))
		g.Expect(got.load).To(Equal(pairs))
	}
	huge := append([]byte{byte(cmdLoad), loadVersionS2}, binary.AppendUvarint(nil, maxLoadBytes+1)...)
	_, err = decodeCommand(append(huge, 0, 0, 0))
	g.Expect(errors.Is(err, errDecode)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(ContainSubstring("over"))
	_, err = decodeCommand([]byte{byte(cmdLoad), 3, 1})
	g.Expect(errors.Is(err, errDecode)).To(BeTrue(), "an unknown version: %v", err)
}

func TestLoadReachesEveryReplica(t *testing.T) {
	onEachTransport(t, loadReachesEveryReplica)
}

// loadReachesEveryReplica: a load proposed on a shard's leader is on every replica, a follower
// that was down during it catches up, and no replica keeps the load's entry in memory.
func loadReachesEveryReplica(t *testing.T, c *testCluster) {
	g := NewWithT(t)
	const shard = 6
	c.startGroup(nodes3, shard)
	l := waitLeader(g, c, shard)
	f := otherThan(nodes3, l.id)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	g.Expect(c.put(ctx, shard, "a", "1")).To(Succeed())
	c.stop(f)
	ps := loadPairs("k", 20000)
	var res engine.Result
	eventually(g, func(g Gomega) {
		l := c.leader(shard)
		g.Expect(l).NotTo(BeNil())
		var err error
		res, err = l.groups[shard].Load(ctx, ps)
		g.Expect(err).NotTo(HaveOccurred())
	}).Should(Succeed())
	g.Expect(res.Revision).To(Equal(uint64(20001)))
	loaded := c.leader(shard).groups[shard].AppliedIndex()
	c.start(f, shard)
	c.converged(g, shard)
	for _, id := range nodes3 {
		g.Expect(get(c.node(id), shard, "k19999", true)).To(Equal("v19999"), "node %s", id)
	}
	// No replica keeps the load's entry in memory once it is applied.
	eventually(g, func(g Gomega) {
		for _, id := range nodes3 {
			first, err := c.node(id).groups[shard].ms.FirstIndex()
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(first).To(BeNumerically(">", loaded), "node %s", id)
		}
	}).Should(Succeed())
}
