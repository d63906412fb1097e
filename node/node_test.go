package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/node/replication"
	"github.com/torua/torua/shardmap"
)

// startNode runs a real node (engine on disk) that hosts every shard of a one-node map, or the
// shards the given map assigns to "n0".
func startNode(t testing.TB, m *shardmap.Map, tune func(*Config)) (*Node, string) {
	t.Helper()
	if m == nil {
		m = oneNodeMap(t, "127.0.0.1:1")
	}
	cfg := testConfig("n0", t.TempDir(), shardmap.NewStatic(m))
	if tune != nil {
		tune(&cfg)
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	base := "http://" + n.Addr()
	NewWithT(t).Eventually(func() int { return status(t, "GET", base+"/readyz", "", nil) }).
		WithTimeout(10 * time.Second).Should(Equal(200))
	waitLeaders(t, m, n)
	return n, base
}

// testConfig is a node on loopback with Raft timing fit for tests on one machine.
func testConfig(id, dir string, src shardmap.Source) Config {
	return Config{ID: id, Listen: "127.0.0.1:0", RaftListen: "127.0.0.1:0", DataDir: dir, Source: src,
		Logger: slog.New(slog.DiscardHandler),
		Raft: replication.Config{HeartbeatTimeout: 200 * time.Millisecond,
			RaftLogLevel: "off"}}
}

// waitLeaders waits until every shard of m has a leader among nodes whose voters are the
// map's replicas.
func waitLeaders(t testing.TB, m *shardmap.Map, nodes ...*Node) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		placed := map[int]bool{}
		for _, n := range nodes {
			for _, sh := range n.Status().Shards {
				if sh.Role == "leader" && len(sh.Learners) == 0 && sameSet(sh.Voters, m.Replicas(sh.Shard)) {
					placed[sh.Shard] = true
				}
			}
		}
		g.Expect(placed).To(HaveLen(m.Shards))
	}).WithTimeout(20*time.Second).WithPolling(20*time.Millisecond).Should(Succeed(), "every shard led, with the map's replicas as voters")
}

func sameSet(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

// testCluster is n real nodes in this process reading one map file.
type testCluster struct {
	t       testing.TB
	mapPath string
	nodes   []*Node
	m       *shardmap.Map
}

func startCluster(t testing.TB, n int) *testCluster {
	t.Helper()
	dir := t.TempDir()
	c := &testCluster{t: t, mapPath: filepath.Join(dir, "shardmap.json")}
	for i := range n {
		id := "n" + strconv.Itoa(i)
		nd, err := New(testConfig(id, filepath.Join(dir, id), shardmap.NewFile(c.mapPath, nil)))
		if err != nil {
			t.Fatal(err)
		}
		if err := nd.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = nd.Shutdown(context.Background()) })
		c.nodes = append(c.nodes, nd)
	}
	return c
}

// place writes the map placing shards over the nodes with the given states (active if
// absent) and waits until the groups match it.
func (c *testCluster) place(rf int, states map[string]shardmap.NodeState) {
	c.t.Helper()
	var members []shardmap.Node
	for _, n := range c.nodes {
		st := states[n.cfg.ID]
		if st == "" {
			st = shardmap.NodeActive
		}
		members = append(members, shardmap.Node{ID: n.cfg.ID, API: n.Addr(), Raft: n.RaftAddr(), State: st})
	}
	m, err := shardmap.Place(c.m, members, shardmap.PlaceConfig{Cluster: "t", Shards: 8, ReplicationFactor: rf})
	if err != nil {
		c.t.Fatal(err)
	}
	if err := shardmap.WriteFile(c.mapPath, m); err != nil {
		c.t.Fatal(err)
	}
	c.m = m
	waitLeaders(c.t, m, c.nodes...)
}

