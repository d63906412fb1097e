package process

import (
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/shardmap"
)

const (
	// replicationFactor is the replica count of every shard in the replicated tests, unless
	// a test changes rcluster.rf.
	replicationFactor = 3
	// raftTimeout is the nodes' Raft heartbeat and election timeout: short, so that failover
	// takes well under a second when the machine is idle.
	raftTimeout = "300ms"
	// failoverTimeout bounds how long a shard may go without an agreed leader after a fault.
	failoverTimeout = 15 * time.Second
	// convergeTimeout bounds how long replicas may take to agree after the faults end, and
	// membership changes to be carried out.
	convergeTimeout = 45 * time.Second
)

// rcluster is a replicated cluster: `torua node` processes on 127.0.0.N with Raft ports, one
// `torua router`, and a shard map with replication factor 3. With a proxy, each node's map
// Raft address is its listener on the fault proxy (127.0.0.1N), which forwards to the node's
// real Raft port.
type rcluster struct {
	*cluster
	shards  int
	proxy   *faultProxy
	mapRaft map[string]string // node ID -> Raft address published in the map
	states  map[string]shardmap.NodeState
	rf      int // the replication factor publish places with
}

// rconfig configures newRCluster.
type rconfig struct {
	nodes  int
	shards int
	proxy  bool
}

// newRCluster starts cfg.nodes nodes (node-1 on 127.0.0.1, ...) and a router, publishes map
// version 1, and waits until every node is ready and every shard has a leader that all its
// replicas agree on. If the test fails, the node and router logs are copied to an artefact
// directory first (the test's temporary directory is removed).
func newRCluster(t *testing.T, cfg rconfig) *rcluster {
	t.Helper()
	c := &rcluster{
		cluster: &cluster{t: t, dir: t.TempDir()},
		shards:  cfg.shards,
		mapRaft: map[string]string{},
		states:  map[string]shardmap.NodeState{},
		rf:      replicationFactor,
	}
	c.mapPath = filepath.Join(c.dir, "shardmap.json")
	// Registered before any process starts, so it runs after every process has stopped.
	t.Cleanup(c.keepLogs)
	if cfg.proxy {
		c.proxy = newFaultProxy(t)
	}
	for i := 1; i <= cfg.nodes; i++ {
		c.addNode(i)
	}
	c.publish()
	c.startRouter()
	for _, n := range c.nodes {
		c.waitNodeReady(n, c.m.Version)
	}
	start := time.Now()
	c.waitLeaders(c.nodes, failoverTimeout)
	t.Logf("every shard of %d has a leader %s after the map was published", c.shards, time.Since(start).Round(time.Millisecond))
	return c
}

// addNode starts node-i on 127.0.0.i with a Raft port (and a proxy listener in front of it
// on 127.0.0.1i) and adds it to the cluster as an active member of the next map.
func (c *rcluster) addNode(i int) *node {
	c.t.Helper()
	n := &node{id: fmt.Sprintf("node-%d", i), host: fmt.Sprintf("127.0.0.%d", i)}
	n.dataDir = filepath.Join(c.dir, n.id)
	if err := os.MkdirAll(n.dataDir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	n.log = filepath.Join(n.dataDir, "node.log")
	started := false
	for range 3 {
		n.addr, n.raftAddr = freeAddr(c.t, n.host), freeAddr(c.t, n.host)
		n.extra = []string{"--raft-heartbeat-timeout", raftTimeout}
		if started = c.startNode(n); started {
			break
		}
	}
	if !started {
		c.t.Fatalf("%s found no free ports on %s in 3 attempts", n.id, n.host)
	}
	c.mapRaft[n.id] = n.raftAddr
	if c.proxy != nil {
		c.mapRaft[n.id] = c.proxy.add(n.id, fmt.Sprintf("127.0.0.1%d", i), n.raftAddr)
	}
	c.nodes = append(c.nodes, n)
	c.states[n.id] = shardmap.NodeActive
	return n
}

// publish places the shards over the cluster's members in their current states (RF c.rf)
// and writes the map file: the next version if anything changed.
func (c *rcluster) publish() {
	c.t.Helper()
	members := make([]shardmap.Node, 0, len(c.nodes))
	for _, n := range c.nodes {
		members = append(members, shardmap.Node{ID: n.id, API: n.addr, Raft: c.mapRaft[n.id], State: c.states[n.id]})
	}
	m, err := shardmap.Place(c.m, members, shardmap.PlaceConfig{Cluster: clusterName, Shards: c.shards, ReplicationFactor: c.rf})
	if err != nil {
		c.t.Fatalf("place shards: %v", err)
	}
	if err := shardmap.WriteFile(c.mapPath, m); err != nil {
		c.t.Fatalf("write shard map: %v", err)
	}
	c.m = m
	c.t.Logf("published map version %d: %s", m.Version, describeMap(m))
}

// describeMap lists each shard's replicas, e.g. "0:[node-1 node-2 node-3] 1:[...]".
func describeMap(m *shardmap.Map) string {
	parts := make([]string, len(m.Assignments))
	for i, a := range m.Assignments {
		parts[i] = fmt.Sprintf("%d:%v", a.Shard, a.Replicas)
	}
	return strings.Join(parts, " ")
}

// keepLogs copies every process's log to an artefact directory if the test failed, or
// always if $TORUA_TEST_KEEP_LOGS is set.
func (c *rcluster) keepLogs() {
	if !c.t.Failed() && os.Getenv("TORUA_TEST_KEEP_LOGS") == "" {
		return
	}
	logs, _ := filepath.Glob(filepath.Join(c.dir, "*", "node.log"))
	logs = append(logs, filepath.Join(c.dir, "router.log"), c.mapPath)
	dir := artefacts(c.t)
	for _, src := range logs {
		data, err := os.ReadFile(src)
		if err != nil {
			continue
		}
		name := strings.ReplaceAll(strings.TrimPrefix(src, c.dir+string(filepath.Separator)), string(filepath.Separator), "-")
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			c.t.Logf("keep %s: %v", src, err)
		}
	}
	c.t.Logf("logs and shard map kept in %s", dir)
}

