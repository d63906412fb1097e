package replication

import (
	"context"
	"errors"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// leaseOf returns g's read lease.
func leaseOf(g *Group) readLease {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lease
}

// hasLease reports whether g holds a read lease for its current term right now.
func hasLease(g *Group) bool {
	l := leaseOf(g)
	return l.term != 0 && l.term == g.Term() && time.Now().Before(l.until)
}

// leasedGroup starts a group of three for shard 1, writes k=value through its leader and
// reads it until the leader holds a read lease; it returns the leader.
func leasedGroup(ctx context.Context, g *WithT, c *testCluster, value string) *testNode {
	c.startGroup(nodes3, 1)
	l := waitLeader(g, c, 1)
	g.Expect(c.put(ctx, 1, "k", value)).To(Succeed())
	eventually(g, func() (bool, error) {
		_, err := get(l, 1, "k", false)
		return hasLease(l.groups[1]), err
	}).Should(BeTrue(), "a linearizable read starts a lease")
	return l
}

func TestReadsTakeALeaseThatTransfersRevoke(t *testing.T) {
	g := NewWithT(t)
	c := newTestCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l := leasedGroup(ctx, g, c, "v1")
	lease := leaseOf(l.groups[1])
	g.Expect(time.Until(lease.until)).To(BeNumerically("<=", l.host.cfg.leaseDuration()))

	// Handing leadership away ends the lease before the new leader can be elected.
	g.Expect(l.groups[1].TransferLeadership(ctx)).To(Succeed())
	g.Expect(hasLease(l.groups[1])).To(BeFalse())
	_, err := get(l, 1, "k", false)
	g.Expect(errors.Is(err, ErrNotLeader)).To(BeTrue(), "err = %v", err)
	n := waitLeader(g, c, 1)
	g.Expect(n.id).NotTo(Equal(l.id))
	g.Expect(readLeader(g, c, 1, "k")).To(Equal("v1"))
}

// TestCutOffLeaderServesNoStaleRead cuts the leader off from its followers: they elect a
// new leader and write through it, and the old leader, which still believes it leads,
// never answers a linearizable read with the old value: its lease ends before the
// followers may vote for anyone else.
func TestCutOffLeaderServesNoStaleRead(t *testing.T) {
	onEachTransport(t, cutOffLeaderServesNoStaleRead)
}

func cutOffLeaderServesNoStaleRead(t *testing.T, c *testCluster) {
	g := NewWithT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	old := leasedGroup(ctx, g, c, "old")

	// Cut off: the old leader's group keeps running, and believes it leads for a while.
	c.cut(old.id)
	// Reads on the old leader race the election; every one that succeeds must be old,
	// and so must come before any write of the new leader.
	staleAfterWrite := make(chan string, 1)
	written := make(chan struct{})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			wrote := false
			select {
			case <-written:
				wrote = true
			default:
			}
			rctx, rcancel := context.WithTimeout(ctx, 100*time.Millisecond)
			v, err := old.groups[1].Get(rctx, []byte("k"), false)
			rcancel()
			if err == nil && wrote {
				staleAfterWrite <- string(v.Data)
				return
			}
		}
	}()
	n := waitLeader(g, c, 1) // a leader that is not cut off
	g.Expect(c.put(ctx, 1, "k", "new")).To(Succeed())
	close(written)
	// Long enough for any lease to have run out many times over.
	g.Consistently(staleAfterWrite).WithTimeout(3 * old.host.cfg.HeartbeatTimeout).ShouldNot(Receive())
	close(stop)
	<-done
	g.Expect(readLeader(g, c, 1, "k")).To(Equal("new"))
	g.Expect(n.id).NotTo(Equal(old.id))
}

func TestNoReadLeaseConfirmsEveryRead(t *testing.T) {
	g := NewWithT(t)
	c := newTestCluster(t)
	c.config = func(cfg *Config) { cfg.NoReadLease = true }
	c.startGroup(nodes3, 1)
	l := waitLeader(g, c, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g.Expect(c.put(ctx, 1, "k", "v")).To(Succeed())
	for range 20 {
		g.Expect(get(l, 1, "k", false)).To(Equal("v"))
	}
	g.Expect(leaseOf(l.groups[1])).To(BeZero())
	g.Expect(testGroupConfig().RestartQuietPeriod()).To(Equal(2 * testGroupConfig().HeartbeatTimeout))
	cfg := testGroupConfig()
	cfg.NoReadLease = true
	g.Expect(cfg.RestartQuietPeriod()).To(BeZero())
}

// TestQuietPeriodDropsRaftTraffic: a node in its quiet period takes part in nothing: a
// follower told to be quiet learns of a write only once the period is over.
func TestQuietPeriodDropsRaftTraffic(t *testing.T) {
	g := NewWithT(t)
	c := newTestCluster(t)
	c.startGroup(nodes3, 1)
	l := waitLeader(g, c, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := c.node(otherThan(nodes3, l.id))
	until := time.Now().Add(time.Second)
	f.host.QuietUntil(until)
	_, quiet := f.host.Quiet()
	g.Expect(quiet).To(BeTrue())
	g.Expect(c.put(ctx, 1, "k", "v")).To(Succeed())
	var seen time.Time
	eventually(g, func() (string, error) {
		v, err := get(f, 1, "k", true)
		seen = time.Now()
		return v, err
	}).Should(Equal("v"))
	g.Expect(seen).To(BeTemporally(">=", until), "the follower heard nothing while quiet")
	_, quiet = f.host.Quiet()
	g.Expect(quiet).To(BeFalse())
}
