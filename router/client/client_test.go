package client_test

// These tests run the client against httptest servers that stand in for the router
// (clienttest.Router and small inline handlers); the real router is tested in its own package.

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/torua/torua/router/client"
	"github.com/torua/torua/router/client/clienttest"
	"github.com/torua/torua/shardmap"
)

func newClient(t *testing.T, url string) *client.Client {
	t.Helper()
	c, err := client.New(url)
	if err != nil {
		t.Fatalf("New(%q): %v", url, err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestKeyEscapingRoundTrip(t *testing.T) {
	fake := clienttest.NewRouter(t)
	c := newClient(t, fake.URL)
	ctx := context.Background()

	keys := []string{
		"plain",
		"a/b/c",
		"/leading",
		"trailing/",
		"a//b",
		"//",
		".",
		"..",
		"../etc/passwd",
		"a/../b",
		"a/./b",
		"with space",
		"100%",
		"%2F",
		"%zz",
		"what?x=1&y=2",
		"frag#ment",
		"plus+sign",
		"semi;colon,comma",
		"colon:at@dollar$",
		"Grüße/日本語/🙂",
		"tab\tnewline\n",
		"\x00\xff",
		strings.Repeat("k/", 512), // 1024 bytes
	}
	for i, key := range keys {
		value := []byte("value-" + key)
		rev, err := c.Put(ctx, key, value)
		if err != nil {
			t.Fatalf("Put(%q): %v", key, err)
		}
		reqs := fake.Requests()
		if got := reqs[len(reqs)-1].Key; got != key {
			t.Fatalf("Put(%q): the server saw key %q (path %s)", key, got, reqs[len(reqs)-1].Path)
		}
		if _, want, _ := fake.Value(key); rev != want {
			t.Errorf("Put(%q) = revision %d, want %d", key, rev, want)
		}
		got, grev, err := c.Get(ctx, key)
		if err != nil {
			t.Fatalf("Get(%q): %v", key, err)
		}
		if string(got) != string(value) || grev != rev {
			t.Errorf("Get(%q) = %q, %d; want %q, %d", key, got, grev, value, rev)
		}
		if err := c.Delete(ctx, key); err != nil {
			t.Fatalf("Delete(%q): %v", key, err)
		}
		if n := fake.Len(); n != 0 {
			t.Fatalf("after key %d (%q) the fake holds %d keys, want 0", i, key, n)
		}
	}
	for _, r := range fake.Requests() {
		if strings.Count(r.Path, "/") != 2 {
			t.Errorf("path %q: the key is not one path segment", r.Path)
		}
	}
}

func TestEmptyKeyIsRefusedLocally(t *testing.T) {
	fake := clienttest.NewRouter(t)
	c := newClient(t, fake.URL)
	if _, _, err := c.Get(context.Background(), ""); !errors.Is(err, client.ErrInvalidKey) {
		t.Errorf("Get(\"\") = %v, want ErrInvalidKey", err)
	}
	if _, err := c.Put(context.Background(), "", nil); !errors.Is(err, client.ErrInvalidKey) {
		t.Errorf("Put(\"\") = %v, want ErrInvalidKey", err)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d requests reached the server, want 0", n)
	}
}

func TestConditionalWrites(t *testing.T) {
	fake := clienttest.NewRouter(t)
	c := newClient(t, fake.URL)
	ctx := context.Background()

	rev1, err := c.Put(ctx, "k", []byte("1"), client.IfAbsent())
	if err != nil {
		t.Fatalf("first Put IfAbsent: %v", err)
	}
	if _, err := c.Put(ctx, "k", []byte("x"), client.IfAbsent()); !errors.Is(err, client.ErrConditionFailed) {
		t.Fatalf("second Put IfAbsent = %v, want ErrConditionFailed", err)
	}
	rev2, err := c.Put(ctx, "k", []byte("2"), client.IfMatch(rev1))
	if err != nil {
		t.Fatalf("Put IfMatch(%d): %v", rev1, err)
	}
	if rev2 <= rev1 {
		t.Errorf("revision went from %d to %d", rev1, rev2)
	}
	if _, err := c.Put(ctx, "k", []byte("x"), client.IfMatch(rev1)); !errors.Is(err, client.ErrConditionFailed) {
		t.Fatalf("Put with stale IfMatch = %v, want ErrConditionFailed", err)
	}
	if _, err := c.Put(ctx, "absent", []byte("x"), client.IfExists()); !errors.Is(err, client.ErrConditionFailed) {
		t.Fatalf("Put IfExists on a missing key = %v, want ErrConditionFailed", err)
	}
	if err := c.Delete(ctx, "k", client.IfMatch(rev1)); !errors.Is(err, client.ErrConditionFailed) {
		t.Fatalf("Delete with stale IfMatch = %v, want ErrConditionFailed", err)
	}
	if err := c.Delete(ctx, "k", client.IfMatch(rev2)); err != nil {
		t.Fatalf("Delete IfMatch(%d): %v", rev2, err)
	}
	if err := c.Delete(ctx, "k"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("Delete of a deleted key = %v, want ErrNotFound", err)
	}
	if v, _, _ := fake.Value("k"); v != nil {
		t.Errorf("k still holds %q", v)
	}

	// The exact headers on the wire.
	var got []http.Header
	for _, r := range fake.Requests() {
		got = append(got, r.Header)
	}
	checks := []struct {
		i           int
		ifMatch     string
		ifNoneMatch string
	}{
		{0, "", "*"},
		{2, `"` + strconv.FormatUint(rev1, 10) + `"`, ""},
		{4, "*", ""},
	}
	for _, ch := range checks {
		if m := got[ch.i].Get("If-Match"); m != ch.ifMatch {
			t.Errorf("request %d: If-Match %q, want %q", ch.i, m, ch.ifMatch)
		}
		if m := got[ch.i].Get("If-None-Match"); m != ch.ifNoneMatch {
			t.Errorf("request %d: If-None-Match %q, want %q", ch.i, m, ch.ifNoneMatch)
		}
	}
}

func TestStaleRead(t *testing.T) {
	fake := clienttest.NewRouter(t)
	fake.Set("k", []byte("v"))
	c := newClient(t, fake.URL)
	if _, _, err := c.Get(context.Background(), "k", client.Stale()); err != nil {
		t.Fatal(err)
	}
	reqs := fake.Requests()
	if q := reqs[len(reqs)-1].Query; q != "consistency=stale" {
		t.Errorf("query %q, want consistency=stale", q)
	}
}

func TestETagParsing(t *testing.T) {
	tests := []struct {
		etag    string
		want    uint64
		wantErr bool
	}{
		{`"42"`, 42, false},
		{`W/"7"`, 7, false},
		{`"18446744073709551615"`, 1<<64 - 1, false},
		{"", 0, false},
		{`42`, 0, true},
		{`"abc"`, 0, true},
		{`"-1"`, 0, true},
		{`"18446744073709551616"`, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.etag, func(t *testing.T) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.etag != "" {
					w.Header().Set("ETag", tt.etag)
				}
				if r.Method == http.MethodPut {
					w.WriteHeader(http.StatusNoContent)
					return
				}
				_, _ = w.Write([]byte("v"))
			})
			c := newClient(t, srv)
			_, rev, err := c.Get(context.Background(), "k")
			if (err != nil) != tt.wantErr || rev != tt.want {
				t.Errorf("Get: rev %d, err %v; want %d, error %v", rev, err, tt.want, tt.wantErr)
			}
			rev, err = c.Put(context.Background(), "k", []byte("v"))
			if (err != nil) != tt.wantErr || rev != tt.want {
				t.Errorf("Put: rev %d, err %v; want %d, error %v", rev, err, tt.want, tt.wantErr)
			}
		})
	}
}

