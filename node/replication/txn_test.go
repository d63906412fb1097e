package replication

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/torua/torua/internal/kv"
	"github.com/torua/torua/node/engine"
	"github.com/torua/torua/node/raftlog"
)

// txnEntry is the log entry of proposal id carrying ops as one transaction.
func txnEntry(t testing.TB, index, id uint64, ops ...engine.Op) *pb.Entry {
	t.Helper()
	cmd, err := encodeTxn(ops)
	if err != nil {
		t.Fatal(err)
	}
	return &pb.Entry{Index: new(index), Term: new(uint64(1)), Type: pb.EntryNormal.Enum(),
		Data: append(binary.BigEndian.AppendUint64(nil, id), cmd...)}
}

func checkKey(key string, kind kv.CondKind, rev uint64) engine.Op {
	return engine.Op{Kind: engine.OpCheck, Key: []byte(key), Cond: kv.Precondition{Kind: kind, Revision: rev}}
}

func ifAbsent(op engine.Op) engine.Op {
	op.Cond = kv.Precondition{Kind: kv.CondAbsent}
	return op
}

// snapshotOf is shard's state on eng as its snapshot stream: equal streams mean equal
// keys, values, revisions, counts and applied index.
func snapshotOf(g Gomega, eng *engine.Engine, shard int) []byte {
	var b bytes.Buffer
	g.Expect(eng.SnapshotShard(shard, &b)).To(Succeed())
	return b.Bytes()
}

// TestApplyTransactions: plain batches and transactions committed in one round apply in
// log order, each transaction all-or-nothing; replicas applying the same entries (one of
// them after a restart that replays the log) end with identical shards.
func TestApplyTransactions(t *testing.T) {
	g := NewWithT(t)
	entries := []*pb.Entry{
		proposalEntry(t, 1, 1, putOp("a", "1")),
		txnEntry(t, 2, 2, checkKey("a", kv.CondRevision, 1), putOp("b", "1"), ifAbsent(putOp("c", "1"))),
		txnEntry(t, 3, 3, putOp("d", "1"), checkKey("a", kv.CondAbsent, 0)), // aborted
		proposalEntry(t, 4, 4, ifAbsent(putOp("d", "2")), putOp("a", "2")),
		txnEntry(t, 5, 5, engine.Op{Kind: engine.OpDelete, Key: []byte("b")}, engine.Op{Kind: engine.OpDelete, Key: []byte("missing")}), // aborted
	}
	want := map[uint64]proposal{
		1: {results: []engine.Result{{Revision: 1}}},
		2: {results: []engine.Result{{Revision: 1}, {Revision: 2}, {Revision: 3}}},
		3: {results: []engine.Result{{Err: engine.ErrAborted}, {Err: engine.ErrConditionFailed}}},
		4: {results: []engine.Result{{Revision: 4}, {Revision: 5}}},
		5: {results: []engine.Result{{Err: engine.ErrAborted}, {Err: engine.ErrNotFound}}},
	}
	for _, eng := range applyOnTwoReplicas(t, entries, want, 3) {
		st, err := eng.ShardStats(3)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(st).To(Equal(engine.ShardStats{Keys: 4, Bytes: 8, Revision: 5, AppliedIndex: 5}))
	}
}

// applyOnTwoReplicas applies entries to two new replicas of shard 3 (with Raft state, in no
// configuration yet) and checks each proposal's answer against want. The second replica
// applies the first restartAfter entries, restarts, and is handed them all again, as Raft
// hands over the log after the compaction point: the proposals it applied before answer
// ErrUnknownOutcome, and its shard ends as the first replica's. It returns their engines.
func applyOnTwoReplicas(t *testing.T, entries []*pb.Entry, want map[uint64]proposal, restartAfter int) []*engine.Engine {
	t.Helper()
	g := NewWithT(t)
	hs, err := proto.Marshal(&pb.HardState{Term: new(uint64(1))})
	g.Expect(err).NotTo(HaveOccurred())
	var engines []*engine.Engine
	var shards [][]byte
	for replica := range 2 {
		eng := openEngine(t)
		logDir := t.TempDir()
		writeLog(t, logDir, raftlog.Write{Shard: 3, Stable: []raftlog.StableValue{{Name: keyHardState, Value: hs}}})
		h := testHostIn(t, eng, logDir)
		grp := idleGroup(t, h, 3)
		before := uint64(0)
		if replica == 1 {
			grp.apply(entries[:restartAfter])
			g.Expect(grp.Close()).To(Succeed())
			g.Expect(h.Close()).To(Succeed())
			grp = idleGroup(t, testHostIn(t, eng, logDir), 3)
			before = entries[restartAfter-1].GetIndex()
			g.Expect(grp.AppliedIndex()).To(Equal(before))
		}
		waits := map[uint64]chan proposal{}
		for id := range want {
			waits[id] = wait(grp, id)
		}
		grp.apply(entries)
		for _, e := range entries {
			id := binary.BigEndian.Uint64(e.GetData())
			w, ok := want[id]
			if !ok {
				continue
			}
			if e.GetIndex() <= before {
				g.Expect((<-waits[id]).err).To(MatchError(ErrUnknownOutcome), "entry %d was applied before the restart", id)
				continue
			}
			g.Expect(<-waits[id]).To(Equal(w), "replica %d proposal %d", replica, id)
		}
		engines = append(engines, eng)
		shards = append(shards, snapshotOf(g, eng, 3))
	}
	g.Expect(shards[1]).To(Equal(shards[0]), "a replica that replayed its log holds what the other does")
	return engines
}

