package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/graph/exec"
	"github.com/torua/torua/graph/shardapi"
	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/internal/wire"
	"github.com/torua/torua/router/client"
	"github.com/torua/torua/shardmap"
)

// query posts a query to the router and decodes the answer.
func query(t testing.TB, base, graph, q string, params map[string]any) (int, QueryResponse, QueryErrorBody) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": q, "params": params})
	if err != nil {
		t.Fatal(err)
	}
	r := send(t, "POST", base+"/graph/"+graph+"/query", string(body), map[string]string{"Content-Type": "application/json"})
	var res QueryResponse
	var qe QueryErrorBody
	if r.code == 200 {
		if err := json.Unmarshal([]byte(r.body), &res); err != nil {
			t.Fatalf("%s: %v", r.body, err)
		}
	} else if err := json.Unmarshal([]byte(r.body), &qe); err != nil {
		t.Fatalf("%d %s: %v", r.code, r.body, err)
	}
	return r.code, res, qe
}

func TestGraphQueriesThroughTheRouter(t *testing.T) {
	g := NewWithT(t)
	c := startCluster(t, 3, 1, nil)
	must := func(q string, params map[string]any) QueryResponse {
		t.Helper()
		code, res, qe := query(t, c.base, "social", q, params)
		g.Expect(code).To(Equal(200), "%s: %+v", q, qe)
		return res
	}
	res := must(`CREATE (a:Person {name: 'Ada', age: 36})-[:KNOWS {since: 2020}]->(b:Person {name: 'Bob', age: 41}),
	                    (b)-[:KNOWS]->(c:Person {name: 'Cy'}), (a)-[:LIKES]->(c)`, nil)
	g.Expect(res.Stats.NodesCreated).To(Equal(3))
	g.Expect(res.Stats.RelationshipsCreated).To(Equal(3))

	res = must(`MATCH (a:Person {name: 'Ada'})-[:KNOWS]->(b)-[:KNOWS]->(c) RETURN b.name, c.name`, nil)
	g.Expect(res.Columns).To(Equal([]string{"b.name", "c.name"}))
	g.Expect(res.Rows).To(Equal([][]any{{"Bob", "Cy"}}))

	res = must(`MATCH (p:Person) WHERE p.age > $min RETURN p.name AS name ORDER BY name`, map[string]any{"min": 30})
	g.Expect(res.Rows).To(Equal([][]any{{"Ada"}, {"Bob"}}))

	res = must(`MATCH (c:Person {name: 'Cy'})<--(x) RETURN x.name ORDER BY x.name`, nil)
	g.Expect(res.Rows).To(Equal([][]any{{"Ada"}, {"Bob"}}))

	res = must(`MATCH (a {name: 'Ada'})-[*1..2]->(x) RETURN count(DISTINCT x) AS n`, nil)
	g.Expect(res.Rows).To(Equal([][]any{{float64(2)}}))

	res = must(`MATCH p = shortestPath((a:Person {name: 'Ada'})-[:KNOWS*..5]->(c:Person {name: 'Cy'})) RETURN length(p)`, nil)
	g.Expect(res.Rows).To(Equal([][]any{{float64(2)}}))

	code, _, qe := query(t, c.base, "social", "MATCH (n RETURN n", nil)
	g.Expect(code).To(Equal(400))
	g.Expect(qe.Line).To(Equal(1))
	g.Expect(qe.Column).To(BeNumerically(">", 0))

	code, _, qe = query(t, c.base, "social", "MATCH (n:Person {name: 'Bob'}) DELETE n", nil)
	g.Expect(code).To(Equal(409), "%+v", qe)
	g.Expect(qe.Error).To(MatchRegexp(`^conflict: cannot delete vertex \d+: it still has 2 relationship\(s\); delete them first, or use DETACH DELETE$`),
		"the refusal as its author reads it: no shard, no mutation index")
	res = must("MATCH (n:Person {name: 'Bob'}) DETACH DELETE n", nil)
	g.Expect(res.Stats.NodesDeleted).To(Equal(1))
	g.Expect(res.Stats.RelationshipsDeleted).To(Equal(2), "the relationships DETACH DELETE removed")
	res = must("MATCH (n:Person)-[r]->() RETURN count(r)", nil)
	g.Expect(res.Rows).To(Equal([][]any{{float64(1)}}))
	// Two vertices detached together: the relationship between them counts once, a loop once.
	must("MATCH (a:Person {name: 'Ada'}) CREATE (a)-[:SELF]->(a)", nil)
	res = must("MATCH (n:Person) DETACH DELETE n", nil)
	g.Expect(res.Stats.NodesDeleted).To(Equal(2))
	g.Expect(res.Stats.RelationshipsDeleted).To(Equal(2))

	r := get(t, c.base+"/graph")
	g.Expect(r.code).To(Equal(200))
	g.Expect(r.body).To(MatchJSON(`{"graphs": ["social"]}`))
	g.Expect(send(t, "DELETE", c.base+"/graph/social", "", nil).code).To(Equal(204))
	g.Expect(get(t, c.base+"/graph").body).To(MatchJSON(`{"graphs": []}`))
	g.Expect(send(t, "DELETE", c.base+"/graph/social", "", nil).code).To(Equal(404))
}