// keys returns perShard keys of every shard under the current map, named prefix/kN.
func (c *rcluster) keys(prefix string, perShard int) []string {
	count := make([]int, c.shards)
	var out []string
	for i := 0; len(out) < perShard*c.shards; i++ {
		k := fmt.Sprintf("%s/k%d", prefix, i)
		if s := c.m.ShardFor([]byte(k)); count[s] < perShard {
			count[s]++
			out = append(out, k)
		}
	}
	return out
}

// keysOf returns a predicate true for keys of the given shards.
func (c *rcluster) keysOf(shards []int) func(string) bool {
	m := c.m
	return func(k string) bool { return slices.Contains(shards, m.ShardFor([]byte(k))) }
}

// statuses returns the /internal/status of each of nodes.
func statuses(nodes []*node) (map[string]shardmap.NodeStatus, error) {
	out := make(map[string]shardmap.NodeStatus, len(nodes))
	for _, n := range nodes {
		st, err := nodeStatus(n)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.id, err)
		}
		out[n.id] = st
	}
	return out, nil
}

// shardLeader is the leader of one shard as its replicas report it.
type shardLeader struct {
	id   string
	term uint64
}

// agreedLeaders asserts, through g, that every shard of the map has a leader among nodes and
// that every replica of it among nodes reports that leader and its term, and returns them.
func (c *rcluster) agreedLeaders(g Gomega, nodes []*node) map[int]shardLeader {
	sts, err := statuses(nodes)
	g.Expect(err).NotTo(HaveOccurred())
	out := map[int]shardLeader{}
	for shard := range c.shards {
		var lead shardLeader
		var views []string
		for _, st := range sts {
			for _, s := range st.Shards {
				if s.Shard != shard {
					continue
				}
				views = append(views, fmt.Sprintf("%s:%s(leader %q, term %d)", st.Node, s.Role, s.Leader, s.Term))
				if s.Role == "leader" && s.Term > lead.term {
					lead = shardLeader{id: st.Node, term: s.Term}
				}
			}
		}
		slices.Sort(views)
		g.Expect(lead.id).NotTo(BeEmpty(), "shard %d has no leader: %v", shard, views)
		for _, st := range sts {
			for _, s := range st.Shards {
				if s.Shard == shard {
					g.Expect(shardLeader{id: s.Leader, term: s.Term}).To(Equal(lead), "shard %d: replica on %s disagrees: %v", shard, st.Node, views)
				}
			}
		}
		out[shard] = lead
	}
	return out
}