// leaderOf returns the node leading key's shard and a node that does not.
func (c *testCluster) leaderOf(key string) (leader, other *Node) {
	shard := c.m.ShardFor([]byte(key))
	for _, n := range c.nodes {
		if g, ok := n.hosting.Load().replicas[shard]; ok && g.Status().Role == "leader" {
			leader = n
		} else if slices.Contains(c.m.Replicas(shard), n.cfg.ID) {
			other = n
		}
	}
	return leader, other
}

func oneNodeMap(t testing.TB, api string) *shardmap.Map {
	m, err := shardmap.Place(nil, []shardmap.Node{{ID: "n0", API: api, State: shardmap.NodeActive}},
		shardmap.PlaceConfig{Cluster: "t", Shards: 8, ReplicationFactor: 1})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// writeOneNode starts node n0 on dir with a one-node map, writes data through its HTTP API,
// stops it cleanly, and returns the map: a data directory as the current code leaves it.
func writeOneNode(t *testing.T, dir string, data map[string]string) *shardmap.Map {
	t.Helper()
	g := NewWithT(t)
	m := oneNodeMap(t, "127.0.0.1:1")
	n, err := New(testConfig("n0", dir, shardmap.NewStatic(m)))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(n.Start(context.Background())).To(Succeed())
	base := "http://" + n.Addr()
	waitLeaders(t, m, n)
	for k, v := range data {
		g.Eventually(func() int { return status(t, "PUT", keyURL(base, k), v, nil) }).WithTimeout(10 * time.Second).Should(Equal(204))
	}
	g.Expect(n.Shutdown(context.Background())).To(Succeed())
	return m
}

type response struct {
	code   int
	body   string
	header http.Header
}

func do(t testing.TB, method, u, body string, hdr map[string]string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, string(data), resp.Header}
}

func status(t testing.TB, method, u, body string, hdr map[string]string) int {
	return do(t, method, u, body, hdr).code
}

func keyURL(base, key string) string { return base + "/store/" + httpx.EscapeKey(key) }

func TestCRUDWithAwkwardKeys(t *testing.T) {
	g := NewWithT(t)
	_, base := startNode(t, nil, nil)
	keys := []string{"plain", "a/b/c", "with space", "colon:key", "ünïcødé/日本", "a//b", "../up", ".", "%41", "q?x=1#frag", strings.Repeat("k", 1024)}
	for i, k := range keys {
		val := fmt.Sprintf("value-%d\x00\xff", i)
		put := do(t, "PUT", keyURL(base, k), val, nil)
		g.Expect(put.code).To(Equal(204), "PUT %q: %s", k, put.body)
		get := do(t, "GET", keyURL(base, k), "", nil)
		g.Expect(get.code).To(Equal(200), "GET %q", k)
		g.Expect(get.body).To(Equal(val))
		g.Expect(get.header.Get("ETag")).To(Equal(put.header.Get("ETag")))
	}
	var page httpx.ListPage
	g.Expect(json.Unmarshal([]byte(do(t, "GET", base+"/store?limit=100", "", nil).body), &page)).To(Succeed())
	g.Expect(page.Keys).To(ConsistOf(keys))
	for _, k := range keys {
		g.Expect(status(t, "DELETE", keyURL(base, k), "", nil)).To(Equal(204), "DELETE %q", k)
		g.Expect(status(t, "GET", keyURL(base, k), "", nil)).To(Equal(404))
	}
}

func TestUnsafeNoFsync(t *testing.T) {
	g := NewWithT(t)
	safe, _ := startNode(t, nil, nil)
	g.Expect(safe.eng.NoSync()).To(BeFalse(), "a node fsyncs unless told not to")
	unsafe, base := startNode(t, nil, func(c *Config) { c.UnsafeNoFsync = true })
	g.Expect(unsafe.eng.NoSync()).To(BeTrue())
	g.Expect(status(t, "PUT", keyURL(base, "k"), "v", nil)).To(Equal(204))
	g.Expect(do(t, "GET", keyURL(base, "k"), "", nil).body).To(Equal("v"))
}

