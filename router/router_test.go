package router

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/internal/wire"
	"github.com/torua/torua/node"
	"github.com/torua/torua/node/replication"
	"github.com/torua/torua/router/client"
	"github.com/torua/torua/shardmap"
)

type cluster struct {
	nodes   []*node.Node
	router  *Router
	base    string
	mapPath string
	m       *shardmap.Map
}

// startCluster runs n real nodes (engines on disk) and a router in this process, all reading
// the map from one file, the router handing requests to the nodes in process, as `torua
// local` does.
func startCluster(t testing.TB, n, rf int, routerSource func(path string) shardmap.Source) *cluster {
	t.Helper()
	return startClusterVia(t, n, rf, routerSource, true)
}

// startClusterVia is startCluster with the router reaching the nodes in process (inProcess)
// or over TCP, as in Kubernetes.
func startClusterVia(t testing.TB, n, rf int, routerSource func(path string) shardmap.Source, inProcess bool) *cluster {
	t.Helper()
	g := NewWithT(t)
	dir := t.TempDir()
	c := &cluster{mapPath: filepath.Join(dir, "shardmap.json")}
	log := slog.New(slog.DiscardHandler)
	var members []shardmap.Node
	for i := range n {
		id := "n" + strconv.Itoa(i)
		nd, err := node.New(node.Config{ID: id, Listen: "127.0.0.1:0", RaftListen: "127.0.0.1:0", DataDir: filepath.Join(dir, id),
			Source: shardmap.NewFile(c.mapPath, log), Logger: log, Raft: testRaft})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(nd.Start(context.Background())).To(Succeed())
		t.Cleanup(func() { _ = nd.Shutdown(context.Background()) })
		c.nodes = append(c.nodes, nd)
		members = append(members, shardmap.Node{ID: id, API: nd.Addr(), Raft: nd.RaftAddr(), State: shardmap.NodeActive})
	}
	m, err := shardmap.Place(nil, members, shardmap.PlaceConfig{Cluster: "t", Shards: 16, ReplicationFactor: rf})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(shardmap.WriteFile(c.mapPath, m)).To(Succeed())
	c.m = m
	src := shardmap.Source(shardmap.NewFile(c.mapPath, log))
	if routerSource != nil {
		src = routerSource(c.mapPath)
	}
	var local map[string]*wire.Server
	if inProcess {
		local = map[string]*wire.Server{}
		for _, nd := range c.nodes {
			local[nd.Addr()] = nd.WireServer()
		}
	}
	rt, err := New(Config{Listen: "127.0.0.1:0", Source: src, Logger: log, Local: local})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(rt.Start(context.Background())).To(Succeed())
	t.Cleanup(func() { _ = rt.Shutdown(context.Background()) })
	c.router, c.base = rt, "http://"+rt.Addr()
	for _, nd := range c.nodes {
		g.Eventually(func() bool { return nd.Status().Ready }).WithTimeout(10 * time.Second).Should(BeTrue())
	}
	waitLeaders(t, m, c.nodes)
	g.Eventually(func() int { return get(t, c.base+"/readyz").code }).WithTimeout(10 * time.Second).Should(Equal(200))
	return c
}

// testRaft is Raft timing for groups on loopback in one test process.
var testRaft = replication.Config{HeartbeatTimeout: 200 * time.Millisecond,
	RaftLogLevel: "off"}

// waitLeaders waits until every shard of m has a leader among nodes.
func waitLeaders(t testing.TB, m *shardmap.Map, nodes []*node.Node) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		led := map[int]bool{}
		for _, n := range nodes {
			for _, sh := range n.Status().Shards {
				if sh.Role == "leader" && len(sh.Voters) == len(m.Replicas(sh.Shard)) && len(sh.Learners) == 0 {
					led[sh.Shard] = true
				}
			}
		}
		g.Expect(led).To(HaveLen(m.Shards))
	}).WithTimeout(20*time.Second).WithPolling(20*time.Millisecond).Should(Succeed(), "every shard has a leader")
}

