package replication

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/torua/torua/node/engine"
)

// testCluster runs Torua nodes in one process: each node has its own engine, data dir
// and Host on a 127.0.0.1 port (or on an in-memory network), and one Group per hosted
// shard. Nodes find each other through the cluster's address book, as real nodes do
// through the shard map.
type testCluster struct {
	t     testing.TB
	root  string
	mu    sync.Mutex
	addrs map[string]string
	nodes map[string]*testNode
	// cutOff nodes reach no one and no one reaches them (see cut).
	cutOff map[string]bool
	// config, if set, adjusts every node's Config.
	config func(*Config)
	// mem, if set, carries the Raft traffic instead of TCP (newMemCluster).
	mem *MemNetwork
	// durable makes the engines (and so the Raft logs, which sync with them) fsync; tests that only
	// stop processes cleanly leave it off to run faster.
	durable bool
}

type testNode struct {
	id     string
	eng    *engine.Engine
	host   *Host
	groups map[int]*Group
}

func newTestCluster(t testing.TB) *testCluster {
	c := &testCluster{t: t, root: t.TempDir(), addrs: map[string]string{}, nodes: map[string]*testNode{}, cutOff: map[string]bool{}}
	t.Cleanup(func() {
		c.mu.Lock()
		ids := make([]string, 0, len(c.nodes))
		for id := range c.nodes {
			ids = append(ids, id)
		}
		c.mu.Unlock()
		for _, id := range ids {
			c.stop(id)
		}
	})
	return c
}

// newMemCluster is newTestCluster on an in-memory network (MemNetwork).
func newMemCluster(t testing.TB) *testCluster {
	c := newTestCluster(t)
	c.mem = NewMemNetwork()
	return c
}

// onEachTransport runs test as subtest "tcp" on a newTestCluster and as "mem" on a
// newMemCluster: the groups behave the same over both transports.
func onEachTransport(t *testing.T, test func(t *testing.T, c *testCluster)) {
	t.Run("tcp", func(t *testing.T) { test(t, newTestCluster(t)) })
	t.Run("mem", func(t *testing.T) { test(t, newMemCluster(t)) })
}

// resolveFrom is from's view of the address book: nothing while either node is cut off.
func (c *testCluster) resolveFrom(from, id string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cutOff[from] || c.cutOff[id] {
		return "", fmt.Errorf("node %q is cut off from node %q", from, id)
	}
	if a, ok := c.addrs[id]; ok {
		return a, nil
	}
	return "", fmt.Errorf("node %q not in the map", id)
}

// cut partitions node id from every other node: no new connection to or from it resolves,
// and every pooled Raft connection of every running node is closed (on a MemNetwork: the
// node is isolated). Its groups keep running, as a node behind a broken network does.
func (c *testCluster) cut(id string) {
	c.mu.Lock()
	c.cutOff[id] = true
	if c.mem != nil {
		c.mem.Isolate(id)
		c.mu.Unlock()
		return
	}
	nodes := make([]*testNode, 0, len(c.nodes))
	for _, n := range c.nodes {
		nodes = append(nodes, n)
	}
	c.mu.Unlock()
	for _, n := range nodes {
		n.host.trans.(*tcpTransport).dropConns()
	}
}

// heal undoes cut(id).
func (c *testCluster) heal(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cutOff[id] = false
	if c.mem != nil {
		c.mem.Reconnect(id)
	}
}

// dropConns closes every connection of the transport, outgoing and accepted.
func (t *tcpTransport) dropConns() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.peers {
		if p.w != nil {
			t.drop(p, errors.New("dropped by the test"))
		}
	}
	for nc := range t.conns {
		_ = nc.Close()
	}
}

func testGroupConfig() Config {
	return Config{
		HeartbeatTimeout: 250 * time.Millisecond,
		ApplyTimeout:     5 * time.Second,
		// Compaction only when a test asks; few trailing entries, so that a new member
		// must catch up from a snapshot.
		SnapshotThreshold: 1 << 30,
		TrailingLogs:      8,
		RaftLogLevel:      "off",
	}
}