func TestConditionalWrites(t *testing.T) {
	g := NewWithT(t)
	_, base := startNode(t, nil, nil)
	u := keyURL(base, "cas")
	g.Expect(status(t, "PUT", u, "v1", map[string]string{"If-Match": "*"})).To(Equal(412), "If-Match * on a missing key")
	first := do(t, "PUT", u, "v1", map[string]string{"If-None-Match": "*"})
	g.Expect(first.code).To(Equal(204))
	g.Expect(status(t, "PUT", u, "v2", map[string]string{"If-None-Match": "*"})).To(Equal(412))
	second := do(t, "PUT", u, "v2", map[string]string{"If-Match": first.header.Get("ETag")})
	g.Expect(second.code).To(Equal(204))
	g.Expect(status(t, "PUT", u, "v3", map[string]string{"If-Match": first.header.Get("ETag")})).To(Equal(412), "stale ETag")
	g.Expect(status(t, "DELETE", u, "", map[string]string{"If-Match": first.header.Get("ETag")})).To(Equal(412))
	g.Expect(status(t, "GET", u, "", map[string]string{"If-None-Match": second.header.Get("ETag")})).To(Equal(304))
	g.Expect(do(t, "GET", u, "", nil).body).To(Equal("v2"))
	g.Expect(status(t, "DELETE", u, "", map[string]string{"If-Match": second.header.Get("ETag")})).To(Equal(204))
}

// TestBadInputLosesNothing sends every kind of bad request and checks its status, its JSON
// error body, and that the stored data is unchanged afterwards.
func TestBadInputLosesNothing(t *testing.T) {
	g := NewWithT(t)
	_, base := startNode(t, nil, func(c *Config) { c.MaxValueSize = 1024 })
	g.Expect(status(t, "PUT", keyURL(base, "keep"), "precious", nil)).To(Equal(204))
	before := do(t, "GET", keyURL(base, "keep"), "", nil)

	for _, tc := range []struct {
		name, method, url, body string
		hdr                     map[string]string
		code                    int
		msg                     string
	}{
		{"empty key", "PUT", base + "/store/", "x", nil, 400, "must not be empty"},
		{"key over 1024 bytes", "PUT", keyURL(base, strings.Repeat("k", 1025)), "x", nil, 400, "1025 bytes"},
		{"invalid UTF-8 key", "PUT", base + "/store/%FF", "x", nil, 400, "UTF-8"},
		{"value over the limit", "PUT", keyURL(base, "keep"), strings.Repeat("v", 1025), nil, 413, "more than the 1024"},
		{"malformed If-Match", "PUT", keyURL(base, "keep"), "x", map[string]string{"If-Match": "7"}, 400, "entity tag"},
		{"both preconditions", "PUT", keyURL(base, "keep"), "x", map[string]string{"If-Match": `"1"`, "If-None-Match": "*"}, 400, "not both"},
		{"If-Match mismatch", "PUT", keyURL(base, "keep"), "x", map[string]string{"If-Match": `"999"`}, 412, "does not match"},
		{"If-None-Match on existing", "DELETE", keyURL(base, "keep"), "", map[string]string{"If-None-Match": "*"}, 412, "does not match"},
		{"bad limit", "GET", base + "/store?limit=0", "", nil, 400, "limit"},
		{"non-numeric limit", "GET", base + "/store?limit=ten", "", nil, 400, "limit"},
		{"bad consistency", "GET", keyURL(base, "keep") + "?consistency=maybe", "", nil, 400, "consistency"},
		{"bad shards list", "GET", base + "/store?shards=x", "", nil, 400, "shards"},
		{"unknown route", "GET", base + "/nope", "", nil, 404, "no such route"},
		{"unknown method", "POST", keyURL(base, "keep"), "x", nil, 405, "allowed"},
		{"missing key", "GET", keyURL(base, "absent"), "", nil, 404, "absent"},
		{"delete missing key", "DELETE", keyURL(base, "absent"), "", nil, 404, "absent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			r := do(t, tc.method, tc.url, tc.body, tc.hdr)
			g.Expect(r.code).To(Equal(tc.code), r.body)
			g.Expect(r.header.Get("Content-Type")).To(Equal("application/json"))
			var body httpx.ErrorBody
			g.Expect(json.Unmarshal([]byte(r.body), &body)).To(Succeed(), r.body)
			g.Expect(body.Error).To(ContainSubstring(tc.msg))
			if tc.code == 405 {
				g.Expect(r.header.Get("Allow")).To(ContainSubstring("PUT"))
			}
		})
	}
	after := do(t, "GET", keyURL(base, "keep"), "", nil)
	g.Expect(after.body).To(Equal(before.body))
	g.Expect(after.header.Get("ETag")).To(Equal(before.header.Get("ETag")), "no bad request wrote anything")
	var page httpx.ListPage
	g.Expect(json.Unmarshal([]byte(do(t, "GET", base+"/store", "", nil).body), &page)).To(Succeed())
	g.Expect(page.Keys).To(Equal([]string{"keep"}))
}

