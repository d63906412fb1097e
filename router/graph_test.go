package router

import (
	"encoding/json"
	"testing"

	. "github.com/onsi/gomega"
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
	g.Expect(qe.Error).To(ContainSubstring("relationships"))
	res = must("MATCH (n:Person {name: 'Bob'}) DETACH DELETE n", nil)
	g.Expect(res.Stats.NodesDeleted).To(Equal(1))
	res = must("MATCH (n:Person)-[r]->() RETURN count(r)", nil)
	g.Expect(res.Rows).To(Equal([][]any{{float64(1)}}))

	r := get(t, c.base+"/graph")
	g.Expect(r.code).To(Equal(200))
	g.Expect(r.body).To(MatchJSON(`{"graphs": ["social"]}`))
	g.Expect(send(t, "DELETE", c.base+"/graph/social", "", nil).code).To(Equal(204))
	g.Expect(get(t, c.base+"/graph").body).To(MatchJSON(`{"graphs": []}`))
	g.Expect(send(t, "DELETE", c.base+"/graph/social", "", nil).code).To(Equal(404))
}