// TestGraphQueryLimits: the row limit answers 413 naming it (also to a variable length without
// an upper bound), the time limit 503, a client that goes away ends its query, and the
// cluster serves the next one.
func TestGraphQueryLimits(t *testing.T) {
	g := NewWithT(t)
	c := startCluster(t, 2, 1, nil)
	code, _, qe := query(t, c.base, "big", `UNWIND range(1, 300) AS i CREATE (:N {i: i})`, nil)
	g.Expect(code).To(Equal(200), "%+v", qe)
	code, _, qe = query(t, c.base, "big", `MATCH (a:N), (b:N) WHERE b.i = a.i + 1 CREATE (a)-[:NEXT]->(b)`, nil)
	g.Expect(code).To(Equal(200), "%+v", qe)

	// The row limit, on a router whose limit is small.
	c.router.graph = exec.New(newGraphCluster(c.router), exec.Config{MaxRows: 1000})
	code, _, qe = query(t, c.base, "big", `MATCH (a:N), (b:N) RETURN count(*)`, nil)
	g.Expect(code).To(Equal(413), "%+v", qe)
	g.Expect(qe.Error).To(ContainSubstring("more than 1000 rows"))
	// A variable length without an upper bound is bounded by the row limit too: the chain
	// of 300 has 44,850 paths.
	unbounded := `MATCH (a:N)-[:NEXT*]->(b) RETURN count(*)`
	code, _, qe = query(t, c.base, "big", unbounded, nil)
	g.Expect(code).To(Equal(413), "%+v", qe)
	g.Expect(qe.Error).To(ContainSubstring("more than 1000 rows"))
	code, res, _ := query(t, c.base, "big", `MATCH (a:N) RETURN count(*)`, nil)
	g.Expect(code).To(Equal(200))
	g.Expect(res.Rows).To(Equal([][]any{{float64(300)}}))

	// Under the default limit, every path.
	c.router.graph = exec.New(newGraphCluster(c.router), exec.Config{})
	code, res, qe = query(t, c.base, "big", unbounded, nil)
	g.Expect(code).To(Equal(200), "%+v", qe)
	g.Expect(res.Rows).To(Equal([][]any{{float64(300 * 299 / 2)}}))

	// The time limit, asked for by the query.
	body := `{"query": "MATCH (a:N)-[:NEXT*1..300]->(b) RETURN count(*)", "timeout": "1ms"}`
	r := send(t, "POST", c.base+"/graph/big/query", body, nil)
	g.Expect(r.code).To(Equal(503), r.body)
	g.Expect(r.body).To(ContainSubstring("time limit of 1ms"))
	// Expression work too: this reduce copies the list it builds at each of a million steps.
	r = send(t, "POST", c.base+"/graph/big/query", `{"query": "RETURN size(reduce(s = [], x IN range(1, 1000000) | s + [x]))", "timeout": "50ms"}`, nil)
	g.Expect(r.code).To(Equal(503), r.body)
	g.Expect(r.body).To(ContainSubstring("time limit of 50ms"))
	r = send(t, "POST", c.base+"/graph/big/query", `{"query": "RETURN 1", "timeout": "soon"}`, nil)
	g.Expect(r.code).To(Equal(400), r.body)
	cl, err := client.New(c.base)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = cl.Query(context.Background(), "big", "MATCH (a:N)-[:NEXT*1..300]->(b) RETURN count(*)", nil, client.QueryTimeout(time.Millisecond))
	g.Expect(errors.Is(err, client.ErrUnavailable)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(ContainSubstring("time limit of 1ms"))

	// A client that goes away: its query ends, and the next one runs.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", c.base+"/graph/big/query",
		strings.NewReader(`{"query": "MATCH (a:N)-[:NEXT*1..300]->(b) RETURN count(*)"}`))
	g.Expect(err).NotTo(HaveOccurred())
	start := time.Now()
	_, err = http.DefaultClient.Do(req)
	g.Expect(err).To(HaveOccurred())
	g.Expect(time.Since(start)).To(BeNumerically("<", 5*time.Second))
	code, res, _ = query(t, c.base, "big", `MATCH (a:N {i: 1})-[:NEXT*3]->(b) RETURN b.i`, nil)
	g.Expect(code).To(Equal(200))
	g.Expect(res.Rows).To(Equal([][]any{{float64(4)}}))

	// Bad requests.
	for _, bad := range []string{``, `{`, `{"query": ""}`, `{"query": "RETURN 1", "params": [1]}`, `{"query": "RETURN 1", "params": {"x": 1e999}}`,
		`{"query": "RETURN 1"} {}`, `{"query": "RETURN 1", "params": {"x": 1}}]`, `{"query": 1}`} {
		r := send(t, "POST", c.base+"/graph/big/query", bad, nil)
		g.Expect(r.code).To(Equal(400), "%q: %s", bad, r.body)
		g.Expect(r.body).To(HavePrefix(`{"error":`))
	}
	for body, want := range map[string]any{
		`{"query": "RETURN $x AS x", "params": {"x": 1}}`:   float64(1),
		`{"query": "RETURN $x AS x", "params": {"x": 1.5}}`: 1.5,
		`{"query": "RETURN 2 AS x", "params": null}`:        float64(2),
		`{"query": "RETURN 3 AS x"}` + "\n":                 float64(3),
	} {
		r := send(t, "POST", c.base+"/graph/big/query", body, nil)
		g.Expect(r.code).To(Equal(200), "%s: %s", body, r.body)
		var res QueryResponse
		g.Expect(json.Unmarshal([]byte(r.body), &res)).To(Succeed())
		g.Expect(res.Rows).To(Equal([][]any{{want}}), body)
	}
	g.Expect(send(t, "GET", c.base+"/graph/big/query", "", nil).code).To(Equal(405))
	g.Expect(send(t, "POST", c.base+"/graph/no{good}/query", `{"query": "RETURN 1"}`, nil).code).To(Equal(400))
}