// TestShardsMoveWithTheirData: with one replica per shard (RF 1) over two nodes, a node
// answers 421 for the other's shards; draining one node moves its shards, data included,
// to the other (the group grows, catches up, and shrinks), and the drained node deletes its
// copies only once removed.
func TestShardsMoveWithTheirData(t *testing.T) {
	g := NewWithT(t)
	c := startCluster(t, 2)
	c.place(1, nil)
	n0, n1 := c.nodes[0], c.nodes[1]
	base0 := "http://" + n0.Addr()
	written := map[string]string{}
	var theirs string
	for i := range 64 {
		k := "key-" + strconv.Itoa(i)
		owner, _ := c.leaderOf(k)
		g.Expect(status(t, "PUT", keyURL("http://"+owner.Addr(), k), "v"+k, nil)).To(Equal(204))
		written[k] = "v" + k
		if owner == n1 {
			theirs = k
		}
	}
	g.Expect(theirs).NotTo(BeEmpty())
	r := do(t, "GET", keyURL(base0, theirs), "", nil)
	g.Expect(r.code).To(Equal(421), "n0 does not host that shard")
	var body httpx.ErrorBody
	g.Expect(json.Unmarshal([]byte(r.body), &body)).To(Succeed())
	g.Expect(body.MapVersion).To(Equal(uint64(1)))

	c.place(1, map[string]shardmap.NodeState{"n1": shardmap.NodeDraining})
	for k, v := range written {
		got := do(t, "GET", keyURL(base0, k), "", nil)
		g.Expect(got.code).To(Equal(200), k)
		g.Expect(got.body).To(Equal(v), k)
	}
	g.Eventually(func() []shardmap.ShardStatus { return n1.Status().Shards }).WithTimeout(10*time.Second).
		Should(BeEmpty(), "the drained node retires its replicas")
	g.Eventually(func() ([]os.DirEntry, error) { return os.ReadDir(filepath.Join(n1.cfg.DataDir, "raft")) }).
		WithTimeout(10 * time.Second).Should(BeEmpty())
}

