package replication

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/node/raftlog"
)

func openRaftLog(t *testing.T, dir string) *raftlog.Log {
	t.Helper()
	l, err := raftlog.Open(dir, raftlog.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func TestIdentityLivesInTheRaftLog(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	l := openRaftLog(t, dir)
	id, created, err := loadIdentity(l, "n1")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(created).To(BeTrue())
	g.Expect(id).NotTo(Equal(RaftID("n1")), "a new log gets a random Raft ID, not the name's hash")
	g.Expect(l.Close()).To(Succeed())

	l = openRaftLog(t, dir)
	again, created, err := loadIdentity(l, "n1")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(created).To(BeFalse())
	g.Expect(again).To(Equal(id), "the same log, the same Raft ID")
	g.Expect(l.Close()).To(Succeed())

	l = openRaftLog(t, dir)
	_, _, err = loadIdentity(l, "n2")
	g.Expect(err).To(MatchError(ContainSubstring(`the raft log belongs to node "n1", not "n2"`)))
	g.Expect(l.Close()).To(Succeed())

	other, _, err := loadIdentity(openRaftLog(t, t.TempDir()), "n1")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(other).NotTo(Equal(id), "a node that lost its log comes back with another Raft ID")

	// A log of an earlier version: shards, no identity. Its groups know the node by the
	// name's hash, which it keeps.
	legacy := openRaftLog(t, t.TempDir())
	g.Expect(legacy.Write([]raftlog.Write{{Shard: 3, Stable: []raftlog.StableValue{{Name: keyHardState, Value: []byte{}}}}})).To(Succeed())
	id, created, err = loadIdentity(legacy, "n1")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(created).To(BeTrue())
	g.Expect(id).To(Equal(RaftID("n1")))

	damagedDir := t.TempDir()
	damaged := openRaftLog(t, damagedDir)
	g.Expect(damaged.Write([]raftlog.Write{{Shard: raftlog.MetaShard, Stable: []raftlog.StableValue{
		{Name: identityNode, Value: []byte("n1")}, {Name: identityRaftID, Value: []byte{1, 2}}}}})).To(Succeed())
	g.Expect(damaged.Close()).To(Succeed())
	_, _, err = loadIdentity(openRaftLog(t, damagedDir), "n1")
	g.Expect(err).To(MatchError(raftlog.ErrCorrupt))
}

func TestMembersEncoding(t *testing.T) {
	g := NewWithT(t)
	members := []Member{{Node: "n1", ID: 0x0123456789abcdef}, {Node: "node-with-dashes-2", ID: 7}}
	g.Expect(splitMembers(joinMembers(members))).To(Equal(members))
	g.Expect(splitMembers([]byte("n1\nn2\n"))).To(Equal([]Member{{Node: "n1", ID: RaftID("n1")}, {Node: "n2", ID: RaftID("n2")}}),
		"lines of earlier versions are bare node IDs, known by the name's hash")
	g.Expect(splitMembers(nil)).To(BeEmpty())
}

// TestLostDiskNeverCountsAsTheOldMember: a replica that acknowledged writes loses its disk
// and restarts; with the only other holder of those writes down, the replica that missed
// them must not be elected with the wiped node's vote. Once the holder is back the writes are
// all there, and the wiped node, removed and added again as a new member, catches up.
func TestLostDiskNeverCountsAsTheOldMember(t *testing.T) {
	onEachTransport(t, lostDiskNeverCountsAsTheOldMember)
}

func lostDiskNeverCountsAsTheOldMember(t *testing.T, c *testCluster) {
	g := NewWithT(t)
	const shard = 0
	c.startGroup(nodes3, shard)
	holder := waitLeader(g, c, shard)
	var behind, wiped string
	for _, id := range nodes3 {
		switch {
		case id == holder.id:
		case behind == "":
			behind = id
		default:
			wiped = id
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	g.Expect(c.put(ctx, shard, "before", "0")).To(Succeed())

	By := func(what string) { t.Log(what) }
	By(fmt.Sprintf("cutting %s off, then writing through %s with %s", behind, holder.id, wiped))
	c.cut(behind)
	for i := range 20 {
		g.Expect(c.put(ctx, shard, fmt.Sprint("k", i), fmt.Sprint(i))).To(Succeed())
	}
	oldID := c.node(wiped).host.ID()

	By(fmt.Sprintf("restarting %s on an empty data directory, stopping %s, healing %s", wiped, holder.id, behind))
	c.stop(wiped)
	g.Expect(os.RemoveAll(filepath.Join(c.root, wiped))).To(Succeed())
	fresh := c.start(wiped, shard)
	_ = oldID
	c.stop(holder.id)
	c.heal(behind)

	// The node behind campaigns: its vote requests go to the wiped node's old Raft ID,
	// which the wiped node drops. No leader may be elected from the two.
	g.Eventually(func() uint64 { return fresh.host.Stats().MessagesMisaddressed }).WithTimeout(10*time.Second).
		Should(BeNumerically(">", 0), "the node behind asks the old member")
	g.Consistently(func() string {
		if l := c.leader(shard); l != nil {
			return l.id
		}
		return ""
	}).WithTimeout(3*time.Second).WithPolling(20*time.Millisecond).
		Should(BeEmpty(), "a leader elected without the holder would miss acknowledged writes")
	g.Expect(fresh.groups[shard].HasState()).To(BeFalse(), "the wiped node took no part")

	By("restarting the holder: every acknowledged write is there")
	c.start(holder.id, shard)
	for i := range 20 {
		g.Expect(readLeader(g, c, shard, fmt.Sprint("k", i))).To(Equal(fmt.Sprint(i)))
	}

	By("replacing the old member, as the node's reconciler does: remove it, add the node as a learner, promote it")
	eventually(g, func() ([]string, error) {
		l := c.leader(shard)
		if l == nil {
			return nil, errors.New("no leader")
		}
		m, err := l.groups[shard].Membership()
		return m.Inactive, err
	}).Should(ContainElement(wiped), "the leader hears nothing from the old member")
	onLeader(g, c, shard, func(l *Group) error {
		m, err := l.Membership()
		if err != nil || m.IDs[wiped] != oldID {
			return err
		}
		return l.RemoveServer(ctx, wiped)
	})
	onLeader(g, c, shard, func(l *Group) error { return l.AddLearner(ctx, fresh.member()) })
	for i := range 20 {
		eventually(g, func() (string, error) { return get(fresh, shard, fmt.Sprint("k", i), true) }).Should(Equal(fmt.Sprint(i)))
	}
	onLeader(g, c, shard, func(l *Group) error { return l.Promote(ctx, wiped) })
	eventually(g, func() []string { return fresh.groups[shard].Status().Voters }).Should(ConsistOf(nodes3))
	m, err := fresh.groups[shard].Membership()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(m.IDs).To(HaveKeyWithValue(wiped, fresh.host.ID()), "a voter again, with its new Raft ID")
}

// TestAddLearnerRefusesASecondRaftIDOfAMember: a node is a member once; its old member
// must go before it is added with a new Raft ID.
func TestAddLearnerRefusesASecondRaftIDOfAMember(t *testing.T) {
	g := NewWithT(t)
	h := testHost(t, openEngine(t))
	grp := idleGroup(t, h, 1)
	g.Expect(grp.Bootstrap(selfMember(h))).To(Succeed())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	eventually(g, func() error { return grp.AddLearner(ctx, Member{Node: "n2", ID: 100}) }).Should(Succeed())
	g.Expect(grp.AddLearner(ctx, Member{Node: "n2", ID: 200})).To(MatchError(ContainSubstring("remove that first")))
	g.Expect(grp.AddLearner(ctx, Member{Node: "n3"})).To(MatchError(ContainSubstring("a Raft ID")))
	other := idleGroup(t, h, 2)
	g.Expect(other.Bootstrap([]Member{{Node: "n1", ID: h.ID() + 1}})).To(MatchError(ContainSubstring("is not among the voters")),
		"a node founds a group only as itself")
}
