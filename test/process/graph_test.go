package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/router/client"
)

// TestGraphEdgesConvergeAcrossKills writes vertices and edges through the router while the
// node that leads the most shards is SIGKILLed and restarted, twice. An edge across two
// shards is written as its out-half plus an outbox record on the source's shard, and its
// in-half is applied to the destination's shard afterwards (docs/graph.md). Once the cluster
// settles:
//   - every out-half has its in-half and no in-half is orphaned (the edges read from the
//     sources' adjacency and from the destinations' are the same set);
//   - no acknowledged vertex or edge is lost, and no edge whose deletion was acknowledged
//     is left.
func TestGraphEdgesConvergeAcrossKills(t *testing.T) {
	g := NewWithT(t)
	c := newRCluster(t, rconfig{nodes: 3, shards: 8})
	cl, err := client.New(c.routerURL, client.WithMaxConnsPerHost(16), client.WithTimeout(20*time.Second))
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(cl.Close)
	ctx := context.Background()
	const graph = "kills"
	const vertices = 300

	q := func(query string, params map[string]any) (*client.QueryResult, error) {
		return cl.Query(ctx, graph, query, params)
	}
	_, err = q(`CREATE CONSTRAINT FOR (v:V) REQUIRE v.id IS UNIQUE`, nil)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = q(`UNWIND range(1, $n) AS i CREATE (:V {id: i})`, map[string]any{"n": vertices})
	g.Expect(err).NotTo(HaveOccurred())

	// The workload: each client adds vertices (:W, keyed by a fresh id) and edges between
	// random :V vertices (alone, or three from one vertex in one write), and deletes edges it
	// made. Only what was acknowledged counts.
	var (
		mu             sync.Mutex
		ackedVertices  []int64
		ackedEdges     = map[int64]bool{} // edge id -> acknowledged create
		triedDeletes   = map[int64]bool{}
		ackedDeletes   = map[int64]bool{}
		acks, failures atomic.Int64
		nextW          atomic.Int64
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for client := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(client), 42))
			type made struct{ id, from int64 }
			var mine []made
			for {
				select {
				case <-stop:
					return
				default:
				}
				switch op := rng.IntN(10); {
				case op < 2:
					id := nextW.Add(1)
					if _, err := q(`CREATE (:W {id: $id})`, map[string]any{"id": id}); err == nil {
						mu.Lock()
						ackedVertices = append(ackedVertices, id)
						mu.Unlock()
						acks.Add(1)
					} else {
						failures.Add(1)
					}
				case op < 4:
					// Several edges from one vertex: one write on its shard, whose records for
					// the other shards are stored as one bundle.
					a := 1 + rng.Int64N(vertices)
					bs := []int64{1 + rng.Int64N(vertices), 1 + rng.Int64N(vertices), 1 + rng.Int64N(vertices)}
					res, err := q(`MATCH (a:V {id: $a}) UNWIND $bs AS bid MATCH (b:V {id: bid}) CREATE (a)-[r:E {by: $c}]->(b) RETURN id(r)`,
						map[string]any{"a": a, "bs": bs, "c": client})
					if err == nil && len(res.Rows) == len(bs) {
						mu.Lock()
						for _, row := range res.Rows {
							id := row[0].(int64)
							mine = append(mine, made{id, a})
							ackedEdges[id] = true
						}
						mu.Unlock()
						acks.Add(1)
					} else {
						failures.Add(1)
					}
				case op < 8 || len(mine) == 0:
					a, b := 1+rng.Int64N(vertices), 1+rng.Int64N(vertices)
					res, err := q(`MATCH (a:V {id: $a}), (b:V {id: $b}) CREATE (a)-[r:E {by: $c}]->(b) RETURN id(r)`,
						map[string]any{"a": a, "b": b, "c": client})
					if err == nil && len(res.Rows) == 1 {
						id := res.Rows[0][0].(int64)
						mine = append(mine, made{id, a})
						mu.Lock()
						ackedEdges[id] = true
						mu.Unlock()
						acks.Add(1)
					} else {
						failures.Add(1)
					}
				default:
					i := rng.IntN(len(mine))
					id, from := mine[i].id, mine[i].from
					mine = slices.Delete(mine, i, i+1)
					mu.Lock()
					triedDeletes[id] = true
					mu.Unlock()
					res, err := q(`MATCH (:V {id: $a})-[r:E]->() WHERE id(r) = $id DELETE r RETURN count(*)`, map[string]any{"a": from, "id": id})
					if err == nil && len(res.Rows) == 1 && res.Rows[0][0] != int64(1) {
						t.Errorf("edge %d, whose creation was acknowledged, was not found to delete: %v", id, res.Rows)
					}
					if err == nil && len(res.Rows) == 1 {
						mu.Lock()
						ackedDeletes[id] = true
						mu.Unlock()
						acks.Add(1)
					} else {
						failures.Add(1)
					}
				}
			}
		}()
	}
	t.Cleanup(func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	})
	waitFor(t, 30*time.Second, "writes before the first kill", func() bool { return acks.Load() >= 100 })

	for round := range 2 {
		leaders := c.waitLeaders(c.nodes, failoverTimeout)
		victim, led := c.mostLeading(leaders)
		t.Logf("round %d: killing %s, leader of shards %v, after %d acknowledged writes", round, victim.id, led, acks.Load())
		victim.p.kill()
		c.waitLeaders(c.others(victim), failoverTimeout)
		before := acks.Load()
		waitFor(t, 30*time.Second, "writes while a node is down", func() bool { return acks.Load() >= before+50 })
		c.restartNode(victim, c.m.Version)
		c.waitCaughtUp(victim, convergeTimeout)
	}
	before := acks.Load()
	waitFor(t, 30*time.Second, "writes after the restarts", func() bool { return acks.Load() >= before+50 })
	close(stop)
	wg.Wait()
	t.Logf("%d writes acknowledged, %d failed or unknown", acks.Load(), failures.Load())

	// The two halves converge: the edges seen from their sources equal those seen from
	// their destinations.
	edges := func(query string) (map[string]bool, error) {
		res, err := q(query, nil)
		if err != nil {
			return nil, err
		}
		out := map[string]bool{}
		for _, row := range res.Rows {
			out[fmt.Sprint(row...)] = true
		}
		return out, nil
	}
	var out map[string]bool
	g.Eventually(func(g Gomega) {
		var err error
		out, err = edges(`MATCH (a)-[r:E]->(b) RETURN id(r), a.id, b.id`)
		g.Expect(err).NotTo(HaveOccurred())
		in, err := edges(`MATCH (b)<-[r:E]-(a) RETURN id(r), a.id, b.id`)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(in).To(Equal(out), "every out-half has its in-half, and no in-half is orphaned")
	}).WithTimeout(convergeTimeout).WithPolling(500 * time.Millisecond).Should(Succeed())

	// Nothing acknowledged is lost.
	res, err := q(`MATCH ()-[r:E]->() RETURN id(r)`, nil)
	g.Expect(err).NotTo(HaveOccurred())
	present := map[int64]bool{}
	for _, row := range res.Rows {
		present[row[0].(int64)] = true
	}
	for id := range ackedEdges {
		switch {
		case ackedDeletes[id]:
			g.Expect(present[id]).To(BeFalse(), "edge %d: its deletion was acknowledged", id)
		case !triedDeletes[id]:
			g.Expect(present[id]).To(BeTrue(), "edge %d: its creation was acknowledged", id)
		}
	}
	res, err = q(`MATCH (w:W) RETURN w.id`, nil)
	g.Expect(err).NotTo(HaveOccurred())
	ws := map[int64]bool{}
	for _, row := range res.Rows {
		ws[row[0].(int64)] = true
	}
	for _, id := range ackedVertices {
		g.Expect(ws[id]).To(BeTrue(), "vertex :W {id: %d} was acknowledged", id)
	}
	t.Logf("%d edges (%d acknowledged creates, %d acknowledged deletes), %d :W vertices", len(out), len(ackedEdges), len(ackedDeletes), len(ws))
	if len(ackedEdges) == 0 || len(ackedVertices) == 0 {
		t.Fatal(errors.New("the workload acknowledged no edge or no vertex"))
	}
}