// TestReplicatedShards: RF 3 over three nodes. Writes at the leader are on every replica
// (stale reads at a follower see them); a follower answers 421 naming the leader; a hand-off
// request moves every leadership away from a node.
func TestReplicatedShards(t *testing.T) {
	g := NewWithT(t)
	c := startCluster(t, 3)
	c.place(3, nil)
	leader, follower := c.leaderOf("k")
	g.Expect(leader).NotTo(BeNil())
	g.Expect(follower).NotTo(BeNil())
	g.Expect(status(t, "PUT", keyURL("http://"+leader.Addr(), "k"), "v1", nil)).To(Equal(204))

	r := do(t, "PUT", keyURL("http://"+follower.Addr(), "k"), "v2", nil)
	g.Expect(r.code).To(Equal(421))
	g.Expect(r.header.Get(LeaderHeader)).To(Equal(leader.cfg.ID))
	var body httpx.ErrorBody
	g.Expect(json.Unmarshal([]byte(r.body), &body)).To(Succeed())
	g.Expect(body.Leader).To(Equal(leader.cfg.ID))
	g.Expect(status(t, "GET", keyURL("http://"+follower.Addr(), "k"), "", nil)).To(Equal(421), "reads are linearizable by default")
	g.Eventually(func() string {
		return do(t, "GET", keyURL("http://"+follower.Addr(), "k")+"?consistency=stale", "", nil).body
	}).WithTimeout(5 * time.Second).Should(Equal("v1"))

	var tr TransferResult
	r = do(t, "POST", "http://"+leader.Addr()+"/internal/transfer-leadership", "", nil)
	g.Expect(r.code).To(Equal(200))
	g.Expect(json.Unmarshal([]byte(r.body), &tr)).To(Succeed())
	g.Expect(tr.HandedOff).To(BeNumerically(">", 0))
	g.Expect(tr.Kept).To(BeEmpty())
	for _, sh := range leader.Status().Shards {
		g.Expect(sh.Role).NotTo(Equal(shardmap.RoleLeader), "shard %d", sh.Shard)
	}
	var newLeader *Node
	g.Eventually(func() *Node { newLeader, _ = c.leaderOf("k"); return newLeader }).WithTimeout(5 * time.Second).ShouldNot(BeNil())
	g.Expect(newLeader).NotTo(BeIdenticalTo(leader))
	g.Expect(do(t, "GET", keyURL("http://"+newLeader.Addr(), "k"), "", nil).body).To(Equal("v1"))

	// Metrics: once leadership has settled, each shard has exactly one leader across the
	// nodes' torua_raft_shard_is_leader, and the nodes sent AppendEntries over their links.
	leadersByMetrics := func() map[string]float64 {
		leaders := map[string]float64{}
		for _, n := range c.nodes {
			body := do(t, "GET", "http://"+n.Addr()+"/metrics", "", nil).body
			for _, line := range strings.Split(body, "\n") {
				if rest, ok := strings.CutPrefix(line, `torua_raft_shard_is_leader{shard="`); ok {
					shard, v, _ := strings.Cut(rest, `"} `)
					f, err := strconv.ParseFloat(v, 64)
					g.Expect(err).NotTo(HaveOccurred())
					leaders[shard] += f
				}
			}
		}
		return leaders
	}
	g.Eventually(leadersByMetrics).WithTimeout(5 * time.Second).Should(And(
		HaveLen(len(leader.Status().Shards)), HaveEach(1.0)))
	metrics := do(t, "GET", "http://"+newLeader.Addr()+"/metrics", "", nil).body
	g.Expect(metrics).To(ContainSubstring(`torua_raft_shard_commit_index{shard="`))
	g.Expect(metrics).To(MatchRegexp(`torua_raft_messages_sent_total [1-9]`))
	g.Expect(metrics).To(MatchRegexp(`torua_raft_fsyncs_total [1-9]`))
	g.Expect(metrics).To(MatchRegexp(`torua_raft_dials_total [1-9]`))
	g.Expect(metrics).To(MatchRegexp(`torua_raft_log_bytes_written_total [1-9]`))
	g.Expect(metrics).To(MatchRegexp(`torua_raft_log_segments [1-9]`))
}

// TestConcurrentCompareAndSet has 32 clients increment one counter with If-Match, retrying on
// 412. Group commit evaluates preconditions in queue order, so no increment may be lost.
func TestConcurrentCompareAndSet(t *testing.T) {
	g := NewWithT(t)
	_, base := startNode(t, nil, nil)
	u := keyURL(base, "counter")
	g.Expect(status(t, "PUT", u, "0", nil)).To(Equal(204))
	const clients, each = 32, 10
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for done := 0; done < each; {
				r := do(t, "GET", u, "", nil)
				v, _ := strconv.Atoi(r.body)
				switch status(t, "PUT", u, strconv.Itoa(v+1), map[string]string{"If-Match": r.header.Get("ETag")}) {
				case 204:
					done++
				case 412:
				default:
					t.Error("unexpected status")
					return
				}
			}
		})
	}
	wg.Wait()
	g.Expect(do(t, "GET", u, "", nil).body).To(Equal(strconv.Itoa(clients * each)))
}