// waitLeaders waits until agreedLeaders holds for nodes and returns the leaders.
func (c *rcluster) waitLeaders(nodes []*node, timeout time.Duration) map[int]shardLeader {
	c.t.Helper()
	var out map[int]shardLeader
	NewWithT(c.t).Eventually(func(g Gomega) {
		out = c.agreedLeaders(g, nodes)
	}).WithTimeout(timeout).WithPolling(25*time.Millisecond).Should(Succeed(), "every shard has an agreed leader among %v", ids(nodes))
	return out
}

// mostLeading returns the node that leads the most shards under leaders, and those shards.
func (c *rcluster) mostLeading(leaders map[int]shardLeader) (*node, []int) {
	c.t.Helper()
	led := map[string][]int{}
	for shard, l := range leaders {
		led[l.id] = append(led[l.id], shard)
	}
	var best *node
	for _, n := range c.nodes {
		if best == nil || len(led[n.id]) > len(led[best.id]) {
			best = n
		}
	}
	shards := led[best.id]
	slices.Sort(shards)
	return best, shards
}

// others returns the cluster's nodes except the given ones.
func (c *rcluster) others(except ...*node) []*node {
	return slices.DeleteFunc(slices.Clone(c.nodes), func(n *node) bool { return slices.Contains(except, n) })
}

// ids returns the IDs of nodes.
func ids(nodes []*node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.id
	}
	return out
}

// waitPlacement waits until the map is carried out: every node hosts exactly the shards the
// map gives it, each as a voter of a group whose voters are the map's replicas, without
// learners, under an agreed leader.
func (c *rcluster) waitPlacement(timeout time.Duration) {
	c.t.Helper()
	start := time.Now()
	NewWithT(c.t).Eventually(func(g Gomega) {
		sts, err := statuses(c.nodes)
		g.Expect(err).NotTo(HaveOccurred())
		for _, n := range c.nodes {
			st := sts[n.id]
			g.Expect(st.MapVersion).To(Equal(c.m.Version), "map version of %s", n.id)
			var hosted []int
			for _, s := range st.Shards {
				hosted = append(hosted, s.Shard)
				want := slices.Sorted(slices.Values(c.m.Replicas(s.Shard)))
				g.Expect(slices.Sorted(slices.Values(s.Voters))).To(Equal(want), "voters of shard %d on %s", s.Shard, n.id)
				g.Expect(s.Learners).To(BeEmpty(), "learners of shard %d on %s", s.Shard, n.id)
			}
			g.Expect(hosted).To(ConsistOf(asAny(c.m.ShardsOf(n.id))...), "shards hosted by %s", n.id)
		}
		c.agreedLeaders(g, c.nodes)
	}).WithTimeout(timeout).WithPolling(100*time.Millisecond).Should(Succeed(), "map version %d carried out", c.m.Version)
	c.t.Logf("map version %d carried out %s after it was published", c.m.Version, time.Since(start).Round(time.Millisecond))
}

// asAny converts ints for gomega's variadic matchers.
func asAny(xs []int) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// waitCaughtUp waits until n's replicas have applied everything their leaders had
// committed when the wait began.
func (c *rcluster) waitCaughtUp(n *node, timeout time.Duration) {
	c.t.Helper()
	g := NewWithT(c.t)
	var target map[int]uint64
	g.Eventually(func(g Gomega) {
		sts, err := statuses(c.nodes)
		g.Expect(err).NotTo(HaveOccurred())
		leaders := c.agreedLeaders(g, c.nodes)
		target = map[int]uint64{}
		for _, shard := range c.m.ShardsOf(n.id) {
			for _, s := range sts[leaders[shard].id].Shards {
				if s.Shard == shard {
					target[shard] = s.CommitIndex
				}
			}
		}
	}).WithTimeout(failoverTimeout).WithPolling(50*time.Millisecond).Should(Succeed(), "leaders' commit indexes")
	g.Eventually(func(g Gomega) {
		st, err := nodeStatus(n)
		g.Expect(err).NotTo(HaveOccurred())
		applied := map[int]uint64{}
		for _, s := range st.Shards {
			applied[s.Shard] = s.AppliedIndex
		}
		for shard, want := range target {
			g.Expect(applied).To(HaveKey(shard), "%s hosts shard %d", n.id, shard)
			g.Expect(applied[shard]).To(BeNumerically(">=", want), "applied index of shard %d on %s", shard, n.id)
		}
	}).WithTimeout(timeout).WithPolling(50*time.Millisecond).Should(Succeed(), "%s caught up with %v", n.id, target)
}

