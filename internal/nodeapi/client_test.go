package nodeapi_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/internal/nodeapi"
	"github.com/torua/torua/node"
	"github.com/torua/torua/node/replication"
	"github.com/torua/torua/shardmap"
)

// TestAgainstANode calls every endpoint of a real node (engine on disk, one Raft group per
// shard): before it holds a map (no shard map, 503s), and once it serves one.
func TestAgainstANode(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	mapPath := filepath.Join(dir, "shardmap.json")
	log := slog.New(slog.DiscardHandler)
	nd, err := node.New(node.Config{ID: "n0", Listen: "127.0.0.1:0", RaftListen: "127.0.0.1:0",
		DataDir: filepath.Join(dir, "n0"), Source: shardmap.NewFile(mapPath, log), Logger: log,
		Raft: replication.Config{HeartbeatTimeout: 200 * time.Millisecond, RaftLogLevel: "off"}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(nd.Start(context.Background())).To(Succeed())
	t.Cleanup(func() { _ = nd.Shutdown(context.Background()) })
	addr := nd.Addr()
	ctx := context.Background()
	c := nodeapi.New(nodeapi.Config{})
	t.Cleanup(c.Close)

	// A node without a map answers that it has none.
	_, err = c.ShardMap(ctx, addr)
	g.Expect(err).To(MatchError(nodeapi.ErrNoShardMap))
	g.Expect(nodeapi.StatusCode(err)).To(Equal(http.StatusNotFound))
	_, err = c.List(ctx, addr, nodeapi.ListRequest{ListParams: httpx.ListParams{Limit: 10}})
	var ae *nodeapi.Error
	g.Expect(errors.As(err, &ae)).To(BeTrue(), "%v", err)
	g.Expect(ae.StatusCode).To(Equal(http.StatusServiceUnavailable))
	g.Expect(ae.Body.Error).To(ContainSubstring("no valid shard map"))
	g.Expect(ae.Method + " " + ae.Addr + ae.Path).To(HavePrefix("GET " + addr + "/store?"))
	st, err := c.Status(ctx, addr)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st.Node).To(Equal("n0"))
	g.Expect(st.MapVersion).To(BeZero())

	// A node with a map answers every endpoint.
	m, err := shardmap.Place(nil, []shardmap.Node{{ID: "n0", API: addr, Raft: nd.RaftAddr(), State: shardmap.NodeActive}},
		shardmap.PlaceConfig{Cluster: "t", Shards: 4, ReplicationFactor: 1})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(shardmap.WriteFile(mapPath, m)).To(Succeed())
	g.Eventually(func(g Gomega) {
		st, err := c.Status(ctx, addr)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(st.Ready).To(BeTrue())
		g.Expect(st.Shards).To(HaveLen(4))
		for _, sh := range st.Shards {
			g.Expect(sh.Role).To(Equal(shardmap.RoleLeader))
		}
	}).WithTimeout(20 * time.Second).WithPolling(20 * time.Millisecond).Should(Succeed())
	got, err := c.ShardMap(ctx, addr)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(Equal(m))
	rs, err := c.RaftState(ctx, addr)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(rs.Node).To(Equal("n0"))
	g.Expect(rs.RaftID).To(MatchRegexp(`^[0-9a-f]{16}$`))
	g.Expect(rs.Shards).To(Equal([]int{0, 1, 2, 3}))
	g.Expect(c.TransferLeadership(ctx, addr)).To(Succeed(), "a group of one keeps its leadership and says so with 200")

	keys := map[int][]string{}
	for i := range 20 {
		k := fmt.Sprintf("k%02d", i)
		put(t, addr, k)
		keys[m.ShardFor([]byte(k))] = append(keys[m.ShardFor([]byte(k))], k)
	}
	page, err := c.List(ctx, addr, nodeapi.ListRequest{ListParams: httpx.ListParams{Prefix: "k", Limit: 100}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(page.Keys).To(HaveLen(20))
	g.Expect(page.Next).To(BeEmpty())
	page, err = c.List(ctx, addr, nodeapi.ListRequest{ListParams: httpx.ListParams{Limit: 100},
		Consistency: "stale", Shards: []int{1, 2}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(page.Keys).To(ConsistOf(append(append([]string{}, keys[1]...), keys[2]...)))
	page, err = c.List(ctx, addr, nodeapi.ListRequest{ListParams: httpx.ListParams{Limit: 3}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(page.Keys).To(Equal([]string{"k00", "k01", "k02"}))
	g.Expect(page.Next).To(Equal("k02"))

	// A node answers 421 with its map version for a shard it does not host, 400 to a bad request.
	_, err = c.List(ctx, addr, nodeapi.ListRequest{ListParams: httpx.ListParams{Limit: 1}, Shards: []int{9}})
	g.Expect(errors.As(err, &ae)).To(BeTrue(), "%v", err)
	g.Expect(ae.StatusCode).To(Equal(http.StatusMisdirectedRequest))
	g.Expect(ae.Body.MapVersion).To(Equal(m.Version))
	_, err = c.List(ctx, addr, nodeapi.ListRequest{ListParams: httpx.ListParams{Limit: 1}, Consistency: "eventual"})
	g.Expect(nodeapi.StatusCode(err)).To(Equal(http.StatusBadRequest))
	g.Expect(err.Error()).To(ContainSubstring("node answered 400"))
}

// put writes key through the node's key API.
func put(t *testing.T, addr, key string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, "http://"+addr+"/store/"+key, strings.NewReader("v"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT %s answered %d", key, resp.StatusCode)
	}
}

// The tests below stand in for a node with an httptest server on loopback: a real node
// cannot be made to hang, send oversized or malformed answers, or redirect.

// standIn serves h on loopback and returns its address.
func standIn(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// hang is a handler that answers nothing until the client gives up; with header set it
// sends the status line and part of a body first.
func hang(header bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if header {
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, `{"node":`)
			w.(http.Flusher).Flush()
		}
		<-r.Context().Done()
	}
}

func TestTimeoutBoundsTheWholeCall(t *testing.T) {
	for name, header := range map[string]bool{"no answer": false, "body cut short": true} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			addr := standIn(t, hang(header))
			c := nodeapi.New(nodeapi.Config{Timeout: 50 * time.Millisecond})
			_, err := c.Status(context.Background(), addr)
			g.Expect(err).To(MatchError(context.DeadlineExceeded))
			g.Expect(nodeapi.StatusCode(err)).To(BeZero())
		})
	}
}

func TestCallerContextEndsACall(t *testing.T) {
	g := NewWithT(t)
	addr := standIn(t, hang(false))
	c := nodeapi.New(nodeapi.Config{Timeout: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.TransferLeadership(ctx, addr) }()
	cancel()
	g.Eventually(errc).WithTimeout(10 * time.Second).Should(Receive(MatchError(context.Canceled)))
}

func TestBodyLimit(t *testing.T) {
	g := NewWithT(t)
	const limit = 64
	body := `{"node":"n0","mapVersion":3,"ready":true,"shards":[]}`
	pad := strings.Repeat(" ", limit-len(body))
	var answer string
	addr := standIn(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, answer) })
	c := nodeapi.New(nodeapi.Config{MaxBody: limit})

	answer = body + pad // exactly the limit
	st, err := c.Status(context.Background(), addr)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st.MapVersion).To(Equal(uint64(3)))

	answer = body + pad + " " // one byte over
	_, err = c.Status(context.Background(), addr)
	g.Expect(err).To(MatchError(nodeapi.ErrBadAnswer))
	g.Expect(err.Error()).To(ContainSubstring("over 64 bytes"))
}

// TestBodyOfDeclaredLength: an answer with a Content-Length is read whole, over one kept
// connection; one cut short of it is an error.
func TestBodyOfDeclaredLength(t *testing.T) {
	g := NewWithT(t)
	body := `{"node":"n0","mapVersion":3,"ready":true,"shards":[],"pad":"` + strings.Repeat("x", 1<<20) + `"}`
	declared := len(body)
	addr := standIn(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(declared))
		_, _ = io.WriteString(w, body)
	})
	var conns atomic.Int32
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
		conns.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, a)
	}}}
	c := nodeapi.New(nodeapi.Config{HTTP: hc})
	for range 3 {
		st, err := c.Status(context.Background(), addr)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(st.MapVersion).To(Equal(uint64(3)))
	}
	g.Expect(conns.Load()).To(Equal(int32(1)), "the body was read to its end: the connection was kept")

	declared = len(body) + 10
	_, err := c.Status(context.Background(), addr)
	g.Expect(err).To(MatchError(io.ErrUnexpectedEOF))
}

