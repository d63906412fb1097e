package process

import (
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/shardmap"
)

// Every test here runs a replicated cluster (3 nodes, RF 3, few shards so that elections are
// cheap) with clients that read, write and compare-and-set a dozen keys through the router
// while a fault happens, records their history, and at the end reads every key, checks the
// history for linearizability (porcupine) and lost acknowledged writes, and reads every key
// from every replica.
const (
	faultShards   = 4
	keysPerShard  = 3
	faultClients  = 6
	clientTimeout = 4 * time.Second
	// progressTimeout bounds how long the cluster may take to acknowledge a few writes.
	progressTimeout = 30 * time.Second
)

// startFaultTest starts a cluster and a workload through its router, and waits until the
// workload is under way.
func startFaultTest(t *testing.T, cfg rconfig) (*rcluster, *kvHistory, *workload, []string) {
	t.Helper()
	c := newRCluster(t, cfg)
	keys := c.keys("lin", keysPerShard)
	h := newHistory()
	w := startWorkload(h, workloadConfig{target: routerTarget(c.cluster), keys: keys, clients: faultClients, timeout: clientTimeout})
	// Registered after the processes: the clients stop before them.
	t.Cleanup(w.stop)
	waitAcked(t, h, 100, anyKey, progressTimeout, "before the fault")
	return c, h, w, keys
}

// probe runs clients directly against node n (not through the router) on the keys of the
// given shards: what it acknowledges enters the history like everything else.
func (c *rcluster) probe(h *kvHistory, n *node, keys []string, shards []int, clients, ops int, timeout time.Duration) *workload {
	mine := keysIn(keys, c.keysOf(shards))
	return startWorkload(h, workloadConfig{target: nodeTarget(n), keys: mine, clients: clients, timeout: timeout, ops: ops})
}

// keysIn returns the keys for which keep is true.
func keysIn(keys []string, keep func(string) bool) []string {
	var out []string
	for _, k := range keys {
		if keep(k) {
			out = append(out, k)
		}
	}
	return out
}

// TestReplicatedLeaderKilled SIGKILLs the node that leads the most shards: the others elect
// new leaders within failoverTimeout, the shards it led take writes again, and after a
// restart it catches up; no acknowledged write is lost and the history is linearizable.
func TestReplicatedLeaderKilled(t *testing.T) {
	c, h, w, keys := startFaultTest(t, rconfig{nodes: 3, shards: faultShards})
	before := c.waitLeaders(c.nodes, failoverTimeout)
	victim, led := c.mostLeading(before)
	t.Logf("killing %s, leader of shards %v", victim.id, led)

	victim.p.kill()
	killed := time.Now()
	after := c.waitLeaders(c.others(victim), failoverTimeout)
	t.Logf("new leaders %v %s after the kill", after, time.Since(killed).Round(time.Millisecond))
	for _, s := range led {
		if after[s].term <= before[s].term {
			t.Errorf("shard %d: leader %s has term %d, not above the killed leader's %d", s, after[s].id, after[s].term, before[s].term)
		}
	}
	waitAcked(t, h, 30, c.keysOf(led), progressTimeout, "to the killed leader's shards")

	c.restartNode(victim, c.m.Version)
	c.waitCaughtUp(victim, convergeTimeout)
	waitAcked(t, h, 30, anyKey, progressTimeout, "after the restart")
	c.finish(w, h, keys)
}