// start starts node id (again, on a fresh port, if it ran before) hosting shards.
func (c *testCluster) start(id string, shards ...int) *testNode {
	c.t.Helper()
	dir := filepath.Join(c.root, id)
	eng, err := engine.Open(filepath.Join(dir, "engine"), engine.Options{NoSync: !c.durable})
	if err != nil {
		c.t.Fatal(err)
	}
	cfg := testGroupConfig()
	if c.config != nil {
		c.config(&cfg)
	}
	host, err := Listen(HostConfig{Listen: "127.0.0.1:0", Network: c.mem, NodeID: id, Storage: eng, Dir: filepath.Join(dir, "raft"), LogDir: filepath.Join(dir, "raft-log"),
		Resolve: func(to string) (string, error) { return c.resolveFrom(id, to) }, Raft: cfg})
	if err != nil {
		c.t.Fatal(err)
	}
	n := &testNode{id: id, eng: eng, host: host, groups: map[int]*Group{}}
	for _, shard := range shards {
		g, err := host.Open(shard, nil)
		if err != nil {
			c.t.Fatal(err)
		}
		n.groups[shard] = g
	}
	c.mu.Lock()
	c.addrs[id] = host.Addr().String()
	c.nodes[id] = n
	c.mu.Unlock()
	return n
}

// startGroup starts a 3-node group per shard on nodes n1..n3 and bootstraps them.
func (c *testCluster) startGroup(ids []string, shards ...int) {
	c.t.Helper()
	for _, id := range ids {
		c.start(id, shards...)
	}
	for _, id := range ids {
		for _, shard := range shards {
			if err := c.node(id).groups[shard].Bootstrap(c.members(ids...)); err != nil {
				c.t.Fatal(err)
			}
		}
	}
}

// stop stops node id as a crash of its process would, from its peers' point of view.
func (c *testCluster) stop(id string) {
	c.mu.Lock()
	n := c.nodes[id]
	delete(c.nodes, id)
	c.mu.Unlock()
	if n == nil {
		return
	}
	for _, g := range n.groups {
		if err := g.Close(); err != nil {
			c.t.Errorf("close %s shard %d: %v", id, g.shard, err)
		}
	}
	_ = n.host.Close()
	_ = n.eng.Close()
}

// members returns the running nodes ids as group members, with their Raft IDs.
func (c *testCluster) members(ids ...string) []Member {
	c.t.Helper()
	var out []Member
	for _, id := range ids {
		n := c.node(id)
		if n == nil {
			c.t.Fatalf("node %s is not running", id)
		}
		out = append(out, n.member())
	}
	return out
}

// member is the node as a group member.
func (n *testNode) member() Member { return Member{Node: n.id, ID: n.host.ID()} }

func (c *testCluster) node(id string) *testNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id]
}

// otherThan returns the first of ids that is not id.
func otherThan(ids []string, id string) string {
	for _, o := range ids {
		if o != id {
			return o
		}
	}
	return ""
}

// leader returns the running node that leads shard, or nil.
func (c *testCluster) leader(shard int) *testNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		if g := n.groups[shard]; g != nil && g.IsLeader() && !c.cutOff[n.id] {
			return n
		}
	}
	return nil
}

// put writes key=value through the shard's current leader, following leadership changes
// until ctx ends. It returns nil only for an acknowledged write. An unconditional put is
// idempotent, so it is retried after an unknown outcome too.
func (c *testCluster) put(ctx context.Context, shard int, key, value string) error {
	op := engine.Op{Kind: engine.OpPut, Key: []byte(key), Value: []byte(value)}
	for {
		var err error
		if n := c.leader(shard); n != nil {
			wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err = n.groups[shard].Write(wctx, op)
			cancel()
			if err == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("put %s: %w (last error %v)", key, ctx.Err(), err)
		case <-time.After(10 * time.Millisecond): // retry pacing, not a wait for a condition
		}
	}
}
