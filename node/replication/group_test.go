package replication

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/internal/kv"
	"github.com/torua/torua/node/engine"
	"github.com/torua/torua/shardmap"
)

var nodes3 = []string{"n1", "n2", "n3"}

// eventually is gomega's Eventually with the deadline every replication test uses.
func eventually(g *WithT, f any) AsyncAssertion {
	return g.Eventually(f).WithTimeout(20 * time.Second).WithPolling(20 * time.Millisecond)
}

func waitLeader(g *WithT, c *testCluster, shard int) *testNode {
	var n *testNode
	eventually(g, func() *testNode { n = c.leader(shard); return n }).ShouldNot(BeNil(), "shard %d elects a leader", shard)
	return n
}

// onLeader runs a membership change on the shard's current leader until it succeeds: a
// change interrupted by an election has an unknown outcome, and asking again is safe
// because adding a present server or removing an absent one changes nothing.
func onLeader(g *WithT, c *testCluster, shard int, change func(*Group) error) {
	eventually(g, func() error {
		l := c.leader(shard)
		if l == nil {
			return errors.New("no leader")
		}
		return change(l.groups[shard])
	}).Should(Succeed())
}

// readLeader reads key linearizably from the shard's leader, retrying only while the read
// is refused (leadership moving); the first value read is returned.
func readLeader(g *WithT, c *testCluster, shard int, key string) string {
	var v string
	eventually(g, func() error {
		l := c.leader(shard)
		if l == nil {
			return errors.New("no leader")
		}
		var err error
		v, err = get(l, shard, key, false)
		return err
	}).Should(Succeed(), "read %s on shard %d", key, shard)
	return v
}

func get(n *testNode, shard int, key string, stale bool) (string, error) {
	v, err := n.groups[shard].Get(context.Background(), []byte(key), stale)
	return string(v.Data), err
}

func TestWritesCommitAndSurviveLeaderLoss(t *testing.T) {
	onEachTransport(t, writesCommitAndSurviveLeaderLoss)
}

func writesCommitAndSurviveLeaderLoss(t *testing.T, c *testCluster) {
	g := NewWithT(t)
	shards := []int{0, 1, 2}
	c.startGroup(nodes3, shards...)
	for _, s := range shards {
		waitLeader(g, c, s)
	}

	// Acknowledged means committed and applied on the leader: a linearizable read there
	// sees it at once, and the leader's commit index covers it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range shards {
		g.Expect(c.put(ctx, s, "first", fmt.Sprint(s))).To(Succeed())
		g.Expect(readLeader(g, c, s, "first")).To(Equal(fmt.Sprint(s)))
		l := waitLeader(g, c, s)
		st := l.groups[s].Status()
		g.Expect(st.CommitIndex).To(BeNumerically(">=", st.AppliedIndex))
		g.Expect(st.Voters).To(ConsistOf(nodes3))
	}

	// Concurrent writers on two shards while the leader of shard 0 dies with every group
	// it hosts. Each writer records the keys whose writes were acknowledged.
	var mu sync.Mutex
	acked := map[int][]string{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s := w % 2
				key := fmt.Sprintf("w%d-%d", w, i)
				if err := c.put(ctx, s, key, key); err == nil {
					mu.Lock()
					acked[s] = append(acked[s], key)
					mu.Unlock()
				}
			}
		}()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked[0]) + len(acked[1]) }
	eventually(g, count).Should(BeNumerically(">=", 40), "writes before the failure")
	old := waitLeader(g, c, 0)
	c.stop(old.id)
	before := count()
	eventually(g, count).Should(BeNumerically(">=", before+40), "writes resume under a new leader")
	close(stop)
	wg.Wait()

	survivors := []string{}
	for _, id := range nodes3 {
		if id != old.id {
			survivors = append(survivors, id)
		}
	}
	for _, s := range shards {
		l := waitLeader(g, c, s)
		g.Expect(l.id).NotTo(Equal(old.id))
		for _, key := range acked[s] {
			g.Expect(readLeader(g, c, s, key)).To(Equal(key), "acknowledged write %s on shard %d", key, s)
		}
		for _, id := range survivors {
			n := c.node(id)
			for _, key := range acked[s] {
				eventually(g, func() (string, error) { return get(n, s, key, true) }).Should(Equal(key))
			}
		}
	}
}

