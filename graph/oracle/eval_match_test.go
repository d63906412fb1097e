package oracle

import (
	"testing"

	"github.com/torua/torua/graph/value"
)

// MATCH, OPTIONAL MATCH and shortest paths on the social and diamond graphs (helpers_test.go
// draws them), answers worked out by hand.
func TestEvalMatch(t *testing.T) {
	runCases(t, []evalCase{
		{name: "label scan", graph: "social", q: `MATCH (n:Person) RETURN n.name AS name`, want: rows(r("Ann"), r("Bob"), r("Cid"))},
		{name: "all nodes", graph: "social", q: `MATCH (n) RETURN count(*) AS n`, want: rows(r(4))},
		{name: "labels are sorted", graph: "social", q: `MATCH (n:Admin) RETURN labels(n) AS l`, want: rows(r([]any{"Admin", "Person"}))},
		{name: "two labels", graph: "social", q: `MATCH (n:Person:Admin) RETURN n.name AS n`, want: rows(r("Cid"))},
		{name: "property map", graph: "social", q: `MATCH (n:Person {age: 25}) RETURN n.name AS name`, want: rows(r("Bob"))},
		{name: "property map of a float equal to an int", graph: "social", q: `MATCH (n {age: 25.0}) RETURN n.name AS name`, want: rows(r("Bob"))},
		{name: "property map with a parameter", graph: "social", q: `MATCH (n {name: $name}) RETURN n.age AS age`,
			params: map[string]any{"name": "Cid"}, want: rows(r(35))},
		{name: "a null in a property map matches nothing", graph: "social", q: `MATCH (n {age: null}) RETURN n`, want: nil},
		{name: "outgoing", graph: "social", q: `MATCH ({name: 'Ann'})-[:KNOWS]->(b) RETURN b.name AS b`, want: rows(r("Bob"))},
		{name: "incoming", graph: "social", q: `MATCH ({name: 'Ann'})<-[:KNOWS]-(b) RETURN b.name AS b`, want: rows(r("Cid"))},
		{name: "undirected returns both orientations", graph: "social", q: `MATCH (a)-[:KNOWS]-(b) RETURN a.name AS a, b.name AS b`,
			want: rows(r("Ann", "Bob"), r("Bob", "Ann"), r("Bob", "Cid"), r("Cid", "Bob"), r("Cid", "Ann"), r("Ann", "Cid"))},
		{name: "undirected counts each relationship twice", graph: "social", q: `MATCH ()-[r]-() RETURN count(r) AS n, count(DISTINCT r) AS d`,
			want: rows(r(10, 5))},
		{name: "type alternatives", graph: "social", q: `MATCH ({name: 'Cid'})-[r:KNOWS|WORKS_AT]->(b) RETURN type(r) AS t, b.name AS b`,
			want: rows(r("WORKS_AT", "Acme"), r("KNOWS", "Ann"))},
		{name: "relationship property map", graph: "social", q: `MATCH (a)-[:KNOWS {since: 2015}]->(b) RETURN a.name, b.name`,
			cols: []string{"a.name", "b.name"}, want: rows(r("Bob", "Cid"))},
		{name: "WHERE", graph: "social", q: `MATCH (n:Person) WHERE n.age > 28 RETURN n.name AS name`, want: rows(r("Ann"), r("Cid"))},
		{name: "WHERE drops null comparisons", graph: "social", q: `MATCH (n) WHERE n.age < 100 RETURN count(*) AS c`, want: rows(r(3))},
		{name: "WHERE NOT of null drops the row too", graph: "social", q: `MATCH (n) WHERE NOT n.age < 100 RETURN count(*) AS c`, want: rows(r(0))},
		{name: "label test", graph: "social", q: `MATCH (n) WHERE n:Person:Admin RETURN n.name AS n`, want: rows(r("Cid"))},
		{name: "a label test of a relationship tests its type", graph: "social",
			q:    `MATCH ({name: 'Cid'})-[r]->(b) RETURN b.name AS b, r:KNOWS AS k, r:KNOWS:WORKS_AT AS both`,
			want: rows(r("Ann", true, false), r("Acme", false, false))},
		{name: "WHERE of a non-boolean", graph: "social", q: `MATCH (n) WHERE n.age RETURN n`, err: "BOOLEAN"},
		{name: "id", graph: "social", q: `MATCH (n {name: 'Bob'}) RETURN id(n) AS id`, want: rows(r(2))},
		{name: "a chain", graph: "social", q: `MATCH ({name: 'Ann'})-[:KNOWS]->()-[:KNOWS]->(c) RETURN c.name AS c`, want: rows(r("Cid"))},
		{name: "a cycle", graph: "social", q: `MATCH (a)-[:KNOWS]->()-[:KNOWS]->()-[:KNOWS]->(a) RETURN a.name AS a ORDER BY a`,
			want: rows(r("Ann"), r("Bob"), r("Cid"))},
		{name: "relationship uniqueness within a pattern", graph: "social",
			q: `MATCH (a {name: 'Bob'})-[r1]-(b)-[r2]-(c {name: 'Bob'}) RETURN count(*) AS n`, want: rows(r(0))},
		{name: "no uniqueness across MATCH clauses", graph: "social",
			q: `MATCH (a {name: 'Bob'})-[r1]-(b) MATCH (b)-[r2]-(c {name: 'Bob'}) RETURN count(*) AS n`, want: rows(r(2))},
		{name: "relationship uniqueness across comma patterns", graph: "social",
			q: `MATCH ({name: 'Ann'})-[r]->(), ()-[s]->() RETURN count(*) AS n`, want: rows(r(8))},
		{name: "nodes may repeat", graph: "social", q: `MATCH (a {name: 'Ann'}), (b {name: 'Ann'}) RETURN a = b AS same`, want: rows(r(true))},
		{name: "a cartesian product", graph: "social", q: `MATCH (a:Person), (b:Company) RETURN count(*) AS n`, want: rows(r(3))},
		{name: "variable length", graph: "social", q: `MATCH ({name: 'Ann'})-[r:KNOWS*1..3]->(b) RETURN b.name AS b, size(r) AS n`,
			want: rows(r("Bob", 1), r("Cid", 2), r("Ann", 3))},
		{name: "variable length binds a list of relationships", graph: "social",
			q:    `MATCH ({name: 'Ann'})-[r:KNOWS*2]->() RETURN r[0].since AS s0, r[1].since AS s1, type(r[1]) AS t`,
			want: rows(r(2010, 2015, "KNOWS"))},
		{name: "variable length from 0", graph: "social", q: `MATCH ({name: 'Ann'})-[:KNOWS*0..1]->(b) RETURN b.name AS b`,
			want: rows(r("Ann"), r("Bob"))},
		{name: "variable length undirected is a trail", graph: "social", q: `MATCH ({name: 'Ann'})-[:KNOWS*3]-(b) RETURN b.name AS b`,
			want: rows(r("Ann"), r("Ann"))},
		{name: "variable length with a lower bound above the upper one", graph: "social",
			q: `MATCH ({name: 'Ann'})-[r:KNOWS*2..1]->(b) RETURN b`, want: nil},
		{name: "variable length up to 0 from 1", graph: "social", q: `MATCH ({name: 'Ann'})-[r:KNOWS*..0]->(b) RETURN b`, want: nil},
		{name: "variable length without an upper bound ends where no trail goes further", graph: "social",
			q: `MATCH ({name: 'Ann'})-[r:KNOWS*]->(b) RETURN b.name AS b, size(r) AS n`, want: rows(r("Bob", 1), r("Cid", 2), r("Ann", 3))},
		{name: "variable length from 2 without an upper bound", graph: "social",
			q: `MATCH ({name: 'Ann'})-[r:KNOWS*2..]->(b) RETURN b.name AS b, size(r) AS n`, want: rows(r("Cid", 2), r("Ann", 3))},
		{name: "undirected variable length without an upper bound", graph: "social",
			q: `MATCH ({name: 'Ann'})-[:KNOWS*..]-(b) RETURN b.name AS b, count(*) AS n`, want: rows(r("Bob", 2), r("Cid", 2), r("Ann", 2))},
		{name: "variable length longer than any trail", graph: "social", q: `MATCH ({name: 'Ann'})-[:KNOWS*4]-(b) RETURN b`, want: nil},
		{name: "variable length with a property map", graph: "social",
			q: `MATCH ({name: 'Ann'})-[:KNOWS*1..3 {since: 2010}]->(b) RETURN b.name AS b`, want: rows(r("Bob"))},
		{name: "named path", graph: "social",
			q:    `MATCH p = ({name: 'Ann'})-[:KNOWS]->()-[:KNOWS]->() RETURN length(p) AS l, size(nodes(p)) AS n, size(relationships(p)) AS r`,
			want: rows(r(2, 3, 2))},
		{name: "named path nodes in order", graph: "social",
			q: `MATCH p = ({name: 'Bob'})-[:KNOWS]->() RETURN nodes(p)[0].name AS x, nodes(p)[1].name AS y`, want: rows(r("Bob", "Cid"))},
		{name: "named path through an incoming relationship", graph: "social",
			q: `MATCH p = ({name: 'Acme'})<-[:WORKS_AT]-(x) RETURN nodes(p)[1].name AS x, length(p) AS l`, want: rows(r("Ann", 1), r("Cid", 1))},
		{name: "startNode and endNode", graph: "social",
			q:    `MATCH ()-[r:WORKS_AT]-({name: 'Acme'}) RETURN startNode(r).name AS s, endNode(r).name AS e`,
			want: rows(r("Ann", "Acme"), r("Cid", "Acme"))},
		{name: "type", graph: "social", q: `MATCH ()-[r]->() RETURN type(r) AS t, count(*) AS n`, want: rows(r("KNOWS", 3), r("WORKS_AT", 2))},
		{name: "keys and properties of a node", graph: "social", q: `MATCH (n {name: 'Ann'}) RETURN keys(n) AS k, properties(n) AS p`,
			want: rows(r([]any{"age", "name"}, map[string]any{"age": 30, "name": "Ann"}))},
		{name: "a variable as node and relationship", graph: "social", q: `MATCH (a)-[a]->() RETURN a`, err: "variable a is a node, so it cannot stand for a relationship here"},
		{name: "a bound variable that is not a node", graph: "social", q: `UNWIND [1] AS a MATCH (a)-->() RETURN a`, err: "not a node"},
		{name: "OPTIONAL MATCH gives nulls", graph: "social",
			q:    `MATCH (n:Person) OPTIONAL MATCH (n)-[:WORKS_AT]->(c) RETURN n.name AS n, c.name AS c`,
			want: rows(r("Ann", "Acme"), r("Bob", nil), r("Cid", "Acme"))},
		{name: "OPTIONAL MATCH of nothing", graph: "social", q: `OPTIONAL MATCH (n:Nope) RETURN n`, want: rows(r(nil))},
		{name: "OPTIONAL MATCH and count", graph: "social", q: `OPTIONAL MATCH (n:Nope) RETURN count(n) AS c, count(*) AS s`, want: rows(r(0, 1))},
		{name: "OPTIONAL MATCH WHERE keeps the row", graph: "social",
			q:    `MATCH (n:Person) OPTIONAL MATCH (n)-[:KNOWS]->(m) WHERE m.age > 30 RETURN n.name AS n, m.name AS m`,
			want: rows(r("Ann", nil), r("Bob", "Cid"), r("Cid", nil))},
		{name: "MATCH from a null node", graph: "social", q: `OPTIONAL MATCH (n:Nope) MATCH (n)-->(m) RETURN m`, want: nil},
		{name: "functions of an OPTIONAL null", graph: "social", q: `OPTIONAL MATCH (n:Nope) RETURN labels(n) AS l, n.name AS x, id(n) AS i`,
			want: rows(r(nil, nil, nil))},
		{name: "shortestPath", graph: "social",
			q: `MATCH (a {name: 'Ann'}), (d {name: 'Acme'}) MATCH p = shortestPath((a)-[*..5]->(d)) RETURN length(p) AS l`, want: rows(r(1))},
		{name: "shortestPath respects types and direction", graph: "social",
			q: `MATCH (a {name: 'Bob'}), (b {name: 'Ann'}) MATCH p = shortestPath((a)-[:KNOWS*..5]->(b)) RETURN length(p) AS l`, want: rows(r(2))},
		{name: "shortestPath undirected", graph: "social",
			q: `MATCH (a {name: 'Bob'}), (b {name: 'Ann'}) MATCH p = shortestPath((a)-[:KNOWS*..5]-(b)) RETURN length(p) AS l`, want: rows(r(1))},
		{name: "shortestPath beyond the bound", graph: "social",
			q: `MATCH (a {name: 'Bob'}), (b {name: 'Ann'}) MATCH p = shortestPath((a)-[:KNOWS*..1]->(b)) RETURN length(p) AS l`, want: nil},
		{name: "shortestPath with no path", graph: "social",
			q: `MATCH (a {name: 'Acme'}), (b {name: 'Ann'}) MATCH p = shortestPath((a)-[*..5]->(b)) RETURN p`, want: nil},
		{name: "shortestPath gives one path", graph: "diamond",
			q: `MATCH (s {n: 's'}), (t {n: 't'}) MATCH p = shortestPath((s)-[:E*..3]->(t)) RETURN length(p) AS l`, want: rows(r(2))},
		{name: "allShortestPaths gives every one", graph: "diamond",
			q: `MATCH (s {n: 's'}), (t {n: 't'}) MATCH p = allShortestPaths((s)-[:E*..3]->(t)) RETURN nodes(p)[1].n AS via`, want: rows(r("x"), r("y"))},
		{name: "shortestPath binds a list of relationships", graph: "diamond",
			q: `MATCH (s {n: 's'}), (t {n: 't'}) MATCH shortestPath((s)-[r:E*..3]->(t)) RETURN size(r) AS n`, want: rows(r(2))},
		{name: "shortestPath from a node to itself with lower bound 0", graph: "diamond",
			q: `MATCH (s {n: 's'}) MATCH p = shortestPath((s)-[:E*0..3]->(s)) RETURN length(p) AS l`, want: rows(r(0))},
		{name: "shortestPath lower bound 2", graph: "diamond",
			q: `MATCH (s {n: 's'}), (t {n: 't'}) MATCH p = shortestPath((s)-[:E*2..3]->(t)) RETURN p`, err: "minimum length"},
		{name: "shortestPath over all pairs", graph: "diamond",
			q:    `MATCH (a), (b) WHERE a.n < b.n MATCH p = shortestPath((a)-[*..3]-(b)) RETURN a.n AS a, b.n AS b, length(p) AS l`,
			want: rows(r("s", "t", 2), r("s", "x", 1), r("s", "y", 1), r("t", "x", 1), r("t", "y", 1), r("x", "y", 2))},
	})
}