func serve(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	fake := clienttest.NewRouter(t)
	fake.SetIntercept(func(w http.ResponseWriter, r *http.Request) bool { h(w, r); return true })
	return fake.URL
}

func TestErrorMapping(t *testing.T) {
	tests := []struct {
		status   int
		body     string
		sentinel error
		message  string
		text     string
	}{
		{400, `{"error":"key longer than 1024 bytes"}`, client.ErrBadRequest, "key longer than 1024 bytes", "400 Bad Request: key longer than 1024 bytes"},
		{404, `{"error":"key not found"}`, client.ErrNotFound, "key not found", "404 Not Found: key not found"},
		{412, `{"error":"revision is 7"}`, client.ErrConditionFailed, "revision is 7", "412 Precondition Failed: revision is 7"},
		{413, `{"error":"value too large"}`, client.ErrTooLarge, "value too large", "413 Request Entity Too Large: value too large"},
		{503, `{"error":"shard 3 has no reachable owner"}`, client.ErrUnavailable, "shard 3 has no reachable owner", "503 Service Unavailable: shard 3 has no reachable owner"},
		{502, "upstream died\n", nil, "upstream died", "502 Bad Gateway: upstream died"},
		{429, ``, nil, "", "429 Too Many Requests"},
		{409, `{"error":"conflict"}`, nil, "conflict", "409 Conflict: conflict"},
		{409, `{"error":"conflict: cannot delete vertex 7"}`, nil, "conflict: cannot delete vertex 7", "409 Conflict: cannot delete vertex 7"},
		{421, `{"error":"misdirected"}`, nil, "misdirected", "421 Misdirected Request: misdirected"},
		{599, `{"error":"odd"}`, nil, "odd", "HTTP 599: odd"},
	}
	all := []error{client.ErrBadRequest, client.ErrNotFound, client.ErrConditionFailed, client.ErrTooLarge, client.ErrUnavailable}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			url := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if strings.HasPrefix(tt.body, "{") {
					w.Header().Set("Content-Type", "application/json")
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			})
			c := newClient(t, url)
			ctx := context.Background()
			_, _, getErr := c.Get(ctx, "k")
			_, putErr := c.Put(ctx, "k", []byte("v"))
			delErr := c.Delete(ctx, "k")
			_, _, listErr := c.List(ctx, "", "", 0)
			_, clusterErr := c.Cluster(ctx)
			for _, err := range []error{getErr, putErr, delErr, listErr, clusterErr} {
				var e *client.Error
				if !errors.As(err, &e) {
					t.Fatalf("error %v (%T) is not a *client.Error", err, err)
				}
				if e.Status != tt.status || e.Message != tt.message {
					t.Errorf("got Status %d Message %q, want %d %q", e.Status, e.Message, tt.status, tt.message)
				}
				if err.Error() != tt.text {
					t.Errorf("Error() = %q, want %q", err.Error(), tt.text)
				}
				if errors.Is(err, client.ErrUnreachable) {
					t.Errorf("an answer from the router matches ErrUnreachable: %v", err)
				}
				for _, s := range all {
					if got, want := errors.Is(err, s), s == tt.sentinel; got != want {
						t.Errorf("errors.Is(%v, %v) = %v, want %v", err, s, got, want)
					}
				}
			}
		})
	}
}

