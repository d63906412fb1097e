package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/shardmap"
)

// startNode runs a real node (engine on disk) that hosts every shard of a one-node map, or the
// shards the given map assigns to "n0".
func startNode(t testing.TB, m *shardmap.Map, tune func(*Config)) (*Node, string) {
	t.Helper()
	if m == nil {
		m = oneNodeMap(t, "127.0.0.1:1")
	}
	cfg := Config{ID: "n0", Listen: "127.0.0.1:0", DataDir: t.TempDir(), Source: shardmap.NewStatic(m), Logger: slog.New(slog.DiscardHandler)}
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
	return n, base
}

func oneNodeMap(t testing.TB, api string) *shardmap.Map {
	m, err := shardmap.Place(nil, []shardmap.Node{{ID: "n0", API: api, State: shardmap.NodeActive}},
		shardmap.PlaceConfig{Cluster: "t", Shards: 8, ReplicationFactor: 1})
	if err != nil {
		t.Fatal(err)
	}
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

func TestMisdirectedAndMapChanges(t *testing.T) {
	g := NewWithT(t)
	m1, err := shardmap.Place(nil, []shardmap.Node{
		{ID: "n0", API: "127.0.0.1:1", State: shardmap.NodeActive},
		{ID: "n1", API: "127.0.0.1:2", State: shardmap.NodeActive},
	}, shardmap.PlaceConfig{Cluster: "t", Shards: 8, ReplicationFactor: 1})
	g.Expect(err).NotTo(HaveOccurred())
	n, base := startNode(t, m1, nil)

	var mine, theirs string
	for i := 0; mine == "" || theirs == ""; i++ {
		k := "key-" + strconv.Itoa(i)
		if m1.Replicas(m1.ShardFor([]byte(k)))[0] == "n0" {
			mine = k
		} else {
			theirs = k
		}
	}
	g.Expect(status(t, "PUT", keyURL(base, mine), "v", nil)).To(Equal(204))
	r := do(t, "PUT", keyURL(base, theirs), "v", nil)
	g.Expect(r.code).To(Equal(421))
	var body httpx.ErrorBody
	g.Expect(json.Unmarshal([]byte(r.body), &body)).To(Succeed())
	g.Expect(body.MapVersion).To(Equal(uint64(1)))
	g.Expect(status(t, "GET", keyURL(base, theirs), "", nil)).To(Equal(421), "a node never creates a shard on demand")

	// A newer map that gives every shard to n0 is followed without a restart.
	m2, err := shardmap.Place(m1, []shardmap.Node{{ID: "n0", API: "127.0.0.1:1", State: shardmap.NodeActive}},
		shardmap.PlaceConfig{Cluster: "t", Shards: 8, ReplicationFactor: 1})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(n.Holder().Offer(m2, "test")).To(Succeed())
	g.Eventually(func() int { return status(t, "PUT", keyURL(base, theirs), "v", nil) }).WithTimeout(5 * time.Second).Should(Equal(204))
	g.Expect(n.Status().MapVersion).To(Equal(uint64(2)))
	g.Expect(n.Status().Shards).To(HaveLen(8))
	g.Expect(do(t, "GET", keyURL(base, mine), "", nil).body).To(Equal("v"))
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
		g.Expect(s.Role).To(Equal("leader"))
		keys += s.Keys
	}
	g.Expect(keys).To(Equal(int64(1)))
	var tr TransferResult
	r := do(t, "POST", base+"/internal/transfer-leadership", "", nil)
	g.Expect(r.code).To(Equal(200))
	g.Expect(json.Unmarshal([]byte(r.body), &tr)).To(Succeed())
	g.Expect(tr.HandedOff).To(BeZero(), "without replication there is no replica to hand off to")
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
	n, err := New(Config{ID: "n0", Listen: "127.0.0.1:0", DataDir: t.TempDir(), Source: shardmap.NewFile(t.TempDir()+"/missing.json", nil)})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(n.Start(context.Background())).To(Succeed())
	defer func() { _ = n.Shutdown(context.Background()) }()
	r := do(t, "GET", "http://"+n.Addr()+"/readyz", "", nil)
	g.Expect(r.code).To(Equal(503))
	g.Expect(r.body).To(ContainSubstring("no valid shard map"))
	g.Expect(status(t, "GET", keyURL("http://"+n.Addr(), "k"), "", nil)).To(Equal(503))
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

// TestOnlyFirstReplicaServesWithoutReplication: with a map of replicationFactor 2 and no
// replication, a node serves the shards it leads (first replica) and answers 421 for shards
// where it is a second replica, so no shard ever has two diverging copies.
func TestOnlyFirstReplicaServesWithoutReplication(t *testing.T) {
	g := NewWithT(t)
	m, err := shardmap.Place(nil, []shardmap.Node{
		{ID: "n0", API: "127.0.0.1:1", State: shardmap.NodeActive},
		{ID: "n1", API: "127.0.0.1:2", State: shardmap.NodeActive},
	}, shardmap.PlaceConfig{Cluster: "t", Shards: 8, ReplicationFactor: 2})
	g.Expect(err).NotTo(HaveOccurred())
	n, base := startNode(t, m, nil)
	var first, second string
	for i := 0; first == "" || second == ""; i++ {
		k := "key-" + strconv.Itoa(i)
		if m.Replicas(m.ShardFor([]byte(k)))[0] == "n0" {
			first = k
		} else {
			second = k
		}
	}
	g.Expect(status(t, "PUT", keyURL(base, first), "v", nil)).To(Equal(204))
	g.Expect(status(t, "PUT", keyURL(base, second), "v", nil)).To(Equal(421))
	for _, s := range n.Status().Shards {
		g.Expect(m.Replicas(s.Shard)[0]).To(Equal("n0"))
	}
}
