package oracle

import "testing"

// List comprehensions, list predicates, reduce, =~, map projections and UNION: answers
// worked out by hand from openCypher 9 (and Neo4j's documentation where it is silent).
func TestEvalListsMapsRegexUnion(t *testing.T) {
	runCases(t, []evalCase{
		{name: "comprehension", q: `RETURN [x IN [1, 2, 3] WHERE x > 1 | x * 10] AS a, [x IN [1, 2]] AS b, [x IN [1, null] | x] AS c`,
			want: rows(r([]any{20, 30}, []any{1, 2}, []any{1, nil}))},
		{name: "comprehension drops null and false", q: `RETURN [x IN [1, null, 3] WHERE x <> 1] AS a`, want: rows(r([]any{3}))},
		{name: "comprehension of null", q: `RETURN [x IN null | x] AS a`, want: rows(r(nil))},
		{name: "comprehension of a non-list", q: `RETURN [x IN 1 | x] AS a`, err: "needs a LIST"},
		{name: "comprehension WHERE not boolean", q: `RETURN [x IN [1] WHERE x] AS a`, err: "WHERE expects BOOLEAN"},
		{name: "the variable shadows an outer one inside only", q: `WITH 5 AS x RETURN [x IN [1, 2] | x + 1] AS a, x`,
			want: rows(r([]any{2, 3}, 5))},
		{name: "nested comprehensions", q: `RETURN [x IN [[1, 2], [3]] | [y IN x WHERE y > 1]] AS a`, want: rows(r([]any{[]any{2}, []any{3}}))},
		{name: "comprehension variable out of scope after it", q: `RETURN [y IN [1] | y] AS a, y`, err: "variable y is not defined"},
		{name: "comprehension over collect", graph: "social",
			q: `MATCH (p:Person) RETURN [a IN collect(p.age) WHERE a >= 30] AS olds`, want: rows(r([]any{30, 35}))},
		{name: "aggregate inside a comprehension", graph: "social", q: `MATCH (p) RETURN [x IN [1] | count(*)] AS c`, err: "aggregate function count is not allowed here"},

		{name: "all", q: `RETURN all(x IN [1, 2] WHERE x > 0) AS a, all(x IN [] WHERE false) AS b, all(x IN [1, null] WHERE x > 0) AS c, all(x IN [0, null] WHERE x > 0) AS d`,
			want: rows(r(true, true, nil, false))},
		{name: "any", q: `RETURN any(x IN [1, 2] WHERE x > 1) AS a, any(x IN [] WHERE true) AS b, any(x IN [0, null] WHERE x > 0) AS c, any(x IN [2, null] WHERE x > 0) AS d`,
			want: rows(r(true, false, nil, true))},
		{name: "none", q: `RETURN none(x IN [1, 2] WHERE x > 5) AS a, none(x IN [] WHERE true) AS b, none(x IN [0, null] WHERE x > 0) AS c, none(x IN [1, null] WHERE x > 0) AS d`,
			want: rows(r(true, true, nil, false))},
		{name: "single", q: `RETURN single(x IN [1, 2] WHERE x > 1) AS a, single(x IN [] WHERE true) AS b, single(x IN [2, null] WHERE x > 1) AS c, single(x IN [2, 3, null] WHERE x > 1) AS d, single(x IN [0, null] WHERE x > 1) AS e, single(x IN [2, 3] WHERE x > 1) AS f`,
			want: rows(r(true, false, nil, false, nil, false))},
		{name: "list predicates of null", q: `RETURN any(x IN null WHERE true) AS a, all(x IN null WHERE true) AS b`, want: rows(r(nil, nil))},
		{name: "list predicate WHERE not boolean", q: `RETURN any(x IN [1] WHERE 1) AS a`, err: "WHERE expects BOOLEAN"},
		{name: "list predicate in WHERE", graph: "social",
			q: `MATCH (p:Person) WHERE any(l IN labels(p) WHERE l = 'Admin') RETURN p.name AS n`, want: rows(r("Cid"))},

		{name: "reduce", q: `RETURN reduce(s = 0, x IN [1, 2, 3] | s + x) AS a, reduce(s = '', x IN ['a', 'b'] | s + x) AS b, reduce(s = 0, x IN [] | s + x) AS c`,
			want: rows(r(6, "ab", 0))},
		{name: "reduce of null", q: `RETURN reduce(s = 0, x IN null | s + x) AS a`, want: rows(r(nil))},
		{name: "reduce shadows", q: `WITH 10 AS s, 20 AS x RETURN reduce(s = 1, x IN [2, 3] | s * x) + s + x AS a`, want: rows(r(36))},
		{name: "reduce over a path", graph: "social",
			q:    `MATCH p = (:Person {name: 'Ann'})-[:KNOWS*2]->(c) RETURN c.name AS c, reduce(t = 0, k IN relationships(p) | t + k.since) AS total`,
			want: rows(r("Cid", 4025))},

		{name: "regex", q: `RETURN 'hello' =~ 'h.*o' AS a, 'hello' =~ 'ell' AS b, 'hello' =~ '(?i)HEL+O' AS c, 'ab' =~ 'a|ab' AS d, '' =~ 'x*' AS e`,
			want: rows(r(true, false, true, true, true))},
		{name: "regex with null or not strings", q: `RETURN null =~ 'x' AS a, 'x' =~ null AS b, 1 =~ '1' AS c, 'x' =~ 1 AS d`,
			want: rows(r(nil, nil, nil, nil))},
		{name: "regex anchors the pattern as a whole", q: `RETURN 'ab' =~ 'a|b' AS a, 'xab' =~ 'a|xab' AS b, 'a\nb' =~ 'a.b' AS c`,
			want: rows(r(false, true, false))},
		{name: "invalid regex", q: `RETURN 'a' =~ 'a(' AS a`, err: "invalid regular expression"},
		{name: "regex in WHERE", graph: "social", q: `MATCH (p:Person) WHERE p.name =~ '[AB].*' RETURN p.name AS n`,
			want: rows(r("Ann"), r("Bob"))},

		{name: "map projection of a node", graph: "social",
			q: `MATCH (p:Person {name: 'Ann'}) RETURN p {.name, .missing, k: p.age + 1} AS m, p {.*} AS every, p {age: 0, .*} AS over`,
			want: rows(r(map[string]any{"name": "Ann", "missing": nil, "k": 31}, map[string]any{"name": "Ann", "age": 30},
				map[string]any{"name": "Ann", "age": 0}))},
		{name: "map projection of a relationship and a map", graph: "social",
			q:    `MATCH (:Person {name: 'Ann'})-[k:KNOWS]->(b) WITH k, b, {x: 1} AS m RETURN k {.since, b}.since AS s, m {.x, .y} AS mm`,
			want: rows(r(2010, map[string]any{"x": 1, "y": nil}))},
		{name: "map projection of null", q: `WITH null AS n RETURN n {.x} AS m`, want: rows(r(nil))},
		{name: "map projection of a string", q: `WITH 's' AS n RETURN n {.x} AS m`, err: "map projection needs"},

		{name: "union removes duplicates", q: `UNWIND [1, 2, 2] AS x RETURN x UNION UNWIND [2, 3] AS x RETURN x`,
			want: rows(r(1), r(2), r(3))},
		{name: "union all keeps them", q: `UNWIND [1, 2, 2] AS x RETURN x UNION ALL UNWIND [2, 3] AS x RETURN x`,
			want: rows(r(1), r(2), r(2), r(2), r(3))},
		{name: "union matches columns by name", q: `RETURN 1 AS a, 2 AS b UNION ALL RETURN 3 AS b, 4 AS a`, cols: []string{"a", "b"},
			want: rows(r(1, 2), r(4, 3))},
		{name: "union of RETURN * with other columns", q: `WITH 1 AS a RETURN * UNION WITH 1 AS b RETURN *`, err: "UNION of queries with columns"},
		{name: "union over the graph", graph: "social",
			q:    `MATCH (p:Person) RETURN p.name AS name UNION MATCH (c:Company) RETURN c.name AS name UNION MATCH (a:Admin) RETURN a.name AS name`,
			want: rows(r("Ann"), r("Bob"), r("Cid"), r("Acme"))},
	})
}
