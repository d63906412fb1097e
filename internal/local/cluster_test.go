package local

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/node/replication"
	"github.com/torua/torua/router/client"
	"github.com/torua/torua/shardmap"
)

// testRaft is Raft timing for groups on loopback in one test process.
var testRaft = replication.Config{HeartbeatTimeout: 200 * time.Millisecond, RaftLogLevel: "off"}

func testConfig(dir string, nodes int, out *bytes.Buffer) Config {
	return Config{DataDir: dir, Nodes: nodes, Shards: 4, ReplicationFactor: 2, Listen: "127.0.0.1:0", Raft: testRaft, Progress: out}
}

// recovered is the configuration of a restart that keeps the data directory's shape.
func recovered(dir string, nodes int, out *bytes.Buffer) Config {
	cfg := testConfig(dir, nodes, out)
	cfg.Shards, cfg.ReplicationFactor = 0, 0
	return cfg
}

// start starts a cluster and stops it when the test ends.
func start(ctx context.Context, t *testing.T, cfg Config) *Cluster {
	t.Helper()
	c, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start: %v\n%s", err, cfg.Progress)
	}
	t.Cleanup(func() { stop(t, c) })
	return c
}

func stop(t *testing.T, c *Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// checkKeys reads every key of want through the router.
func checkKeys(ctx context.Context, g *WithT, c *Cluster, want map[string]string) {
	cl, err := client.New(c.RouterURL(), client.WithTimeout(10*time.Second))
	g.Expect(err).NotTo(HaveOccurred())
	defer cl.Close()
	for k, v := range want {
		got, _, err := cl.Get(ctx, k)
		g.Expect(err).NotTo(HaveOccurred(), "get %q", k)
		g.Expect(string(got)).To(Equal(v), "get %q", k)
	}
}

// checkPlaced expects every shard of the cluster's map in place on its nodes.
func checkPlaced(g *WithT, c *Cluster) {
	p := c.progress(c.Map())
	g.Expect(p.NotInPlace()).To(BeZero(), "%+v", p.Shards)
	for _, sp := range p.Shards {
		n, ok := c.Node(sp.Leader)
		g.Expect(ok).To(BeTrue(), "shard %d led by %q, a running node", sp.Shard, sp.Leader)
		g.Expect(n.Status().Node).To(Equal(sp.Leader))
	}
}

// TestClusterLifecycle starts a cluster of three nodes on loopback, writes and reads keys
// through its router, drains a node while it runs, stops, restarts on the same data (the
// keys are there), grows to three nodes again and, on the next start with two, drains the
// third before the router starts.
func TestClusterLifecycle(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "data")

	var out bytes.Buffer
	c := start(ctx, t, testConfig(dir, 3, &out))
	g.Expect(out.String()).To(HavePrefix("Creating a cluster in " + dir + ": 3 nodes, 4 shards, replication factor 2\n"))
	for i := range 3 {
		g.Expect(out.String()).To(MatchRegexp(`\n  starting node-%d \.\.\. listening on 127\.0\.0\.1:\d+ \(raft 127\.0\.0\.1:\d+\)\n`, i))
	}
	g.Expect(out.String()).To(ContainSubstring("\n  shard map version 1: 4 shards over 3 nodes, replication factor 2\n" +
		"  waiting for the nodes to open their shards ... ready\n"))
	g.Expect(c.Map().Nodes).To(HaveLen(3))
	checkPlaced(g, c)

	cl, err := client.New(c.RouterURL(), client.WithTimeout(10*time.Second))
	g.Expect(err).NotTo(HaveOccurred())
	want := map[string]string{}
	for i := range 40 {
		k := fmt.Sprintf("local/%02d", i)
		want[k] = "value " + strconv.Itoa(i)
		_, err := cl.Put(ctx, k, []byte(want[k]))
		g.Expect(err).NotTo(HaveOccurred(), "put %q", k)
	}
	cl.Close()
	checkKeys(ctx, g, c, want)

	// Drain node-2 while the cluster runs.
	out.Reset()
	g.Expect(c.Drain(ctx, "node-2")).To(Succeed(), out.String())
	g.Expect(out.String()).To(ContainSubstring("  shard map version 2: 4 shards over 3 nodes, replication factor 2\n"))
	g.Expect(out.String()).To(HaveSuffix("  shard map version 3: 4 shards over 2 nodes, replication factor 2\n" +
		"  node-2 drained, stopped and removed\n"))
	g.Expect(c.Map().Version).To(Equal(uint64(3)))
	g.Expect(c.Map().Nodes).To(HaveLen(2))
	g.Expect(c.Map().ShardsOf("node-2")).To(BeEmpty())
	_, running := c.Node("node-2")
	g.Expect(running).To(BeFalse())
	g.Expect(filepath.Join(dir, "node-2")).NotTo(BeADirectory())
	checkPlaced(g, c)
	checkKeys(ctx, g, c, want)
	g.Expect(c.Drain(ctx, "node-1")).To(MatchError(shardmap.ErrNotEnoughNodes))
	g.Expect(c.Map().Version).To(Equal(uint64(3)), "nothing written")
	g.Expect(c.Drain(ctx, "node-7")).To(MatchError("drain node-7: no such node"))
	stop(t, c)

	// Restart on the same data, the shard count and replication factor kept from it; the
	// nodes listen on new ports, so the map changes.
	out.Reset()
	c = start(ctx, t, recovered(dir, 2, &out))
	g.Expect(out.String()).To(HavePrefix("Recovering the cluster in " + dir + " (shard map version 3)\n"))
	g.Expect(out.String()).To(ContainSubstring("  shard map version 4: 4 shards over 2 nodes, replication factor 2\n"))
	checkKeys(ctx, g, c, want)
	stop(t, c)

	// Grow to three nodes, then start with two: node-2 is drained before the router starts.
	out.Reset()
	c = start(ctx, t, recovered(dir, 3, &out))
	g.Expect(c.Map().Nodes).To(HaveLen(3))
	g.Expect(c.Map().ShardsOf("node-2")).NotTo(BeEmpty())
	checkPlaced(g, c)
	stop(t, c)
	out.Reset()
	c = start(ctx, t, recovered(dir, 2, &out))
	g.Expect(out.String()).To(MatchRegexp(`\n  starting node-2 \.\.\. listening on \S+ \(raft \S+\), draining\n`))
	g.Expect(out.String()).To(HaveSuffix("4 shards over 2 nodes, replication factor 2\n  node-2 drained, stopped and removed\n"))
	g.Expect(c.Map().Nodes).To(HaveLen(2))
	g.Expect(filepath.Join(dir, "node-2")).NotTo(BeADirectory())
	checkPlaced(g, c)
	checkKeys(ctx, g, c, want)
}