func TestErrorBodies(t *testing.T) {
	g := NewWithT(t)
	var status int
	var body string
	addr := standIn(t, func(w http.ResponseWriter, r *http.Request) {
		if status == http.StatusFound {
			http.Redirect(w, r, "/elsewhere", status)
			return
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
	c := nodeapi.New(nodeapi.Config{})
	ctx := context.Background()

	status, body = http.StatusMisdirectedRequest, `{"error":"not the leader of shard 3","mapVersion":7,"leader":"n2"}`
	_, err := c.RaftState(ctx, addr)
	var ae *nodeapi.Error
	g.Expect(errors.As(err, &ae)).To(BeTrue())
	g.Expect(*ae).To(Equal(nodeapi.Error{Method: "GET", Addr: addr, Path: "/internal/raft-state",
		StatusCode: http.StatusMisdirectedRequest,
		Body:       httpx.ErrorBody{Error: "not the leader of shard 3", MapVersion: 7, Leader: "n2"}}))
	g.Expect(err.Error()).To(Equal("GET " + addr + "/internal/raft-state: node answered 421: not the leader of shard 3"))

	status, body = http.StatusBadGateway, "<html>proxy error</html>"
	err = c.TransferLeadership(ctx, addr)
	g.Expect(errors.As(err, &ae)).To(BeTrue())
	g.Expect(ae.Body).To(BeZero(), "a body that is not the node's JSON is left out")
	g.Expect(err.Error()).To(HaveSuffix("node answered 502: Bad Gateway"))

	status, body = http.StatusNotFound, `{"error":"not found: node n0 holds no shard map yet"}`
	_, err = c.ShardMap(ctx, addr)
	g.Expect(err).To(MatchError(nodeapi.ErrNoShardMap))
	g.Expect(errors.As(err, &ae)).To(BeTrue(), "the node's answer stays in the chain")
	g.Expect(ae.Body.Error).To(ContainSubstring("holds no shard map"))
	_, err = c.Status(ctx, addr)
	g.Expect(err).NotTo(MatchError(nodeapi.ErrNoShardMap), "only the shard map's 404 means no shard map")

	status = http.StatusFound // a node never redirects: the redirect is the answer
	_, err = c.Status(ctx, addr)
	g.Expect(nodeapi.StatusCode(err)).To(Equal(http.StatusFound))
}

func TestUndecodableAnswers(t *testing.T) {
	g := NewWithT(t)
	var body string
	addr := standIn(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, body) })
	c := nodeapi.New(nodeapi.Config{})
	ctx := context.Background()
	body = `{"node":`
	_, err := c.Status(ctx, addr)
	g.Expect(err).To(MatchError(nodeapi.ErrBadAnswer))
	_, err = c.List(ctx, addr, nodeapi.ListRequest{})
	g.Expect(err).To(MatchError(nodeapi.ErrBadAnswer))
	body = `{"cluster":"t","version":1}` // JSON, but not a valid map
	_, err = c.ShardMap(ctx, addr)
	g.Expect(err).To(MatchError(nodeapi.ErrBadAnswer))
	g.Expect(nodeapi.StatusCode(err)).To(BeZero())
}

// TestListRequestQuery checks the query List sends: the router relies on every parameter
// reaching the node as it parsed it.
func TestListRequestQuery(t *testing.T) {
	g := NewWithT(t)
	queries := make(chan string, 2)
	addr := standIn(t, func(w http.ResponseWriter, r *http.Request) {
		queries <- r.URL.Path + "?" + r.URL.RawQuery
		_, _ = io.WriteString(w, `{"keys":[]}`)
	})
	c := nodeapi.New(nodeapi.Config{})
	_, err := c.List(context.Background(), addr, nodeapi.ListRequest{ListParams: httpx.ListParams{Prefix: "a b", After: "a&c", Limit: 5},
		Consistency: "stale", Shards: []int{3, 1}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(<-queries).To(Equal("/store?after=a%26c&consistency=stale&limit=5&prefix=a+b&shards=3%2C1"))
	_, err = c.List(context.Background(), addr, nodeapi.ListRequest{ListParams: httpx.ListParams{Limit: 1}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(<-queries).To(Equal("/store?after=&limit=1&prefix="))
}

func TestRefusedConnection(t *testing.T) {
	g := NewWithT(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	g.Expect(err).NotTo(HaveOccurred())
	addr := ln.Addr().String()
	g.Expect(ln.Close()).To(Succeed()) // nothing listens there now
	c := nodeapi.New(nodeapi.Config{MaxIdleConnsPerHost: 1})
	_, err = c.Status(context.Background(), addr)
	g.Expect(err).To(MatchError(syscall.ECONNREFUSED))
	var op *net.OpError
	g.Expect(errors.As(err, &op)).To(BeTrue())
	g.Expect(op.Op).To(Equal("dial"))
	_, err = c.ShardMap(context.Background(), addr)
	g.Expect(err).To(MatchError(syscall.ECONNREFUSED))
	g.Expect(err).NotTo(MatchError(nodeapi.ErrNoShardMap))
	_, err = c.Status(context.Background(), "no such host:1")
	g.Expect(err).To(HaveOccurred(), "an address that makes no URL")
}

// TestGivenHTTPClient: a caller's http.Client (the operator's tests dial stand-in nodes
// through theirs) does the requests.
func TestGivenHTTPClient(t *testing.T) {
	g := NewWithT(t)
	addr := standIn(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, `{"node":"n1"}`) })
	dialed := make(chan string, 1)
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
		dialed <- a
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}}
	st, err := nodeapi.New(nodeapi.Config{HTTP: hc}).Status(context.Background(), "n1.example:7070")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st.Node).To(Equal("n1"))
	g.Expect(<-dialed).To(Equal("n1.example:7070"))
}

func TestPostJSON(t *testing.T) {
	g := NewWithT(t)
	var got struct {
		method, path, contentType string
		body                      []byte
	}
	status, answer := http.StatusOK, `{"n":2}`
	addr := standIn(t, func(w http.ResponseWriter, r *http.Request) {
		got.method, got.path, got.contentType = r.Method, r.URL.Path, r.Header.Get("Content-Type")
		got.body, _ = io.ReadAll(r.Body)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	})
	c := nodeapi.New(nodeapi.Config{})
	ctx := context.Background()
	var out struct{ N int }
	g.Expect(c.PostJSON(ctx, addr, "/internal/graph/g/3/read", map[string]int{"n": 1}, &out)).To(Succeed())
	g.Expect(out.N).To(Equal(2))
	g.Expect([]string{got.method, got.path, got.contentType, string(got.body)}).To(Equal(
		[]string{"POST", "/internal/graph/g/3/read", "application/json", `{"n":1}`}))
	g.Expect(c.PostJSON(ctx, addr, "/p", 1, nil)).To(Succeed(), "out nil: the answer is not read as JSON")

	answer = `{"n":`
	g.Expect(c.PostJSON(ctx, addr, "/p", 1, &out)).To(MatchError(nodeapi.ErrBadAnswer))
	status, answer = http.StatusConflict, `{"error":"vertex 3 still has 2 relationships"}`
	err := c.PostJSON(ctx, addr, "/p", 1, &out)
	g.Expect(nodeapi.StatusCode(err)).To(Equal(http.StatusConflict))
	g.Expect(err.Error()).To(HaveSuffix("node answered 409: vertex 3 still has 2 relationships"))
	g.Expect(c.PostJSON(ctx, addr, "/p", make(chan int), nil)).To(MatchError(ContainSubstring("encode the request")))
}

// TestPostJSONRaw: the request is PostJSON's plus the Accept header asked for, and the answer
// comes back undecoded with its Content-Type; a non-2xx answer is still an *Error.
func TestPostJSONRaw(t *testing.T) {
	g := NewWithT(t)
	var accept []string
	status, contentType, answer := http.StatusOK, "application/x-test", "\x01\x02not json"
	addr := standIn(t, func(w http.ResponseWriter, r *http.Request) {
		accept = r.Header.Values("Accept")
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	})
	c := nodeapi.New(nodeapi.Config{})
	ctx := context.Background()
	body, ct, err := c.PostJSONRaw(ctx, addr, "/p", map[string]int{"n": 1}, "application/x-test")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(body)).To(Equal(answer))
	g.Expect(ct).To(Equal("application/x-test"))
	g.Expect(accept).To(Equal([]string{"application/x-test"}))

	_, _, err = c.PostJSONRaw(ctx, addr, "/p", 1, "")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(accept).To(BeEmpty(), "no Accept header unless asked")

	status, contentType, answer = http.StatusMisdirectedRequest, "application/json", `{"error":"not the leader","leader":"n2"}`
	_, _, err = c.PostJSONRaw(ctx, addr, "/p", 1, "application/x-test")
	var ae *nodeapi.Error
	g.Expect(errors.As(err, &ae)).To(BeTrue(), "%v", err)
	g.Expect(ae.Body).To(Equal(httpx.ErrorBody{Error: "not the leader", Leader: "n2"}))
	_, _, err = c.PostJSONRaw(ctx, addr, "/p", make(chan int), "")
	g.Expect(err).To(MatchError(ContainSubstring("encode the request")))
}