// Entities come back whole: nodes with labels and properties, relationships with type,
// ends and properties, paths in traversal order, variable-length relationships as lists.
func TestEvalReturnsEntities(t *testing.T) {
	g := fixture(t, "social")
	res := mustEval(t, g, `MATCH p = (a {name: 'Bob'})-[r:KNOWS*1..2]->(b) RETURN a, r, b, p ORDER BY length(p)`, nil)
	bob := &value.Node{ID: 2, Labels: []string{"Person"}, Props: map[string]any{"name": "Bob", "age": int64(25)}}
	cid := &value.Node{ID: 3, Labels: []string{"Admin", "Person"}, Props: map[string]any{"name": "Cid", "age": int64(35)}}
	ann := &value.Node{ID: 1, Labels: []string{"Person"}, Props: map[string]any{"name": "Ann", "age": int64(30)}}
	e2 := &value.Relationship{ID: 2, Type: "KNOWS", Start: 2, End: 3, Props: map[string]any{"since": int64(2015)}}
	e5 := &value.Relationship{ID: 5, Type: "KNOWS", Start: 3, End: 1, Props: map[string]any{}}
	want := [][]any{
		{bob, []any{e2}, cid, &value.Path{Nodes: []*value.Node{bob, cid}, Rels: []*value.Relationship{e2}}},
		{bob, []any{e2, e5}, ann, &value.Path{Nodes: []*value.Node{bob, cid, ann}, Rels: []*value.Relationship{e2, e5}}},
	}
	if !sameRows(res.Rows, want) {
		t.Fatalf("rows = %s\nwant   %s", show(res.Rows), show(want))
	}
	// An undirected pattern's path runs the way it was walked, against the relationship.
	res = mustEval(t, g, `MATCH p = ({name: 'Cid'})-[:KNOWS]-({name: 'Bob'}) RETURN p`, nil)
	wantPath := &value.Path{Nodes: []*value.Node{cid, bob}, Rels: []*value.Relationship{e2}}
	if len(res.Rows) != 1 || !same(res.Rows[0][0], wantPath) {
		t.Fatalf("rows = %s, want the path Cid<-Bob", show(res.Rows))
	}
}