// TestStartRefuses: what Start refuses, it refuses before any node starts, leaving the data
// directory as it was.
func TestStartRefuses(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = taken.Close() }()
	noRaft, err := shardmap.Place(nil, []shardmap.Node{{ID: "node-0", API: "127.0.0.1:1", State: shardmap.NodeActive}},
		shardmap.PlaceConfig{Cluster: ClusterName, Shards: 4, ReplicationFactor: 1})
	if err != nil {
		t.Fatal(err)
	}
	withRaft, err := shardmap.Place(nil, []shardmap.Node{{ID: "node-0", API: "127.0.0.1:1", Raft: "127.0.0.1:2", State: shardmap.NodeActive}},
		shardmap.PlaceConfig{Cluster: ClusterName, Shards: 4, ReplicationFactor: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		prev   *shardmap.Map
		raw    string // the map file's content, when not prev
		mutate func(*Config)
		want   string
	}{
		{name: "no nodes", mutate: func(c *Config) { c.Nodes = 0 }, want: "--nodes must be at least 1, got 0"},
		{name: "more replicas than nodes", mutate: func(c *Config) { c.ReplicationFactor = 4 },
			want: "--replication-factor 4 needs between 1 and --nodes (3) replicas"},
		{name: "router address taken", mutate: func(c *Config) { c.Listen = taken.Addr().String() },
			want: "router address " + taken.Addr().String()},
		{name: "a map without raft addresses", prev: noRaft, want: "written by a Torua version without replication"},
		{name: "another shard count", prev: withRaft, mutate: func(c *Config) { c.Shards = 8 },
			want: "holds a cluster with 4 shards; the shard count cannot change"},
		{name: "a damaged map", raw: "{", want: "fix or remove it; the data directories are untouched"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			dir := t.TempDir()
			mapPath := filepath.Join(dir, MapFile)
			switch {
			case tc.prev != nil:
				g.Expect(shardmap.WriteFile(mapPath, tc.prev)).To(Succeed())
			case tc.raw != "":
				g.Expect(os.WriteFile(mapPath, []byte(tc.raw), 0o644)).To(Succeed())
			}
			before, _ := os.ReadFile(mapPath) // nil without a map
			var out bytes.Buffer
			cfg := testConfig(dir, 3, &out)
			cfg.ReplicationFactor = 0
			if tc.mutate != nil {
				tc.mutate(&cfg)
			}
			c, err := Start(context.Background(), cfg)
			g.Expect(c).To(BeNil())
			g.Expect(err).To(MatchError(ContainSubstring(tc.want)))
			g.Expect(out.String()).NotTo(ContainSubstring("starting node-"))
			after, _ := os.ReadFile(mapPath)
			g.Expect(after).To(Equal(before))
			entries, err := os.ReadDir(dir)
			g.Expect(err).NotTo(HaveOccurred())
			for _, e := range entries {
				g.Expect(e.Name()).To(Equal(MapFile), "nothing but the map in the data directory")
			}
		})
	}
}

// TestStartFailsCleanly: a node that cannot bind its port fails the start, and the nodes that
// did start are stopped (their engines closed: the next start on the same data opens them).
func TestStartFailsCleanly(t *testing.T) {
	g := NewWithT(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = taken.Close() }()
	dir := t.TempDir()
	var out bytes.Buffer
	cfg := testConfig(dir, 3, &out)
	cfg.NodeBasePort = taken.Addr().(*net.TCPAddr).Port
	c, err := Start(context.Background(), cfg)
	g.Expect(c).To(BeNil())
	g.Expect(err).To(MatchError(ContainSubstring("start node-0: ")))
	g.Expect(out.String()).To(HaveSuffix("  starting node-0 ... failed\n"))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out.Reset()
	c = start(ctx, t, testConfig(dir, 3, &out))
	g.Expect(c.Map().Nodes).To(HaveLen(3))
}