func TestUnreachableRouter(t *testing.T) {
	fake := clienttest.NewRouter(t)
	url := fake.URL
	fake.Close() // nothing listens on the port any more: connection refused
	c := newClient(t, url)
	_, _, err := c.Get(context.Background(), "k")
	if err == nil {
		t.Fatal("Get on a closed server succeeded")
	}
	want := "cannot reach router at " + url + ": connection refused"
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if !errors.Is(err, client.ErrUnavailable) || !errors.Is(err, client.ErrUnreachable) {
		t.Errorf("errors.Is(%v, ErrUnavailable/ErrUnreachable) = false", err)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("errors.Is(%v, ECONNREFUSED) = false", err)
	}
	var e *client.Error
	if errors.As(err, &e) {
		t.Errorf("a connection failure is a *client.Error: %v", e)
	}
}

func TestCanceledContext(t *testing.T) {
	fake := clienttest.NewRouter(t)
	c := newClient(t, fake.URL)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := c.Get(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a canceled context = %v, want context.Canceled", err)
	}
}

func TestListPagination(t *testing.T) {
	fake := clienttest.NewRouter(t)
	var want []string
	for _, k := range []string{"a/3", "a/1", "b/1", "a/2", "a/5", "a/4", "a/6", "a/ü", "ab"} {
		fake.Set(k, []byte("v"))
		if strings.HasPrefix(k, "a/") {
			want = append(want, k)
		}
	}
	slices.Sort(want)
	c := newClient(t, fake.URL)
	ctx := context.Background()

	keys, next, err := c.List(ctx, "a/", "", 3)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, want[:3]) || next != want[2] {
		t.Fatalf("first page = %q, next %q; want %q, next %q", keys, next, want[:3], want[2])
	}
	reqs := fake.Requests()
	if q := reqs[len(reqs)-1].Query; q != "limit=3&prefix=a%2F" {
		t.Errorf("query %q", q)
	}
	keys, next, err = c.List(ctx, "a/", next, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, want[3:]) || next != "" {
		t.Fatalf("second page = %q, next %q; want %q, no next", keys, next, want[3:])
	}

	for _, pageSize := range []int{0, 1, 2, 3, 100} {
		var got []string
		for k, err := range c.ListAll(ctx, "a/", pageSize) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, k)
		}
		if !slices.Equal(got, want) {
			t.Errorf("ListAll(page %d) = %q, want %q", pageSize, got, want)
		}
	}

	// Stopping the loop early sends no further request.
	before := len(fake.Requests())
	for _, err := range c.ListAll(ctx, "", 1) {
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	if n := len(fake.Requests()) - before; n != 1 {
		t.Errorf("an early break made %d requests, want 1", n)
	}
}

