package oracle

import "testing"

// bobKnowsAnn makes the social graph's Ann and Bob know each other.
const bobKnowsAnn = `MATCH (a {name: 'Ann'}), (b {name: 'Bob'}) CREATE (b)-[:KNOWS]->(a)`

// Pattern predicates, exists(), EXISTS { } and COUNT { } on the social graph
// (helpers_test.go draws it), answers worked out by hand.
func TestEvalPatternPredicates(t *testing.T) {
	runCases(t, []evalCase{
		{name: "a pattern as a predicate", graph: "social", q: `MATCH (a:Person) WHERE (a)-[:WORKS_AT]->() RETURN a.name AS a ORDER BY a`,
			want: rows(r("Ann"), r("Cid"))},
		{name: "NOT a pattern with a property map", graph: "social",
			q: `MATCH (a:Person) WHERE NOT (a)-[:WORKS_AT]->(:Company {name: 'Acme'}) RETURN a.name AS a`, want: rows(r("Bob"))},
		{name: "an anti-join", graph: "social", pre: []string{bobKnowsAnn},
			q:    `MATCH (a)-[:KNOWS]->(b) WHERE NOT (b)-[:KNOWS]->(a) RETURN a.name AS a, b.name AS b`,
			want: rows(r("Bob", "Cid"), r("Cid", "Ann"))},
		{name: "both ends bound", graph: "social", q: `MATCH (a:Person), (b:Person) WHERE a.name < b.name AND (a)--(b) RETURN a.name AS a, b.name AS b`,
			want: rows(r("Ann", "Bob"), r("Ann", "Cid"), r("Bob", "Cid"))},
		{name: "with OR", graph: "social", q: `MATCH (a) WHERE (a)<-[:WORKS_AT]-() OR a.age < 26 RETURN a.name AS a`,
			want: rows(r("Bob"), r("Acme"))},
		{name: "exists()", graph: "social", q: `MATCH (a:Person) WHERE exists((a)<-[:KNOWS]-(:Admin)) RETURN a.name AS a`, want: rows(r("Ann"))},
		{name: "EXISTS { } with WHERE", graph: "social",
			q: `MATCH (a:Person) WHERE EXISTS { MATCH (a)-[:KNOWS]->(b) WHERE b.age > 30 } RETURN a.name AS a`, want: rows(r("Bob"))},
		{name: "EXISTS { } without MATCH", graph: "social", q: `MATCH (a) WHERE EXISTS { (a)-[:KNOWS]->()-[:KNOWS]->(:Admin) } RETURN a.name AS a`,
			want: rows(r("Ann"))},
		{name: "EXISTS { } of two patterns", graph: "social",
			q: `MATCH (a:Person) WHERE EXISTS { MATCH (a)-[:KNOWS]->(b), (b)-[:WORKS_AT]->(c) } RETURN a.name AS a`, want: rows(r("Bob"), r("Cid"))},
		{name: "nested", graph: "social",
			q:    `MATCH (a:Person) WHERE EXISTS { MATCH (a)-[:KNOWS]->(b) WHERE NOT (b)-[:WORKS_AT]->() } RETURN a.name AS a`,
			want: rows(r("Ann"))},
		{name: "variable length", graph: "social", q: `MATCH (a:Person) WHERE (a)-[:KNOWS*2]->(:Admin) RETURN a.name AS a`, want: rows(r("Ann"))},
		{name: "COUNT { } counts matches", graph: "social", q: `MATCH (a) RETURN a.name AS a, COUNT { (a)--() } AS degree`,
			want: rows(r("Ann", 3), r("Bob", 2), r("Cid", 3), r("Acme", 2))},
		{name: "COUNT { } in WITH's WHERE", graph: "social", q: `MATCH (a) WITH a WHERE COUNT { (a)-->() } >= 2 RETURN a.name AS a`,
			want: rows(r("Ann"), r("Cid"))},
		{name: "a null start is null", graph: "social",
			q:    `MATCH (n) OPTIONAL MATCH (n)-[:WORKS_AT]->(c) RETURN n.name AS n, exists((c)<--()) AS e, COUNT { (c)<--() } AS k`,
			want: rows(r("Ann", true, 2), r("Bob", nil, nil), r("Cid", true, 2), r("Acme", nil, nil))},
		{name: "NOT of null drops the row", graph: "social",
			q: `MATCH (n) OPTIONAL MATCH (n)-[:WORKS_AT]->(c) WITH n, c WHERE NOT (c)<-[:KNOWS]-() RETURN n.name AS n`, want: rows(r("Ann"), r("Cid"))},
		{name: "the row's relationships may be used again", graph: "social",
			q: `MATCH (a {name: 'Ann'})-[r:KNOWS]->(b) WHERE (a)-[:KNOWS]->(b) RETURN b.name AS b`, want: rows(r("Bob"))},
		{name: "relationships are unique within the predicate", graph: "social",
			q: `MATCH (a {name: 'Ann'}) WHERE (a)-[:KNOWS]-()-[:KNOWS]-(a) RETURN a.name AS a`, want: nil},
		{name: "two relationships make a round trip", graph: "social", pre: []string{bobKnowsAnn},
			q: `MATCH (a {name: 'Ann'}) WHERE (a)-[:KNOWS]-()-[:KNOWS]-(a) RETURN a.name AS a`, want: rows(r("Ann"))},
		{name: "the predicate's variables are its own", graph: "social", q: `MATCH (a) WHERE (a)-->(b) RETURN b`, err: "variable b is not defined"},
		{name: "a predicate must start from the row", graph: "social", q: `MATCH (a) WHERE (a)-->() AND ()-->() RETURN a`,
			err: "line 1, column 30: pattern ()-->() of a predicate names no node bound before it"},
		{name: "nor take the row's relationships", graph: "social", q: `MATCH (a)-[r]->() WHERE (a)-[r]->() RETURN a`,
			err: "relationship variable r is bound outside the predicate"},
		{name: "a start that is not a node", graph: "social", q: `UNWIND [1] AS x MATCH (a) WHERE (x)-->(a) RETURN a`, err: "variable x is an INTEGER, not a node"},
	})
}

