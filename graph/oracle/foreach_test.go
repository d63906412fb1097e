package oracle

import "testing"

// FOREACH: the body runs per row and element; rows pass on unchanged; what the body does to
// entities bound outside is seen after it, its own variables are not.
func TestEvalForeach(t *testing.T) {
	runCases(t, []evalCase{
		{name: "FOREACH creates per element", pre: []string{`FOREACH (i IN [1, 2, 3] | CREATE (:N {i: i}))`},
			q: `MATCH (n:N) RETURN sum(n.i) AS s, count(*) AS c`, want: rows(r(6, 3))},
		{name: "FOREACH passes its rows on unchanged",
			q:    `UNWIND [1, 2] AS k FOREACH (x IN [k, k] | CREATE (:C {k: x})) RETURN k`,
			want: rows(r(1), r(2))},
		{name: "FOREACH over null runs nothing and keeps the rows", graph: "social",
			q:    `MATCH (n:Person) FOREACH (x IN null | SET n.x = 1) RETURN count(*) AS c, count(n.x) AS x`,
			want: rows(r(3, 0))},
		{name: "FOREACH over an empty list", q: `FOREACH (x IN [] | CREATE (:E)) WITH 1 AS one MATCH (e:E) RETURN count(e) AS c`,
			want: rows(r(0))},
		{name: "effects on an outer entity are seen after", q: `CREATE (n {c: 0}) FOREACH (x IN range(1, 4) | SET n.c = n.c + x) RETURN n.c AS c`,
			want: rows(r(10))},
		{name: "nested FOREACH", pre: []string{`FOREACH (a IN [1, 2] | FOREACH (b IN [10, 20] | CREATE (:P {v: a + b})))`},
			q: `MATCH (p:P) RETURN p.v AS v ORDER BY v`, want: rows(r(11), r(12), r(21), r(22))},
		{name: "MERGE in FOREACH sees earlier iterations", pre: []string{`FOREACH (k IN [1, 2, 2] | MERGE (:M {k: k}))`},
			q: `MATCH (m:M) RETURN m.k AS k ORDER BY k`, want: rows(r(1), r(2))},
		{name: "a body of several clauses", graph: "social",
			pre:  []string{`MATCH (n:Person {name: 'Ann'}) FOREACH (t IN ['a', 'b'] | CREATE (n)-[:HAS]->(x:Tag {t: t}) SET x.of = n.name REMOVE n.age)`},
			q:    `MATCH (n:Person {name: 'Ann'})-[:HAS]->(x:Tag) RETURN x.t AS t, x.of AS o, n.age AS a ORDER BY t`,
			want: rows(r("a", "Ann", nil), r("b", "Ann", nil))},
		{name: "DETACH DELETE in FOREACH", graph: "social",
			pre: []string{`MATCH (n:Person) WITH collect(n) AS ns FOREACH (n IN ns | DETACH DELETE n)`},
			q:   `MATCH (n) OPTIONAL MATCH (n)--(m) RETURN n.name AS n, count(m) AS c`, want: rows(r("Acme", 0))},
		{name: "FOREACH over a non-list", q: `FOREACH (x IN 1 | CREATE ())`, err: "not a list"},
		{name: "the body's variables are not seen after", q: `FOREACH (x IN [1] | CREATE (n:A)) RETURN n`, err: "not defined"},
		{name: "the variable is not seen after", q: `FOREACH (x IN [1] | CREATE (:A)) RETURN x`, err: "not defined"},
		{name: "the variable is new", graph: "social", q: `MATCH (n:Person) FOREACH (n IN [1] | CREATE ())`, err: "already declared"},
		{name: "the body's variables are checked over an empty list", q: `FOREACH (x IN [] | SET y.a = 1)`, err: "not defined"},
	})
}
