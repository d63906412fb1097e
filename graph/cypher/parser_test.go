package cypher

import (
	"errors"
	"reflect"
	"testing"

	. "github.com/onsi/gomega"
)

// validCase is a query of the subset and its canonical form ("" when it is already
// canonical).
type validCase struct{ query, want string }

// validCases covers every construct of the subset. Each must parse, print as want, and
// parse back from want to the same AST.
var validCases = []validCase{
	// MATCH and its patterns.
	{"MATCH (n) RETURN n", ""},
	{"match (n) return n", "MATCH (n) RETURN n"},
	{"MATCH () RETURN 1", ""},
	{"MATCH (:Person) RETURN 1", ""},
	{"MATCH (n:Person:Admin {name: 'Ann', age: 42}) RETURN n", ""},
	{"MATCH ({name: 'Ann'}) RETURN 1", ""},
	{"MATCH (n $props) RETURN n", ""},
	{"MATCH (a)-->(b) RETURN a, b", ""},
	{"MATCH (a)<--(b) RETURN a", ""},
	{"MATCH (a)--(b) RETURN a", ""},
	{"MATCH (a)-[r]->(b) RETURN r", ""},
	{"MATCH (a)<-[r:KNOWS]-(b) RETURN r", ""},
	{"MATCH (a)-[:KNOWS|LIKES]-(b) RETURN a", ""},
	{"MATCH (a)-[:KNOWS|:LIKES]-(b) RETURN a", "MATCH (a)-[:KNOWS|LIKES]-(b) RETURN a"},
	{"MATCH (a)-[r:T {since: 2020}]->(b) RETURN r", ""},
	{"MATCH (a)-[{since: 2020}]->(b) RETURN a", ""},
	{"MATCH (a)-[]->(b) RETURN a", "MATCH (a)-->(b) RETURN a"},
	{"MATCH (a)-[*1..3]->(b) RETURN b", ""},
	{"MATCH (a)-[*..6]->(b) RETURN b", "MATCH (a)-[*1..6]->(b) RETURN b"},
	{"MATCH (a)-[*3]->(b) RETURN b", ""},
	{"MATCH (a)-[*3..3]->(b) RETURN b", "MATCH (a)-[*3]->(b) RETURN b"},
	{"MATCH (a)-[*0..2]->(b) RETURN b", ""},
	{"MATCH (a)-[r:KNOWS*1..3 {since: 1}]-(b) RETURN r", ""},
	{"MATCH (a)-[*0x2..0x4]->(b) RETURN b", "MATCH (a)-[*2..4]->(b) RETURN b"},
	{"MATCH (a)-->(b)<--(c)-[:T]-(d) RETURN d", ""},
	{"MATCH (a), (b)-->(c), (d) RETURN a", ""},
	{"MATCH p = (a)-[*..3]->(b) RETURN p", "MATCH p = (a)-[*1..3]->(b) RETURN p"},
	{"MATCH p = shortestPath((a)-[:KNOWS*..6]->(b)) RETURN length(p)", "MATCH p = shortestPath((a)-[:KNOWS*1..6]->(b)) RETURN length(p)"},
	{"SHOW INDEXES", ""},
	{"show all index", "SHOW INDEXES"},
	{"SHOW CONSTRAINT", "SHOW CONSTRAINTS"},
	{"SHOW ALL CONSTRAINTS;", "SHOW CONSTRAINTS"},
	// A variable bound before keeps its kind through WITH; an expression may hold anything.
	{"MATCH ()-[r]->() WITH r AS r2 MATCH ()-[r2]->() RETURN r2", ""},
	{"MATCH (a) WITH collect(a)[0] AS b MATCH (b)-->() RETURN b", ""},
	{"MATCH (a) WITH * MATCH (a)-->(b) RETURN b", ""},
	{"WITH null AS a OPTIONAL MATCH p = (a)-[r]->() RETURN p", ""},
	{"MATCH ()-[r1]->()-[r2]->() WITH [r1, r2] AS rs MATCH ()-[rs*1..]->() RETURN rs", ""},
	{"MATCH (a) RETURN a UNION MATCH ()-[a]->() RETURN a", ""},
	// A pattern where a value stands is the list of its paths.
	{"MATCH (a) RETURN (a)-[:T]->()", ""},
	{"MATCH (a) WHERE a.x AND size((a)-->()) > 0 RETURN a", ""},
	{"MATCH (a) WITH a, (a)<-[:T*2]-(:L) AS x RETURN a, size(x)", ""},
	{"RETURN [(a)-->(b) | (b)-->()]", ""},
	{"MATCH (a) WHERE EXISTS { MATCH (a)-->(b) WHERE b.x = (b)--() } RETURN a", ""},
	{"MATCH (n) SET (n).name = 'x', (n).age = 1", "MATCH (n) SET n.name = 'x', n.age = 1"},
	// Octal integers, and the least integer written in decimal or hexadecimal.
	{"RETURN 0o17, 0O7, -0o1", "RETURN 15, 7, -1"},
	{"RETURN -9223372036854775808, -0x8000000000000000", "RETURN -9223372036854775808, -9223372036854775808"},
	{"RETURN --9223372036854775808", ""},
	// A lower bound above the upper one matches nothing.
	{"MATCH (a)-[*3..1]->(b) RETURN a", ""},
	{"MATCH (a)-[*..0]->(b) RETURN a", "MATCH (a)-[*1..0]->(b) RETURN a"},
	// A relationship pointing both ways matches either direction, as -- does.
	{"MATCH (a)<-->(b)<-[r:T*2]->(c) RETURN a", "MATCH (a)--(b)-[r:T*2]-(c) RETURN a"},
	// A relationship's length may have no upper bound, in any pattern.
	{"MATCH (a)-[*]->(b) RETURN a", "MATCH (a)-[*1..]->(b) RETURN a"},
	{"MATCH (a)-[:T*2..]->(b) RETURN a", "MATCH (a)-[:T*2..]->(b) RETURN a"},
	{"MATCH (a)-[r*.. {w: 1}]-(b) RETURN r", "MATCH (a)-[r*1.. {w: 1}]-(b) RETURN r"},
	{"MATCH (a) WHERE (a)-[:T*0..]->(:Admin) RETURN a", ""},
	{"RETURN [p = (a)-[*]->(b) | p]", "RETURN [p = (a)-[*1..]->(b) | p]"},
	{"MATCH p = shortestPath((a)-[*]-(b)) RETURN p", "MATCH p = shortestPath((a)-[*1..]-(b)) RETURN p"},
	{"MATCH p = allShortestPaths((a)-[:T*0..]->(b)) RETURN p", "MATCH p = allShortestPaths((a)-[:T*0..]->(b)) RETURN p"},
	{"MATCH p = shortestPath((a)-[r:T* {w: 1}]->(b)) RETURN p", "MATCH p = shortestPath((a)-[r:T*1.. {w: 1}]->(b)) RETURN p"},
	{"MATCH p = allShortestPaths((a:P {id: 1})-[*1..4]-(b:P {id: 2})) RETURN p", ""},
	{"MATCH shortestpath((a)-[:T]->(b)) RETURN 1", "MATCH shortestPath((a)-[:T]->(b)) RETURN 1"},
	{"MATCH (a) WHERE a.age > 30 RETURN a", ""},
	{"MATCH (a) OPTIONAL MATCH (a)-[r]->(b) WHERE b:Admin RETURN a, b", ""},
	{"OPTIONAL MATCH (a) RETURN a", ""},
	{"MATCH (`my node`:`My Label`) RETURN `my node`.`the key`", ""},
	{"MATCH (`match`) RETURN `match`", ""},
	{"MATCH (n:Order)-[:end]->(m) RETURN n.end", ""},

	// WITH, UNWIND, RETURN.
	{"MATCH (n) WITH n, n.age AS age WHERE age > 3 RETURN n", ""},
	{"MATCH (n) WITH DISTINCT n.city AS c ORDER BY c SKIP 1 LIMIT 2 RETURN c", ""},
	{"MATCH (n) WITH * RETURN n", ""},
	{"MATCH (n) WITH *, n.x AS x RETURN x", ""},
	{"MATCH (n) WITH n.city AS c, count(*) AS k RETURN c, k", ""},
	{"UNWIND [1, 2, 3] AS x RETURN x", ""},
	{"UNWIND $list AS x UNWIND x AS y RETURN y", ""},
	{"RETURN 1", ""},
	{"RETURN *", ""},
	{"MATCH (n) RETURN DISTINCT n.name AS name, n.age ORDER BY name DESC, n.age ASC SKIP 10 LIMIT 5", "MATCH (n) RETURN DISTINCT n.name AS name, n.age ORDER BY name DESC, n.age SKIP 10 LIMIT 5"},
	{"MATCH (n) RETURN n ORDER BY n.a ASCENDING, n.b DESCENDING", "MATCH (n) RETURN n ORDER BY n.a, n.b DESC"},
	{"MATCH (n) RETURN n SKIP $s LIMIT $l", ""},
	{"MATCH (n) RETURN n LIMIT 0x10", "MATCH (n) RETURN n LIMIT 16"},
	{"MATCH (n) RETURN count(*), count(DISTINCT n.x), sum(n.x), min(n.x), max(n.x), avg(n.x), collect(n.x)", ""},
	{"MATCH (n) RETURN COUNT(*), toUpper(n.name), ID(n), Labels(n), type(n)", "MATCH (n) RETURN count(*), toupper(n.name), id(n), labels(n), type(n)"},
	{"RETURN 1;", "RETURN 1"},

	// UNION.
	{"MATCH (a:A) RETURN a.x AS x UNION MATCH (b:B) RETURN b.y AS x", ""},
	{"RETURN 1 AS a, 2 AS b union all RETURN 3 AS b, 4 AS a UNION ALL RETURN 5 AS a, 6 AS b;", "RETURN 1 AS a, 2 AS b UNION ALL RETURN 3 AS b, 4 AS a UNION ALL RETURN 5 AS a, 6 AS b"},
	{"MATCH (n) RETURN * UNION MATCH (n) WITH n.x AS m RETURN *", ""},
	{"MATCH (n) RETURN n ORDER BY n.x LIMIT 1 UNION MATCH (n) RETURN n SKIP 2", ""},

	// Updating clauses.
	{"CREATE (n)", ""},
	{"CREATE (n:Person {name: 'Ann'})-[:KNOWS {since: 2020}]->(m:Person), (o)", ""},
	{"CREATE ({name: 'A'})-[:T]->()", ""},
	{"CREATE (a)<-[:T]-(b) RETURN a", ""},
	{"CREATE p = (a)-[:T]->(b) RETURN p", ""},
	{"MATCH (a), (b) CREATE (a)-[r:KNOWS]->(b) RETURN r", ""},
	{"MERGE (p:Person {id: 42})", ""},
	{"MERGE (p:Person {id: 42}) ON CREATE SET p.created = 1 ON MATCH SET p.seen = 2, p.n = p.n + 1 RETURN p", ""},
	{"MERGE (p:P {id: 1}) ON MATCH SET p.a = 1 ON CREATE SET p.b = 2 ON MATCH SET p.c = 3", "MERGE (p:P {id: 1}) ON CREATE SET p.b = 2 ON MATCH SET p.a = 1, p.c = 3"},
	{"MATCH (a), (b) MERGE (a)-[:KNOWS]-(b)", ""},
	{"MATCH (n) SET n.age = 42, n += {a: 1}, n = {b: 2}, n:Admin:Staff", ""},
	{"MATCH (n) SET n = $props", ""},
	{"MATCH (n) REMOVE n.age, n:Admin:Staff", ""},
	{"MATCH (n) DELETE n", ""},
	{"MATCH (a)-[r]->(b) DELETE r, a", ""},
	{"MATCH (n) DETACH DELETE n", ""},
	{"MATCH (n) SET n.x = 1 RETURN n", ""},
	{"MATCH (n) SET n.x = 1 WITH n MATCH (m) RETURN m", ""},
	{"MATCH (n) DELETE n WITH count(*) AS c UNWIND [c] AS x CREATE (m {x: x})", ""},
	{"UNWIND $rows AS row MERGE (p:Person {id: row.id}) SET p += row", ""},

	// Schema commands.
	{"CREATE INDEX FOR (p:Person) ON (p.name)", ""},
	{"CREATE INDEX person_name FOR (p:Person) ON (p.name)", ""},
	{"CREATE INDEX person_name IF NOT EXISTS FOR (p:Person) ON (p.name)", ""},
	{"create index if not exists for (p:Person) on (p.name);", "CREATE INDEX IF NOT EXISTS FOR (p:Person) ON (p.name)"},
	{"CREATE INDEX ON :Person(name)", ""},
	{"DROP INDEX person_name", ""},
	{"DROP INDEX person_name IF EXISTS", ""},
	{"DROP INDEX ON :Person(name)", ""},
	{"CREATE CONSTRAINT FOR (p:Person) REQUIRE p.id IS UNIQUE", ""},
	{"CREATE CONSTRAINT person_id IF NOT EXISTS FOR (p:Person) REQUIRE (p.id) IS UNIQUE", "CREATE CONSTRAINT person_id IF NOT EXISTS FOR (p:Person) REQUIRE p.id IS UNIQUE"},
	{"CREATE CONSTRAINT FOR (p:Person) REQUIRE p.id IS NODE KEY", ""},
	{"CREATE CONSTRAINT ON (p:Person) ASSERT p.id IS UNIQUE", "CREATE CONSTRAINT FOR (p:Person) REQUIRE p.id IS UNIQUE"},
	{"DROP CONSTRAINT person_id", ""},
	{"DROP CONSTRAINT person_id IF EXISTS", ""},
	{"CREATE INDEX `on` FOR (`for`:`ON`) ON (`for`.`x y`)", "CREATE INDEX `on` FOR (`for`:ON) ON (`for`.`x y`)"},

	// Expressions.
	{"RETURN 1, -1, 0x1F, 1.5, -2.5, 1e3, .5, 'it\\'s', \"q\\\"\", true, FALSE, NULL", "RETURN 1, -1, 31, 1.5, -2.5, 1000.0, 0.5, 'it\\'s', 'q\"', true, false, null"},
	{"RETURN 'a\\nb\\tc\\\\d\\u00e9\\u0001'", "RETURN 'a\\nb\\tc\\\\d\u00e9\\u0001'"},
	{"RETURN [], [1, 'a', [2]], {}, {a: 1, b: {c: [true]}}", ""},
	{"RETURN $p, $0, $p.x, $list[0]", ""},
	{"MATCH (n) RETURN n.a.b, n['k'], n[0..2], n[..2], n[1..], n[-1]", ""},
	{"MATCH (n) WHERE n:Person:Admin RETURN n", ""},
	{"MATCH (n) WHERE n.name STARTS WITH 'A' AND n.name ENDS WITH 'z' OR n.name CONTAINS 'x' RETURN n", ""},
	{"MATCH (n) WHERE n.x IS NULL OR n.y IS NOT NULL RETURN n", ""},
	{"MATCH (n) WHERE n.x IN [1, 2] AND NOT n.y IN $ys RETURN n", ""},
	{"MATCH (n) WHERE n.a = 1 AND n.b <> 2 AND n.c < 3 AND n.d > 4 AND n.e <= 5 AND n.f >= 6 RETURN n", ""},
	{"MATCH (n) WHERE 1 < n.x <= 10 RETURN n", "MATCH (n) WHERE 1 < n.x AND n.x <= 10 RETURN n"},
	{"RETURN 1 + 2 - 3 * 4 / 5 % 6 ^ 7", ""},
	{"RETURN a XOR b", ""},
	{"MATCH (n) WHERE n.name =~ '(?i)a.*' AND NOT n.x =~ $re RETURN n.y =~ 'x' + 'y', 'a' =~ 'a' IN [true]", ""},
	{"RETURN [x IN [1, 2, 3]], [x IN l WHERE x > 1], [x IN l | x * 2], [x IN l WHERE x > 1 | x * 2]", ""},
	{"RETURN [x IN [y IN l | y] WHERE x IN l | [x IN x | x]], [`match` IN l | `match`]", ""},
	{"RETURN all(x IN l WHERE x > 0), ANY(x IN l WHERE x), none(x IN l WHERE x IS NULL), Single(x IN l WHERE x = 1)", "RETURN all(x IN l WHERE x > 0), any(x IN l WHERE x), none(x IN l WHERE x IS NULL), single(x IN l WHERE x = 1)"},
	{"RETURN all(x IN a IN b WHERE x), any(x), any((x IN l))", ""},
	{"RETURN reduce(s = 0, x IN [1, 2] | s + x), REDUCE(acc = '', w IN split(t, ' ') | acc + toUpper(w))", "RETURN reduce(s = 0, x IN [1, 2] | s + x), reduce(acc = '', w IN split(t, ' ') | acc + toupper(w))"},
	{"MATCH (n) RETURN n {.name, .`a b`, .*, m, k: n.age + 1, end: 2}, n {}, n {.x}.x, n{.a}[0], n {.a}:L", "MATCH (n) RETURN n {.name, .`a b`, .*, m, k: n.age + 1, end: 2}, n {}, n {.x}.x, n {.a}[0], n {.a}:L"},
	{"MATCH (n) RETURN (n) {.a}, [x IN [n] | x {.a}]", "MATCH (n) RETURN n {.a}, [x IN [n] | x {.a}]"},
	{"RETURN CASE WHEN x = 1 THEN 'one' WHEN x = 2 THEN 'two' ELSE 'many' END", ""},
	{"RETURN CASE x WHEN 1 THEN 'one' END", ""},
	{"RETURN exists(n.x), coalesce(n.x, 0), size([1])", ""},
	{"RETURN `count`(x), `IN`(1)", "RETURN count(x), `in`(1)"},
	{"RETURN [(x IN [1])], any((x IN [1]))", ""},
	{"RETURN {`a b`: 1, match: 2}", "RETURN {`a b`: 1, match: 2}"},
	{"RETURN (1).x, (-1).x, 1.5.x", "RETURN (1).x, (-1).x, (1.5).x"},
	{"RETURN (n:L).x, (n:L)[0]", ""},
	{"RETURN -0.0, 1e300, 123456789.125, 1e20, 1e21, 0.000001, 1e-7", "RETURN -0.0, 1e+300, 123456789.125, 100000000000000000000.0, 1e+21, 0.000001, 1e-07"},
	{"RETURN (a) - 1, (a:L) < 1, (a.b)", "RETURN a - 1, a:L < 1, a.b"},
	{"RETURN '\\r\\b\\f\\u0007\\U000E0001'", "RETURN '\\r\\b\\f\\u0007\\U000e0001'"},
	{"RETURN all(x), exists(x), ALL(x)", "RETURN all(x), exists(x), all(x)"},
	{"MATCH (`a\nb`) RETURN `a\nb`, 'é\\U0001F600'", "MATCH (`a\nb`) RETURN `a\nb`, 'é😀'"},
	{"// a comment\nMATCH (n) /* and\nanother */ RETURN n", "MATCH (n) RETURN n"},

	// Pattern predicates and EXISTS / COUNT subqueries.
	{"MATCH (a) WHERE (a)-[:KNOWS]->(b) RETURN a", ""},
	{"MATCH (a) WHERE NOT (a)-[:KNOWS]->(:Person {name: 'x'}) RETURN a", ""},
	{"MATCH (a) WHERE (a)-->() AND (a)<-[:T|U*1..2 {w: 1}]-(b:B) OR NOT (a)--() XOR a.x RETURN a", ""},
	{"MATCH (a) WHERE NOT ((a)-->()) RETURN a", "MATCH (a) WHERE NOT (a)-->() RETURN a"},
	{"MATCH (a) WITH a WHERE (a)-->() RETURN a", ""},
	{"MATCH (a) WHERE exists((a)-->()) RETURN exists((a)<-[:T]-(:L)) AS e", ""},
	{"MATCH (a) WHERE EXISTS((a)-->()) RETURN a", "MATCH (a) WHERE exists((a)-->()) RETURN a"},
	{"MATCH (a) WHERE EXISTS { (a)-->(b) } RETURN a", "MATCH (a) WHERE EXISTS { MATCH (a)-->(b) } RETURN a"},
	{"MATCH (a) WHERE exists { match (a)-->(b) where b.age > 3 } RETURN a", "MATCH (a) WHERE EXISTS { MATCH (a)-->(b) WHERE b.age > 3 } RETURN a"},
	{"MATCH (a) WHERE EXISTS { MATCH p = (a)-->(b), (b)-[*1..2]-(c) WHERE length(p) > 0 AND (c)-->(a) } RETURN a", ""},
	{"MATCH (a) WHERE COUNT { (a)-->() } > 2 RETURN a, count{(a)--()} AS c", "MATCH (a) WHERE COUNT { MATCH (a)-->() } > 2 RETURN a, COUNT { MATCH (a)--() } AS c"},
	{"MATCH (a) WHERE EXISTS { MATCH (a)-->(b) WHERE EXISTS { MATCH (b)-->(c) WHERE NOT (c)-->(a) } } RETURN a", ""},
	{"MATCH (a) RETURN (a) - 1, (a)--1, (a)<-1", "MATCH (a) RETURN a - 1, a - -1, a < -1"},
	// FOREACH.
	{"FOREACH (x IN [1, 2] | CREATE (:A {x: x}))", ""},
	{"foreach(x in range(1,2)|create(:A{x:x}) set x.y=1)", "FOREACH (x IN range(1, 2) | CREATE (:A {x: x}) SET x.y = 1)"},
	{"MATCH p = (a)-->(b) FOREACH (n IN nodes(p) | SET n.seen = true REMOVE n:Old) RETURN a", ""},
	{"MATCH (a) FOREACH (x IN a.list | MERGE (b:B {k: x}) ON CREATE SET b.new = true MERGE (a)-[:T]->(b) DETACH DELETE b) WITH a MATCH (a)-->(c) RETURN c", ""},
	{"FOREACH (x IN [[1], [2, 3]] | FOREACH (y IN x | CREATE (:A {y: y})) DELETE x)", ""},
	{"FOREACH (`match` IN null | CREATE ({v: `match`}))", ""},
	// Pattern comprehensions.
	{"MATCH (a) RETURN [(a)-[:KNOWS]->(b) | b.name] AS names", ""},
	{"MATCH (a) RETURN [(a)-->(b) where b.age > 30 | b.name]", "MATCH (a) RETURN [(a)-->(b) WHERE b.age > 30 | b.name]"},
	{"MATCH (a) RETURN [p = (a)-[*1..2]->(b) | length(p)]", ""},
	{"MATCH (a) WHERE size([(a)-->() | 1]) > 2 RETURN a ORDER BY size([(a)<--() | 1])", ""},
	{"MATCH (a) RETURN [(a)-->(b) WHERE (b)-->(a) AND NOT exists((b)--(:L)) | [(b)-->(c) | c.x]]", ""},
	{"MATCH (a) RETURN [(a)-->(b {k: a.k})<--(c:L) | [b, c]]", ""},
	{"RETURN [(a)-->(b) | 1], [p = (a)--() | p], [(a)]", "RETURN [(a)-->(b) | 1], [p = (a)--() | p], [a]"},
}