func TestStatusHealthAndMetrics(t *testing.T) {
	g := NewWithT(t)
	_, base := startNode(t, nil, nil)
	g.Expect(status(t, "PUT", keyURL(base, "a"), "12345", nil)).To(Equal(204))
	g.Expect(status(t, "GET", base+"/healthz", "", nil)).To(Equal(200))
	var st shardmap.NodeStatus
	g.Expect(json.Unmarshal([]byte(do(t, "GET", base+"/internal/status", "", nil).body), &st)).To(Succeed())
	g.Expect(st.Node).To(Equal("n0"))
	g.Expect(st.Ready).To(BeTrue())
	g.Expect(st.MapVersion).To(Equal(uint64(1)))
	g.Expect(st.Shards).To(HaveLen(8))
	var keys int64
	for _, s := range st.Shards {
		g.Expect(s.Role).To(Equal(shardmap.RoleLeader))
		keys += s.Keys
	}
	g.Expect(keys).To(Equal(int64(1)))
	var tr TransferResult
	r := do(t, "POST", base+"/internal/transfer-leadership", "", nil)
	g.Expect(r.code).To(Equal(200))
	g.Expect(json.Unmarshal([]byte(r.body), &tr)).To(Succeed())
	g.Expect(tr.HandedOff).To(BeZero(), "a group of one has no other replica to hand off to")
	g.Expect(tr.Kept).To(HaveLen(8))
	metrics := do(t, "GET", base+"/metrics", "", nil).body
	for _, name := range []string{
		`torua_node_http_requests_total{code="204",method="PUT",route="/store/{key...}"} 1`,
		"torua_node_http_request_duration_seconds_bucket",
		"torua_shardmap_version 1",
		"torua_shardmap_rejected_total",
		"go_goroutines",
	} {
		g.Expect(metrics).To(ContainSubstring(name))
	}
}

func TestReadyzWithoutMap(t *testing.T) {
	g := NewWithT(t)
	n, err := New(testConfig("n0", t.TempDir(), shardmap.NewFile(t.TempDir()+"/missing.json", nil)))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(n.Start(context.Background())).To(Succeed())
	defer func() { _ = n.Shutdown(context.Background()) }()
	r := do(t, "GET", "http://"+n.Addr()+"/readyz", "", nil)
	g.Expect(r.code).To(Equal(503))
	g.Expect(r.body).To(ContainSubstring("no valid shard map"))
	g.Expect(status(t, "GET", keyURL("http://"+n.Addr(), "k"), "", nil)).To(Equal(503))
}