// TestGraphBulkLoadAcrossKills: a bulk load (POST /graph/{graph}/import?bulk=true) whose
// tables are going into the shards when the node that leads the most shards is SIGKILLed
// either finishes, or fails and leaves the graph offline, saying so (409), until it is dropped
// and loaded again. Either way, once loaded, the graph holds every vertex and edge with both
// halves of each, the replicas of every shard agree (keys and bytes too: a replica killed
// between a table and its metadata replays the load exactly once), and the load survives the
// SIGKILL of every node.
func TestGraphBulkLoadAcrossKills(t *testing.T) {
	g := NewWithT(t)
	c := newRCluster(t, rconfig{nodes: 3, shards: 8})
	cl, err := client.New(c.routerURL, client.WithTimeout(0))
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(cl.Close)
	ctx := context.Background()
	const graph, vertices, edges = "bulk", 3000, 30000

	// The load: :V {id} vertices, then edges between distinct random pairs, in batches.
	var body bytes.Buffer
	rng := rand.New(rand.NewPCG(7, 7))
	body.WriteString(`{"keys": {"V": "id"}, "vertices": [`)
	for v := range vertices {
		if v > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"labels": ["V"], "properties": {"id": %d}}`, v)
	}
	body.WriteString("]}\n")
	pairs := map[[2]int]bool{}
	for len(pairs) < edges {
		pairs[[2]int{rng.IntN(vertices), rng.IntN(vertices)}] = true
	}
	i := 0
	for p := range pairs {
		if i%1000 == 0 {
			if i > 0 {
				body.WriteString("]}\n")
			}
			body.WriteString(`{"edges": [`)
		} else {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"type": "E", "from": {"label": "V", "key": %d}, "to": {"label": "V", "key": %d}}`, p[0], p[1])
		i++
	}
	body.WriteString("]}\n")

	victim, led := c.mostLeading(c.waitLeaders(c.nodes, failoverTimeout))
	type answer struct {
		res *client.BulkResult
		err error
	}
	done := make(chan answer, 1)
	go func() {
		res, err := cl.BulkLoad(ctx, graph, bytes.NewReader(body.Bytes()))
		done <- answer{res, err}
	}()
	waitFor(t, 60*time.Second, "the victim's first table of the load", func() bool {
		n, err := metric("http://"+victim.addr+"/metrics", "torua_engine_loads_total")
		return err == nil && n >= 1
	})
	t.Logf("killing %s, leader of shards %v, during the load", victim.id, led)
	victim.p.kill()
	a := <-done
	c.waitLeaders(c.others(victim), failoverTimeout)
	c.restartNode(victim, c.m.Version)
	c.waitCaughtUp(victim, convergeTimeout)
	if a.err != nil {
		t.Logf("the load failed: %v", a.err)
		_, err := cl.Query(ctx, graph, `MATCH (n) RETURN count(n)`, nil)
		var ce *client.Error
		g.Expect(errors.As(err, &ce)).To(BeTrue(), "a query of the graph after the failed load: %v", err)
		g.Expect(ce.Status).To(Equal(409))
		g.Expect(err.Error()).To(ContainSubstring("is being bulk-loaded"))
		g.Expect(cl.DropGraph(ctx, graph)).To(Succeed())
		a.res, a.err = cl.BulkLoad(ctx, graph, bytes.NewReader(body.Bytes()))
	}
	g.Expect(a.err).NotTo(HaveOccurred())
	g.Expect([]int{a.res.Vertices, a.res.Edges}).To(Equal([]int{vertices, edges}))

	check := func() {
		t.Helper()
		count := func(q string) int64 {
			res, err := cl.Query(ctx, graph, q, nil)
			g.Expect(err).NotTo(HaveOccurred(), q)
			return res.Rows[0][0].(int64)
		}
		g.Expect(count(`MATCH (n:V) RETURN count(n)`)).To(Equal(int64(vertices)))
		g.Expect(count(`MATCH (:V)-[r:E]->(:V) RETURN count(r)`)).To(Equal(int64(edges)), "out-halves")
		g.Expect(count(`MATCH (:V)<-[r:E]-(:V) RETURN count(r)`)).To(Equal(int64(edges)), "in-halves")
		for _, q := range []string{`MATCH (a:V)-[:E]->(b:V) RETURN a.id, b.id`, `MATCH (b:V)<-[:E]-(a:V) RETURN a.id, b.id`} {
			res, err := cl.Query(ctx, graph, q, nil)
			g.Expect(err).NotTo(HaveOccurred())
			seen := map[[2]int]bool{}
			for _, row := range res.Rows {
				p := [2]int{int(row[0].(int64)), int(row[1].(int64))}
				if !pairs[p] || seen[p] {
					t.Fatalf("%s: edge %v was not loaded, or came twice", q, p)
				}
				seen[p] = true
			}
			g.Expect(seen).To(HaveLen(edges), q)
		}
		g.Eventually(func(g Gomega) {
			c.replicasAgree(g)
			sts, err := statuses(c.nodes)
			g.Expect(err).NotTo(HaveOccurred())
			sizes := map[int]map[string][2]int64{}
			for id, st := range sts {
				for _, s := range st.Shards {
					if sizes[s.Shard] == nil {
						sizes[s.Shard] = map[string][2]int64{}
					}
					sizes[s.Shard][id] = [2]int64{s.Keys, s.Bytes}
				}
			}
			for shard, by := range sizes {
				for id, kb := range by {
					g.Expect(kb).To(Equal(by[c.m.Replicas(shard)[0]]), "shard %d: keys and bytes on %s vs the others: %v", shard, id, by)
				}
			}
		}).WithTimeout(convergeTimeout).WithPolling(200 * time.Millisecond).Should(Succeed())
	}
	check()

	// An acknowledged load survives the SIGKILL of every node.
	for _, n := range c.nodes {
		n.p.kill()
	}
	for _, n := range c.nodes {
		c.restartNode(n, c.m.Version)
	}
	c.waitLeaders(c.nodes, failoverTimeout)
	check()
}
