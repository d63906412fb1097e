package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/graph/exec"
	"github.com/torua/torua/graph/oracle"
	"github.com/torua/torua/graph/value"
	"github.com/torua/torua/router/client"
)

// keyed returns g with the label N added to every vertex: a bulk load identifies vertices by
// a label's primary key (N's id), which some of the generators' vertices lack.
func keyed(t *testing.T, g *oracle.Graph) *oracle.Graph {
	t.Helper()
	out := oracle.New()
	for _, v := range g.Vertices() {
		if err := out.AddVertexWithID(v.ID, append(append([]string{}, v.Labels...), "N"), v.Props); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range g.Edges() {
		if err := out.AddEdgeWithID(e.ID, e.Type, e.Start, e.End, e.Props); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// bulkBody is g as a bulk load's body: import batches of at most batch vertices or edges,
// the vertices first, keyed by N's id; parallel edges (one type, the same ends) get ranks.
func bulkBody(t *testing.T, g *oracle.Graph, batch int) [][]byte {
	t.Helper()
	props := func(m map[string]any) map[string]any {
		if len(m) == 0 {
			return nil
		}
		return value.ToJSON(m).(map[string]any)
	}
	var out [][]byte
	add := func(b exec.ImportBatch) {
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, raw)
	}
	b := exec.ImportBatch{Keys: map[string]string{"N": "id"}}
	for _, v := range g.Vertices() {
		b.Vertices = append(b.Vertices, exec.ImportVertex{Labels: v.Labels, Props: props(v.Props)})
		if len(b.Vertices) == batch {
			add(b)
			b = exec.ImportBatch{Keys: b.Keys}
		}
	}
	ranks := map[string]int64{}
	for _, e := range g.Edges() {
		k := fmt.Sprint(e.Start, e.End, e.Type)
		b.Edges = append(b.Edges, exec.ImportEdge{Type: e.Type, Rank: ranks[k], Props: props(e.Props),
			From: exec.VertexRef{Label: "N", Key: e.Start}, To: exec.VertexRef{Label: "N", Key: e.End}})
		ranks[k]++
		if len(b.Edges) == batch {
			add(b)
			b = exec.ImportBatch{Keys: b.Keys}
		}
	}
	if len(b.Vertices)+len(b.Edges) > 0 {
		add(b)
	}
	return out
}

func bulkLoad(t *testing.T, cl *client.Client, name string, body [][]byte) (*client.BulkResult, error) {
	t.Helper()
	return cl.BulkLoad(context.Background(), name, bytes.NewReader(bytes.Join(body, []byte("\n"))))
}

// TestBulkLoadAgreesWithTheOracle: graphs loaded by bulk loads (self-loops, parallel edges,
// vertices with several labels, an index declared before the load) answer the fixed query list
// as the oracle does; the result counts what was loaded; the index is ready.
func TestBulkLoadAgreesWithTheOracle(t *testing.T) {
	cl := startCluster(t)
	opts := oracle.Options{SelfLoops: true, Parallel: true}
	for _, tc := range []struct {
		name  string
		g     *oracle.Graph
		index bool
	}{
		{"random", oracle.Random(7, 120, 480, opts), false},
		{"powerlaw", oracle.PowerLaw(11, 160, 640, opts), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := keyed(t, tc.g)
			if tc.index {
				if _, err := cl.Query(context.Background(), tc.name, `CREATE INDEX FOR (p:Person) ON (p.name)`, nil); err != nil {
					t.Fatal(err)
				}
			}
			res, err := bulkLoad(t, cl, tc.name, bulkBody(t, g, 50))
			if err != nil {
				t.Fatal(err)
			}
			if res.Vertices != len(g.Vertices()) || res.Edges != len(g.Edges()) || res.Requests == 0 {
				t.Fatalf("result %+v, want %d vertices and %d edges", res, len(g.Vertices()), len(g.Edges()))
			}
			for _, q := range queries {
				same(t, cl, tc.name, g, q.q, q.params, q.ordered)
			}
			same(t, cl, tc.name, g, `MATCH (p:Person) WHERE p.name = 'ann' RETURN p.id`, nil, false)
			if tc.index {
				got, err := cl.Query(context.Background(), tc.name, `SHOW INDEXES`, nil)
				if err != nil {
					t.Fatal(err)
				}
				if len(got.Rows) != 2 || !slices.Contains(got.Rows[0], any("index_Person_name")) || !slices.Contains(got.Rows[0], any("ONLINE")) {
					t.Fatalf("SHOW INDEXES after the load: %v, want the index ONLINE", got.Rows)
				}
			}
		})
	}
}

// TestBulkLoadKeepsTheGraphOffline: while a bulk load runs, the graph refuses queries and
// writes (409, saying why); once it ends, it answers; a second bulk load into it is refused.
func TestBulkLoadKeepsTheGraphOffline(t *testing.T) {
	ctx := context.Background()
	cl := startCluster(t)
	g := keyed(t, oracle.Random(3, 40, 100, oracle.Options{}))
	body := bulkBody(t, g, 10)
	pr, pw := io.Pipe()
	type answer struct {
		res *client.BulkResult
		err error
	}
	done := make(chan answer, 1)
	go func() {
		res, err := cl.BulkLoad(ctx, "g", pr)
		done <- answer{res, err}
	}()
	// The router marks the graph before it reads the body; the load cannot end before the
	// body does.
	if _, err := pw.Write(body[0]); err != nil {
		t.Fatal(err)
	}
	offline := func(g Gomega, q string) {
		_, err := cl.Query(ctx, "g", q, nil)
		var ce *client.Error
		g.Expect(errors.As(err, &ce)).To(BeTrue(), "%s during the load: %v", q, err)
		g.Expect(ce.Status).To(Equal(409))
		g.Expect(err.Error()).To(ContainSubstring(`graph "g" is being bulk-loaded`))
	}
	NewWithT(t).Eventually(func(g Gomega) { offline(g, `MATCH (n) RETURN count(n)`) }, 10*time.Second, 20*time.Millisecond).Should(Succeed())
	offline(NewWithT(t), `CREATE (:N {id: 1000})`)
	for _, b := range body[1:] {
		if _, err := pw.Write(append([]byte("\n"), b...)); err != nil {
			t.Fatal(err)
		}
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	a := <-done
	if a.err != nil {
		t.Fatal(a.err)
	}
	same(t, cl, "g", g, `MATCH (a)-[r]->(b) RETURN a.id, type(r), b.id`, nil, false)
	same(t, cl, "g", g, `MATCH (n) RETURN count(n)`, nil, false)

	_, err := bulkLoad(t, cl, "g", body)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 409 || !strings.Contains(err.Error(), `graph "g" has vertices`) {
		t.Fatalf("a second bulk load: %v, want 409 saying the graph has vertices", err)
	}
}

// TestBulkLoadRefusesBadInput: a load whose edge names a vertex not loaded before it, that
// gives a vertex or an edge twice with different properties, that is not JSON, or whose body
// is cut short, is refused (400 saying why); nothing is loaded and the graph answers queries
// again; a good load then succeeds.
func TestBulkLoadRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	cl := startCluster(t)
	for _, tc := range []struct {
		body, want string
	}{
		{`{"keys": {"P": "id"}, "vertices": [{"labels": ["P"], "properties": {"id": 1}}]}
		  {"edges": [{"type": "T", "from": {"label": "P", "key": 1}, "to": {"label": "P", "key": 2}}]}`,
			`batch 2, edge 0: vertex (:P {id: 2}) is not in the load before it`},
		{`{"keys": {"P": "id"}, "vertices": [{"labels": ["P"], "properties": {"id": 1, "x": 1}}, {"labels": ["P"], "properties": {"id": 1, "x": 2}}]}`,
			`batch 1, vertex 1: the vertex (:P {id: 1}) is given twice, with different labels or properties`},
		{`{"keys": {"P": "id"}, "vertices": [{"labels": ["Q"], "properties": {"id": 1}}]}`,
			`batch 1, vertex 0: none of its labels [Q] has a primary key`},
		{`{"keys": {"P": "id"}, "vertices": [{"labels": ["P"], "properties": {"id": 1}}]}
		  {"edges": [{"type": "T", "from": {"label": "P", "key": 1}, "to": {"label": "P", "key": 1}, "properties": {"w": 1}},
		             {"type": "T", "from": {"label": "P", "key": 1}, "to": {"label": "P", "key": 1}, "properties": {"w": 2}}]}`,
			`batch 2, edge 1: the edge (:P {id: 1})-[:T]->(:P {id: 1}) of rank 0 is given twice, with different properties`},
		{`{"vertices": [}`, `the load must be import batches, JSON {"keys", "vertices", "edges"} one after another: invalid character`},
	} {
		_, err := cl.BulkLoad(ctx, "bad", strings.NewReader(tc.body))
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != 400 || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("load %.60s: %v, want 400 with %q", tc.body, err, tc.want)
		}
		res, err := cl.Query(ctx, "bad", `MATCH (n) RETURN count(n)`, nil)
		if err != nil || fmt.Sprint(res.Rows) != "[[0]]" {
			t.Fatalf("after the refused load %.60s: %v %v, want the graph online and empty", tc.body, res, err)
		}
	}
	// A body cut short (the client went away) is not a load that ended early: nothing is
	// loaded, and the graph comes back online.
	pr, pw := io.Pipe()
	failed := make(chan error, 1)
	go func() {
		_, err := cl.BulkLoad(ctx, "bad", pr)
		failed <- err
	}()
	if _, err := pw.Write([]byte(`{"keys": {"P": "id"}, "vertices": [{"labels": ["P"], "properties": {"id": 1}}]}`)); err != nil {
		t.Fatal(err)
	}
	NewWithT(t).Eventually(func(g Gomega) {
		_, err := cl.Query(ctx, "bad", `MATCH (n) RETURN count(n)`, nil)
		g.Expect(err).To(MatchError(ContainSubstring("is being bulk-loaded")))
	}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
	pw.CloseWithError(errors.New("the client went away"))
	if err := <-failed; err == nil {
		t.Fatal("a load whose body was cut short succeeded")
	}
	NewWithT(t).Eventually(func(g Gomega) {
		res, err := cl.Query(ctx, "bad", `MATCH (n) RETURN count(n)`, nil)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(res.Rows).To(Equal([][]any{{int64(0)}}))
	}, 10*time.Second, 20*time.Millisecond).Should(Succeed())

	res, err := cl.BulkLoad(ctx, "bad", strings.NewReader(`{"keys": {"P": "id"}, "vertices": [{"labels": ["P"], "properties": {"id": 1}}, {"labels": ["P"], "properties": {"id": 2}}]}
		{"edges": [{"type": "T", "from": {"label": "P", "key": 1}, "to": {"label": "P", "key": 2}}, {"type": "T", "from": {"label": "P", "key": 1}, "to": {"label": "P", "key": 2}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if res.Vertices != 2 || res.Edges != 1 {
		t.Fatalf("result %+v, want 2 vertices and 1 edge (given twice, the same)", res)
	}
	got, err := cl.Query(ctx, "bad", `MATCH (a:P)-[r:T]->(b:P) RETURN a.id, b.id`, nil)
	if err != nil || fmt.Sprint(got.Rows) != "[[1 2]]" {
		t.Fatalf("the loaded graph: %v %v, want the one edge from 1 to 2", got, err)
	}
}

// TestConcurrentBulkLoadsOneWins: two bulk loads of one new graph at once: one loads, the
// other is refused (409) and loads nothing; the graph holds exactly the winner's vertices.
func TestConcurrentBulkLoadsOneWins(t *testing.T) {
	ctx := context.Background()
	cl := startCluster(t)
	body := func(from int) string {
		var b strings.Builder
		b.WriteString(`{"keys": {"P": "id"}, "vertices": [`)
		for i := from; i < from+50; i++ {
			if i > from {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"labels": ["P"], "properties": {"id": %d}}`, i)
		}
		return b.String() + "]}"
	}
	type answer struct {
		from int
		err  error
	}
	answers := make(chan answer, 2)
	for _, from := range []int{0, 1000} {
		go func() {
			_, err := cl.BulkLoad(ctx, "race", strings.NewReader(body(from)))
			answers <- answer{from, err}
		}()
	}
	winner, refused := -1, 0
	for range 2 {
		a := <-answers
		var ce *client.Error
		switch {
		case a.err == nil:
			winner = a.from
		case errors.As(a.err, &ce) && ce.Status == 409:
			refused++
		default:
			t.Fatalf("load from %d: %v, want it done or refused with 409", a.from, a.err)
		}
	}
	if winner < 0 || refused != 1 {
		t.Fatalf("winner %d, %d refused: want one load done and the other refused", winner, refused)
	}
	res, err := cl.Query(ctx, "race", `MATCH (p:P) RETURN min(p.id), max(p.id), count(p)`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprint([][]any{{int64(winner), int64(winner + 49), int64(50)}}); fmt.Sprint(res.Rows) != want {
		t.Fatalf("the graph holds %v, want the winner's vertices %s", res.Rows, want)
	}
}