// Pattern comprehensions on the social graph, answers worked out by hand (a row's list in
// the matcher's order: ascending ids).
func TestEvalPatternComprehensions(t *testing.T) {
	runCases(t, []evalCase{
		{name: "the names of whom each knows", graph: "social", q: `MATCH (a:Person) RETURN a.name AS a, [(a)-[:KNOWS]->(b) | b.name] AS k`,
			want: rows(r("Ann", []any{"Bob"}), r("Bob", []any{"Cid"}), r("Cid", []any{"Ann"}))},
		{name: "WHERE", graph: "social", q: `MATCH (a:Person) RETURN a.name AS a, [(a)-->(b) WHERE b.age > 26 | b.name] AS k`,
			want: rows(r("Ann", []any{}), r("Bob", []any{"Cid"}), r("Cid", []any{"Ann"}))},
		{name: "a named variable-length path", graph: "social", q: `MATCH (a {name: 'Ann'}) RETURN [p = (a)-[:KNOWS*1..2]->(b) | length(p)] AS l`,
			want: rows(r([]any{1, 2}))},
		{name: "degree", graph: "social", q: `MATCH (a) RETURN a.name AS a, size([(a)--() | 1]) AS d`,
			want: rows(r("Ann", 3), r("Bob", 2), r("Cid", 3), r("Acme", 2))},
		{name: "a null start is null", graph: "social",
			q:    `MATCH (n) OPTIONAL MATCH (n)-[:WORKS_AT]->(c) RETURN n.name AS n, [(c)<-[:WORKS_AT]-(p) | p.name] AS ws`,
			want: rows(r("Ann", []any{"Ann", "Cid"}), r("Bob", nil), r("Cid", []any{"Ann", "Cid"}), r("Acme", nil))},
		{name: "in WHERE and ORDER BY", graph: "social",
			q:    `MATCH (a:Person) WHERE size([(a)<-[:KNOWS]-(x) | x]) > 0 RETURN a.name AS name ORDER BY [(a)-[:KNOWS]->(b) | b.name][0]`,
			want: rows(r("Cid"), r("Ann"), r("Bob"))},
		{name: "relationships are unique within the pattern", graph: "social",
			q: `MATCH (a {name: 'Ann'}) RETURN [(a)-[:KNOWS]-(x)-[:KNOWS]-(y) | y.name] AS l`, want: rows(r([]any{"Cid", "Bob"}))},
		{name: "nested", graph: "social", q: `MATCH (a {name: 'Ann'}) RETURN [(a)-[:KNOWS]->(b) | [(b)-[:KNOWS]->(c) | c.name]] AS l`,
			want: rows(r([]any{[]any{"Cid"}}))},
		{name: "the expression reads the row", graph: "social",
			q:    `MATCH (a:Person) WITH a, a.age AS base RETURN a.name AS a, [(a)-[:KNOWS]->(b) | b.age - base] AS d`,
			want: rows(r("Ann", []any{-5}), r("Bob", []any{10}), r("Cid", []any{-5}))},
		{name: "UNWIND of a comprehension", graph: "social",
			q:    `MATCH (a {name: 'Cid'}) WITH [(a)-->(b) | b.name] AS names UNWIND names AS name RETURN name ORDER BY name DESC`,
			want: rows(r("Ann"), r("Acme"))},
		{name: "a pattern as a value is the list of its paths", graph: "social",
			q:    `MATCH (a) RETURN a.name AS a, size((a)--()) AS d, [p IN (a)-[:KNOWS]->() | length(p)] AS l`,
			want: rows(r("Ann", 3, []any{1}), r("Bob", 2, []any{1}), r("Cid", 3, []any{1}), r("Acme", 2, []any{}))},
		{name: "a pattern as a value in WHERE", graph: "social",
			q:    `MATCH (a) WHERE size((a)<-[:WORKS_AT]-()) > 1 OR (a)-[:KNOWS]->({name: 'Bob'}) RETURN a.name AS a`,
			want: rows(r("Ann"), r("Acme"))},
		{name: "a pattern as a value names its end nodes", graph: "social",
			q: `MATCH (a {name: 'Bob'}) RETURN [p IN (a)-[:KNOWS]-() | last(nodes(p)).name] AS l`, want: rows(r([]any{"Cid", "Ann"}))},
		{name: "its variables are its own", graph: "social", q: `MATCH (a) RETURN [(a)-->(b) | b] AS x, b`, err: "variable b is not defined"},
		{name: "no aggregate inside", graph: "social", q: `MATCH (a) RETURN [(a)-->(b) | count(b)] AS x`, err: "aggregate function count is not allowed here"},
		{name: "it must start from the row", graph: "social", q: `MATCH (a) RETURN [(x)-->(b) | b] AS x`,
			err: "line 1, column 19: pattern (x)-->(b) of a predicate names no node bound before it"},
	})
}