func TestParseValid(t *testing.T) {
	for _, c := range validCases {
		g := NewWithT(t)
		q, err := Parse(c.query)
		g.Expect(err).NotTo(HaveOccurred(), c.query)
		want := c.want
		if want == "" {
			want = c.query
		}
		g.Expect(q.String()).To(Equal(want), c.query)
		expectRoundTrip(g, q)
	}
}

// expectRoundTrip checks that q's canonical form parses back to the same AST. It zeroes
// q's positions.
func expectRoundTrip(g Gomega, q *Query) {
	s := q.String()
	again, err := Parse(s)
	g.Expect(err).NotTo(HaveOccurred(), s)
	g.Expect(again.String()).To(Equal(s))
	zeroAt(reflect.ValueOf(q))
	zeroAt(reflect.ValueOf(again))
	g.Expect(again).To(Equal(q), s)
}

// zeroAt zeroes every position, every projection's source text and every function name as
// written in the AST v points to, to compare ASTs read from different text.
var atType, itemType, callType = reflect.TypeFor[At](), reflect.TypeFor[ProjectionItem](), reflect.TypeFor[FuncCall]()

func zeroAt(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			zeroAt(v.Elem())
		}
	case reflect.Slice:
		for i := range v.Len() {
			zeroAt(v.Index(i))
		}
	case reflect.Struct:
		if v.Type() == atType {
			v.Set(reflect.Zero(atType))
			return
		}
		if v.Type() == itemType {
			v.FieldByName("Text").SetString("")
		}
		if v.Type() == callType {
			v.FieldByName("Written").SetString("")
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				zeroAt(v.Field(i))
			}
		}
	}
}