func TestFollowerAnswersNotLeader(t *testing.T) {
	g := NewWithT(t)
	c := newTestCluster(t)
	c.startGroup(nodes3, 4)
	l := waitLeader(g, c, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g.Expect(c.put(ctx, 4, "k", "v")).To(Succeed())
	g.Expect(l.groups[4].Bootstrap(c.members(nodes3...))).To(Succeed(), "bootstrapping a running group is a no-op")

	var f *testNode
	for _, id := range nodes3 {
		if id != l.id {
			f = c.node(id)
		}
	}
	eventually(g, func() string { return f.groups[4].Leader() }).Should(Equal(l.id))
	_, err := f.groups[4].Write(ctx, engine.Op{Kind: engine.OpPut, Key: []byte("k"), Value: []byte("x")})
	var nl *NotLeaderError
	g.Expect(errors.As(err, &nl)).To(BeTrue(), "err = %v", err)
	g.Expect(nl.Leader).To(Equal(l.id))
	g.Expect(errors.Is(err, ErrNotLeader)).To(BeTrue())
	_, err = get(f, 4, "k", false)
	g.Expect(errors.Is(err, ErrNotLeader)).To(BeTrue(), "a follower refuses linearizable reads")
	eventually(g, func() (string, error) { return get(f, 4, "k", true) }).Should(Equal("v"))
	st := f.groups[4].Status()
	g.Expect(st.Role).To(Equal(shardmap.RoleFollower))
	g.Expect(st.Leader).To(Equal(l.id))

	// A conditional write's failure is a result, not an error.
	res, err := l.groups[4].Write(ctx, engine.Op{Kind: engine.OpPut, Key: []byte("k"), Value: []byte("y"),
		Cond: kv.Precondition{Kind: kv.CondAbsent}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Err).To(MatchError(engine.ErrConditionFailed))

	// Leadership moves to an up-to-date voter on request.
	var n *testNode
	eventually(g, func() string {
		if n = c.leader(4); n != nil && n.id == l.id {
			_ = l.groups[4].TransferLeadership(ctx)
		}
		if n == nil {
			return l.id
		}
		return n.id
	}).ShouldNot(Equal(l.id))
	g.Expect(readLeader(g, c, 4, "k")).To(Equal("v"))
	_, err = l.groups[4].Write(ctx, engine.Op{Kind: engine.OpDelete, Key: []byte("k")})
	g.Expect(errors.Is(err, ErrNotLeader)).To(BeTrue(), "the old leader refuses writes")
}

func TestRestartedReplicaCatchesUpAtNewAddress(t *testing.T) {
	g := NewWithT(t)
	c := newTestCluster(t)
	c.startGroup(nodes3, 5, 6)
	l := waitLeader(g, c, 5)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g.Expect(c.put(ctx, 5, "before", "1")).To(Succeed())
	var f string
	for _, id := range nodes3 {
		if id != l.id {
			f = id
		}
	}
	c.stop(f)
	for i := range 20 {
		g.Expect(c.put(ctx, 5, fmt.Sprint("while-down-", i), "x")).To(Succeed())
	}
	// The node comes back on a new port (a new pod IP); its peers resolve it anew.
	n := c.start(f, 5, 6)
	for i := range 20 {
		eventually(g, func() (string, error) { return get(n, 5, fmt.Sprint("while-down-", i), true) }).Should(Equal("x"))
	}
	g.Expect(get(n, 5, "before", true)).To(Equal("1"))
	eventually(g, func() uint64 { return n.groups[5].Status().AppliedIndex }).
		Should(Equal(c.leader(5).groups[5].Status().AppliedIndex))
}

func TestMembershipChangesAndSnapshotCatchUp(t *testing.T) {
	onEachTransport(t, membershipChangesAndSnapshotCatchUp)
}

func membershipChangesAndSnapshotCatchUp(t *testing.T, c *testCluster) {
	g := NewWithT(t)
	const shard = 7
	c.startGroup(nodes3, shard)
	waitLeader(g, c, shard)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range 50 {
		g.Expect(c.put(ctx, shard, fmt.Sprint("k", i), fmt.Sprint(i))).To(Succeed())
	}
	// Compact every replica's log behind a snapshot: whoever leads, a new member cannot
	// catch up from the log alone.
	for _, id := range nodes3 {
		grp := c.node(id).groups[shard]
		eventually(g, func() uint64 { return grp.Status().AppliedIndex }).Should(BeNumerically(">", 50))
		g.Expect(grp.Snapshot()).To(Succeed())
	}

	n4 := c.start("n4", shard)
	st := n4.groups[shard].Status()
	g.Expect(st.Voters).To(BeEmpty(), "a new replica waits to be added")
	onLeader(g, c, shard, func(l *Group) error { return l.AddLearner(ctx, n4.member()) })
	for i := range 50 {
		eventually(g, func() (string, error) { return get(n4, shard, fmt.Sprint("k", i), true) }).Should(Equal(fmt.Sprint(i)))
	}
	// The data is restored before Raft's storage takes the snapshot's metadata.
	eventually(g, func() (uint64, error) {
		snap, err := n4.groups[shard].ms.Snapshot()
		return snap.GetMetadata().GetIndex(), err
	}).Should(BeNumerically(">", 8), "n4 caught up from an installed snapshot")
	incoming, err := os.ReadDir(filepath.Join(c.root, "n4", "raft", "incoming"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(incoming).To(BeEmpty(), "the received snapshot's file is deleted once restored")
	eventually(g, func() shardmap.Role { return n4.groups[shard].Status().Role }).Should(Equal(shardmap.RoleLearner))
	st = n4.groups[shard].Status()
	g.Expect(st.Learners).To(ConsistOf("n4"))
	g.Expect(st.Voters).To(ConsistOf(nodes3))

	onLeader(g, c, shard, func(l *Group) error { return l.Promote(ctx, "n4") })
	l := waitLeader(g, c, shard)
	victim := otherThan(nodes3, l.id)
	onLeader(g, c, shard, func(l *Group) error { return l.RemoveServer(ctx, victim) })
	want := []string{"n4"}
	for _, id := range nodes3 {
		if id != victim {
			want = append(want, id)
		}
	}
	eventually(g, func() []string { return c.leader(shard).groups[shard].Status().Voters }).Should(ConsistOf(want))
	eventually(g, func() []string { return n4.groups[shard].Status().Voters }).Should(ConsistOf(want))
	eventually(g, func() shardmap.Role { return n4.groups[shard].Status().Role }).Should(Equal(shardmap.RoleFollower))

	// The new member takes over leadership and the shrunk group keeps committing.
	// A transfer fails if the target does not win within an election timeout (a busy
	// machine); it is safe to ask again.
	eventually(g, func() error {
		if n4.groups[shard].IsLeader() {
			return nil
		}
		if cur := c.leader(shard); cur != nil {
			_ = cur.groups[shard].TransferLeadershipTo(ctx, "n4")
		}
		return errors.New("n4 does not lead yet")
	}).Should(Succeed())
	c.stop(victim)
	g.Expect(c.put(ctx, shard, "after", "x")).To(Succeed())
	g.Expect(readLeader(g, c, shard, "after")).To(Equal("x"))
	g.Expect(readLeader(g, c, shard, "k49")).To(Equal("49"))
}

func TestOpenRefusesStaleEngineData(t *testing.T) {
	g := NewWithT(t)
	eng := openEngine(t)
	_, err := eng.Apply(9, []engine.Op{{Kind: engine.OpPut, Key: []byte("k"), Value: []byte("v")}},
		engine.ApplyOptions{AppliedIndex: 12})
	g.Expect(err).NotTo(HaveOccurred())
	host := testHost(t, eng)
	_, err = host.Open(9, nil)
	g.Expect(errors.Is(err, ErrStaleData)).To(BeTrue(), "err = %v", err)
	g.Expect(host.group(9)).To(BeNil(), "the refused shard is not left in the loop")
}

func TestWholeGroupRestartKeepsEveryWrite(t *testing.T) {
	g := NewWithT(t)
	c := newTestCluster(t)
	const shard = 8
	c.startGroup(nodes3, shard)
	waitLeader(g, c, shard)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range 30 {
		g.Expect(c.put(ctx, shard, fmt.Sprint("k", i), fmt.Sprint(i))).To(Succeed())
	}
	g.Expect(waitLeader(g, c, shard).groups[shard].Snapshot()).To(Succeed())
	for i := 30; i < 40; i++ {
		g.Expect(c.put(ctx, shard, fmt.Sprint("k", i), fmt.Sprint(i))).To(Succeed())
	}
	l := waitLeader(g, c, shard)
	want := l.groups[shard].Status()
	for _, id := range nodes3 {
		n := c.node(id)
		eventually(g, func() uint64 { return n.groups[shard].Status().Revision }).Should(Equal(want.Revision))
	}
	for _, id := range nodes3 {
		c.stop(id)
	}
	for _, id := range nodes3 {
		c.start(id, shard)
	}
	waitLeader(g, c, shard)
	for i := range 40 {
		g.Expect(readLeader(g, c, shard, fmt.Sprint("k", i))).To(Equal(fmt.Sprint(i)))
	}
	// Replay after the restart applied nothing twice: same revision, same key count.
	for _, id := range nodes3 {
		n := c.node(id)
		eventually(g, func() []any {
			st := n.groups[shard].Status()
			return []any{st.Revision, st.Keys}
		}).Should(Equal([]any{want.Revision, want.Keys}), "node %s", id)
	}
}

// replica is the node package's Replica interface, which Group must keep satisfying.
type replica interface {
	Get(ctx context.Context, key []byte, stale bool) (engine.Value, error)
	Write(ctx context.Context, op engine.Op) (engine.Result, error)
	Txn(ctx context.Context, ops []engine.Op) ([]engine.Result, error)
	List(ctx context.Context, prefix, after []byte, limit int, stale bool) (keys [][]byte, more bool, err error)
	Status() shardmap.ShardStatus
	Close() error
}

var _ replica = (*Group)(nil)

// TestReplicaRecoversLostEngineTail simulates a crash that loses the engine's unsynced
// applies: the engine comes back older than the Raft log. The replica replays the log. If
// the engine is older than the log's compaction point (which a crash cannot cause: a
// compaction point is written only once the engine holds what it covers durably), the
// entries in between are lost and the replica refuses to open rather than serve a hole.
func TestReplicaRecoversLostEngineTail(t *testing.T) {
	tests := []struct {
		name     string
		snapshot bool // the replica compacted its log past its engine's state
	}{
		{"replay from the log", false},
		{"refuse data older than the compaction point", true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			c := newTestCluster(t)
			shard := 10 + i
			c.startGroup(nodes3, shard)
			l := waitLeader(g, c, shard)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var f string
			for _, id := range nodes3 {
				if id != l.id {
					f = id
				}
			}
			caughtUp := func() {
				want := c.leader(shard).groups[shard].Status().Revision
				eventually(g, func() uint64 { return c.node(f).groups[shard].Status().Revision }).Should(Equal(want))
			}
			for i := range 10 {
				g.Expect(c.put(ctx, shard, fmt.Sprint("k", i), "old")).To(Succeed())
			}
			caughtUp()
			var early bytes.Buffer
			g.Expect(c.node(f).eng.SnapshotShard(shard, &early)).To(Succeed())
			for i := range 20 {
				g.Expect(c.put(ctx, shard, fmt.Sprint("k", i), "new")).To(Succeed())
			}
			caughtUp()
			if tt.snapshot {
				g.Expect(c.node(f).groups[shard].Snapshot()).To(Succeed())
			}
			want := c.node(f).groups[shard].Status()
			c.stop(f)

			eng, err := engine.Open(filepath.Join(c.root, f, "engine"), engine.Options{})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(eng.RestoreShard(shard, &early)).To(Succeed())
			if tt.snapshot {
				h := testHostIn(t, eng, filepath.Join(c.root, f, "raft-log"), func(hc *HostConfig) { hc.NodeID = f })
				_, err := h.Open(shard, nil)
				g.Expect(errors.Is(err, ErrStaleData)).To(BeTrue(), "err = %v", err)
				g.Expect(err).To(MatchError(ContainSubstring("older than its Raft log's compaction point")))
				return
			}
			g.Expect(eng.Close()).To(Succeed())

			n := c.start(f, shard)
			eventually(g, func() []any {
				st := n.groups[shard].Status()
				return []any{st.Revision, st.Keys, st.Bytes}
			}).Should(Equal([]any{want.Revision, want.Keys, want.Bytes}))
			for i := range 20 {
				g.Expect(get(n, shard, fmt.Sprint("k", i), true)).To(Equal("new"))
			}
		})
	}
}

// TestRestoreHoldsUpOnlyItsGroup: while n4 restores a snapshot of shard 7 (held open by a
// hook), shard 8, which needs n4's vote and acknowledgements once n2 is gone, keeps electing
// and committing; once the restore is let go, n4 has shard 7's data.
func TestRestoreHoldsUpOnlyItsGroup(t *testing.T) {
	g := NewWithT(t)
	c := newTestCluster(t)
	for _, id := range []string{"n1", "n2", "n3"} {
		c.start(id, 7, 8)
	}
	n4 := c.start("n4", 7, 8)
	entered := make(chan struct{})
	release := make(chan struct{})
	letGo := sync.OnceFunc(func() { close(release) })
	t.Cleanup(letGo) // before the cluster stops, even if the test fails first
	n4.host.restoreHook = func(shard int) {
		if shard == 7 {
			close(entered)
			<-release
		}
	}
	for _, id := range nodes3 {
		g.Expect(c.node(id).groups[7].Bootstrap(c.members(nodes3...))).To(Succeed())
	}
	for _, id := range []string{"n1", "n2", "n4"} {
		g.Expect(c.node(id).groups[8].Bootstrap(c.members("n1", "n2", "n4"))).To(Succeed())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	waitLeader(g, c, 7)
	for i := range 30 {
		g.Expect(c.put(ctx, 7, fmt.Sprint("k", i), fmt.Sprint(i))).To(Succeed())
	}
	for _, id := range nodes3 {
		grp := c.node(id).groups[7]
		eventually(g, func() uint64 { return grp.Status().AppliedIndex }).Should(BeNumerically(">", 30))
		g.Expect(grp.Snapshot()).To(Succeed())
	}
	onLeader(g, c, 7, func(l *Group) error { return l.AddLearner(ctx, n4.member()) })
	g.Eventually(entered).WithTimeout(20*time.Second).Should(BeClosed(), "n4 starts restoring shard 7")

	c.stop("n2") // shard 8 now needs n4 for every election and commit
	for i := range 10 {
		g.Expect(c.put(ctx, 8, fmt.Sprint("x", i), "y")).To(Succeed(), "shard 8 commits while n4 restores shard 7")
	}
	_, err := get(n4, 7, "k29", true)
	g.Expect(errors.Is(err, engine.ErrNotFound)).To(BeTrue(), "shard 7 is still being restored: err = %v", err)

	letGo()
	eventually(g, func() (string, error) { return get(n4, 7, "k29", true) }).Should(Equal("29"))
	eventually(g, func() shardmap.Role { return n4.groups[7].Status().Role }).Should(Equal(shardmap.RoleLearner))
}

// TestOnlyPersistentStateWaitsForFsync checks which writes the syncer fsyncs: a write's log
// entry must be durable before Raft counts it, but a hard state that only moves the commit
// index need not be (raft.MustSync). Writes one at a time to a 3-node group, each once
// every follower knows it committed: a follower stores the entry (one fsync), then learns
// the commit from an empty append whose acknowledgement needs no fsync (syncing it too
// took two fsyncs per write).
func TestOnlyPersistentStateWaitsForFsync(t *testing.T) {
	g := NewWithT(t)
	c := newTestCluster(t)
	c.durable = true
	const shard, writes = 3, 30
	c.startGroup(nodes3, shard)
	l := waitLeader(g, c, shard)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g.Expect(c.put(ctx, shard, "first", "v")).To(Succeed()) // the leader's first entry is applied
	committed := func() {
		want := l.groups[shard].Status().CommitIndex
		for _, id := range nodes3 {
			eventually(g, func() uint64 { return c.node(id).groups[shard].Status().CommitIndex }).Should(Equal(want))
		}
	}
	committed()
	before := map[string]uint64{}
	for _, id := range nodes3 {
		before[id] = c.node(id).host.Stats().Fsyncs
	}
	for i := range writes {
		_, err := l.groups[shard].Write(ctx, engine.Op{Kind: engine.OpPut, Key: fmt.Appendf(nil, "k%d", i), Value: []byte("v")})
		g.Expect(err).NotTo(HaveOccurred())
		committed()
	}
	for _, id := range nodes3 {
		// NB: an election meanwhile (a loaded machine) would add a few for its term and vote.
		g.Expect(c.node(id).host.Stats().Fsyncs-before[id]).To(BeNumerically("<=", writes+2), "fsyncs of %s", id)
	}
}

// TestIdleGroupStopsPinningLogSegments: a group that wrote once and then stayed idle would
// keep the Raft log's segment holding its entries, and so every segment since, for ever;
// the loop cuts a group's log back (no trailing entries) once it holds segments more than
// two behind the current one, and they are removed. Data and later writes are intact.
func TestIdleGroupStopsPinningLogSegments(t *testing.T) {
	g := NewWithT(t)
	eng := openEngine(t)
	h := testHostIn(t, eng, t.TempDir(), func(c *HostConfig) { c.LogSegmentSize = 16 << 10 })
	const idle, busy = 1, 2
	groups := map[int]*Group{}
	for _, shard := range []int{idle, busy} {
		grp, err := h.Open(shard, nil)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(grp.Bootstrap(selfMember(h))).To(Succeed())
		groups[shard] = grp
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	write := func(shard int, key string) {
		t.Helper()
		eventually(g, func() error {
			_, err := groups[shard].Write(ctx, engine.Op{Kind: engine.OpPut, Key: []byte(key), Value: make([]byte, 512)})
			return err
		}).Should(Succeed())
	}
	write(idle, "once")
	for i := range 400 { // about 13 segments of 16 KiB
		write(busy, fmt.Sprint("k", i))
	}
	// NB: the test config compacts only on request, so both groups pin segments until the
	// loop cuts them back.
	eventually(g, func() []int { return h.rlog.Pinning(pinnedSegments) }).Should(BeEmpty())
	eventually(g, func() int { return h.Stats().Log.Segments }).Should(BeNumerically("<=", pinnedSegments+2))
	g.Expect(h.Stats().Log.SegmentsRemoved).To(BeNumerically(">=", 8))
	first, err := groups[idle].ms.FirstIndex()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(first).To(Equal(groups[idle].applied.Load()+1), "the idle group's log holds no trailing entries")
	v, err := groups[idle].Get(ctx, []byte("once"), false)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(v.Data).To(HaveLen(512))
	write(idle, "again")
}

// TestReplicaDeletedAndHostedAgain: a replica removed from its group deletes its data and
// Raft state; when the map brings the shard back to the node (without a restart), it opens
// empty, to be added by the leader, instead of finding the deleted state.
func TestReplicaDeletedAndHostedAgain(t *testing.T) {
	g := NewWithT(t)
	eng := openEngine(t)
	logDir := t.TempDir()
	const shard = 6
	h := testHostIn(t, eng, logDir)
	grp := idleGroup(t, h, shard)
	g.Expect(grp.Bootstrap(selfMember(h))).To(Succeed())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	eventually(g, func() error { _, err := grp.Write(ctx, putOp("k", "v")); return err }).Should(Succeed())
	g.Expect(grp.Snapshot()).To(Succeed()) // a compaction point the engine's data must not fall behind
	// The node restarts: the replica's state comes from what the log recovered.
	g.Expect(grp.Close()).To(Succeed())
	g.Expect(h.Close()).To(Succeed())
	h = testHostIn(t, eng, logDir)
	grp = idleGroup(t, h, shard)
	g.Expect(grp.Status().Term).NotTo(BeZero())

	g.Expect(grp.Close()).To(Succeed())
	g.Expect(eng.DeleteShard(shard)).To(Succeed())
	g.Expect(h.DeleteRaftState(shard)).To(Succeed())
	grp = idleGroup(t, h, shard)
	st := grp.Status()
	g.Expect([]any{st.Term, st.CommitIndex, st.Voters}).To(Equal([]any{uint64(0), uint64(0), []string(nil)}), "no state left")

	// And after a restart of the node, too.
	g.Expect(grp.Close()).To(Succeed())
	g.Expect(h.Close()).To(Succeed())
	h = testHostIn(t, eng, logDir)
	grp = idleGroup(t, h, shard)
	g.Expect(grp.Status().Term).To(BeZero())
}

// A write handed to Raft on a leader that then loses its leadership gets a known outcome:
// here the leader is cut off with the write in flight, the others elect a leader and write
// on; once the old leader hears of the new term its entry cannot commit, and the write is
// answered not-leader (nothing done, safe to send again), not "outcome unknown".
func TestWriteOnADeposedLeaderIsRefusedOnceItCannotCommit(t *testing.T) {
	onEachTransport(t, writeOnADeposedLeaderIsRefusedOnceItCannotCommit)
}

func writeOnADeposedLeaderIsRefusedOnceItCannotCommit(t *testing.T, c *testCluster) {
	g := NewWithT(t)
	c.startGroup(nodes3, 0)
	old := waitLeader(g, c, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	g.Expect(c.put(ctx, 0, "before", "1")).To(Succeed())

	c.cut(old.id)
	errc := make(chan error, 1)
	go func() {
		_, err := old.groups[0].Write(ctx, engine.Op{Kind: engine.OpPut, Key: []byte("lost"), Value: []byte("x")})
		errc <- err
	}()
	eventually(g, func() *testNode { return c.leader(0) }).ShouldNot(SatisfyAny(BeNil(), Equal(old)))
	g.Expect(c.put(ctx, 0, "after", "2")).To(Succeed())
	c.heal(old.id)

	var err error
	eventually(g, errc).Should(Receive(&err))
	g.Expect(err).To(MatchError(ErrNotLeader), "the write's outcome is known: not applied")
	_, err = get(waitLeader(g, c, 0), 0, "lost", false)
	g.Expect(err).To(MatchError(engine.ErrNotFound))
	eventually(g, func() (string, error) { return get(old, 0, "after", true) }).Should(Equal("2"))
}

// A write left waiting on a replica that lost its leadership with it in flight is answered
// "outcome unknown", not not-leader, when that replica catches up from a snapshot: the
// snapshot may hold the write's entry, applied without the replica seeing it.
func TestOrphanedWriteIsUnknownAfterASnapshot(t *testing.T) {
	onEachTransport(t, orphanedWriteIsUnknownAfterASnapshot)
}

func orphanedWriteIsUnknownAfterASnapshot(t *testing.T, c *testCluster) {
	g := NewWithT(t)
	const shard = 3
	c.startGroup(nodes3, shard)
	l := waitLeader(g, c, shard)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	g.Expect(c.put(ctx, shard, "before", "1")).To(Succeed())
	f := c.node(otherThan(nodes3, l.id))
	eventually(g, func() (string, error) { return get(f, shard, "before", true) }).Should(Equal("1"))
	c.cut(f.id)

	// The waiter a lost leadership leaves behind: one of the replica's last applied term.
	fg := f.groups[shard]
	fg.mu.Lock()
	_, w := fg.newWaiter(false)
	w.term = fg.appliedTerm
	fg.orphans = true
	fg.mu.Unlock()

	// The others move to a later term, write on and compact their logs past the replica.
	other := ""
	for _, id := range nodes3 {
		if id != l.id && id != f.id {
			other = id
		}
	}
	eventually(g, func() error {
		switch n := c.leader(shard); {
		case n == nil:
			return errors.New("no leader")
		case n.id == other:
			return nil
		default:
			return n.groups[shard].TransferLeadershipTo(ctx, other)
		}
	}).Should(Succeed())
	for i := range 30 {
		g.Expect(c.put(ctx, shard, fmt.Sprint("k", i), "v")).To(Succeed())
	}
	for _, id := range nodes3 {
		if id == f.id {
			continue
		}
		grp := c.node(id).groups[shard]
		eventually(g, func() uint64 { return grp.Status().AppliedIndex }).Should(BeNumerically(">", 30))
		g.Expect(grp.Snapshot()).To(Succeed())
	}
	c.heal(f.id)
	// Entries after the snapshot's: the replica applies them once restored.
	eventually(g, func() (string, error) { return get(f, shard, "k29", true) }).Should(Equal("v"))
	g.Expect(c.put(ctx, shard, "after", "2")).To(Succeed())
	eventually(g, func() (string, error) { return get(f, shard, "after", true) }).Should(Equal("2"))

	var p proposal
	g.Expect(w.ch).To(Receive(&p))
	g.Expect(p.err).To(MatchError(ErrUnknownOutcome))
}

// TestLogIsCutBackByBytes: a group whose entries are large cuts its log back once the bytes
// applied pass SnapshotBytes, long before SnapshotThreshold entries, and keeps no more than
// TrailingBytes of trailing entries (plus the one entry that crosses it), on every replica;
// a replica that was away catches up from a snapshot and reads every value.
func TestLogIsCutBackByBytes(t *testing.T) {
	g := NewWithT(t)
	c := newTestCluster(t)
	c.config = func(cfg *Config) {
		cfg.SnapshotThreshold, cfg.TrailingLogs = 1<<30, 1024
		cfg.SnapshotBytes, cfg.TrailingBytes = 256<<10, 64<<10
	}
	const shard, size, writes = 3, 16 << 10, 64
	c.startGroup(nodes3, shard)
	waitLeader(g, c, shard)
	c.stop("n3")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	value := strings.Repeat("v", size)
	for i := range writes {
		g.Expect(c.put(ctx, shard, fmt.Sprint("k", i), fmt.Sprint(i, value))).To(Succeed())
	}
	held := func(grp *Group) (uint64, error) {
		first, err := grp.ms.FirstIndex()
		if err != nil {
			return 0, err
		}
		last, err := grp.ms.LastIndex()
		if err != nil || last < first {
			return 0, err
		}
		ents, err := grp.ms.Entries(first, last+1, math.MaxUint64)
		var n uint64
		for _, e := range ents {
			n += uint64(len(e.GetData()))
		}
		return n, err
	}
	for _, id := range []string{"n1", "n2"} {
		grp := c.node(id).groups[shard]
		eventually(g, func() uint64 { return grp.Status().AppliedIndex }).Should(BeNumerically(">=", writes))
		first, err := grp.ms.FirstIndex()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(first).To(BeNumerically(">", writes/2), "%s cut its log back by bytes", id)
		g.Expect(held(grp)).To(BeNumerically("<=", (256+64)<<10+2*size), "%s holds at most SnapshotBytes of entries since its last cut, and TrailingBytes before it", id)
	}
	n3 := c.start("n3", shard)
	for i := range writes {
		eventually(g, func() (string, error) { return get(n3, shard, fmt.Sprint("k", i), true) }).Should(Equal(fmt.Sprint(i, value)))
	}
	eventually(g, func() (uint64, error) {
		snap, err := n3.groups[shard].ms.Snapshot()
		return snap.GetMetadata().GetIndex(), err
	}).Should(BeNumerically(">", writes/2), "n3 caught up from a snapshot: the log no longer reached back to it")
}