// TestReplicatedLeaderPaused stops the node that leads the most shards with SIGSTOP, so it
// keeps believing it leads them, and continues it once the others have elected new leaders.
// Clients that talk to it directly, some queued while it was stopped and some sent right
// after SIGCONT, must not get a stale read or an acknowledgement of a write it cannot commit.
func TestReplicatedLeaderPaused(t *testing.T) {
	c, h, w, keys := startFaultTest(t, rconfig{nodes: 3, shards: faultShards})
	before := c.waitLeaders(c.nodes, failoverTimeout)
	victim, led := c.mostLeading(before)
	var notLed []int
	for s := range c.shards {
		if before[s].id != victim.id {
			notLed = append(notLed, s)
		}
	}
	t.Logf("pausing %s, leader of shards %v", victim.id, led)

	pause(victim)
	paused := time.Now()
	t.Cleanup(func() { resume(victim) }) // so that a failed test can stop it
	// These requests wait in the stopped node's socket buffers until it continues.
	queued := c.probe(h, victim, keys, led, 2, 3, 20*time.Second)
	after := c.waitLeaders(c.others(victim), failoverTimeout)
	t.Logf("new leaders %v %s after SIGSTOP", after, time.Since(paused).Round(time.Millisecond))
	if len(notLed) > 0 {
		// The shared clients spend most of this time waiting on the stopped leader's shards, so
		// two more clients write only to shards whose leader runs.
		others := startWorkload(h, workloadConfig{target: routerTarget(c.cluster), keys: keysIn(keys, c.keysOf(notLed)), clients: 2, timeout: clientTimeout})
		waitAcked(t, h, 20, c.keysOf(notLed), progressTimeout, "to shards the stopped node did not lead")
		others.stop()
	}
	// Through the router too: the router pings every node and skips one that stops answering
	// (a stopped leader takes connections and answers nothing), so the shards the stopped node
	// led take writes again through their new leaders.
	waitAcked(t, h, 10, c.keysOf(led), progressTimeout, "to the stopped leader's shards through the router while it is stopped")
	t.Logf("the stopped leader's shards take writes through the router %s after SIGSTOP", time.Since(paused).Round(time.Millisecond))
	// The stopped node must be behind when it continues: write to the shards it led through
	// their new leaders directly.
	var direct []*workload
	for _, s := range led {
		direct = append(direct, startWorkload(h, workloadConfig{target: nodeTarget(c.node(after[s].id)),
			keys: keysIn(keys, c.keysOf([]int{s})), clients: 1, timeout: clientTimeout}))
	}
	waitAcked(t, h, 10*len(led), c.keysOf(led), progressTimeout, "to the stopped leader's shards through their new leaders")
	for _, w := range direct {
		w.stop()
	}

	resume(victim)
	resumed := c.probe(h, victim, keys, led, 3, 20, 5*time.Second)
	queued.wait()
	resumed.wait()
	t.Logf("requests straight to %s around SIGCONT: %s", victim.id, h.summaryVia(victim.id))
	c.waitLeaders(c.nodes, failoverTimeout)
	waitAcked(t, h, 30, c.keysOf(led), progressTimeout, "to the formerly stopped leader's shards after SIGCONT")
	c.waitCaughtUp(victim, convergeTimeout)
	c.finish(w, h, keys)
}

// TestReplicatedLeaderPartitioned cuts the Raft traffic of the node that leads the most
// shards (through the fault proxy: nothing from its IP, nothing to it) while its HTTP API
// stays reachable. The majority elects new leaders and takes writes, the cut-off leader steps
// down and acknowledges nothing to clients that talk to it directly; after the heal it
// rejoins and catches up.
func TestReplicatedLeaderPartitioned(t *testing.T) {
	c, h, w, keys := startFaultTest(t, rconfig{nodes: 3, shards: faultShards, proxy: true})
	before := c.waitLeaders(c.nodes, failoverTimeout)
	victim, led := c.mostLeading(before)
	t.Logf("partitioning %s, leader of shards %v", victim.id, led)

	c.proxy.partition(victim.id, c.raftIP(victim))
	cut := time.Now()
	// From the start: until it notices, the cut-off leader believes it leads.
	probes := c.probe(h, victim, keys, led, 2, 30, 5*time.Second)
	majority := c.others(victim)
	after := c.waitLeaders(majority, failoverTimeout)
	t.Logf("new leaders %v %s after the partition", after, time.Since(cut).Round(time.Millisecond))
	NewWithT(t).Eventually(func(g Gomega) {
		st, err := nodeStatus(victim)
		g.Expect(err).NotTo(HaveOccurred())
		for _, s := range st.Shards {
			g.Expect(s.Role).NotTo(Equal(shardmap.RoleLeader), "shard %d on the partitioned %s", s.Shard, victim.id)
		}
	}).WithTimeout(failoverTimeout).WithPolling(25*time.Millisecond).Should(Succeed(), "the partitioned %s stepped down", victim.id)
	t.Logf("%s stepped down from every shard %s after the partition", victim.id, time.Since(cut).Round(time.Millisecond))
	waitAcked(t, h, 30, c.keysOf(led), progressTimeout, "to the partitioned leader's shards, by the majority")
	probes.wait()
	t.Logf("requests straight to the partitioned %s: %s; the proxy refused or cut %d connections", victim.id, h.summaryVia(victim.id), c.proxy.refusedCount())

	c.proxy.heal()
	healed := time.Now()
	c.waitLeaders(c.nodes, failoverTimeout)
	c.waitCaughtUp(victim, convergeTimeout)
	t.Logf("%s rejoined and caught up %s after the heal", victim.id, time.Since(healed).Round(time.Millisecond))
	waitAcked(t, h, 30, anyKey, progressTimeout, "after the heal")
	c.finish(w, h, keys)
}

