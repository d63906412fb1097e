package oracle

import (
	"testing"
)

// Updating clauses and schema commands: pre runs the writes, q reads back what they did (or
// q is the write that must fail).
func TestEvalWrites(t *testing.T) {
	runCases(t, []evalCase{
		{name: "CREATE returns what it made", q: `CREATE (n:X {a: 1}) RETURN n.a AS a, labels(n) AS l, id(n) AS id`,
			want: rows(r(1, []any{"X"}, 1))},
		{name: "a query without RETURN answers nothing", q: `CREATE (n:X)`, cols: []string{}, want: nil},
		{name: "CREATE several patterns reusing variables",
			q:    `CREATE (a:P {n: 1}), (b:P {n: 2}), (a)-[:R {w: 1}]->(b), (b)<-[:R {w: 2}]-(a) WITH a MATCH (a)-[r:R]->(b) RETURN r.w AS w, b.n AS n`,
			want: rows(r(1, 2), r(2, 2))},
		{name: "CREATE reads what its earlier patterns made",
			q:    `CREATE (a:End {num: 42, id: 0}), (b:Begin {num: a.id}), (a)-[r:R {w: b.num + 1}]->(b), (b)-[:S {w: r.w * 2}]->(a) RETURN b.num AS n, r.w AS w`,
			want: rows(r(0, 1))},
		{name: "CREATE a path", q: `CREATE p = (:A)-[:R]->(:B)<-[:S]-(:C) RETURN length(p) AS l, type(relationships(p)[1]) AS t`,
			want: rows(r(2, "S"))},
		{name: "CREATE per row", graph: "social",
			pre:  []string{`MATCH (n:Person) CREATE (n)-[:TAG]->(:Tag {of: n.name})`},
			q:    `MATCH (p:Person)-[:TAG]->(t:Tag) RETURN p.name = t.of AS ok, count(*) AS n`,
			want: rows(r(true, 3))},
		{name: "CREATE leaves null properties out", q: `CREATE (n {a: null, b: 1}) RETURN keys(n) AS k`, want: rows(r([]any{"b"}))},
		{name: "CREATE on a bound node with labels", graph: "social", q: `MATCH (n:Person) CREATE (n:X)`, err: "already declared"},
		{name: "CREATE of a bound relationship", graph: "social", q: `MATCH ()-[r]->() CREATE ()-[r:T]->()`, err: "already declared"},
		{name: "CREATE of a mixed list property", q: `CREATE ({a: [1, 'x']})`, err: "not a property value"},
		{name: "CREATE of a map property", q: `CREATE ({a: {b: 1}})`, err: "not a property value"},
		{name: "MERGE creates once", pre: []string{`MERGE (:City {name: 'Oslo'})`, `MERGE (:City {name: 'Oslo'})`},
			q: `MATCH (n:City) RETURN count(*) AS n`, want: rows(r(1))},
		{name: "MERGE sees earlier rows; ON CREATE and ON MATCH",
			pre:  []string{`UNWIND [1, 1, 2] AS k MERGE (n:K {k: k}) ON CREATE SET n.c = 1 ON MATCH SET n.c = n.c + 1`},
			q:    `MATCH (n:K) RETURN n.k AS k, n.c AS c`,
			want: rows(r(1, 2), r(2, 1))},
		{name: "MERGE returns the matches", graph: "social", q: `MERGE (n:Person) RETURN count(*) AS n`, want: rows(r(3))},
		{name: "MERGE a relationship", pre: []string{`CREATE (:A), (:B)`, `MATCH (a:A), (b:B) MERGE (a)-[:R]->(b) MERGE (a)-[:R]->(b)`},
			q: `MATCH (:A)-[r:R]->(:B) RETURN count(r) AS n`, want: rows(r(1))},
		{name: "MERGE of a whole pattern creates it whole", pre: []string{`CREATE (:A {n: 1})`, `MERGE (:A {n: 1})-[:R]->(:B)`},
			q: `MATCH (a:A) RETURN count(a) AS n`, want: rows(r(2))},
		{name: "MERGE undirected matches either way",
			pre: []string{`CREATE (:A)-[:R]->(:B)`, `MATCH (a:A), (b:B) MERGE (b)-[:R]-(a)`},
			q:   `MATCH ()-[r:R]->() RETURN count(r) AS n`, want: rows(r(1))},
		{name: "MERGE undirected creates left to right",
			pre: []string{`CREATE (:A), (:B)`, `MATCH (a:A), (b:B) MERGE (b)-[:R]-(a)`},
			q:   `MATCH (:B)-[r:R]->(:A) RETURN count(r) AS n`, want: rows(r(1))},
		{name: "MERGE with a null property", q: `MERGE (n {a: null})`, err: "null property value"},
		{name: "SET properties", graph: "social", pre: []string{`MATCH (n {name: 'Bob'}) SET n.age = 26, n.x = 'y'`},
			q: `MATCH (n {name: 'Bob'}) RETURN n.age AS a, n.x AS x`, want: rows(r(26, "y"))},
		{name: "SET sees its own earlier items", q: `CREATE (n {a: 1}) SET n.a = n.a + 1, n.b = n.a * 10 RETURN n.b AS b`, want: rows(r(20))},
		{name: "SET null removes", graph: "social", pre: []string{`MATCH (n {name: 'Bob'}) SET n.age = null`},
			q: `MATCH (n {name: 'Bob'}) RETURN keys(n) AS k`, want: rows(r([]any{"name"}))},
		{name: "SET = replaces all", graph: "social", pre: []string{`MATCH (n {name: 'Bob'}) SET n = {nick: 'B', gone: null}`},
			q: `MATCH (n {nick: 'B'}) RETURN properties(n) AS p`, want: rows(r(map[string]any{"nick": "B"}))},
		{name: "SET += adds and removes", graph: "social", pre: []string{`MATCH (n {name: 'Bob'}) SET n += {age: null, city: 'Oslo'}`},
			q: `MATCH (n {name: 'Bob'}) RETURN properties(n) AS p`, want: rows(r(map[string]any{"name": "Bob", "city": "Oslo"}))},
		{name: "SET = copies another node's properties", graph: "social",
			pre: []string{`MATCH (a {name: 'Ann'}), (b {name: 'Bob'}) SET b = a`},
			q:   `MATCH (n {name: 'Ann'}) RETURN count(*) AS n`, want: rows(r(2))},
		{name: "SET labels", graph: "social", pre: []string{`MATCH (n {name: 'Bob'}) SET n:Admin:Staff`},
			q:    `MATCH (n:Admin) RETURN n.name AS n, labels(n) AS l`,
			want: rows(r("Bob", []any{"Admin", "Person", "Staff"}), r("Cid", []any{"Admin", "Person"}))},
		{name: "REMOVE a label and a property", graph: "social", pre: []string{`MATCH (n:Admin) REMOVE n:Admin, n.age`},
			q: `MATCH (n {name: 'Cid'}) RETURN labels(n) AS l, n.age AS a`, want: rows(r([]any{"Person"}, nil))},
		{name: "SET a relationship property", graph: "social", pre: []string{`MATCH ()-[r:KNOWS {since: 2010}]->() SET r.since = 2011`},
			q: `MATCH ()-[r:KNOWS]->() RETURN r.since AS s`, want: rows(r(2011), r(2015), r(nil))},
		{name: "SET a map property", graph: "social", q: `MATCH (n) SET n.x = {a: 1}`, err: "not a property value"},
		{name: "SET on null does nothing", graph: "social", q: `OPTIONAL MATCH (n:Nope) SET n.x = 1, n:L REMOVE n.y RETURN n`, want: rows(r(nil))},
		{name: "SET a property of an integer", q: `UNWIND [1] AS x SET x.a = 1`, err: "cannot set a property of an INTEGER"},
		{name: "DELETE a node with relationships", graph: "social", q: `MATCH (n {name: 'Bob'}) DELETE n`, err: "DETACH DELETE"},
		{name: "DETACH DELETE", graph: "social", pre: []string{`MATCH (n {name: 'Bob'}) DETACH DELETE n`},
			q: `MATCH (n) OPTIONAL MATCH (n)-[r]->() RETURN count(DISTINCT n) AS v, count(r) AS e`, want: rows(r(3, 3))},
		{name: "DELETE a node and its relationships together", graph: "social",
			pre: []string{`MATCH (n {name: 'Acme'})<-[r]-() DELETE r, n`},
			q:   `MATCH (n) RETURN count(*) AS n`, want: rows(r(3))},
		{name: "DELETE relationships", graph: "social", pre: []string{`MATCH ()-[r:WORKS_AT]->() DELETE r`},
			q: `MATCH ()-[r]->() RETURN count(*) AS n`, want: rows(r(3))},
		{name: "DETACH DELETE a path", graph: "social",
			pre: []string{`MATCH p = (:Person {name: 'Ann'})-[:WORKS_AT]->(:Company) DETACH DELETE p`},
			q:   `MATCH (n) RETURN n.name AS n`, want: rows(r("Bob"), r("Cid"))},
		{name: "DELETE of null does nothing", graph: "social", q: `OPTIONAL MATCH (n:Nope) DELETE n RETURN count(*) AS n`, want: rows(r(1))},
		{name: "DELETE twice does nothing more", graph: "social",
			pre: []string{`MATCH (a {name: 'Acme'}), (b {name: 'Acme'}) DETACH DELETE a, b`},
			q:   `MATCH (n) RETURN count(*) AS n`, want: rows(r(3))},
		{name: "returning a deleted node", graph: "social", q: `MATCH (n {name: 'Bob'}) DETACH DELETE n RETURN n`, err: "was deleted"},
		{name: "reading a deleted node", graph: "social", q: `MATCH (n {name: 'Bob'}) DETACH DELETE n RETURN n.name`, err: "was deleted"},
		{name: "counting deleted nodes", graph: "social", q: `MATCH (n:Person) DETACH DELETE n RETURN count(n) AS n`, want: rows(r(3))},
		{name: "DELETE of an integer", q: `UNWIND [1] AS x DELETE x`, err: "cannot delete an INTEGER"},
	})
}