// TestGraphReadsGoPerNodeAndFollowLeaders: a round's reads of the shards one node leads go
// in one request; the parts a node does not lead (the router's idea of the leaders is wrong
// here for every shard) are sent again on their own to their leaders, and a part refused on
// its merits fails the round.
func TestGraphReadsGoPerNodeAndFollowLeaders(t *testing.T) {
	g := NewWithT(t)
	c := startCluster(t, 3, 3, nil)
	code, _, qe := query(t, c.base, "g", `UNWIND range(1, 60) AS i CREATE (:P {i: i})`, nil)
	g.Expect(code).To(Equal(200), "%+v", qe)
	m := c.router.holder.Current()
	c.router.leadersMu.Lock()
	for shard := range m.Shards {
		c.router.leaders[shard] = m.Nodes[0].ID
	}
	c.router.leadersMu.Unlock()

	cl := newGraphCluster(c.router)
	ctx := context.Background()
	parts := map[int]*shardapi.ReadRequest{}
	for shard := range m.Shards {
		parts[shard] = &shardapi.ReadRequest{Scan: &shardapi.ScanRequest{Label: "P", Limit: 1000}}
	}
	before := c.nodeWireRequests(t, "graph_reads")
	res, err := cl.Reads(ctx, "g", parts)
	g.Expect(err).NotTo(HaveOccurred())
	misled := 0 // the shards n0 does not lead
	for shard := range m.Shards {
		if !slices.ContainsFunc(c.nodes[0].Status().Shards, func(s shardmap.ShardStatus) bool { return s.Shard == shard && s.Role == "leader" }) {
			misled++
		}
	}
	g.Expect(c.nodeWireRequests(t, "graph_reads")-before).To(Equal(1+2*misled),
		"every part went to the node believed to lead it, in one request; each part it does not lead was sent again on its own, there and then to the leader it named")
	found := 0
	for shard := range m.Shards {
		g.Expect(res).To(HaveKey(shard))
		found += len(res[shard].Scanned)
	}
	g.Expect(found).To(Equal(60), "every shard answered once, by its leader")

	parts[0] = &shardapi.ReadRequest{Scan: &shardapi.ScanRequest{Label: "P", Limit: 0}}
	_, err = cl.Reads(ctx, "g", parts)
	g.Expect(errors.Is(err, httpx.ErrBadRequest)).To(BeTrue(), "%v", err)
}

