package graph

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/oracle"
	"github.com/torua/torua/graph/value"
	"github.com/torua/torua/internal/local"
	"github.com/torua/torua/internal/local/localtest"
	"github.com/torua/torua/router/client"
)

// startCluster starts 3 nodes with replication factor 3 and a router, in this process
// (localtest: fsync off, durability is test/process's).
func startCluster(t *testing.T) *client.Client {
	t.Helper()
	cl, _ := startLocal(t)
	return cl
}

// startLocal is startCluster that also returns the cluster.
func startLocal(t *testing.T) (*client.Client, *local.Cluster) {
	t.Helper()
	c := localtest.Start(t, local.Config{Nodes: 3, ReplicationFactor: 3, Shards: 12})
	cl, err := client.New(c.RouterURL())
	if err != nil {
		t.Fatal(err)
	}
	return cl, c
}

// load builds g in the cluster's graph name with the oracle's CREATE statements.
func load(t *testing.T, cl *client.Client, name string, g *oracle.Graph) {
	t.Helper()
	stmts, err := g.CreateStatements("id", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stmts {
		if _, err := cl.Query(context.Background(), name, s, nil); err != nil {
			t.Fatalf("load %s: %v\n%.300s", name, err, s)
		}
	}
}

// same runs q on both and compares: in order when ordered, else as multisets.
func same(t *testing.T, cl *client.Client, name string, g *oracle.Graph, q string, params map[string]any, ordered bool) {
	t.Helper()
	parsed, err := cypher.Parse(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	want, err := oracle.Eval(g.Clone(), parsed, params)
	if err != nil {
		t.Fatalf("oracle: %s: %v", q, err)
	}
	got, err := cl.Query(context.Background(), name, q, params)
	if err != nil {
		t.Fatalf("cluster: %s: %v", q, err)
	}
	if !slices.Equal(got.Columns, want.Columns) {
		t.Fatalf("%s: columns %q, oracle %q", q, got.Columns, want.Columns)
	}
	rows := make([][]any, len(got.Rows))
	copy(rows, got.Rows)
	wantRows := want.Rows
	if !ordered {
		rows = canonical(rows)
		wantRows = canonical(want.Rows)
	}
	if len(rows) != len(wantRows) {
		t.Fatalf("%s: %d rows, oracle %d\ncluster: %v\noracle:  %v", q, len(rows), len(wantRows), head(rows), head(wantRows))
	}
	for i := range rows {
		if key(rows[i]) != key(wantRows[i]) {
			t.Fatalf("%s: row %d is %v, oracle %v", q, i, rows[i], wantRows[i])
		}
	}
}

func key(row []any) string { return value.Key([]any(row)) }

func canonical(rows [][]any) [][]any {
	out := slices.Clone(rows)
	slices.SortFunc(out, func(a, b []any) int { return value.Compare([]any(a), []any(b)) })
	return out
}

func head(rows [][]any) [][]any { return rows[:min(len(rows), 5)] }

// queries is the fixed list every graph must answer alike. ordered marks the ones whose ORDER
// BY fixes the order of every row.
var queries = []struct {
	q       string
	params  map[string]any
	ordered bool
}{
	{q: `MATCH (n) RETURN count(n) AS n`},
	{q: `MATCH (n) WHERE n.id <= 40 RETURN n.id, trim('  ' + n.name + ' '), ltrim(' ' + n.name), rtrim(n.name + ' '), substring(n.name, 1),
		substring(n.name, 1, 1), left(n.name, 2), right(n.name, 1), reverse(n.name), reverse(n.tags), replace(n.name, 'a', 'AA'),
		split(coalesce(n.name, 'x-y'), 'e'), round(n.score), ceil(n.score), floor(n.score), sqrt(n.age), sign(n.age - 50),
		sign(n.score - 40.5), toBoolean(toString(n.active))`},
	{q: `MATCH (b)-[:KNOWS]->(a) WHERE b.id < 30 WITH b.id AS zid, a.id AS aid, 1 AS m RETURN *`}, // columns by name
	{q: `MATCH ()-[r]->() RETURN count(r) AS n`},
	{q: `MATCH (n) RETURN n.id AS id, labels(n) AS labels ORDER BY id`, ordered: true},
	{q: `MATCH (n:Person) RETURN count(*) AS n`},
	{q: `MATCH (n:Person:City) RETURN n.id AS id ORDER BY id`, ordered: true},
	{q: `MATCH (n) WHERE n.age >= $min AND n.age < $max RETURN n.id AS id ORDER BY id`, params: map[string]any{"min": int64(20), "max": 40.5}, ordered: true},
	{q: `MATCH (n) WHERE n.score > 50 OR n.name = 'eve' RETURN n.id, n.score, n.name`},
	{q: `MATCH (n) WHERE n.name IN ['ann', 'bob'] AND n.active RETURN n.name, count(*) AS c`},
	{q: `MATCH (n) WHERE n.name STARTS WITH 'd' OR n.name CONTAINS 'v' RETURN DISTINCT n.name`},
	{q: `MATCH (n) WHERE n.age IS NULL RETURN count(*)`},
	{q: `MATCH (n) WHERE NOT n.active RETURN n.id ORDER BY n.id DESC LIMIT 10`, ordered: true},
	{q: `MATCH (n) RETURN n.name AS name, count(*) AS c, sum(n.age) AS s, min(n.score) AS lo, max(n.score) AS hi, avg(n.age) AS a`},
	{q: `MATCH (n) RETURN count(DISTINCT n.name), count(n.score), collect(DISTINCT n.active) IS NOT NULL`},
	// Statistics: the oracle computes the deviations in two passes, the router in one: compared
	// to a millionth.
	{q: `MATCH (n) RETURN n.name AS name, toInteger(stDev(n.age) * 1000000) AS sd, toInteger(stDevP(n.score) * 1000000) AS sdp,
		percentileDisc(n.age, 0.5) AS med, percentileDisc(n.score, 0.9) AS p90, toInteger(percentileCont(n.age, 0.25) * 1000) AS q1`},
	{q: `MATCH (a)-[r:KNOWS]->() RETURN a.id % 3 AS k, percentileCont(r.weight, 0.5) AS med, stDevP(r.since) >= 0 AS ok`},
	{q: `MATCH (a)-[r:KNOWS]->(b) RETURN a.id, b.id, r.since`},
	{q: `MATCH (a)-[r:KNOWS|LIKES]->(b) WHERE r.weight > 4 RETURN a.id, type(r), b.id`},
	{q: `MATCH (a)<-[:WORKS_AT]-(b) RETURN a.id AS a, count(b) AS workers ORDER BY workers DESC, a LIMIT 5`, ordered: true},
	{q: `MATCH (a)-[r]-(b) WHERE a.id = $id RETURN b.id, type(r)`, params: map[string]any{"id": int64(3)}},
	{q: `MATCH (a)-[]-(b) RETURN a.id AS id, count(b) AS degree ORDER BY degree DESC, id LIMIT 10`, ordered: true},
	{q: `MATCH (a)-->(b)-->(c) WHERE a.id = 1 RETURN count(*) AS paths, count(DISTINCT c) AS reach`},
	{q: `MATCH (a:Person)-[:KNOWS]->(b:Person)-[:KNOWS]->(c) WHERE a <> c RETURN a.id, c.id`},
	{q: `MATCH (a)-[:KNOWS]->(b), (b)-[:LIKES]->(c) RETURN a.id, b.id, c.id`},
	{q: `MATCH (a {id: 2}) MATCH (a)-[*1..3]->(x) RETURN count(DISTINCT x) AS n`},
	{q: `MATCH (a {id: 5})-[rs*2]-(x) RETURN x.id AS x, size(rs) AS len`},
	{q: `MATCH (a {id: 7})-[rs:KNOWS*0..2]->(x) RETURN x.id, size(rs) AS hops, rs[0].since AS first`},
	{q: `MATCH (n) WHERE n.id <= 12 OPTIONAL MATCH (n)-[:LIKES]->(m) RETURN n.id, m.id`},
	{q: `MATCH (n) WHERE n.id <= 12 OPTIONAL MATCH (n)-[r:KNOWS]->(m) WHERE m.age > 30 RETURN n.id, count(m) AS c`},
	{q: `MATCH (n) WITH n.name AS name, count(*) AS c WHERE c > 1 RETURN name, c ORDER BY c DESC, name`, ordered: true},
	{q: `MATCH (n) WITH n ORDER BY n.id LIMIT 20 MATCH (n)-->(m) RETURN n.id, m.id`},
	{q: `UNWIND [1, 2, 3, 2] AS i MATCH (n {id: i}) RETURN n.id, count(*) AS c`},
	{q: `MATCH (n) UNWIND n.tags AS tag RETURN tag, count(*) AS c`},
	// UNION and UNION ALL (columns by name, in any order).
	{q: `MATCH (n:Person) RETURN n.name AS name UNION MATCH (n:City) RETURN n.name AS name`},
	{q: `MATCH (a)-[:KNOWS]->(b) RETURN a.id AS x UNION ALL MATCH (a)-[:LIKES]->(b) RETURN b.id AS x`},
	{q: `MATCH (n) WHERE n.age > 60 RETURN n.id AS id, n.name AS name UNION MATCH (n) WHERE n.score > 90 RETURN n.name AS name, n.id AS id`},
	{q: `MATCH ({id: 1})-->(m) RETURN m.id AS id UNION MATCH ({id: 2})-->(m) RETURN m.id AS id UNION MATCH ({id: 3})<--(m) RETURN m.id AS id`},
	{q: `MATCH (n:Person) RETURN 'person' AS kind, count(*) AS c UNION ALL MATCH (n:City) RETURN 'city' AS kind, count(*) AS c`},
	{q: `MATCH ({id: 5})-->(b) RETURN b.id AS b UNION MATCH ({id: 5})<--(b) RETURN b.id AS b UNION MATCH (b {id: -1}) RETURN b.id AS b`},
	// List comprehensions, list predicates, reduce; a comprehension's variable shadows n inside only.
	{q: `MATCH (n) WHERE n.id <= 30 RETURN n.id, [t IN n.tags WHERE t STARTS WITH 'a' OR t = 'eve' | toUpper(t)] AS ts`},
	{q: `MATCH (n) WHERE any(t IN n.tags WHERE t = 'bob') RETURN n.id`},
	{q: `MATCH (n) RETURN n.id AS id, all(t IN n.tags WHERE t <> 'ann') AS a, none(t IN n.tags WHERE t = 'cid') AS b, single(t IN n.tags WHERE t = 'dee') AS c ORDER BY id`, ordered: true},
	{q: `MATCH (a {id: 4})-[rs*1..2]->(b) RETURN b.id, reduce(w = 0, r IN rs | w + coalesce(r.weight, 0)) AS w, [r IN rs | type(r)] AS types`},
	{q: `MATCH (n) WITH n.name AS name, collect(n.age) AS ages RETURN name, size([a IN ages WHERE a > 50]) AS olds, reduce(s = 0, a IN ages | s + a) AS total`},
	{q: `MATCH p = (a {id: 3})-[*1..2]->(b) WHERE all(x IN nodes(p) WHERE x.age IS NULL OR x.age > 20) RETURN b.id, [x IN nodes(p) | x.id] AS ids`},
	{q: `MATCH (n) WHERE n.id < 10 RETURN n.id, [n IN range(1, 3) | n * 2] AS l, n.name`},
	{q: `MATCH (a)-[r]->(b) WHERE any(x IN [a.age, b.age] WHERE x > 70) AND single(x IN [a, b] WHERE x:City) RETURN a.id, b.id`},
	// =~ (whole-string, Go syntax).
	{q: `MATCH (n) WHERE n.name =~ '[a-d].*' RETURN n.id, n.name`},
	{q: `MATCH (n) WHERE n.name =~ $re RETURN count(*) AS c`, params: map[string]any{"re": "(?i)E.E"}},
	{q: `MATCH (n) RETURN n.name =~ 'e.e|b.b' AS m, count(*) AS c`},
	{q: `MATCH (n:Person) WHERE toString(n.id) =~ '1[0-9]?' RETURN n.id`},
	// Map projections of nodes, relationships and maps.
	{q: `MATCH (n) WHERE n.id <= 20 RETURN n {.name, .age, id: n.id, .missing}`},
	{q: `MATCH (a {id: 2})-[r]->(b) RETURN r {.*, t: type(r)} AS rel, b {.id, .name}`},
	{q: `MATCH (n) WHERE n.id % 9 = 0 RETURN n {.*} AS props`},
	{q: `MATCH (n) WHERE n.id < 5 WITH n, n.id * 2 AS d, {k: n.name} AS m RETURN n {.id, d}, m {.k, .*}`},
	{q: `MATCH (n) RETURN n.active AS a, n.name AS name, count(*) AS c ORDER BY a, name, c`, ordered: true},
	{q: `MATCH (n) RETURN n.id AS id ORDER BY n.score DESC, id SKIP 3 LIMIT 7`, ordered: true},
	{q: `MATCH (a {id: 1}), (b {id: 9}) MATCH p = shortestPath((a)-[*..6]-(b)) RETURN length(p)`},
	{q: `MATCH (a {id: 4}), (b) WHERE b.id IN [8, 15, 16] MATCH p = shortestPath((a)-[:KNOWS|LIKES*..6]->(b)) RETURN b.id, length(p)`},
	// Without an upper bound (shortest paths only), reachable or not.
	{q: `MATCH (a {id: 1}), (b) WHERE b.id <= 40 MATCH p = shortestPath((a)-[*]-(b)) RETURN b.id, length(p)`},
	{q: `MATCH (a {id: 2}), (b) WHERE b.id <= 40 MATCH p = shortestPath((a)-[:WORKS_AT*0..]->(b)) RETURN b.id, length(p)`},
	{q: `MATCH (a {id: 3}), (b) WHERE b.id IN [5, 9, 77] MATCH p = allShortestPaths((a)-[:KNOWS*]->(b)) RETURN b.id, length(p), count(*)`},
	{q: `MATCH (a)-[r]->(b) RETURN type(r) AS t, count(*) AS c, sum(r.weight) AS w, avg(r.since) AS s ORDER BY t`, ordered: true},
	{q: `MATCH (a {id: 1}), (b {id: 9}) MATCH p = allShortestPaths((a)-[*..6]-(b)) RETURN length(p) AS len, count(*) AS paths`},
	{q: `MATCH (a {id: 2}), (b) WHERE b.id IN [3, 4, 5] MATCH p = allShortestPaths((a)-[:KNOWS|LIKES*..5]->(b)) RETURN b.id, length(p), nodes(p)[1].id, relationships(p)[0].since`},
	{q: `MATCH p = (a {id: 3})-[*1..2]->(b) RETURN b.id, length(p), size(nodes(p)), nodes(p)[0].id, last(relationships(p)).weight`},
	{q: `MATCH (a {id: 3})-[r]-(b) RETURN startNode(r).id, endNode(r).id, type(r)`},
	{q: `MATCH (a {id: 6})-[r]->(b) RETURN keys(r), properties(b).name, labels(b)`},
	{q: `MATCH (a)-[r]->(a) RETURN a.id`},
	{q: `MATCH (n) WHERE n.id % 5 = 0 RETURN n.id * 2 AS double, n.score / 2 AS half, coalesce(n.name, 'none') AS name`},
	{q: `MATCH (n) RETURN CASE WHEN n.age < 30 THEN 'young' WHEN n.age >= 30 THEN 'old' ELSE 'unknown' END AS k, count(*) AS c`},
	{q: `MATCH (a)-[:KNOWS]->(b) WITH a, count(b) AS out WHERE out >= 2 MATCH (a)<-[:KNOWS]-(c) RETURN a.id, out, count(c) AS incoming`},
	// Rows that only DISTINCT or min/max read are merged by the matcher: relationship
	// uniqueness (a walk may not use an edge twice: undirected, loops, parallel edges) must
	// come out as when every path is a row.
	{q: `MATCH (a)-->()-->()-->(c) WHERE a.id IN [1, 2, 3] RETURN a.id, count(DISTINCT c) AS reach`},
	{q: `MATCH (a {id: $id})-[]-()-[]-(c) RETURN count(DISTINCT c) AS n`, params: map[string]any{"id": int64(5)}},
	{q: `MATCH (a {id: $id})-[]-(b)-[]-(c)-[]-(d) RETURN DISTINCT d.id`, params: map[string]any{"id": int64(8)}},
	{q: `MATCH (a)-[:KNOWS]->(b)-[:LIKES]->(c:Person) RETURN DISTINCT a.id, c.name`},
	{q: `MATCH (a {id: 4})-->(b), (b)-->(c) RETURN min(c.id) AS lo, max(c.id) AS hi, size(collect(DISTINCT b.id)) AS bs`},
	{q: `MATCH (a)-[r]->(b)-->(c) WHERE a.id < 5 RETURN DISTINCT type(r), c.id`},
	{q: `MATCH (a {id: 2})-->(b)-->(c) WITH DISTINCT c MATCH (c)-->(d) RETURN count(*) AS n`},
	{q: `MATCH (a)-->(b)-->(a) RETURN DISTINCT a.id`},
	{q: `MATCH (a)-[r1]-(b)-[r2]-(c) WHERE a.id = 6 AND c.age > 20 RETURN count(DISTINCT c) AS n, count(DISTINCT b) AS m`},
	// A MATCH whose rows are merged, from a vertex the clause before bound.
	{q: `MATCH (a) WHERE a.id < 5 MATCH (a)-->(b) RETURN count(DISTINCT b) AS n`},
	{q: `MATCH (a) WITH a MATCH (a)-->(b)-->(c) RETURN DISTINCT c.id`},
	// A property map that reads another variable, of a named and of an anonymous node.
	{q: `MATCH (a:Person)-[:LIKES]->(b {name: a.name}) RETURN a.id, b.id`},
	{q: `MATCH (a)-[:KNOWS]-({age: a.age}) RETURN a.id`},
	// Pattern predicates: semi-joins and anti-joins, computed for the whole batch of rows.
	{q: `MATCH (a)-[:KNOWS]->(b) WHERE NOT (b)-[:KNOWS]->(a) RETURN a.id, b.id`},
	{q: `MATCH (a)-[:KNOWS]->(b) WHERE (b)-[:KNOWS]->(a) RETURN a.id, b.id`},
	{q: `MATCH (a:Person) WHERE (a)-[:WORKS_AT]->(:Company) AND NOT (a)-[:LIKES]->() RETURN a.id`},
	{q: `MATCH (a) WHERE (a)-->() RETURN count(a) AS n`},
	{q: `MATCH (a) WHERE NOT (a)--() RETURN a.id`},
	{q: `MATCH (a) WHERE (a)-[:KNOWS]->(a) RETURN a.id`},
	{q: `MATCH (a) WHERE a.id < 40 AND ((a)-[:LIKES {weight: 3}]->() OR (a)<-[:KNOWS|LIKES*2]-(:Person)) RETURN a.id`},
	{q: `MATCH (a) WHERE a.id <= 40 AND (a)-[:KNOWS*1..2]->({id: 1}) RETURN a.id`},
	{q: `MATCH (a) WHERE exists((a)-[:KNOWS]-(:City)) XOR a.active RETURN a.id`},
	{q: `MATCH (a:Person) WHERE EXISTS { MATCH (a)-[r:KNOWS]->(b) WHERE r.since > 2000 AND b.age > a.age } RETURN a.id`},
	{q: `MATCH (a) WHERE EXISTS { (a)-[:KNOWS]->(b)-[:KNOWS]->(a) } RETURN a.id`},
	{q: `MATCH (a)-[:KNOWS]->(b) WHERE EXISTS { MATCH (b)-[:LIKES]->(c) WHERE NOT (c)-[:KNOWS]->(a) } RETURN count(*) AS n`},
	{q: `MATCH (a)-->(b) WHERE NOT (b)-->(a) RETURN DISTINCT a.id`},
	{q: `MATCH (a) WHERE a.id <= 30 RETURN a.id, COUNT { (a)-->() } AS out, COUNT { MATCH (a)-[r]-(b) WHERE b.id > a.id } AS up`},
	{q: `MATCH (a) WITH a, COUNT { (a)<--() } AS indeg WHERE indeg > 3 AND NOT (a)-[:LIKES]->() RETURN a.id, indeg`},
	{q: `MATCH (a) WHERE COUNT { (a)-[:KNOWS]-() } = 2 RETURN a.id`},
	{q: `MATCH (n) WHERE n.id <= 20 OPTIONAL MATCH (n)-[:WORKS_AT]->(c) RETURN n.id, c.id, exists((c)<-[:WORKS_AT]-(:Person)) AS e`},
	{q: `MATCH (n) WHERE n.id <= 30 OPTIONAL MATCH (n)-[:LIKES]->(m) WITH n, m WHERE NOT (m)-[:KNOWS]->(n) RETURN n.id, m.id`},
	{q: `MATCH (a:Person) WHERE (a)-[:KNOWS]-(:Person {age: a.age}) OR (a)-[:LIKES]->({name: a.name}) RETURN a.id`},
	{q: `MATCH (a) RETURN a.id AS id ORDER BY COUNT { (a)-[:KNOWS|LIKES]->() } DESC, id LIMIT 10`, ordered: true},
	{q: `MATCH (a)-[r:LIKES]->(b) WHERE a.id < 60 AND EXISTS { MATCH (b)-[s:LIKES]->(c) WHERE s.weight > r.weight } WITH * RETURN a.id, b.id`},
	{q: `MATCH (a) WHERE (:Person)-[:LIKES]->(a) RETURN a.id`},
	{q: `MATCH (n) WHERE n.id <= 20 OPTIONAL MATCH (n)-[:KNOWS]->(m) WHERE (m)-[:LIKES]->() RETURN n.id, m.id`},
	{q: `MATCH (a) WHERE COUNT { (a)--(a) } > 0 RETURN a.id, COUNT { (a)--(a) } AS loops, COUNT { (a)-->(a) } AS out`},
	{q: `MATCH (a) WHERE EXISTS { MATCH p = (a)-[:KNOWS*1..2]->(b) WHERE length(p) = 2 AND b.id < a.id } RETURN a.id`},
	{q: `MATCH (a) WITH a.id AS id, a WITH *, COUNT { (a)-->() } AS c RETURN id, c`},
	// A named variable-length path read whole: its inner nodes are loaded.
	{q: `MATCH p = (a)-[:KNOWS*1..2]-(b) WHERE a.id <= 10 AND b.age > 20 RETURN a.id, [n IN nodes(p) | n.id] AS ids`},
	{q: `MATCH (a) WHERE a.id <= 10 AND EXISTS { MATCH p = (a)-[:KNOWS*1..2]-(b) WHERE reduce(s = 0, n IN nodes(p) | s + n.age) > 100 } RETURN a.id`},
	// Pattern comprehensions, compared in forms their lists' order does not change.
	{q: `MATCH (a) WHERE a.id <= 20 RETURN a.id, size([(a)-[:KNOWS]->(b) WHERE b.age > 30 | b.id]) AS n`},
	{q: `MATCH (a) WHERE a.id <= 30 WITH a, [(a)-[:KNOWS|LIKES]-(b) | b.id] AS ids UNWIND ids AS bid RETURN a.id AS aid, bid ORDER BY aid, bid`, ordered: true},
	{q: `MATCH (a) WHERE a.id <= 40 RETURN a.id, reduce(s = 0, x IN [p = (a)-[:KNOWS*1..2]->(b) | length(p)] | s + x) AS total, [(a)-->(b) WHERE b.id < 0 | b] IS NOT NULL AS e`},
	{q: `MATCH (a) RETURN a.id AS id ORDER BY size([(a)--() | 1]) DESC, id LIMIT 10`, ordered: true},
	{q: `MATCH (a:Person) WHERE size([(a)-[:LIKES]->(b) WHERE b.age > a.age | b.name]) >= 1 RETURN a.id`},
	{q: `MATCH (n) WHERE n.id <= 20 OPTIONAL MATCH (n)-[:WORKS_AT]->(c) RETURN n.id, c.id, size([(c)<-[:WORKS_AT]-(p) | p.id]) AS workers`},
	{q: `MATCH (a) WHERE a.id <= 15 RETURN a.id, reduce(s = 0, l IN [(a)-[:KNOWS]->(b) | [(b)-[:KNOWS]->(c) WHERE c <> a | c.id]] | s + size(l)) AS n`},
	{q: `MATCH (a) WHERE a.id <= 30 RETURN a.id, size([(a)-[r]-(b)-[s]-(a) | [r, s]]) AS cycles`},
	{q: `MATCH (a)-[:KNOWS]->(b) WHERE a.id < 20 WITH a, b, [(b)-[k:KNOWS]->(c) | coalesce(k.since, 0) - coalesce(a.age, 0)] AS xs RETURN a.id, b.id, size(xs) AS n, reduce(m = 0, x IN xs | m + x) AS s`},
	{q: `MATCH (a) WHERE a.id <= 10 RETURN a.id, reduce(s = 0, l IN [p = (a)-[:KNOWS*1..2]-(b) WHERE b.age > 20 | [n IN nodes(p) | n.id] + [r IN relationships(p) | coalesce(r.since, 1)]] | s + reduce(t = 0, i IN l | t + i)) AS s`},
	{q: `MATCH (a) WHERE a.id <= 25 WITH a, sum(size([(a)-[:LIKES]->(b) | b])) AS likes WHERE likes > 0 RETURN a.id, likes, [(a)-[r:LIKES]->() WHERE r.weight > 2 | r] IS NULL AS none`},
	// A variable length matched from its right end (the labelled node): its list and its path
	// are still in the pattern's order.
	{q: `MATCH p = (a)-[rs*2]->(b:City) WHERE b.id < 30 RETURN [r IN rs | [type(r), r.since, startNode(r).id]] AS rels, [n IN nodes(p) | n.id] AS ids`},
	{q: `MATCH p = (a)-[rs:KNOWS|LIKES*1..2]-(b:Company) WHERE b.id < 40 RETURN [r IN rs | startNode(r).id] AS froms, [n IN nodes(p) | n.id] AS ids`},
	{q: `MATCH (a {id: 3})-[rs*3..2]-(b) RETURN count(*) AS none`},
	{q: `MATCH (a)<-[r:KNOWS]->(b) WHERE a.id < 10 RETURN a.id, b.id, r.since`},
	{q: `MATCH (a)-[r]->(b) WHERE a.id <= 20 RETURN a.id, b.id, r:KNOWS AS k, r:LIKES:KNOWS AS x`},
	// A relationship bound by an earlier clause: MATCH takes that relationship only.
	{q: `MATCH (a)-[r:KNOWS]->(b) WHERE a.id <= 15 WITH r, a MATCH (a)-[r]->(c) RETURN a.id, c.id, r.since`},
	{q: `MATCH ()-[r:LIKES]->(z) WHERE z.id <= 30 WITH r MATCH (x)-[r]-(y) RETURN x.id, y.id`},
	{q: `MATCH (a)-[r]->() WHERE a.id <= 12 WITH r, a OPTIONAL MATCH (a)<-[r]-(b) RETURN a.id, b.id, type(r)`},
	{q: `MATCH (a)-[r]->(b) WHERE a.id <= 12 WITH r, b MATCH (b)<-[r:WORKS_AT|KNOWS]-(c:Person) RETURN b.id, c.id`},
	// WITH's WHERE and ORDER BY see the variables before it (one row each) and the items by
	// their expressions.
	{q: `MATCH (a) WITH a.name AS name WHERE a.id <= 10 RETURN name`},
	{q: `MATCH (a) WITH DISTINCT a.name AS name WHERE a.name STARTS WITH 'a' RETURN name`},
	{q: `MATCH (me)--(you) WHERE me.id <= 20 RETURN me.id AS id, count(you.age) AS c ORDER BY me.id + count(you.age), id`, ordered: true},
	{q: `MATCH (me)--(you) WHERE me.id <= 20 WITH me.id AS id, avg(you.age) AS a ORDER BY $k + avg(you.age) DESC, id LIMIT 5 RETURN id`, params: map[string]any{"k": 3}, ordered: true},
	// A pattern where a value stands: the list of its paths.
	{q: `MATCH (a) WHERE a.id <= 40 RETURN a.id, size((a)-[:KNOWS]-()) AS k, size((a)-->()) AS out, size((a)<-[:LIKES*1..2]-()) AS likes`},
	{q: `MATCH (a) WHERE size((a)-->()) > 6 RETURN a.id, reduce(s = 0, p IN (a)-[:WORKS_AT]->() | s + last(nodes(p)).id) AS w ORDER BY a.id`, ordered: true},
	// Without an upper bound: every trail (no relationship twice), over the relationships of
	// one year (a few dozen, so that the trails stay few).
	{q: `MATCH (a)-[rs* {since: 2020}]->(b) RETURN a.id, b.id, size(rs) AS n`},
	{q: `MATCH (a)-[rs*0.. {since: 2001}]-(b) WHERE a.id <= 40 RETURN a.id, b.id, [r IN rs | r.weight] AS ws`},
	{q: `MATCH p = (a)-[:KNOWS|LIKES*2.. {since: 2010}]->(b) RETURN [x IN nodes(p) | x.id] AS ids`},
}

// TestQueriesAgreeWithTheOracle loads each graph into the cluster and the oracle and runs the
// fixed list on both.
func TestQueriesAgreeWithTheOracle(t *testing.T) {
	cl := startCluster(t)
	opts := oracle.Options{SelfLoops: true, Parallel: true}
	for _, tc := range []struct {
		name string
		g    *oracle.Graph
	}{
		{"random", oracle.Random(7, 120, 480, opts)},
		{"powerlaw", oracle.PowerLaw(11, 160, 640, opts)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			load(t, cl, tc.name, tc.g)
			for _, q := range queries {
				same(t, cl, tc.name, tc.g, q.q, q.params, q.ordered)
			}
		})
	}
}

// TestKarateClub loads Zachary's karate club and checks what is known of it: 34 members, 78
// friendships, member 1's degree is 16 and member 34's 17, the longest shortest path is 5
// (the diameter) and the distances agree with the oracle's.
func TestKarateClub(t *testing.T) {
	g := NewWithT(t)
	cl := startCluster(t)
	k := oracle.Karate()
	load(t, cl, "karate", k)
	ctx := context.Background()
	res, err := cl.Query(ctx, "karate", `MATCH (m:Member) RETURN count(m)`, nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Rows).To(Equal([][]any{{int64(34)}}))
	res, err = cl.Query(ctx, "karate", `MATCH (:Member)-[f:FRIEND]->(:Member) RETURN count(f)`, nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Rows).To(Equal([][]any{{int64(78)}}))
	res, err = cl.Query(ctx, "karate", `MATCH (m:Member)-[:FRIEND]-(x) WHERE m.id IN [1, 34] RETURN m.id, count(x) ORDER BY m.id`, nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Rows).To(Equal([][]any{{int64(1), int64(16)}, {int64(34), int64(17)}}))
	// Without an upper bound: the search ends when it reaches no new member.
	diameter := `MATCH (a:Member), (b:Member) WHERE a.id < b.id
		MATCH p = shortestPath((a)-[:FRIEND*]-(b))
		RETURN length(p) AS d, count(*) AS pairs ORDER BY d`
	same(t, cl, "karate", k, diameter, nil, true)
	res, err = cl.Query(ctx, "karate", diameter, nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Rows[len(res.Rows)-1][0]).To(Equal(int64(5)), "the diameter")
	for _, q := range queries[:20] {
		same(t, cl, "karate", k, q.q, q.params, q.ordered)
	}

	// The paths themselves (searched from both ends): each is a walk of FRIEND edges from a to
	// b, as long as the oracle's shortest path.
	walks := `MATCH (a:Member {id: 1}), (b:Member) WHERE b.id IN [15, 16, 17, 30, 34]
		MATCH p = shortestPath((a)-[:FRIEND*..10]-(b)) RETURN b.id AS b, length(p) AS len, p ORDER BY b`
	same(t, cl, "karate", k, `MATCH (a:Member {id: 1}), (b:Member) WHERE b.id IN [15, 16, 17, 30, 34]
		MATCH p = shortestPath((a)-[:FRIEND*..10]-(b)) RETURN b.id AS b, length(p) AS len ORDER BY b`, nil, true)
	res, err = cl.Query(ctx, "karate", walks, nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Rows).To(HaveLen(5))
	for _, row := range res.Rows {
		path := row[2].(map[string]any)
		nodes, rels := path["nodes"].([]any), path["relationships"].([]any)
		g.Expect(rels).To(HaveLen(int(row[1].(int64))))
		g.Expect(nodes).To(HaveLen(len(rels) + 1))
		g.Expect(nodes[0].(map[string]any)["properties"].(map[string]any)["id"]).To(Equal(int64(1)))
		g.Expect(nodes[len(nodes)-1].(map[string]any)["properties"].(map[string]any)["id"]).To(Equal(row[0]))
		for i, r := range rels {
			rel := r.(map[string]any)
			ends := []any{rel["start"], rel["end"]}
			g.Expect(ends).To(ConsistOf(nodes[i].(map[string]any)["id"], nodes[i+1].(map[string]any)["id"]), "relationship %d joins nodes %d and %d", i, i, i+1)
		}
	}
	fmt.Fprintln(testWriter{t}, "karate: distances", res.Rows)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }

// dumps are the queries that read a whole graph back, to compare after writes.
var dumps = []string{
	`MATCH (n) RETURN n.id, labels(n), properties(n)`,
	`MATCH (a)-[r]->(b) RETURN a.id, type(r), b.id, properties(r)`,
}

// TestWritesAgreeWithTheOracle runs a list of writing queries on the cluster and on the
// oracle, in order, and after each compares their answers and the whole graphs.
func TestWritesAgreeWithTheOracle(t *testing.T) {
	cl := startCluster(t)
	g := oracle.Random(21, 80, 320, oracle.Options{SelfLoops: true, Parallel: true})
	load(t, cl, "w", g)
	writes := []string{
		`MATCH (n) WHERE n.age > 80 SET n.old = true, n.age = n.age + 1 RETURN n.id, n.age`,
		`MATCH (n:Person) WHERE n.score < 30 SET n:Poor REMOVE n.score RETURN count(*)`,
		`MATCH (n) WHERE n.id % 7 = 0 SET n += {tagged: 'seven', active: null} RETURN n.id`,
		`MATCH (n:City) WHERE n.id % 5 = 0 SET n = {id: n.id, reset: true}`,
		`MATCH (a)-[r:LIKES]->(b) WHERE r.weight > 6 SET r.heavy = true, r.weight = r.weight * 2 RETURN a.id, b.id, r.weight`,
		`MATCH (a)-[r:KNOWS]->(a) DELETE r RETURN a.id`,
		`MATCH (a)-[r:WORKS_AT]->(b) WHERE r.since < 2000 DELETE r RETURN count(*)`,
		`MATCH (n) WHERE n.id > 72 DETACH DELETE n`,
		`MATCH (a {id: 1}), (b {id: 2}) CREATE (a)-[r:NEW {x: 1}]->(b), (b)-[:NEW {x: 2}]->(:Fresh {id: 1000}) RETURN type(r)`,
		// A CREATE's later patterns read what its earlier ones made.
		`UNWIND [1, 2] AS i CREATE (a:Chain {i: i}), (b:Chain {i: a.i * 10}), (a)-[r:C {w: b.i + 1}]->(b), (b)-[:C {w: r.w * 2}]->(a) RETURN a.i, b.i, r.w`,
		`MERGE (m:Merged {name: 'x'}) ON CREATE SET m.created = true ON MATCH SET m.matched = true RETURN m.name, m.created, m.matched`,
		`MERGE (m:Merged {name: 'x'}) ON CREATE SET m.created = true ON MATCH SET m.matched = true RETURN m.name, m.created, m.matched`,
		`MATCH (a {id: 3}) MERGE (a)-[:LINK]->(z:Zed {k: 1}) RETURN a.id, z.k`,
		`MATCH (a {id: 3}) MERGE (a)-[:LINK]->(z:Zed {k: 1}) RETURN a.id, z.k`,
		`UNWIND range(1, 5) AS i CREATE (:U {i: i})-[:TO {i: i}]->(:U {i: i + 100})`,
		`MATCH (n:U) WHERE n.i < 3 OR n.i > 104 DETACH DELETE n`,
		`MATCH (n:U)-[r:TO]->(m) SET m.from = n.i RETURN m.i, m.from`,
		// SET applies item by item and row by row: a later item, and a later row holding the
		// same vertex, read what an earlier one set.
		`MATCH (n) WHERE n.id <= 10 SET n.a = n.id * 10, n.b = n.a + 1 REMOVE n.a SET n.c = coalesce(n.a, -1) RETURN n.id, n.b, n.c`,
		`MATCH (n {id: 5})--(m) SET n.visits = coalesce(n.visits, 0) + 1 RETURN count(*)`,
		`MATCH (a {id: 6})-[r]-() SET r.seen = coalesce(r.seen, 0) + 1, r.twice = r.seen * 2 RETURN count(*)`,
		// A MERGE that matches two parallel relationships runs ON MATCH SET for each, even when
		// the clause after it counts distinct rows only.
		`MATCH (a {id: 11}), (b {id: 12}) CREATE (a)-[:PAR]->(b), (a)-[:PAR]->(b)`,
		`MATCH (a {id: 11}), (b {id: 12}) MERGE (a)-[r:PAR]->(b) ON MATCH SET a.hits = coalesce(a.hits, 0) + 1 RETURN count(DISTINCT a) AS c`,
		// FOREACH: its body runs per row and element; its rows pass on unchanged.
		// A body's later clause reads what its earlier one wrote for the element before.
		`MATCH (n) WHERE n.id IN [7, 8] FOREACH (x IN [1, 2, 3] | SET n.v = x CREATE (:Bv {k: n.id * 10 + n.v}))`,
		`MATCH (n) WHERE n.id = 9 FOREACH (x IN range(1, 4) | SET n.acc = coalesce(n.acc, 0) + x SET n.last = n.acc)`,
		`MATCH (n) WHERE n.id <= 5 FOREACH (i IN range(1, 2) | CREATE (n)-[:F {i: i}]->(:Made {k: n.id * 10 + i})) RETURN n.id`,
		`MATCH p = (a {id: 1})-[*..2]->(b) FOREACH (x IN nodes(p) | SET x.onPath = true) RETURN count(*)`,
		`FOREACH (k IN [1, 2, 2] | MERGE (:M {k: k}))`,
		`MATCH (a {id: 7})-->(b) FOREACH (x IN [b.id] | CREATE (:Copy {of: x, name: b.name}))`,
		`MATCH (a {id: 8})-->(b) FOREACH (x IN [1] | FOREACH (y IN [2] | SET b.copied = b.name))`,
		`MATCH (n:Made) FOREACH (a IN [1, 2] | FOREACH (b IN [a, a * 10] | SET n.sum = coalesce(n.sum, 0) + b)) RETURN n.k, n.sum`,
		`MATCH (n) WHERE n.id <= 3 FOREACH (x IN null | SET n.never = true) FOREACH (x IN CASE WHEN n.id = 2 THEN [1] END | SET n.two = true) RETURN n.id, n.never, n.two`,
		`MATCH (a {id: 4}) FOREACH (k IN [7, 8, 7] | MERGE (a)-[:HAS]->(:Key {k: k})) RETURN a.id`,
		`MATCH (n) WHERE n.onPath FOREACH (x IN [1] | REMOVE n.onPath SET n:Visited) RETURN count(*)`,
		`MATCH (n:Made) WHERE n.k % 2 = 0 WITH collect(n) AS ns FOREACH (m IN ns | DETACH DELETE m) RETURN size(ns)`,
	}
	for _, w := range writes {
		same(t, cl, "w", g, w, nil, false)
		// same evaluates the oracle on a clone; apply the write to the oracle's graph itself.
		parsed, err := cypher.Parse(w)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := oracle.Eval(g, parsed, nil); err != nil {
			t.Fatalf("oracle: %s: %v", w, err)
		}
		for _, d := range dumps {
			same(t, cl, "w", g, d, nil, false)
		}
	}
	// A DELETE of a vertex that has relationships fails on both, and changes nothing.
	bad := `MATCH (n {id: 1}) DELETE n`
	parsed, _ := cypher.Parse(bad)
	_, oerr := oracle.Eval(g.Clone(), parsed, nil)
	_, cerr := cl.Query(context.Background(), "w", bad, nil)
	if oerr == nil || !errors.Is(cerr, client.ErrConflict) {
		t.Fatalf("DELETE of a vertex with relationships: oracle %v, cluster %v", oerr, cerr)
	}
	for _, d := range dumps {
		same(t, cl, "w", g, d, nil, false)
	}
}

// TestKeysAndIndexesAgreeWithTheOracle declares a primary key before loading and builds an
// index after, then runs the fixed list: the answers are the same whether the executor finds
// its anchors by key, by index or by scan.
func TestKeysAndIndexesAgreeWithTheOracle(t *testing.T) {
	cl := startCluster(t)
	g := oracle.Random(5, 150, 600, oracle.Options{Parallel: true})
	ctx := context.Background()
	schema := func(q string) {
		t.Helper()
		parsed, err := cypher.Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := oracle.Eval(g, parsed, nil); err != nil {
			t.Fatalf("oracle: %s: %v", q, err)
		}
		if _, err := cl.Query(ctx, "k", q, nil); err != nil {
			t.Fatalf("cluster: %s: %v", q, err)
		}
	}
	// The primary key goes first, as it must: it decides the ids of the label's vertices. The
	// oracle needs no declaration to answer the same.
	if _, err := cl.Query(ctx, "k", `CREATE CONSTRAINT person_id FOR (p:Person) REQUIRE p.id IS UNIQUE`, nil); err != nil {
		t.Fatal(err)
	}
	load(t, cl, "k", g)
	schema(`CREATE INDEX city_age FOR (c:City) ON (c.age)`)
	schema(`CREATE INDEX company_score FOR (c:Company) ON (c.score)`)

	res, err := cl.Query(ctx, "k", `MATCH (p:Person {id: $id}) RETURN p.id`, map[string]any{"id": firstWithLabel(g, "Person")})
	if err != nil || len(res.Rows) != 1 {
		t.Fatalf("a primary-key lookup: %v, %v", res, err)
	}
	if rounds := res.Stats["rounds"]; rounds != int64(1) {
		t.Errorf("a primary-key lookup took %v rounds, want 1", rounds)
	}
	for _, q := range []string{
		`MATCH (c:City) WHERE c.age = 42 RETURN c.id`,
		`MATCH (c:City) WHERE c.age >= 90 RETURN c.id, c.age`,
		`MATCH (c:City) WHERE c.age < 5.5 RETURN c.id`,
		`MATCH (c:Company) WHERE c.score > 80 RETURN c.id, c.score`,
		`MATCH (c:Company {score: 12.5})-->(x) RETURN c.id, x.id`,
		`MATCH (p:Person {id: 10})-[r]-(x) RETURN type(r), x.id`,
		`UNWIND [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] AS i MATCH (p:Person {id: i}) RETURN p.id`,
	} {
		same(t, cl, "k", g, q, nil, false)
	}
	for _, q := range queries {
		same(t, cl, "k", g, q.q, q.params, q.ordered)
	}

	// The schema as SHOW lists it: the oracle learns the primary key now (the graph meets it).
	parsed, err := cypher.Parse(`CREATE CONSTRAINT person_id FOR (p:Person) REQUIRE p.id IS UNIQUE`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oracle.Eval(g, parsed, nil); err != nil {
		t.Fatal(err)
	}
	same(t, cl, "k", g, `SHOW INDEXES`, nil, true)
	same(t, cl, "k", g, `SHOW ALL CONSTRAINTS`, nil, true)
	res, err = cl.Query(ctx, "k", `SHOW INDEXES`, nil)
	if err != nil || len(res.Rows) != 3 || res.Rows[0][0] != "city_age" || res.Rows[2][2] != "PRIMARY KEY" {
		t.Fatalf("SHOW INDEXES: %v, %v", res, err)
	}
}

func firstWithLabel(g *oracle.Graph, label string) int64 {
	for _, v := range g.Vertices() {
		if slices.Contains(v.Labels, label) {
			return v.Props["id"].(int64)
		}
	}
	return 0
}

// TestClusterGraphLimitsAreConfigurable: `torua local --graph-max-rows` reaches the router.
func TestClusterGraphLimitsAreConfigurable(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	c := localtest.Start(t, local.Config{Nodes: 1, GraphMaxRows: 10})
	cl, err := client.New(c.RouterURL())
	g.Expect(err).NotTo(HaveOccurred())
	_, err = cl.Query(ctx, "l", `UNWIND range(1, 11) AS i RETURN i`, nil)
	g.Expect(errors.Is(err, client.ErrTooLarge)).To(BeTrue(), "%v", err)
	res, err := cl.Query(ctx, "l", `UNWIND range(1, 10) AS i RETURN count(i)`, nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Rows).To(Equal([][]any{{int64(10)}}))
}

// TestQueryErrorsAgreeWithTheOracle: queries that are faults of the query fail on both, and
// the cluster answers them 400 with a message naming the fault and where it is.
func TestQueryErrorsAgreeWithTheOracle(t *testing.T) {
	cl := startCluster(t)
	g := oracle.Random(5, 20, 40, oracle.Options{})
	load(t, cl, "e", g)
	for _, tc := range []struct{ q, msg string }{
		{`MATCH (n) WHERE n.name =~ 'a(' RETURN n`, "line 1, column 27: invalid regular expression 'a(': missing closing )"},
		{`MATCH (n) RETURN percentileCont(n.age, 1.5) AS p`, "line 1, column 40: percentileCont() takes a percentile between 0.0 and 1.0, not 1.5 (a FLOAT)"},
		{`MATCH (n) WHERE n.name RETURN n`, "line 1, column 18: type error: WHERE expects a BOOLEAN, got a STRING"},
		{`MATCH (n)-->(m) WHERE m.id > 0 AND n.age RETURN n`, "line 1, column 37: type error: WHERE expects a BOOLEAN, got an INTEGER"},
		{`MATCH (n) WHERE n.name =~ $re RETURN n`, "line 1, column 27: invalid regular expression '(?=x)': invalid or unsupported Perl syntax"},
		{`MATCH (n) RETURN * UNION MATCH (m) RETURN *`, "line 1, column 20: expected the same column names on both sides of UNION, found (n) before it and (m) after it"},
		{`RETURN 1 AS a UNION RETURN 2 AS b`, "line 1, column 15: expected the same column names on both sides of UNION, found (a) before it and (b) after it"},
		{`MATCH (n) RETURN n.id AS id UNION CREATE (m) RETURN m.id AS id`, "line 1, column 35: updating clauses (CREATE) in a query combined by UNION are not supported by Torua"},
		{`MATCH (n) RETURN [x IN [1] | count(n)] AS c`, "line 1, column 30: aggregate function count() cannot be used inside a list comprehension"},
		{`MATCH (n) RETURN [x IN n.name | x] AS c`, "line 1, column 25: type error: a list comprehension iterates over a LIST, not a STRING"},
		{`MATCH (n) RETURN n.name {.x} AS c`, `line 1, column 25: expected ",", AS, ORDER BY, SKIP, LIMIT or end of query, found "{"`},
		{`MATCH (n) WITH n.name AS s RETURN s {.x} AS c`, "line 1, column 37: type error: a map projection needs a NODE, RELATIONSHIP or MAP, not a STRING"},
		{`MATCH (n) RETURN [(n)-->(b) | count(b)] AS c`, "line 1, column 31: aggregate function count() is not allowed here"},
		{`MATCH () RETURN *`, "line 1, column 10: RETURN * needs a variable in scope, and there is none"},
		// So is an undefined variable.
		{`MATCH (n) WHERE n.id < 0 SET n.x = missing`, "line 1, column 36: variable missing is not defined"},
		{`MATCH (n) WHERE n.id < 0 RETURN foo`, "line 1, column 33: variable foo is not defined"},
		// An unknown function is refused even where no row would reach it.
		{`MATCH (n) WHERE n.id < 0 RETURN toUpperr(n.name)`, "line 1, column 33: unknown function toUpperr"},
		{`MATCH (n) WHERE false WITH n ORDER BY nosuch(n) RETURN 1 AS x UNION RETURN 2 AS x`, "line 1, column 39: unknown function nosuch"},
		// A MERGE with a null property would never match, and create at every run.
		{`MERGE ({num: null})`, "line 1, column 8: cannot MERGE with a null property value (num)"},
		{`MATCH (a), (b) WHERE a.id = 1 AND b.id = 2 MERGE (a)-[r:X {num: null, w: 1}]->(b)`, "line 1, column 59: cannot MERGE with a null property value (num)"},
		// A WHERE conjunct on no node or relationship of the patterns is not lost.
		{`MATCH (n) WHERE zz.name = 'a' RETURN count(*)`, "line 1, column 17: variable zz is not defined"},
		{`MATCH p = (n)-[*]->() WHERE p.name = 'a' AND n.id > 0 RETURN count(*)`, "line 1, column 30: p is a path, which has no properties"},
		// Refused whatever the rows: an aggregate in WHERE, a function given a kind it never
		// takes, a bound node created or merged alone or given labels.
		{`MATCH (a) WHERE count(a) > 10 RETURN a`, "line 1, column 17: aggregate function count() cannot be used in WHERE"},
		{`MATCH (r) RETURN type(r)`, "line 1, column 23: type() cannot take a node, which r is"},
		{`MATCH (a) CREATE (a)`, "line 1, column 18: variable a is already bound: CREATE (a) alone would create nothing"},
		{`CREATE (n:Foo)-[:T1]->(), (n:Bar)-[:T2]->()`, "line 1, column 27: variable n is already bound: CREATE cannot add labels or properties to it (use SET)"},
		{`MATCH (a) MERGE (a)`, "line 1, column 17: variable a is already bound: MERGE (a) alone would only find it"},
	} {
		params := map[string]any{"re": "(?=x)"}
		parsed, perr := cypher.Parse(tc.q)
		if perr == nil {
			if _, err := oracle.Eval(g.Clone(), parsed, params); err == nil {
				t.Errorf("oracle: %s succeeded", tc.q)
			}
		}
		_, err := cl.Query(context.Background(), "e", tc.q, params)
		if !errors.Is(err, client.ErrBadRequest) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("cluster: %s: error %v, want 400 with %q", tc.q, err, tc.msg)
		}
	}
}

// TestPatternPredicatesAreBatched: a pattern predicate costs one round per hop of its
// pattern for all the rows of the MATCH together (at most one request per shard each),
// whatever the number of rows, and the agreement with the oracle holds there too.
func TestPatternPredicatesAreBatched(t *testing.T) {
	g := NewWithT(t)
	cl := startCluster(t)
	pl := oracle.PowerLaw(3, 200, 800, oracle.Options{SelfLoops: true, Parallel: true})
	load(t, cl, "p", pl)
	ctx := context.Background()
	for _, tc := range []struct {
		q         string
		maxRounds int64 // the scan, the predicate's hops, the last round that loads what RETURN reads
	}{
		{`MATCH (a) WHERE (a)-[:KNOWS]->() RETURN count(*) AS n`, 2},
		{`MATCH (a) WHERE NOT (a)-[:KNOWS]->()-[:KNOWS]->(a) RETURN a.id`, 4},
		{`MATCH (a) WHERE EXISTS { MATCH (a)-[:LIKES]->(b) WHERE b.age > 30 } RETURN a.id`, 4},
		{`MATCH (a) RETURN a.id, COUNT { (a)<--() } AS indegree`, 3},
		{`MATCH (a) RETURN a.id, size([(a)<--() | 1]) AS indegree`, 3},
		{`MATCH (a) RETURN a.id, size((a)<--()) AS indegree`, 3},
		{`MATCH (a) RETURN a.id, [(a)-[:KNOWS]->(b) WHERE b.age > 30 | b.id] IS NULL AS none`, 4},
	} {
		same(t, cl, "p", pl, tc.q, nil, false)
		res, err := cl.Query(ctx, "p", tc.q, nil)
		g.Expect(err).NotTo(HaveOccurred())
		rounds, requests := res.Stats["rounds"].(int64), res.Stats["requests"].(int64)
		g.Expect(rounds).To(BeNumerically("<=", tc.maxRounds), tc.q)
		g.Expect(requests).To(BeNumerically("<=", rounds*12), "%s: at most one request per shard and round", tc.q)
	}
	for q, msg := range map[string]string{
		`MATCH (a) WHERE ()-[:KNOWS]->() RETURN a`:          "line 1, column 17: a pattern predicate must start from a node the row binds, and ()-[:KNOWS]->() names none",
		`MATCH (a)-[r]->() WHERE (a)-[r]->() RETURN a`:      "line 1, column 28: relationship variable r is bound outside a pattern predicate",
		`MATCH (a) UNWIND [exists((a)-->())] AS e RETURN e`: "line 1, column 19: a pattern predicate is evaluated in WHERE, WITH and RETURN only",
		`MATCH (a) UNWIND (a)-->() AS p RETURN p`:           "line 1, column 18: a pattern used as a value is evaluated in WHERE, WITH and RETURN only",
		`MATCH (a) RETURN size((b)-->(c)) AS n`:             "line 1, column 23: a pattern used as a value must start from a node the row binds, and (b)-->(c) names none",
		`MATCH (a) UNWIND [(a)-->(b) | b] AS b RETURN b`:    "line 1, column 18: a pattern comprehension is evaluated in WHERE, WITH and RETURN only",
		`MATCH (a) RETURN [(b)-->(c) | c] AS x`:             "line 1, column 19: a pattern comprehension must start from a node the row binds, and (b)-->(c) names none",
		// Computed for the rows, not per element of a list comprehension (the oracle would).
		`MATCH (a) RETURN [x IN [1] | [(a)-->(b) WHERE b.id = x | b]] AS c`: "line 1, column 54: variable x is not defined",
	} {
		_, err := cl.Query(ctx, "p", q, nil)
		g.Expect(errors.Is(err, client.ErrBadRequest)).To(BeTrue(), "%s: %v", q, err)
		g.Expect(err).To(MatchError(ContainSubstring(msg)), q)
	}
}

// TestDeletedEntitiesAreNotRead: a node or relationship a query deleted has no properties or
// labels for its later clauses (400, as the oracle refuses too); a vertex made again with
// the id of one deleted (its primary key) is read as usual.
func TestDeletedEntitiesAreNotRead(t *testing.T) {
	ctx := context.Background()
	cl := startCluster(t)
	setup := []string{`CREATE CONSTRAINT FOR (p:P) REQUIRE p.id IS UNIQUE`,
		`CREATE (:A {num: 1}), (:B {num: 2})-[:T {num: 3}]->(:C), (:P {id: 1, x: 1})`}
	g := oracle.New()
	for _, q := range setup {
		if _, err := cl.Query(ctx, "del", q, nil); err != nil {
			t.Fatal(err)
		}
		parsed, err := cypher.Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := oracle.Eval(g, parsed, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ q, msg string }{
		{`MATCH (n:A) DELETE n RETURN n.num`, "line 1, column 30: node "},
		{`MATCH (:B)-[r:T]->() DELETE r RETURN r.num`, "line 1, column 39: relationship "},
		{`MATCH (n:C) DETACH DELETE n RETURN labels(n)`, "line 1, column 36: node "},
	} {
		parsed, err := cypher.Parse(tc.q)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := oracle.Eval(g, parsed, nil); err == nil {
			t.Errorf("oracle: %s succeeded", tc.q)
		}
		_, err = cl.Query(ctx, "del", tc.q, nil)
		if !errors.Is(err, client.ErrBadRequest) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "was deleted by this query") {
			t.Errorf("cluster: %s: error %v, want 400 with %q ... was deleted by this query", tc.q, err, tc.msg)
		}
	}
	res, err := cl.Query(ctx, "del", `MATCH (p:P {id: 1}) DELETE p WITH count(*) AS c CREATE (q:P {id: 1, x: 2}) RETURN q.x, labels(q)`, nil)
	if err != nil || fmt.Sprint(res.Rows) != "[[2 [P]]]" {
		t.Fatalf("a vertex made again with a deleted one's key: %v %v, want it read", res, err)
	}
}