func TestEvalSchema(t *testing.T) {
	const unique = `CREATE CONSTRAINT FOR (p:Person) REQUIRE p.name IS UNIQUE`
	runCases(t, []evalCase{
		{name: "a unique key refuses CREATE", graph: "social", pre: []string{unique}, q: `CREATE (:Person {name: 'Ann'})`, err: "constraint"},
		{name: "a unique key refuses SET", graph: "social", pre: []string{unique}, q: `MATCH (n {name: 'Bob'}) SET n.name = 'Ann'`,
			err: "constraint"},
		{name: "a unique key refuses a label", graph: "social", pre: []string{unique, `CREATE (:X {name: 'Ann'})`},
			q: `MATCH (n:X) SET n:Person`, err: "constraint"},
		{name: "a unique key allows other labels", graph: "social", pre: []string{unique, `CREATE (:X {name: 'Ann'})`},
			q: `MATCH (n {name: 'Ann'}) RETURN count(*) AS n`, want: rows(r(2))},
		{name: "a unique key allows a missing property", graph: "social", pre: []string{unique, `CREATE (:Person), (:Person)`},
			q: `MATCH (n:Person) RETURN count(*) AS n`, want: rows(r(5))},
		{name: "1 and 1.0 are the same key", pre: []string{`CREATE CONSTRAINT FOR (k:K) REQUIRE k.v IS UNIQUE`, `CREATE (:K {v: 1})`},
			q: `CREATE (:K {v: 1.0})`, err: "constraint"},
		{name: "a node key must be present", pre: []string{`CREATE CONSTRAINT c FOR (c:Company) REQUIRE c.name IS NODE KEY`},
			q: `CREATE (:Company {x: 1})`, err: "must have the property name"},
		{name: "a node key cannot be removed", graph: "social", pre: []string{`CREATE CONSTRAINT c FOR (c:Company) REQUIRE c.name IS NODE KEY`},
			q: `MATCH (c:Company) REMOVE c.name`, err: "NODE KEY"},
		{name: "MERGE on a key matches", graph: "social", pre: []string{unique},
			q: `MERGE (p:Person {name: 'Ann'}) RETURN p.age AS age`, want: rows(r(30))},
		{name: "a constraint the data violates", graph: "social", pre: []string{`CREATE (:Person {name: 'Ann'})`}, q: unique,
			err: "cannot create constraint"},
		{name: "one primary key per label", graph: "social", pre: []string{unique},
			q: `CREATE CONSTRAINT FOR (p:Person) REQUIRE p.age IS UNIQUE`, err: "already has the primary key"},
		{name: "IF NOT EXISTS", graph: "social", pre: []string{unique},
			q: `CREATE CONSTRAINT IF NOT EXISTS FOR (p:Person) REQUIRE p.name IS UNIQUE`, cols: []string{}, want: nil},
		{name: "DROP CONSTRAINT", graph: "social", pre: []string{`CREATE CONSTRAINT pk FOR (p:Person) REQUIRE p.name IS UNIQUE`, `DROP CONSTRAINT pk`},
			q: `CREATE (:Person {name: 'Ann'}) RETURN 1 AS ok`, want: rows(r(1))},
		{name: "DROP a missing constraint", q: `DROP CONSTRAINT nope`, err: "no constraint named nope"},
		{name: "DROP a missing constraint IF EXISTS", q: `DROP CONSTRAINT nope IF EXISTS`, cols: []string{}, want: nil},
		{name: "CREATE INDEX twice", pre: []string{`CREATE INDEX FOR (p:Person) ON (p.age)`}, q: `CREATE INDEX FOR (p:Person) ON (p.age)`,
			err: "already exists"},
		{name: "CREATE INDEX IF NOT EXISTS", pre: []string{`CREATE INDEX ix FOR (p:Person) ON (p.age)`},
			q: `CREATE INDEX ix IF NOT EXISTS FOR (p:Person) ON (p.age)`, want: nil},
		{name: "DROP INDEX by name", pre: []string{`CREATE INDEX ix FOR (p:Person) ON (p.age)`, `DROP INDEX ix`},
			q: `CREATE INDEX ix FOR (p:Person) ON (p.age)`, want: nil},
		{name: "DROP INDEX the old way", pre: []string{`CREATE INDEX ON :Person(age)`, `DROP INDEX ON :Person(age)`},
			q: `CREATE INDEX ON :Person(age)`, want: nil},
		{name: "DROP a missing index", q: `DROP INDEX nope`, err: "no index named nope"},
		{name: "an index changes no answer", graph: "social", pre: []string{`CREATE INDEX FOR (p:Person) ON (p.age)`},
			q: `MATCH (n:Person) WHERE n.age >= 30 RETURN n.name AS n`, want: rows(r("Ann"), r("Cid"))},
	})
}

// A query that fails part way leaves the graph as it was.
func TestEvalIsAtomic(t *testing.T) {
	g := fixture(t, "social")
	before := g.CreateQuery()
	for _, q := range []string{
		`CREATE (:T) WITH 1 AS x RETURN 1 / 0 AS boom`,
		`MATCH (n {name: 'Ann'}) SET n.age = 31 WITH n MATCH (m {name: 'Bob'}) DELETE m`,
		`MATCH (n:Person) DETACH DELETE n WITH count(*) AS c RETURN c / 0 AS boom`,
		`CREATE CONSTRAINT FOR (p:Person) REQUIRE p.nick IS NODE KEY`,
	} {
		if _, err := evalString(g, q, nil); err == nil {
			t.Fatalf("%s: no error", q)
		}
		if after := g.CreateQuery(); after != before {
			t.Fatalf("%s changed the graph:\n%s\nwas\n%s", q, after, before)
		}
	}
	if len(g.Constraints()) != 0 {
		t.Fatalf("constraints = %v after a refused CREATE CONSTRAINT", g.Constraints())
	}
}