// txn runs ops as a transaction on the shard's current leader, asking again only while
// nothing was done (not the leader, not proposed).
func (c *testCluster) txn(ctx context.Context, shard int, ops ...engine.Op) ([]engine.Result, error) {
	for {
		var err error
		if n := c.leader(shard); n != nil {
			var res []engine.Result
			if res, err = n.groups[shard].Txn(ctx, ops); err == nil || !(errors.Is(err, ErrNotLeader) || errors.Is(err, ErrNotProposed)) {
				return res, err
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("txn: %w (last error %v)", ctx.Err(), err)
		case <-time.After(10 * time.Millisecond): // retry pacing, not a wait for a condition
		}
	}
}

// converged waits until every replica's copy of shard equals its leader's.
func (c *testCluster) converged(g *WithT, shard int) {
	eventually(g, func(g Gomega) {
		l := c.leader(shard)
		g.Expect(l).NotTo(BeNil())
		want := snapshotOf(g, l.eng, shard)
		for _, id := range nodes3 {
			g.Expect(snapshotOf(g, c.node(id).eng, shard)).To(Equal(want), "node %s", id)
		}
	}).Should(Succeed())
}

func TestTxnIsAtomicOnEveryReplica(t *testing.T) {
	onEachTransport(t, txnIsAtomicOnEveryReplica)
}

// txnIsAtomicOnEveryReplica: a committed transaction and an aborted one give the leader's
// results and leave every replica's shard identical; a follower whose engine lost what it
// applied (rolled back to an earlier copy) replays the transactions from its log into the
// same shard.
func txnIsAtomicOnEveryReplica(t *testing.T, c *testCluster) {
	g := NewWithT(t)
	const shard = 5
	c.startGroup(nodes3, shard)
	l := waitLeader(g, c, shard)
	f := otherThan(nodes3, l.id)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	g.Expect(c.put(ctx, shard, "vertex", "v1")).To(Succeed())
	converged := func() { t.Helper(); c.converged(g, shard) }
	converged()
	early := snapshotOf(g, c.node(f).eng, shard)

	res, err := c.txn(ctx, shard, checkKey("vertex", kv.CondRevision, 1), ifAbsent(putOp("index/a", "vertex")), putOp("vertex", "v2"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res).To(Equal([]engine.Result{{Revision: 1}, {Revision: 2}, {Revision: 3}}))
	res, err = c.txn(ctx, shard, putOp("vertex", "v3"), ifAbsent(putOp("index/b", "vertex")), checkKey("vertex", kv.CondRevision, 1))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res).To(Equal([]engine.Result{{Err: engine.ErrAborted}, {Err: engine.ErrAborted}, {Err: engine.ErrConditionFailed}}))
	_, err = c.txn(ctx, shard)
	g.Expect(errors.Is(err, engine.ErrInvalidArgument)).To(BeTrue(), "an empty transaction: %v", err)
	converged()
	for _, id := range nodes3 {
		g.Expect(get(c.node(id), shard, "vertex", true)).To(Equal("v2"), "node %s", id)
		_, err := get(c.node(id), shard, "index/b", true)
		g.Expect(errors.Is(err, engine.ErrNotFound)).To(BeTrue(), "node %s: the aborted transaction wrote nothing: %v", id, err)
	}

	// The follower's engine loses the transactions (as a crash loses unsynced applies); on
	// restart it replays them from its log.
	c.stop(f)
	eng, err := engine.Open(filepath.Join(c.root, f, "engine"), engine.Options{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(eng.RestoreShard(shard, bytes.NewReader(early))).To(Succeed())
	g.Expect(eng.Close()).To(Succeed())
	c.start(f, shard)
	converged()
	st := c.node(f).groups[shard].Status()
	g.Expect([]any{st.Revision, st.Keys}).To(Equal([]any{uint64(3), int64(2)}))
}