// TestInternalShardMap: GET /internal/shardmap answers the map the node holds — the newest
// valid one it accepted, never a refused one — and 404 before it holds any.
func TestInternalShardMap(t *testing.T) {
	g := NewWithT(t)
	n, err := New(testConfig("n0", t.TempDir(), shardmap.NewFile(t.TempDir()+"/missing.json", nil)))
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = n.Shutdown(context.Background()) })
	srv := httptest.NewServer(n.routes())
	t.Cleanup(srv.Close)

	r := do(t, "GET", srv.URL+"/internal/shardmap", "", nil)
	g.Expect(r.code).To(Equal(404))
	g.Expect(r.header.Get("Content-Type")).To(Equal("application/json"))
	var body httpx.ErrorBody
	g.Expect(json.Unmarshal([]byte(r.body), &body)).To(Succeed())
	g.Expect(body.Error).To(ContainSubstring("holds no shard map"))

	m1 := oneNodeMap(t, "127.0.0.1:1")
	m2, err := shardmap.Place(m1, []shardmap.Node{{ID: "n0", API: "127.0.0.1:2", State: shardmap.NodeActive}},
		shardmap.PlaceConfig{Cluster: "t", Shards: 8, ReplicationFactor: 1})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(m2.Version).To(Equal(uint64(2)))
	g.Expect(n.Holder().Offer(m2, "test")).To(Succeed())
	g.Expect(n.Holder().Offer(m1, "test")).To(MatchError(shardmap.ErrStale))

	r = do(t, "GET", srv.URL+"/internal/shardmap", "", nil)
	g.Expect(r.code).To(Equal(200), r.body)
	got, err := shardmap.Decode([]byte(r.body))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(Equal(m2), "the newest map it accepted, not the stale one offered after it")
	g.Expect(status(t, "POST", srv.URL+"/internal/shardmap", "", nil)).To(Equal(405))
}

// TestRestartQuietPeriod restarts a node on its data: for two heartbeat timeouts it answers
// no Raft traffic and says so in /readyz (a rolling restart waits for it), then it is ready
// and serves what it held.
func TestRestartQuietPeriod(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	m := oneNodeMap(t, "127.0.0.1:1")
	cfg := testConfig("n0", dir, shardmap.NewStatic(m))
	// Long enough that the first /readyz after Start falls inside the quiet period.
	cfg.Raft.HeartbeatTimeout = 2 * time.Second
	n, err := New(cfg)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(n.Start(context.Background())).To(Succeed())
	base := "http://" + n.Addr()
	g.Expect(do(t, "GET", base+"/readyz", "", nil).body).NotTo(ContainSubstring("Raft traffic"), "a new node has nothing to keep quiet about")
	waitLeaders(t, m, n)
	g.Eventually(func() int { return status(t, "PUT", keyURL(base, "k"), "v", nil) }).WithTimeout(10 * time.Second).Should(Equal(204))
	g.Expect(n.Shutdown(context.Background())).To(Succeed())

	n, err = New(cfg)
	g.Expect(err).NotTo(HaveOccurred())
	start := time.Now()
	g.Expect(n.Start(context.Background())).To(Succeed())
	defer func() { _ = n.Shutdown(context.Background()) }()
	base = "http://" + n.Addr()
	r := do(t, "GET", base+"/readyz", "", nil)
	g.Expect(r.code).To(Equal(503))
	g.Expect(r.body).To(ContainSubstring("answering no Raft traffic until"))
	g.Eventually(func() int { return status(t, "GET", base+"/readyz", "", nil) }).WithTimeout(20 * time.Second).Should(Equal(200))
	g.Expect(time.Since(start)).To(BeNumerically(">=", cfg.Raft.RestartQuietPeriod()))
	g.Eventually(func() string { return do(t, "GET", keyURL(base, "k"), "", nil).body }).WithTimeout(20 * time.Second).Should(Equal("v"))
}

// FuzzKeyRoundTrip: whatever the key, a write then a read through the HTTP API either returns
// the same bytes under the same key, or is refused with 400 and stores nothing.
func FuzzKeyRoundTrip(f *testing.F) {
	for _, k := range []string{"a", "a/b", " ", "%", "..", "日本", "\x00", "\xff", "a?b#c", strings.Repeat("x", 1025)} {
		f.Add(k)
	}
	_, base := startNode(f, nil, nil)
	f.Fuzz(func(t *testing.T, key string) {
		put := do(t, "PUT", keyURL(base, key), "v:"+key, nil)
		if httpx.CheckKey(key) != nil {
			if put.code != 400 {
				t.Fatalf("PUT %q: %d, want 400", key, put.code)
			}
			return
		}
		if put.code != 204 {
			t.Fatalf("PUT %q: %d %s", key, put.code, put.body)
		}
		get := do(t, "GET", keyURL(base, key), "", nil)
		if get.code != 200 || get.body != "v:"+key {
			t.Fatalf("GET %q: %d %q", key, get.code, get.body)
		}
		if status(t, "DELETE", keyURL(base, key), "", nil) != 204 {
			t.Fatalf("DELETE %q failed", key)
		}
	})
}