type response struct {
	code   int
	body   string
	header http.Header
}

func send(t testing.TB, method, u, body string, hdr map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
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

func get(t testing.TB, u string) response { return send(t, "GET", u, "", nil) }

func dataURL(base, key string) string { return base + "/data/" + httpx.EscapeKey(key) }

// viaBoth runs test with the router reaching the nodes in process and over TCP.
func viaBoth(t *testing.T, test func(t *testing.T, inProcess bool)) {
	t.Run("in-process", func(t *testing.T) { test(t, true) })
	t.Run("tcp", func(t *testing.T) { test(t, false) })
}

func TestForwardingAndListing(t *testing.T) { viaBoth(t, testForwardingAndListing) }

func testForwardingAndListing(t *testing.T, inProcess bool) {
	g := NewWithT(t)
	c := startClusterVia(t, 3, 1, nil, inProcess)
	var keys []string
	for i := range 300 {
		k := fmt.Sprintf("user/%03d", i)
		keys = append(keys, k)
		r := send(t, "PUT", dataURL(c.base, k), "v"+k, nil)
		g.Expect(r.code).To(Equal(204), r.body)
		g.Expect(r.header.Get("ETag")).NotTo(BeEmpty())
	}
	keys = append(keys, "other")
	g.Expect(send(t, "PUT", dataURL(c.base, "other"), "o", nil).code).To(Equal(204))

	// Every node holds some keys: the router really spreads them.
	for _, nd := range c.nodes {
		var n int64
		for _, s := range nd.Status().Shards {
			n += s.Keys
		}
		g.Expect(n).To(BeNumerically(">", 0), "node %s holds no key", nd.Status().Node)
	}
	r := get(t, dataURL(c.base, "user/042"))
	g.Expect(r.code).To(Equal(200))
	g.Expect(r.body).To(Equal("vuser/042"))

	// Paginate through every key with a prefix, 7 at a time: sorted, complete, no duplicates.
	var listed []string
	after := ""
	for {
		var page httpx.ListPage
		r := get(t, c.base+"/data?prefix=user/&limit=7&after="+after)
		g.Expect(r.code).To(Equal(200), r.body)
		g.Expect(json.Unmarshal([]byte(r.body), &page)).To(Succeed())
		listed = append(listed, page.Keys...)
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	g.Expect(listed).To(Equal(keys[:300]))

	g.Expect(send(t, "DELETE", dataURL(c.base, "user/042"), "", nil).code).To(Equal(204))
	g.Expect(get(t, dataURL(c.base, "user/042")).code).To(Equal(404))
	// Preconditions pass through.
	g.Expect(send(t, "PUT", dataURL(c.base, "other"), "x", map[string]string{"If-None-Match": "*"}).code).To(Equal(412))
}

func TestBadInputAtTheRouter(t *testing.T) {
	g := NewWithT(t)
	c := startCluster(t, 1, 1, nil)
	for _, tc := range []struct {
		method, url, body string
		code              int
	}{
		{"PUT", c.base + "/data/", "x", 400},
		{"PUT", dataURL(c.base, strings.Repeat("k", 1025)), "x", 400},
		{"PUT", dataURL(c.base, "k"), strings.Repeat("v", httpx.DefaultMaxValueSize+1), 413},
		{"GET", c.base + "/data?limit=x", "", 400},
		{"POST", dataURL(c.base, "k"), "", 405},
		{"GET", c.base + "/nowhere", "", 404},
	} {
		r := send(t, tc.method, tc.url, tc.body, nil)
		g.Expect(r.code).To(Equal(tc.code), "%s %s: %s", tc.method, tc.url, r.body)
		g.Expect(r.header.Get("Content-Type")).To(Equal("application/json"))
	}
	g.Expect(get(t, dataURL(c.base, "k")).code).To(Equal(404), "nothing was written")
}

// lagging stands in for a map source whose watch has not delivered the newest map yet: Run
// offers only the first map; Reload reads the file, as a real source's reload does.
type lagging struct{ path string }

func (l lagging) Run(ctx context.Context, h *shardmap.Holder) error {
	_ = l.Reload(ctx, h)
	<-ctx.Done()
	return nil
}

func (l lagging) Reload(ctx context.Context, h *shardmap.Holder) error {
	return shardmap.NewFile(l.path, nil).Reload(ctx, h)
}

func TestMisdirectedReloadsAndRetriesOnce(t *testing.T) {
	g := NewWithT(t)
	c := startCluster(t, 2, 1, func(path string) shardmap.Source { return lagging{path} })
	// Move every shard to n0. The nodes follow the file; the router does not until told.
	members := []shardmap.Node{c.m.Nodes[0], c.m.Nodes[1]}
	members[1].State = shardmap.NodeDraining
	m2, err := shardmap.Place(c.m, members, shardmap.PlaceConfig{Cluster: "t", Shards: 16, ReplicationFactor: 1})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(shardmap.WriteFile(c.mapPath, m2)).To(Succeed())
	g.Eventually(func() uint64 { return c.nodes[1].Status().MapVersion }).WithTimeout(5 * time.Second).Should(Equal(uint64(2)))
	g.Eventually(func() uint64 { return c.nodes[0].Status().MapVersion }).WithTimeout(5 * time.Second).Should(Equal(uint64(2)))
	g.Eventually(func() []shardmap.ShardStatus { return c.nodes[1].Status().Shards }).WithTimeout(20*time.Second).
		Should(BeEmpty(), "n1's shards moved to n0")
	g.Expect(c.router.Holder().Current().Version).To(Equal(uint64(1)))

	var moved string
	for i := 0; moved == ""; i++ {
		if k := "k" + strconv.Itoa(i); c.m.Replicas(c.m.ShardFor([]byte(k)))[0] == "n1" {
			moved = k
		}
	}
	r := send(t, "PUT", dataURL(c.base, moved), "v", nil)
	g.Expect(r.code).To(Equal(204), "the router reloads on 421 and retries: %s", r.body)
	g.Expect(c.router.Holder().Current().Version).To(Equal(uint64(2)))
}

func TestUnreachableOwnerAnswers503(t *testing.T) {
	g := NewWithT(t)
	c := startCluster(t, 2, 1, nil)
	g.Expect(c.nodes[1].Shutdown(context.Background())).To(Succeed())
	var down string
	for i := 0; down == ""; i++ {
		if k := "k" + strconv.Itoa(i); c.m.Replicas(c.m.ShardFor([]byte(k)))[0] == "n1" {
			down = k
		}
	}
	r := get(t, dataURL(c.base, down))
	g.Expect(r.code).To(Equal(503), r.body)
	g.Expect(r.body).To(ContainSubstring("unreachable"))
	g.Expect(get(t, c.base+"/data").code).To(Equal(503), "a listing missing a node's keys would be wrong")

	var info client.ClusterInfo
	g.Expect(json.Unmarshal([]byte(get(t, c.base+"/cluster").body), &info)).To(Succeed())
	g.Expect(info.Map.Version).To(Equal(uint64(1)))
	g.Expect(info.Nodes).To(HaveLen(2))
	g.Expect(info.Nodes[0].Reachable).To(BeTrue())
	g.Expect(info.Nodes[0].Status.Shards).NotTo(BeEmpty())
	g.Expect(info.Nodes[1].Reachable).To(BeFalse())
	g.Expect(info.Nodes[1].Error).To(ContainSubstring("unreachable"))
}

// TestLeadersMove: RF 3. When a node stops (handing its leaderships off) the router finds
// the new leaders through refused connections and leader hints, and every key stays
// readable and writable; GET /cluster shows the roles.
// Leadership moves when a node stops: the router follows the hints and, when the stopped
// node was in its process, gets its requests refused as not sent and tries another replica.
func TestLeadersMove(t *testing.T) { viaBoth(t, testLeadersMove) }

func testLeadersMove(t *testing.T, inProcess bool) {
	g := NewWithT(t)
	c := startClusterVia(t, 3, 3, nil, inProcess)
	for i := range 50 {
		k := "k" + strconv.Itoa(i)
		g.Expect(send(t, "PUT", dataURL(c.base, k), "v1-"+k, nil).code).To(Equal(204))
	}
	led := 0
	for _, sh := range c.nodes[0].Status().Shards {
		if sh.Role == "leader" {
			led++
		}
	}
	g.Expect(led).To(BeNumerically(">", 0), "n0 leads some shards (placement spreads first replicas)")
	g.Expect(c.nodes[0].Shutdown(context.Background())).To(Succeed())
	for i := range 50 {
		k := "k" + strconv.Itoa(i)
		r := get(t, dataURL(c.base, k))
		g.Expect(r.code).To(Equal(200), "%s: %s", k, r.body)
		g.Expect(r.body).To(Equal("v1-" + k))
		g.Expect(send(t, "PUT", dataURL(c.base, k), "v2-"+k, nil).code).To(Equal(204))
		g.Expect(get(t, dataURL(c.base, k)+"?consistency=stale").code).To(Equal(200))
	}
	var page httpx.ListPage
	g.Expect(json.Unmarshal([]byte(get(t, c.base+"/data?limit=100").body), &page)).To(Succeed())
	g.Expect(page.Keys).To(HaveLen(50))
	var info client.ClusterInfo
	g.Expect(json.Unmarshal([]byte(get(t, c.base+"/cluster").body), &info)).To(Succeed())
	g.Expect(info.Nodes[0].Reachable).To(BeFalse())
	leaders := 0
	for _, n := range info.Nodes[1:] {
		for _, sh := range n.Status.Shards {
			g.Expect(sh.Voters).To(HaveLen(3))
			if sh.Role == "leader" {
				leaders++
			}
		}
	}
	g.Expect(leaders).To(Equal(16), "the two remaining nodes lead every shard")
}

// TestWireClient drives the router's wire protocol port (the HTTP port) with the client in
// WithWire mode: the same semantics as the HTTP API, counted by the wire metrics.
func TestWireClient(t *testing.T) {
	g := NewWithT(t)
	c := startCluster(t, 3, 3, nil)
	cl, err := client.New(c.base, client.WithWire(), client.WithTimeout(10*time.Second))
	g.Expect(err).NotTo(HaveOccurred())
	defer cl.Close()
	ctx := context.Background()

	for i := range 100 {
		k := fmt.Sprintf("wire/%03d", i)
		_, err := cl.Put(ctx, k, []byte("v"+k))
		g.Expect(err).NotTo(HaveOccurred())
	}
	for _, k := range []string{"wire/000", "wire/099"} {
		v, rev, err := cl.Get(ctx, k)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(string(v)).To(Equal("v" + k))
		g.Expect(rev).To(BeNumerically(">", 0))
		// HTTP sees the same key and revision.
		r := get(t, dataURL(c.base, k))
		g.Expect(r.body).To(Equal("v" + k))
		g.Expect(r.header.Get("ETag")).To(Equal(httpx.ETag(rev)))
	}
	g.Eventually(func() ([]byte, error) {
		v, _, err := cl.Get(ctx, "wire/050", client.Stale())
		return v, err
	}).WithTimeout(5 * time.Second).Should(Equal([]byte("vwire/050")))

	// Keys the URL form would have to escape go as they are.
	odd := "a/../b?c=d#e %zz\x00ü"
	_, err = cl.Put(ctx, odd, []byte("odd"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(get(t, dataURL(c.base, odd)).body).To(Equal("odd"))

	// Preconditions, deletes and errors map as over HTTP.
	rev1, err := cl.Put(ctx, "cas", []byte("1"), client.IfAbsent())
	g.Expect(err).NotTo(HaveOccurred())
	_, err = cl.Put(ctx, "cas", []byte("x"), client.IfAbsent())
	g.Expect(err).To(MatchError(client.ErrConditionFailed))
	rev2, err := cl.Put(ctx, "cas", []byte("2"), client.IfMatch(rev1))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cl.Delete(ctx, "cas", client.IfMatch(rev1))).To(MatchError(client.ErrConditionFailed))
	g.Expect(cl.Delete(ctx, "cas", client.IfMatch(rev2))).To(Succeed())
	_, _, err = cl.Get(ctx, "cas")
	g.Expect(err).To(MatchError(client.ErrNotFound))
	g.Expect(cl.Delete(ctx, "cas")).To(MatchError(client.ErrNotFound))
	_, err = cl.Put(ctx, "big", make([]byte, httpx.DefaultMaxValueSize+1))
	g.Expect(err).To(MatchError(client.ErrTooLarge))
	_, err = cl.Put(ctx, strings.Repeat("k", httpx.MaxKeySize+1), []byte("v"))
	g.Expect(err).To(MatchError(client.ErrBadRequest))
	_, err = cl.Put(ctx, "bad\xffutf8", []byte("v"))
	g.Expect(err).To(MatchError(client.ErrBadRequest))

	metrics := get(t, c.base+"/metrics").body
	g.Expect(metrics).To(MatchRegexp(`torua_router_wire_requests_total\{code="204",op="put"\} 10[0-9]`))
	g.Expect(metrics).To(ContainSubstring(`torua_router_wire_requests_total{code="412",op="put"} 1`))
}

// TestReadsMoveOnFrom503 drives forwardTo with stand-in nodes: a read answered 503 by one
// replica (no map yet, a closing shard) goes to the next; a write answered 503 is not
// resent (its outcome may be unknown).
func TestReadsMoveOnFrom503(t *testing.T) {
	g := NewWithT(t)
	var members []shardmap.Node
	for _, id := range []string{"a", "b", "c"} {
		members = append(members, shardmap.Node{ID: id, API: id + ":1", Raft: id + ":2", State: shardmap.NodeActive})
	}
	m, err := shardmap.Place(nil, members, shardmap.PlaceConfig{Cluster: "t", Shards: 1, ReplicationFactor: 3})
	g.Expect(err).NotTo(HaveOccurred())
	rt, err := New(Config{Listen: "127.0.0.1:0", Source: shardmap.NewStatic(m), RetryBudget: time.Second})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(rt.holder.Offer(m, "test")).To(Succeed())
	first := m.Replicas(0)[0]
	var asked []string
	send := func(_ context.Context, n shardmap.Node) (reply, error) {
		asked = append(asked, n.ID)
		if n.ID == first {
			return reply{status: 503, body: []byte(`{"error":"unavailable: no valid shard map yet"}`)}, nil
		}
		return reply{status: 200, revision: 7, body: []byte("v")}, nil
	}
	shard0 := func(*shardmap.Map) int { return 0 }
	rep, err := rt.forwardTo(context.Background(), true, shard0, send)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(rep.status).To(Equal(200))
	g.Expect(asked).To(Equal([]string{first, nextReplica(m, 0, first)}))

	rt.setLeader(0, first)
	asked = nil
	rep, err = rt.forwardTo(context.Background(), false, shard0, send)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(rep.status).To(Equal(503), "a write's 503 goes back to the client")
	g.Expect(asked).To(Equal([]string{first}))
}

// hungListener accepts connections, answers the wire protocol's preface and then reads and
// answers nothing: a node whose process is stopped (SIGSTOP) or hung looks like that, since
// the kernel still accepts its connections.
func hungListener(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer func() { _ = nc.Close() }()
				_, _ = nc.Write([]byte(wire.Preface))
				_, _ = io.Copy(io.Discard, nc)
			}()
		}
	}()
	return ln.Addr().String()
}