// nodeRequests sums, over the cluster's nodes, the HTTP requests to route they answered 200
// (their /metrics).
func (c *cluster) nodeRequests(t *testing.T, route string) int {
	return c.nodeMetric(t, "torua_node_http_requests_total{", `route="`+route+`"`)
}

// nodeWireRequests sums, over the cluster's nodes, the wire requests of op they answered 200.
func (c *cluster) nodeWireRequests(t *testing.T, op string) int {
	return c.nodeMetric(t, "torua_node_wire_requests_total{", `op="`+op+`"`)
}

// nodeMetric sums, over the cluster's nodes, the counters whose line starts with metric and
// has label, of the requests answered 200.
func (c *cluster) nodeMetric(t *testing.T, metric, label string) int {
	t.Helper()
	n := 0
	for _, nd := range c.nodes {
		r := get(t, "http://"+nd.Addr()+"/metrics")
		for _, line := range strings.Split(r.body, "\n") {
			if strings.HasPrefix(line, metric) && strings.Contains(line, label) && strings.Contains(line, `code="200"`) {
				v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
				if err != nil {
					t.Fatalf("%s: %v", line, err)
				}
				n += int(v)
			}
		}
	}
	return n
}

// TestGraphReadsGoOverTheWireProtocol: a query's reads reach the nodes over the wire
// protocol, over TCP as in Kubernetes, and none over HTTP; a node of an earlier version,
// which refuses the op, gets them over HTTP, and is not asked over the wire again for a while.
func TestGraphReadsGoOverTheWireProtocol(t *testing.T) {
	g := NewWithT(t)
	c := startClusterVia(t, 3, 3, nil, false)
	code, _, qe := query(t, c.base, "g", `UNWIND range(1, 60) AS i CREATE (:P {i: i})-[:NEXT]->(:Q {i: i})`, nil)
	g.Expect(code).To(Equal(200), "%+v", qe)
	wireBefore, httpBefore := c.nodeWireRequests(t, "graph_reads"), c.nodeRequests(t, "/internal/graph/{graph}/reads")
	code, res, qe := query(t, c.base, "g", `MATCH (p:P)-[:NEXT]->(q) RETURN sum(q.i)`, nil)
	g.Expect(code).To(Equal(200), "%+v", qe)
	g.Expect(res.Rows).To(Equal([][]any{{float64(1830)}}))
	g.Expect(c.nodeWireRequests(t, "graph_reads")-wireBefore).To(BeNumerically(">=", 2), "a scan and a hop")
	g.Expect(c.nodeRequests(t, "/internal/graph/{graph}/reads") - httpBefore).To(Equal(0))

	// A router that reaches node n0 through a stand-in for a node of an earlier version:
	// it answers every request as n0 does, except graph reads over the wire, which it refuses
	// as such a node's wire server does. (A fake: no binary of an earlier version is here.)
	n0 := c.nodes[0]
	var refused atomic.Int64
	old := wire.NewServer(func(ctx context.Context, req *wire.Request) wire.Response {
		if req.Op == wire.OpGraphReads {
			refused.Add(1)
			return wire.Response{Status: http.StatusBadRequest, Body: wire.ErrorBody("wire protocol error: unknown op 5")}
		}
		resp, err := n0.WireServer().Do(ctx, req)
		if err != nil {
			return wire.Response{Status: http.StatusServiceUnavailable, Body: wire.ErrorBody(err.Error())}
		}
		return resp
	}, wire.ServerOptions{})
	local := map[string]*wire.Server{n0.Addr(): old}
	rt, err := New(Config{Listen: "127.0.0.1:0", Source: shardmap.NewFile(c.mapPath, slog.New(slog.DiscardHandler)),
		Logger: slog.New(slog.DiscardHandler), Local: local})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(rt.Start(context.Background())).To(Succeed())
	t.Cleanup(func() { _ = rt.Shutdown(context.Background()) })
	base := "http://" + rt.Addr()
	g.Eventually(func() int { return get(t, base+"/readyz").code }).WithTimeout(10 * time.Second).Should(Equal(200))
	httpBefore = c.nodeRequests(t, "/internal/graph/{graph}/reads")
	for range 3 {
		code, res, qe = query(t, base, "g", `MATCH (p:P)-[:NEXT]->(q) RETURN sum(q.i)`, nil)
		g.Expect(code).To(Equal(200), "%+v", qe)
		g.Expect(res.Rows).To(Equal([][]any{{float64(1830)}}))
	}
	g.Expect(refused.Load()).To(Equal(int64(1)), "n0 refused once, and was then sent its reads over HTTP")
	g.Expect(c.nodeRequests(t, "/internal/graph/{graph}/reads")-httpBefore).To(BeNumerically(">=", 3), "n0's reads, over HTTP")
}