func TestListAllYieldsError(t *testing.T) {
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		clienttest.WriteError(w, http.StatusServiceUnavailable, "node-1 unreachable")
	})
	c := newClient(t, url)
	var errs []error
	for k, err := range c.ListAll(context.Background(), "", 0) {
		if k != "" {
			t.Errorf("yielded key %q", k)
		}
		errs = append(errs, err)
	}
	if len(errs) != 1 || !errors.Is(errs[0], client.ErrUnavailable) {
		t.Errorf("errors %v, want one ErrUnavailable", errs)
	}
}

func TestCluster(t *testing.T) {
	fake := clienttest.NewRouter(t)
	m := &shardmap.Map{
		Cluster: "demo", Version: 7, Shards: 2, ReplicationFactor: 1, Hash: shardmap.HashXXHash64,
		Nodes: []shardmap.Node{
			{ID: "node-0", API: "127.0.0.1:7070", State: shardmap.NodeActive},
			{ID: "node-1", API: "127.0.0.1:7071", State: shardmap.NodeDraining},
		},
		Assignments: []shardmap.Assignment{{Shard: 0, Replicas: []string{"node-0"}}, {Shard: 1, Replicas: []string{"node-1"}}},
	}
	fake.SetCluster(&client.ClusterInfo{Map: m, Nodes: []client.NodeInfo{
		{ID: "node-0", API: "127.0.0.1:7070", State: shardmap.NodeActive, Reachable: true,
			Status: &shardmap.NodeStatus{Node: "node-0", MapVersion: 7, Ready: true,
				Shards: []shardmap.ShardStatus{{Shard: 0, Role: "leader", Keys: 5, Bytes: 50}}}},
		{ID: "node-1", API: "127.0.0.1:7071", State: shardmap.NodeDraining, Error: "connection refused"},
	}})
	c := newClient(t, fake.URL)
	info, err := c.Cluster(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Map == nil || info.Map.Version != 7 || info.Map.Validate() != nil {
		t.Fatalf("map %+v", info.Map)
	}
	if len(info.Nodes) != 2 {
		t.Fatalf("nodes %+v", info.Nodes)
	}
	n0, n1 := info.Nodes[0], info.Nodes[1]
	if !n0.Reachable || n0.Status == nil || n0.Keys() != 5 || n0.Status.Shards[0].Role != "leader" {
		t.Errorf("node-0 = %+v", n0)
	}
	if n1.Reachable || n1.Status != nil || n1.Error != "connection refused" || n1.State != shardmap.NodeDraining || n1.Keys() != -1 {
		t.Errorf("node-1 = %+v", n1)
	}
}

func TestClusterJSONShape(t *testing.T) {
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"map":null,"nodes":[{"id":"n","api":"127.0.0.1:1","state":"active","reachable":false,"error":"timeout","status":null}]}`))
	})
	info, err := newClient(t, url).Cluster(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := client.NodeInfo{ID: "n", API: "127.0.0.1:1", State: shardmap.NodeActive, Error: "timeout"}
	if info.Map != nil || len(info.Nodes) != 1 || info.Nodes[0].ID != want.ID || info.Nodes[0].API != want.API ||
		info.Nodes[0].State != want.State || info.Nodes[0].Error != want.Error || info.Nodes[0].Status != nil {
		t.Errorf("got %+v", info)
	}
}

func TestNewNormalizesURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8080"},
		{"127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"https://torua.example/api/", "https://torua.example/api"},
	}
	for _, tt := range tests {
		c, err := client.New(tt.in)
		if err != nil {
			t.Errorf("New(%q): %v", tt.in, err)
			continue
		}
		if c.URL() != tt.want {
			t.Errorf("New(%q).URL() = %q, want %q", tt.in, c.URL(), tt.want)
		}
	}
	for _, bad := range []string{"", "ftp://x", "http://", "http://h/?q=1"} {
		if _, err := client.New(bad); err == nil {
			t.Errorf("New(%q) succeeded", bad)
		}
	}
}

func TestBasePathPrefix(t *testing.T) {
	fake := clienttest.NewRouter(t)
	var path string
	fake.SetIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		path = r.URL.EscapedPath()
		w.Header().Set("ETag", `"1"`)
		w.WriteHeader(http.StatusNoContent)
		return true
	})
	c := newClient(t, fake.URL+"/torua/")
	if _, err := c.Put(context.Background(), "a/b", nil); err != nil {
		t.Fatal(err)
	}
	if path != "/torua/data/a%2Fb" {
		t.Errorf("path %q", path)
	}
}