// TestReplicatedRestartAll SIGKILLs every node at once while clients write, starts them all
// again, and checks that the cluster comes back with every acknowledged write.
func TestReplicatedRestartAll(t *testing.T) {
	c, h, w, keys := startFaultTest(t, rconfig{nodes: 3, shards: faultShards})
	for _, n := range c.nodes {
		_ = syscall.Kill(-n.p.cmd.Process.Pid, syscall.SIGKILL)
	}
	for _, n := range c.nodes {
		n.p.kill() // waits for the exit
	}
	killed := time.Now()
	t.Logf("killed every node; %s", h.summary())
	// Start them all before waiting for any: a node may need a quorum to become ready.
	for _, n := range c.nodes {
		if !c.startNode(n) {
			t.Fatalf("restart %s: its address %s is taken", n.id, n.addr)
		}
	}
	for _, n := range c.nodes {
		c.waitNodeReady(n, c.m.Version)
	}
	c.waitLeaders(c.nodes, failoverTimeout)
	t.Logf("every shard has a leader %s after the kill", time.Since(killed).Round(time.Millisecond))
	waitAcked(t, h, 50, anyKey, progressTimeout, "after the restart")
	c.finish(w, h, keys)
}

// TestReplicatedMembershipChange changes the members under continuous writes: node-4 and
// node-5 join (map version 2) and the groups add them as learners, promote them and shed
// replicas until the map is carried out; then node-1 and node-2 drain (version 3: they hold
// no replica once the groups have moved theirs away) and leave the map (version 4) and stop.
func TestReplicatedMembershipChange(t *testing.T) {
	g := NewWithT(t)
	c, h, w, keys := startFaultTest(t, rconfig{nodes: 3, shards: faultShards})

	start := time.Now()
	n4, n5 := c.addNode(4), c.addNode(5)
	c.publish()
	c.waitNodeReady(n4, c.m.Version)
	c.waitNodeReady(n5, c.m.Version)
	c.waitPlacement(convergeTimeout)
	waitAcked(t, h, 30, anyKey, progressTimeout, "after node-4 and node-5 joined")

	leaving := []*node{c.node("node-1"), c.node("node-2")}
	for _, n := range leaving {
		c.states[n.id] = shardmap.NodeDraining
	}
	c.publish()
	for _, n := range leaving {
		g.Expect(c.m.ShardsOf(n.id)).To(BeEmpty(), "replicas left on the draining %s", n.id)
	}
	c.waitPlacement(convergeTimeout)
	waitAcked(t, h, 30, anyKey, progressTimeout, "after node-1 and node-2 drained")

	// Every node's status shows they hold no replicas (waitPlacement): take them out of the map.
	c.nodes = c.others(leaving...)
	for _, n := range leaving {
		delete(c.states, n.id)
	}
	c.publish()
	c.waitPlacement(convergeTimeout)
	for _, n := range leaving {
		n.p.stop(stopTimeout)
		g.Expect(n.p.cmd.ProcessState.ExitCode()).To(Equal(0), "exit code of the removed %s after SIGTERM", n.id)
	}
	waitAcked(t, h, 30, anyKey, progressTimeout, "after node-1 and node-2 left")
	t.Logf("membership changes done in %s", time.Since(start).Round(time.Millisecond))
	c.finish(w, h, keys)
}