// TestReplicationFactorChanges: raising the replication factor adds caught-up voters that
// hold every key (stale reads on each replica see them), and lowering it removes replicas,
// which delete their copies, without losing a key.
func TestReplicationFactorChanges(t *testing.T) {
	g := NewWithT(t)
	c := startCluster(t, 3)
	c.place(1, nil)
	for i := range 40 {
		k := "key-" + strconv.Itoa(i)
		owner, _ := c.leaderOf(k)
		g.Expect(status(t, "PUT", keyURL("http://"+owner.Addr(), k), "v"+k, nil)).To(Equal(204))
	}
	c.place(3, nil)
	for _, n := range c.nodes {
		g.Expect(n.Status().Shards).To(HaveLen(8), "%s holds a replica of every shard", n.cfg.ID)
		for i := range 40 {
			k := "key-" + strconv.Itoa(i)
			g.Eventually(func() string {
				return do(t, "GET", keyURL("http://"+n.Addr(), k)+"?consistency=stale", "", nil).body
			}).WithTimeout(5*time.Second).Should(Equal("v"+k), "%s on %s", k, n.cfg.ID)
		}
	}
	c.place(2, nil)
	total := 0
	for _, n := range c.nodes {
		g.Eventually(func() int { return len(n.Status().Shards) }).WithTimeout(10*time.Second).
			Should(Equal(len(c.m.ShardsOf(n.cfg.ID))), "%s retires the replicas the map dropped", n.cfg.ID)
		total += len(n.Status().Shards)
	}
	g.Expect(total).To(Equal(16))
	for i := range 40 {
		k := "key-" + strconv.Itoa(i)
		leader, _ := c.leaderOf(k)
		g.Expect(do(t, "GET", keyURL("http://"+leader.Addr(), k), "", nil).body).To(Equal("v" + k))
	}
}

// TestNodeKeepsItsLastMap: a node restarted without a map from its source (an API server
// down, a shard map ConfigMap lost) starts with the last map it accepted: it is ready, serves
// its data and answers /internal/shardmap with it. A damaged copy is refused and the node
// waits for its source.
func TestNodeKeepsItsLastMap(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	m := writeOneNode(t, dir, map[string]string{"k": "v"})

	nowhere := shardmap.NewFile(filepath.Join(t.TempDir(), "missing.json"), nil)
	n, err := New(testConfig("n0", dir, nowhere))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(n.Start(context.Background())).To(Succeed())
	base := "http://" + n.Addr()
	g.Eventually(func() int { return status(t, "GET", base+"/readyz", "", nil) }).WithTimeout(20 * time.Second).Should(Equal(200))
	g.Eventually(func() string { return do(t, "GET", keyURL(base, "k"), "", nil).body }).WithTimeout(20 * time.Second).Should(Equal("v"))
	r := do(t, "GET", base+"/internal/shardmap", "", nil)
	g.Expect(r.code).To(Equal(200), r.body)
	got, err := shardmap.Decode([]byte(r.body))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(Equal(m))
	g.Expect(n.Shutdown(context.Background())).To(Succeed())

	g.Expect(os.WriteFile(filepath.Join(dir, lastMapFile), []byte(`{"version": 9, "garbage`), 0o644)).To(Succeed())
	n, err = New(testConfig("n0", dir, nowhere))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(n.Start(context.Background())).To(Succeed())
	defer func() { _ = n.Shutdown(context.Background()) }()
	r = do(t, "GET", "http://"+n.Addr()+"/readyz", "", nil)
	g.Expect(r.code).To(Equal(503), "a damaged copy is no map")
	g.Expect(r.body).To(ContainSubstring("no valid shard map"))
}