// TestPostRaw: the body goes as it is, with the Content-Type and Accept headers asked for; the
// answer comes back as PostJSONRaw's does, and a refusal of the Content-Type is an *Error.
func TestPostRaw(t *testing.T) {
	g := NewWithT(t)
	var got struct {
		contentType, accept string
		body                []byte
	}
	status := http.StatusOK
	addr := standIn(t, func(w http.ResponseWriter, r *http.Request) {
		got.contentType, got.accept = r.Header.Get("Content-Type"), r.Header.Get("Accept")
		got.body, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/x-answer")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"error":"unsupported media type"}`)
	})
	c := nodeapi.New(nodeapi.Config{})
	ctx := context.Background()
	body, ct, err := c.PostRaw(ctx, addr, "/p", []byte{1, 0, 2}, "application/x-request", "application/x-answer")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got.body).To(Equal([]byte{1, 0, 2}))
	g.Expect([]string{got.contentType, got.accept, ct, string(body)}).To(Equal([]string{
		"application/x-request", "application/x-answer", "application/x-answer", `{"error":"unsupported media type"}`}))

	status = http.StatusUnsupportedMediaType
	_, _, err = c.PostRaw(ctx, addr, "/p", nil, "application/x-request", "")
	g.Expect(nodeapi.StatusCode(err)).To(Equal(http.StatusUnsupportedMediaType))
	g.Expect(err.Error()).To(HaveSuffix("node answered 415: unsupported media type"))
	g.Expect(got.body).To(BeEmpty())
	g.Expect(got.contentType).To(Equal("application/x-request"), "an empty body has its Content-Type too")
}