// TestHungNodeIsSkipped: a node that takes connections and answers nothing makes the write
// in flight to it fail as soon as a ping goes unanswered (502: it may have been applied),
// not when the router's node timeout ends, and later requests go to other replicas at once.
func TestHungNodeIsSkipped(t *testing.T) {
	g := NewWithT(t)
	c := startClusterVia(t, 3, 3, nil, false)
	var key string
	for i := 0; key == ""; i++ {
		if k := "k" + strconv.Itoa(i); c.m.Replicas(c.m.ShardFor([]byte(k)))[0] == "n0" {
			key = k
		}
	}
	g.Expect(send(t, "PUT", dataURL(c.base, key), "v1", nil).code).To(Equal(204))
	// n0 stops (its shards' leaderships go to the others) and its API address now answers
	// nothing: a router that starts now tries n0 first for key's shard, its first replica.
	g.Expect(c.nodes[0].Shutdown(context.Background())).To(Succeed())
	data, err := shardmap.Encode(c.m)
	g.Expect(err).NotTo(HaveOccurred())
	hung, err := shardmap.Decode(data)
	g.Expect(err).NotTo(HaveOccurred())
	hung.Version++
	hung.Nodes[slices.IndexFunc(hung.Nodes, func(n shardmap.Node) bool { return n.ID == "n0" })].API = hungListener(t)
	path := filepath.Join(t.TempDir(), "shardmap.json")
	g.Expect(shardmap.WriteFile(path, hung)).To(Succeed())
	log := slog.New(slog.DiscardHandler)
	rt, err := New(Config{Listen: "127.0.0.1:0", Source: shardmap.NewFile(path, log), Logger: log,
		Timeout: 10 * time.Minute, PingInterval: 50 * time.Millisecond, PingTimeout: 300 * time.Millisecond})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(rt.Start(context.Background())).To(Succeed())
	t.Cleanup(func() { _ = rt.Shutdown(context.Background()) })
	base := "http://" + rt.Addr()
	g.Eventually(func() int { return get(t, base+"/readyz").code }).WithTimeout(10 * time.Second).Should(Equal(200))

	// A deadline far below the router's node timeout: the write must end with the hung
	// node's unanswered ping.
	req, err := http.NewRequest(http.MethodPut, dataURL(base, key), strings.NewReader("v2"))
	g.Expect(err).NotTo(HaveOccurred())
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	g.Expect(err).NotTo(HaveOccurred(), "the write sent to the hung node was answered")
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	g.Expect(resp.StatusCode).To(Equal(http.StatusBadGateway), string(body))
	g.Expect(string(body)).To(ContainSubstring("may or may not have been applied"))

	r := get(t, dataURL(base, key))
	g.Expect(r.code).To(Equal(200), r.body)
	g.Expect(r.body).To(Equal("v1"), "the hung node never read the write")
	g.Expect(send(t, "PUT", dataURL(base, key), "v3", nil).code).To(Equal(204))
	g.Expect(get(t, dataURL(base, key)).body).To(Equal("v3"))
}

// TestPprofOnlyWhenAsked: Go's profiles are served on the router's port with Pprof only.
func TestPprofOnlyWhenAsked(t *testing.T) {
	g := NewWithT(t)
	m, err := shardmap.Place(nil, []shardmap.Node{{ID: "a", API: "a:1", Raft: "a:2", State: shardmap.NodeActive}},
		shardmap.PlaceConfig{Cluster: "t", Shards: 1, ReplicationFactor: 1})
	g.Expect(err).NotTo(HaveOccurred())
	for _, on := range []bool{false, true} {
		rt, err := New(Config{Listen: "127.0.0.1:0", Source: shardmap.NewStatic(m), Pprof: on})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(rt.Start(context.Background())).To(Succeed())
		r := get(t, "http://"+rt.Addr()+"/debug/pprof/")
		if on {
			g.Expect(r.code).To(Equal(200))
			g.Expect(r.body).To(ContainSubstring("goroutine"))
		} else {
			g.Expect(r.code).To(Equal(404))
		}
		g.Expect(rt.Shutdown(context.Background())).To(Succeed())
	}
}