// finish stops w and checks the end state: once every replica of every shard (under the
// current map) has applied the same index and revision, every key read through the router
// (recorded in h) and with ?consistency=stale from each of its replicas gives one answer.
// Then it checks h for linearizability and lost writes against those final reads. NB: a
// write cut short when w stopped may still commit, so the final reads are retried until the
// replicas agree with them.
func (c *rcluster) finish(w *workload, h *kvHistory, keys []string) {
	c.t.Helper()
	w.stop()
	byID := map[string]*node{}
	for _, n := range c.nodes {
		byID[n.id] = n
	}
	var final map[string]kvOutput
	start := time.Now()
	// Errorf rather than Fatalf on a timeout: the history is checked either way.
	g := NewGomega(func(msg string, _ ...int) { c.t.Helper(); c.t.Errorf("%s", msg) })
	agreed := g.Eventually(func(g Gomega) {
		c.replicasAgree(g)
		final = map[string]kvOutput{}
		for _, key := range keys {
			want := finalRead(c.t, h, routerTarget(c.cluster), key, failoverTimeout)
			want.Detail = ""
			final[key] = want
			for _, id := range c.m.Replicas(c.m.ShardFor([]byte(key))) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				got := kvDo(ctx, h, staleTarget(byID[id]), kvInput{Op: opGet, Key: key})
				cancel()
				got.Detail = ""
				g.Expect(got).To(Equal(want), "stale read of %s on %s vs the final read through the router", key, id)
			}
		}
	}).WithTimeout(convergeTimeout).WithPolling(100*time.Millisecond).Should(Succeed(), "replicas agree with the final reads")
	if agreed {
		c.t.Logf("every replica agrees with the final reads of %d keys %s after the clients stopped", len(keys), time.Since(start).Round(time.Millisecond))
	} else {
		final = map[string]kvOutput{}
		for _, key := range keys {
			final[key] = finalRead(c.t, h, routerTarget(c.cluster), key, failoverTimeout)
		}
	}
	h.check(c.t, final)
}

// replicasAgree asserts, through g, that every replica of every shard reports the same applied
// index and revision, and that the replicas are those of the map.
func (c *rcluster) replicasAgree(g Gomega) {
	sts, err := statuses(c.nodes)
	g.Expect(err).NotTo(HaveOccurred())
	type progress struct{ Applied, Revision uint64 }
	byShard := map[int]map[string]progress{}
	for id, st := range sts {
		for _, s := range st.Shards {
			if byShard[s.Shard] == nil {
				byShard[s.Shard] = map[string]progress{}
			}
			byShard[s.Shard][id] = progress{s.AppliedIndex, s.Revision}
		}
	}
	for shard := range c.shards {
		got := byShard[shard]
		g.Expect(slices.Sorted(maps.Keys(got))).To(Equal(slices.Sorted(slices.Values(c.m.Replicas(shard)))), "replicas of shard %d", shard)
		for id, p := range got {
			g.Expect(p).To(Equal(got[c.m.Replicas(shard)[0]]), "shard %d: applied index and revision on %s vs the others: %v", shard, id, got)
		}
	}
}

// waitAcked waits until h holds n more acknowledged writes to the keys keep selects than it
// did when called.
func waitAcked(t *testing.T, h *kvHistory, n int, keep func(string) bool, timeout time.Duration, what string) {
	t.Helper()
	base := h.ackedWrites(keep)
	start := time.Now()
	NewWithT(t).Eventually(func() int { return h.ackedWrites(keep) - base }).
		WithTimeout(timeout).WithPolling(20*time.Millisecond).
		Should(BeNumerically(">=", n), "%d acknowledged writes %s (%s)", n, what, h.summary())
	t.Logf("%d writes acknowledged %s in %s", n, what, time.Since(start).Round(time.Millisecond))
}

// anyKey selects every key.
func anyKey(string) bool { return true }

// pause stops n with SIGSTOP: it keeps its sockets and state but runs no code.
func pause(n *node) { n.p.signal(syscall.SIGSTOP) }

// resume continues n after pause (SIGCONT).
func resume(n *node) { n.p.signal(syscall.SIGCONT) }

// raftIP returns the IP n dials its Raft connections from.
func (c *rcluster) raftIP(n *node) string {
	host, _, err := net.SplitHostPort(n.raftAddr)
	if err != nil {
		c.t.Fatalf("raft address of %s: %v", n.id, err)
	}
	return host
}
