package replication

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/torua/torua/node/engine"
)

// Partitions and message loss on the in-memory network (MemNetwork): faults the TCP tests
// can only approximate, made exactly and without sockets.

// split cuts every link, both ways, between the nodes of minority and the others, and
// marks the minority cut off (testCluster.leader then looks on the majority side only).
func (c *testCluster) split(minority ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	in := map[string]bool{}
	for _, id := range minority {
		in[id] = true
		c.cutOff[id] = true
	}
	for id := range c.nodes {
		if in[id] {
			continue
		}
		for _, m := range minority {
			c.mem.Cut(id, m)
			c.mem.Cut(m, id)
		}
	}
}

// healAll ends every partition.
func (c *testCluster) healAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.cutOff)
	c.mem.Heal()
}

// expectSameData waits until every running replica of shard holds exactly want.
func expectSameData(g *WithT, c *testCluster, shard int, ids []string, want map[string]string) {
	for _, id := range ids {
		n := c.node(id)
		for k, v := range want {
			eventually(g, func() (string, error) { return get(n, shard, k, true) }).Should(Equal(v), "%s on %s", k, id)
		}
		keys, _, err := n.groups[shard].List(context.Background(), nil, nil, 1000, true)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(keys).To(HaveLen(len(want)), "%s holds no key that was not acknowledged", id)
	}
}

// A leader and one follower cut off from the three others of a five-node group: the
// majority elects a leader and commits; what the old leader is asked meanwhile is never
// acknowledged, and after the partition heals it is nowhere, while every acknowledged
// write is everywhere.
func TestMinorityPartitionLosesNothingAcknowledged(t *testing.T) {
	g := NewWithT(t)
	c := newMemCluster(t)
	nodes5 := []string{"n1", "n2", "n3", "n4", "n5"}
	const shard = 3
	c.startGroup(nodes5, shard)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	want := map[string]string{}
	for i := range 10 {
		k := fmt.Sprint("before-", i)
		g.Expect(c.put(ctx, shard, k, "1")).To(Succeed())
		want[k] = "1"
	}
	old := waitLeader(g, c, shard)
	follower := otherThan(nodes5, old.id)
	c.split(old.id, follower)

	// The old leader cannot commit: a write there is refused or its outcome is unknown,
	// never acknowledged.
	wctx, wcancel := context.WithTimeout(ctx, 3*time.Second)
	_, err := old.groups[shard].Write(wctx, engine.Op{Kind: engine.OpPut, Key: []byte("minority"), Value: []byte("x")})
	wcancel()
	g.Expect(err).To(HaveOccurred(), "a write on the minority side is not acknowledged")

	n := waitLeader(g, c, shard)
	g.Expect(n.id).NotTo(BeElementOf(old.id, follower))
	for i := range 10 {
		k := fmt.Sprint("majority-", i)
		g.Expect(c.put(ctx, shard, k, "2")).To(Succeed())
		want[k] = "2"
	}

	c.healAll()
	eventually(g, func() bool { return old.groups[shard].IsLeader() }).Should(BeFalse(), "the old leader steps down")
	expectSameData(g, c, shard, nodes5, want)
}

// A follower whose messages to the leader are lost while the leader's reach it (a one-way
// link failure) does not disrupt the group: it hears heartbeats, so it never campaigns,
// the leader commits with the other follower, and the follower catches up once its link
// carries again.
func TestOneWayLinkFailureDoesNotDisruptTheLeader(t *testing.T) {
	g := NewWithT(t)
	c := newMemCluster(t)
	const shard = 1
	c.startGroup(nodes3, shard)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	g.Expect(c.put(ctx, shard, "k0", "v")).To(Succeed())
	l := waitLeader(g, c, shard)
	term := l.groups[shard].Status().Term
	f := otherThan(nodes3, l.id)
	c.mem.Cut(f, l.id)

	want := map[string]string{"k0": "v"}
	for i := 1; i <= 30; i++ {
		k := fmt.Sprint("k", i)
		g.Expect(c.put(ctx, shard, k, "v")).To(Succeed())
		want[k] = "v"
	}
	// Several election timeouts pass while the link is down.
	g.Consistently(func() string {
		if cur := c.leader(shard); cur != nil {
			return fmt.Sprintf("%s in term %d", cur.id, cur.groups[shard].Status().Term)
		}
		return "no leader"
	}).WithTimeout(5 * l.host.cfg.HeartbeatTimeout).WithPolling(20 * time.Millisecond).Should(Equal(fmt.Sprintf("%s in term %d", l.id, term)))

	c.mem.Heal()
	expectSameData(g, c, shard, nodes3, want)
	g.Expect(l.groups[shard].Status().Term).To(Equal(term), "no election happened")
}

// Every link loses a quarter of its messages (snapshots aside), drawn from a seeded random
// source, while writes go on: Raft sends again, every write is eventually acknowledged, and
// the replicas end up with exactly the acknowledged data. (A fixed pattern such as "every
// third message" is no fair-loss link: it can drop each retry of one message forever.)
func TestLossyLinksLoseNoAcknowledgedWrite(t *testing.T) {
	g := NewWithT(t)
	c := newMemCluster(t)
	const shard = 2
	c.startGroup(nodes3, shard)
	waitLeader(g, c, shard)
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(17, 4))
	var dropped atomic.Uint64
	c.mem.Drop(func(from, to string, s int, m *pb.Message) bool {
		mu.Lock()
		defer mu.Unlock()
		if rng.Float64() < 0.25 {
			dropped.Add(1)
			return true
		}
		return false
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	want := map[string]string{}
	for i := range 40 {
		k := fmt.Sprint("k", i)
		g.Expect(c.put(ctx, shard, k, fmt.Sprint(i))).To(Succeed())
		want[k] = fmt.Sprint(i)
	}
	g.Expect(dropped.Load()).To(BeNumerically(">", 20), "the filter lost messages")
	c.mem.Drop(nil)
	expectSameData(g, c, shard, nodes3, want)
}