// TestParseStructure checks the AST itself for a few queries, positions included.
func TestParseStructure(t *testing.T) {
	g := NewWithT(t)
	q, err := Parse("MATCH p = (a:Person {id: $id})<-[r:KNOWS|LIKES*..3]-()\nWHERE a.age >= -5 RETURN a.name AS n, count(DISTINCT r) LIMIT 3")
	g.Expect(err).NotTo(HaveOccurred())
	at := func(line, col int) At { return At{Pos{line, col}} }
	g.Expect(q).To(Equal(&Query{At: at(1, 1), Clauses: []Clause{
		&Match{At: at(1, 1), Patterns: []*Pattern{{
			At: at(1, 7), PathVar: "p", Elements: []Element{
				&NodePattern{At: at(1, 11), Var: "a", Labels: []string{"Person"}, Props: &MapLit{At: at(1, 21), Items: []*MapItem{
					{At: at(1, 22), Key: "id", Value: &Parameter{At: at(1, 26), Name: "id"}},
				}}},
				&RelPattern{At: at(1, 31), Var: "r", Types: []string{"KNOWS", "LIKES"}, Dir: DirIn, VarLength: &Range{At: at(1, 47), Min: 1, Max: 3}},
				&NodePattern{At: at(1, 53)},
			},
		}}, Where: &Binary{At: at(2, 13), Op: OpGe, L: &Property{At: at(2, 8), Expr: &Variable{At: at(2, 7), Name: "a"}, Key: "age"},
			R: &Literal{At: at(2, 16), Value: int64(-5)}}},
		&Return{At: at(2, 19), Projection: Projection{
			Items: []*ProjectionItem{
				{At: at(2, 26), Expr: &Property{At: at(2, 27), Expr: &Variable{At: at(2, 26), Name: "a"}, Key: "name"}, Alias: "n", Text: "a.name"},
				{At: at(2, 39), Expr: &FuncCall{At: at(2, 39), Name: "count", Written: "count", Distinct: true, Args: []Expr{&Variable{At: at(2, 54), Name: "r"}}}, Text: "count(DISTINCT r)"},
			},
			Limit: &Literal{At: at(2, 63), Value: int64(3)},
		}},
	}}))
	g.Expect(q.Clauses[1].(*Return).Items[0].Name()).To(Equal("n"))
	g.Expect(q.Clauses[1].(*Return).Items[1].Name()).To(Equal("count(DISTINCT r)"))
	g.Expect(q.Clauses[1].Position()).To(Equal(Pos{2, 19}))
	// A column without AS is named by its expression as written, as Neo4j names it.
	q2, err := Parse("UNWIND [1] AS x RETURN toUpper('a'),  count( * ) , x+1, `x`, x AS `y`")
	g.Expect(err).NotTo(HaveOccurred())
	var names []string
	for _, it := range q2.Clauses[1].(*Return).Items {
		names = append(names, it.Name())
	}
	g.Expect(names).To(Equal([]string{"toUpper('a')", "count( * )", "x+1", "x", "y"}))
	g.Expect(q.Clauses[0].(*Match).Where.Position()).To(Equal(Pos{2, 13}))
	g.Expect(q.Clauses[0].(*Match).Patterns[0].Nodes()).To(HaveLen(2))
	g.Expect(q.Clauses[0].(*Match).Patterns[0].Rels()).To(ConsistOf(HaveField("Var", "r")))

	q, err = Parse("MERGE (a:P {id: 1})-[:T]->(b) ON CREATE SET a.x = 1.5, a:Q REMOVE a.y DETACH DELETE b")
	g.Expect(err).NotTo(HaveOccurred())
	zeroAt(reflect.ValueOf(q))
	g.Expect(q.Clauses).To(Equal([]Clause{
		&Merge{Pattern: &Pattern{Elements: []Element{
			&NodePattern{Var: "a", Labels: []string{"P"}, Props: &MapLit{Items: []*MapItem{{Key: "id", Value: &Literal{Value: int64(1)}}}}},
			&RelPattern{Types: []string{"T"}, Dir: DirOut},
			&NodePattern{Var: "b"},
		}}, OnCreate: []SetItem{
			&SetProperty{Var: "a", Key: "x", Value: &Literal{Value: 1.5}},
			&SetLabels{Var: "a", Labels: []string{"Q"}},
		}},
		&Remove{Items: []RemoveItem{&RemoveProperty{Var: "a", Key: "y"}}},
		&Delete{Detach: true, Exprs: []Expr{&Variable{Name: "b"}}},
	}))

	q, err = Parse("MATCH (a)\nFOREACH (x IN [1] |\n  FOREACH (y IN a.l | SET a.y = y))")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(q.Clauses[1]).To(Equal(&Foreach{At: at(2, 1), Var: "x", List: &ListLit{At: at(2, 15), Elems: []Expr{&Literal{At: at(2, 16), Value: int64(1)}}},
		Body: []Clause{&Foreach{At: at(3, 3), Var: "y", List: &Property{At: at(3, 18), Expr: &Variable{At: at(3, 17), Name: "a"}, Key: "l"},
			Body: []Clause{&Set{At: at(3, 23), Items: []SetItem{&SetProperty{At: at(3, 27), Var: "a", Key: "y", Value: &Variable{At: at(3, 33), Name: "y"}}}}}}}}))

	q, err = Parse("CREATE CONSTRAINT pk IF NOT EXISTS FOR (p:Person) REQUIRE p.id IS NODE KEY")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(q.Clauses).To(BeEmpty())
	g.Expect(q.Schema).To(Equal(&Schema{At: At{Pos{1, 1}}, Kind: CreateConstraint, Name: "pk", IfNotExists: true,
		Var: "p", Label: "Person", Property: "id", Constraint: NodeKey}))

	q, err = Parse("DROP INDEX ON :Person(name)")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(q.Schema).To(Equal(&Schema{At: At{Pos{1, 1}}, Kind: DropIndex, Label: "Person", Property: "name"}))

	q, err = Parse("RETURN CASE x WHEN 1 THEN 'a' ELSE null END, [1][0..], 'x' IS NOT NULL")
	g.Expect(err).NotTo(HaveOccurred())
	zeroAt(reflect.ValueOf(q))
	items := q.Clauses[0].(*Return).Items
	g.Expect(items[0].Expr).To(Equal(&Case{Subject: &Variable{Name: "x"},
		Whens: []*When{{Cond: &Literal{Value: int64(1)}, Result: &Literal{Value: "a"}}}, Else: &Literal{}}))
	g.Expect(items[1].Expr).To(Equal(&Slice{Expr: &ListLit{Elems: []Expr{&Literal{Value: int64(1)}}}, From: &Literal{Value: int64(0)}}))
	g.Expect(items[2].Expr).To(Equal(&IsNull{X: &Literal{Value: "x"}, Not: true}))

	q, err = Parse("MATCH (a) WHERE NOT (a)-->() AND EXISTS { (a)-[:T]-(b) WHERE b.x } RETURN COUNT { (a)--() }")
	g.Expect(err).NotTo(HaveOccurred())
	where := q.Clauses[0].(*Match).Where.(*Binary)
	g.Expect(where.L.(*Unary).X.Position()).To(Equal(Pos{1, 21}))
	g.Expect(where.R.Position()).To(Equal(Pos{1, 34}))
	g.Expect(q.Clauses[1].(*Return).Items[0].Expr.Position()).To(Equal(Pos{1, 75}))
	zeroAt(reflect.ValueOf(q))
	g.Expect(where.L).To(Equal(&Unary{Op: OpNot, X: &PatternPredicate{Form: PatternForm, Patterns: []*Pattern{{Elements: []Element{
		&NodePattern{Var: "a"}, &RelPattern{Dir: DirOut}, &NodePattern{}}}}}}))
	g.Expect(where.R).To(Equal(&PatternPredicate{Form: ExistsSubquery, Patterns: []*Pattern{{Elements: []Element{
		&NodePattern{Var: "a"}, &RelPattern{Types: []string{"T"}}, &NodePattern{Var: "b"}}}},
		Where: &Property{Expr: &Variable{Name: "b"}, Key: "x"}}))
	g.Expect(q.Clauses[1].(*Return).Items[0].Expr).To(Equal(&PatternPredicate{Form: CountSubquery, Patterns: []*Pattern{{Elements: []Element{
		&NodePattern{Var: "a"}, &RelPattern{}, &NodePattern{}}}}}))
	g.Expect(q.Clauses[1].(*Return).Items[0].Name()).To(Equal("COUNT { MATCH (a)--() }"))

	q, err = Parse("RETURN [p = (a)-->(b) WHERE b.x | b.y]")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(q.Clauses[0].(*Return).Items[0].Expr.Position()).To(Equal(Pos{1, 8}))
	zeroAt(reflect.ValueOf(q))
	g.Expect(q.Clauses[0].(*Return).Items[0].Expr).To(Equal(&PatternPredicate{Form: Comprehension, Patterns: []*Pattern{{PathVar: "p",
		Elements: []Element{&NodePattern{Var: "a"}, &RelPattern{Dir: DirOut}, &NodePattern{Var: "b"}}}},
		Where: &Property{Expr: &Variable{Name: "b"}, Key: "x"}, Map: &Property{Expr: &Variable{Name: "b"}, Key: "y"}}))
}

// FuzzParse: Parse never panics; what it accepts prints as Cypher that parses back to
// the same AST and the same text; what it refuses is an *Error inside the query.
func FuzzParse(f *testing.F) {
	for _, c := range validCases {
		f.Add(c.query)
	}
	for _, c := range errorCases {
		f.Add(c.query)
	}
	for _, c := range precedenceCases {
		f.Add("RETURN " + c.expr)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := Parse(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Pos.Line < 1 || e.Pos.Column < 1 {
				t.Fatalf("%q: error %v", s, err)
			}
			return
		}
		printed := q.String()
		again, err := Parse(printed)
		if err != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", s, printed, err)
		}
		if again.String() != printed {
			t.Fatalf("%q printed as %q, which prints as %q", s, printed, again.String())
		}
		zeroAt(reflect.ValueOf(q))
		zeroAt(reflect.ValueOf(again))
		if !reflect.DeepEqual(q, again) {
			t.Fatalf("%q printed as %q, which parses to another AST", s, printed)
		}
	})
}