// TestGraphQueriesOverTheWireProtocol: a client WithWire sends its queries over the wire
// protocol, and gets what a client over HTTP gets, errors included; a node refuses the op; a
// router of an earlier version refuses it too, and the client then sends its queries over
// HTTP.
func TestGraphQueriesOverTheWireProtocol(t *testing.T) {
	g := NewWithT(t)
	c := startCluster(t, 3, 3, nil)
	ctx := context.Background()
	overHTTP, err := client.New(c.base)
	g.Expect(err).NotTo(HaveOccurred())
	defer overHTTP.Close()
	overWire, err := client.New(c.base, client.WithWire(), client.WithTimeout(10*time.Second))
	g.Expect(err).NotTo(HaveOccurred())
	defer overWire.Close()
	_, err = overWire.Query(ctx, "w", `UNWIND range(1, 20) AS i CREATE (:P {i: i, f: i / 2.0, s: 'p' + toString(i)})-[:NEXT {w: i}]->(:Q {i: i})`, nil)
	g.Expect(err).NotTo(HaveOccurred())
	before := c.routerWireRequests(t, "query")
	for _, q := range []struct {
		text   string
		params map[string]any
	}{
		{`MATCH (p:P)-[r:NEXT]->(q) WHERE p.i <= $n RETURN p, r, q ORDER BY p.i`, map[string]any{"n": 3}},
		{`MATCH (p:P) RETURN p.i, p.f, p.s, [p.i, null, {k: p.f}] AS l ORDER BY p.i LIMIT 4`, nil},
		{`MATCH path = (:P {i: 1})-->() RETURN path`, nil},
		{`RETURN $x AS x, $y AS y`, map[string]any{"x": int64(1) << 60, "y": 1.5}},
	} {
		want, err := overHTTP.Query(ctx, "w", q.text, q.params)
		g.Expect(err).NotTo(HaveOccurred(), q.text)
		got, err := overWire.Query(ctx, "w", q.text, q.params)
		g.Expect(err).NotTo(HaveOccurred(), q.text)
		g.Expect(got.Columns).To(Equal(want.Columns), q.text)
		g.Expect(got.Rows).To(Equal(want.Rows), q.text)
		g.Expect(got.Rows).NotTo(BeEmpty(), q.text)
	}
	for _, q := range []string{"MATCH (n RETURN n", "RETURN nosuch(1)", "MATCH (p:P {i: 1}) DELETE p", `UNWIND range(1, 2000000) AS i RETURN i`} {
		_, want := overHTTP.Query(ctx, "w", q, nil)
		_, got := overWire.Query(ctx, "w", q, nil)
		var we, ge *client.Error
		g.Expect(errors.As(want, &we)).To(BeTrue(), "%s: %v", q, want)
		g.Expect(errors.As(got, &ge)).To(BeTrue(), "%s: %v", q, got)
		g.Expect(*ge).To(Equal(*we), q)
	}
	_, err = overWire.Query(ctx, "no{good}", "RETURN 1", nil)
	var bad *client.Error
	g.Expect(errors.As(err, &bad)).To(BeTrue(), "%v", err)
	g.Expect(bad.Status).To(Equal(http.StatusBadRequest), "%v", err)
	g.Expect(c.routerWireRequests(t, "query")-before).To(Equal(4), "the queries answered 200 went over the wire protocol")

	// A node takes no query: it serves key operations and graph reads only.
	resp, err := c.nodes[0].WireServer().Do(ctx, &wire.Request{Op: wire.OpQuery, Key: "w", Value: []byte(`{"query": "RETURN 1"}`)})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.Status).To(Equal(http.StatusBadRequest))
	g.Expect(string(resp.Body)).To(ContainSubstring("query is not a key operation"))

	// A router of an earlier version, played by a stand-in on its own port: its wire
	// protocol refuses the op as such a router's does, and its HTTP is the router's. (A fake:
	// no binary of an earlier version is here.)
	var refused atomic.Int64
	old := wire.NewServer(func(_ context.Context, req *wire.Request) wire.Response {
		refused.Add(1)
		return wire.Response{Status: http.StatusBadRequest, Body: wire.ErrorBody(fmt.Sprintf("wire protocol error: unknown op %d", req.Op))}
	}, wire.ServerOptions{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	g.Expect(err).NotTo(HaveOccurred())
	target, err := url.Parse(c.base)
	g.Expect(err).NotTo(HaveOccurred())
	hs := &http.Server{Handler: httputil.NewSingleHostReverseProxy(target)}
	go func() { _ = hs.Serve(wire.NewListener(ln, old, 5*time.Second)) }()
	defer hs.Close()
	toOld, err := client.New("http://"+ln.Addr().String(), client.WithWire(), client.WithTimeout(10*time.Second))
	g.Expect(err).NotTo(HaveOccurred())
	defer toOld.Close()
	for range 3 {
		res, err := toOld.Query(ctx, "w", "MATCH (p:P) RETURN count(p) AS n", nil)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(res.Rows).To(Equal([][]any{{int64(20)}}))
	}
	g.Expect(refused.Load()).To(Equal(int64(1)), "refused once, then asked over HTTP")
}

// routerWireRequests is the wire requests of op the router answered 200 (its /metrics).
func (c *cluster) routerWireRequests(t *testing.T, op string) int {
	t.Helper()
	n := 0
	for _, line := range strings.Split(get(t, c.base+"/metrics").body, "\n") {
		if strings.HasPrefix(line, "torua_router_wire_requests_total{") && strings.Contains(line, `op="`+op+`"`) && strings.Contains(line, `code="200"`) {
			v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			n += int(v)
		}
	}
	return n
}
