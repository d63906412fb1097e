package cypher

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

// errorCases: a query outside the subset or not Cypher, and its exact error: line,
// column, what was found and what was expected, or the construct refused.

var errorCases = []struct{ query, want string }{
	{"MATCHH (n) RETURN n", "line 1, column 1: expected a clause (MATCH, OPTIONAL MATCH, CREATE, MERGE, WITH, UNWIND, RETURN, ...), found \"MATCHH\""},
	{"MATCH (n:Foo WHERE n.x = 1 RETURN n", "line 1, column 14: expected \")\" or a property map after the label, found \"WHERE\""},
	{"MATCH (n RETURN n", "line 1, column 10: expected \":\", a property map or \")\" after the variable, found \"RETURN\""},
	{"MATCH ( RETURN n", "line 1, column 9: expected a variable, \":\", a property map or \")\" in the node pattern, found \"RETURN\""},
	{"MATCH (n {a: 1} RETURN n", "line 1, column 17: expected \")\" after the property map, found \"RETURN\""},
	{"MATCH n RETURN n", "line 1, column 7: expected a node pattern \"(\", found \"n\""},
	{"MATCH (a)-[r:T WHERE RETURN a", "line 1, column 16: expected \"|\", \"*\", a property map or \"]\" after the type, found \"WHERE\""},
	{"MATCH (a)-[r RETURN a", "line 1, column 14: expected \":\", \"*\", a property map or \"]\" after the variable, found \"RETURN\""},
	{"MATCH (a)-[:]->(b) RETURN a", "line 1, column 13: expected a relationship type after \":\", found \"]\""},
	{"MATCH (a)-[*$n]->(b) RETURN a", "line 1, column 13: expected an integer or \"..\" after \"*\", found \"$n\""},
	{"MATCH (a)-[*2..x]->(b) RETURN a", "line 1, column 16: expected an integer after \"..\", found \"x\""},
	{"MATCH (a)-[*..-1]->(b) RETURN a", "line 1, column 15: expected an integer after \"..\", found \"-\""},
	{"MATCH (a)-[*1.5]->(b) RETURN a", "line 1, column 13: expected an integer or \"..\" after \"*\", found \"1.5\""},
	{"MATCH (a)-(b) RETURN a", "line 1, column 11: expected \"[\" or \"-\" in the relationship pattern, found \"(\""},
	{"MATCH (a)-[r]-x RETURN a", "line 1, column 15: expected a node pattern \"(\", found \"x\""},
	{"MATCH (a) RETURN a MATCH (b) RETURN b", "line 1, column 20: expected end of query after RETURN, found \"MATCH\": RETURN is the last clause (WITH passes rows on to further clauses)"},
	{"MATCH (a) RETURN a b", "line 1, column 20: expected \",\", AS, ORDER BY, SKIP, LIMIT or end of query, found \"b\""},
	{"MATCH (a) RETURN a AS b c", "line 1, column 25: expected \",\", ORDER BY, SKIP, LIMIT or end of query, found \"c\""},
	{"MATCH (a) RETURN a ORDER BY a LIMIT 1 SKIP 1", "line 1, column 39: expected \";\" or end of query, found \"SKIP\""},
	{"MATCH (a) RETURN a UNION RETURN 1", "line 1, column 20: expected the same column names on both sides of UNION, found (a) before it and (1) after it"},
	{"RETURN 1 AS a, 2 AS b UNION ALL RETURN 1 AS a, 2 AS c", "line 1, column 23: expected the same column names on both sides of UNION, found (a, b) before it and (a, c) after it"},
	{"RETURN 1 AS a UNION RETURN 2 AS a UNION ALL RETURN 3 AS a", "line 1, column 35: expected UNION as before, found UNION ALL: UNION and UNION ALL cannot be mixed in one query"},
	{"RETURN 1 AS a UNION ALL RETURN 2 AS a UNION RETURN 3 AS a", "line 1, column 39: expected UNION ALL as before, found UNION: UNION and UNION ALL cannot be mixed in one query"},
	{"MATCH (a) UNION RETURN 1 AS a", "line 1, column 11: expected RETURN before UNION: each query that UNION combines ends with RETURN, and this one ends with MATCH"},
	{"UNION RETURN 1", "line 1, column 1: expected a clause (MATCH, OPTIONAL MATCH, CREATE, MERGE, WITH, UNWIND, RETURN, ...), found \"UNION\""},
	{"RETURN 1 AS a UNION", "line 1, column 20: expected a clause (MATCH, OPTIONAL MATCH, CREATE, MERGE, WITH, UNWIND, RETURN, ...), found end of query"},
	{"RETURN 1 AS a UNION UNION RETURN 1 AS a", "line 1, column 21: expected a clause (MATCH, OPTIONAL MATCH, CREATE, MERGE, WITH, UNWIND, RETURN, ...), found \"UNION\""},
	{"RETURN 1 AS a UNION CREATE (n) RETURN 1 AS a", "line 1, column 21: updating clauses (CREATE) in a query combined by UNION are not supported by Torua"},
	{"MATCH (n) SET n.x = 1 RETURN 1 AS a UNION RETURN 1 AS a", "line 1, column 11: updating clauses (SET) in a query combined by UNION are not supported by Torua"},
	{"CREATE (a) MATCH (b) RETURN b", "line 1, column 12: expected WITH between CREATE and MATCH: reading clauses come before updating ones in each part of a query"},
	{"MATCH (a) SET a.x = 1 UNWIND [1] AS x RETURN x", "line 1, column 23: expected WITH between SET and UNWIND: reading clauses come before updating ones in each part of a query"},
	{"MATCH (a)", "line 1, column 10: expected RETURN or an updating clause (CREATE, MERGE, SET, REMOVE, DELETE, FOREACH) to end the query after MATCH, found end of query"},
	{"MATCH (a) WITH a", "line 1, column 17: expected RETURN or an updating clause (CREATE, MERGE, SET, REMOVE, DELETE, FOREACH) to end the query after WITH, found end of query"},
	{"UNWIND [1] AS x", "line 1, column 16: expected RETURN or an updating clause (CREATE, MERGE, SET, REMOVE, DELETE, FOREACH) to end the query after UNWIND, found end of query"},
	{"OPTIONAL (a) RETURN a", "line 1, column 10: expected MATCH after OPTIONAL, found \"(\""},
	{"OPTIONAL MATCH (a) RETURNN a", "line 1, column 20: expected a clause (MATCH, OPTIONAL MATCH, CREATE, MERGE, WITH, UNWIND, RETURN, ...), found \"RETURNN\""},
	{"RETURN 1 +", "line 1, column 11: expected an expression, found end of query"},
	{"RETURN (1 + 2", "line 1, column 14: expected \")\" to close the \"(\" at line 1, column 8, found end of query"},
	{"RETURN [1, 2", "line 1, column 13: expected \",\" or \"]\" in the list, found end of query"},
	{"RETURN {a: 1", "line 1, column 13: expected \",\" or \"}\" in the map, found end of query"},
	{"RETURN {a 1}", "line 1, column 11: expected \":\" after the key, found \"1\""},
	{"RETURN {a: 1, a: 2}", "line 1, column 15: expected a key not yet in the map, found \"a\" again"},
	{"RETURN f(1, 2", "line 1, column 14: expected \",\" or \")\" in the arguments of f, found end of query"},
	{"RETURN a IS 1", "line 1, column 13: expected NULL or NOT NULL after IS, found \"1\""},
	{"RETURN a IS NOT 1", "line 1, column 17: expected NULL after IS NOT, found \"1\""},
	{"RETURN a STARTS 'x'", "line 1, column 17: expected WITH after STARTS, found the string 'x'"},
	{"RETURN a =~", "line 1, column 12: expected an expression, found end of query"},
	{"RETURN [x IN list WHERE x > 1 x]", "line 1, column 31: expected \"|\" or \"]\" in the list comprehension, found \"x\""},
	{"RETURN [x IN list x]", "line 1, column 19: expected WHERE, \"|\" or \"]\" in the list comprehension, found \"x\""},
	{"RETURN [x IN list | x x]", "line 1, column 23: expected \"]\" to close the list comprehension, found \"x\""},
	{"RETURN [(a)-->(b)]", "line 1, column 18: expected WHERE or \"|\" in the pattern comprehension, found \"]\""},
	{"RETURN [(a)-->(b) WHERE b.x]", "line 1, column 28: expected \"|\" in the pattern comprehension, found \"]\""},
	{"RETURN [(a)-->(b) | b.x", "line 1, column 24: expected \"]\" to close the pattern comprehension, found end of query"},
	{"RETURN [(a)-->(b) | b.x, 1]", "line 1, column 24: expected \"]\" to close the pattern comprehension, found \",\""},
	{"RETURN all(x IN [1])", "line 1, column 20: expected WHERE and a predicate in all(x IN list WHERE predicate), found \")\""},
	{"RETURN single(x IN [1] WHERE x > 0", "line 1, column 35: expected \")\" to close single(, found end of query"},
	{"RETURN reduce(s, x IN [1] | s + x)", "line 1, column 16: expected \"=\" after the accumulator in reduce(acc = initial, x IN list | expression), found \",\""},
	{"RETURN reduce(s = 0 x IN [1] | s + x)", "line 1, column 21: expected \",\" after the initial value in reduce(acc = initial, x IN list | expression), found \"x\""},
	{"RETURN reduce(s = 0, s IN [1] | s)", "line 1, column 22: expected a variable other than the accumulator in reduce(acc = initial, x IN list | expression), found \"s\" again"},
	{"RETURN reduce(s = 0, x IN [1], s + x)", "line 1, column 30: expected \"|\" after the list in reduce(acc = initial, x IN list | expression), found \",\""},
	{"RETURN reduce(1)", "line 1, column 15: expected an accumulator variable in reduce(acc = initial, x IN list | expression), found \"1\""},
	{"RETURN n {.name", "line 1, column 16: expected \",\" or \"}\" in the map projection, found end of query"},
	{"RETURN n {.1}", "line 1, column 11: expected \".key\", \".*\", a variable or \"key: value\" in the map projection, found \".1\""},
	{"RETURN n {name: }", "line 1, column 17: expected an expression, found \"}\""},
	{"RETURN n {1}", "line 1, column 11: expected \".key\", \".*\", a variable or \"key: value\" in the map projection, found \"1\""},
	{"MATCH (a) WHERE EXISTS { MATCH (a)-->(b) WHERE b.x = [(b)--()] } RETURN a", "line 1, column 62: expected WHERE or \"|\" in the pattern comprehension, found \"]\""},
	{"MATCH (a) WHERE exists { MATCH (a)-->() RETURN a } RETURN a", "line 1, column 41: EXISTS { } holding more than one MATCH and its WHERE is not supported by Torua"},
	{"MATCH (a) WHERE exists { WITH a MATCH (a)-->() } RETURN a", "line 1, column 26: EXISTS { } holding more than one MATCH and its WHERE is not supported by Torua"},
	{"RETURN count { MATCH (a) MATCH (b) }", "line 1, column 26: COUNT { } holding more than one MATCH and its WHERE is not supported by Torua"},
	{"RETURN count { }", "line 1, column 16: expected MATCH or a pattern after COUNT {, found \"}\""},
	{"RETURN EXISTS { MATCH (a)-->() WHERE }", "line 1, column 38: expected an expression, found \"}\""},
	{"RETURN EXISTS { MATCH (a)-->() x }", "line 1, column 32: expected WHERE or \"}\" to close EXISTS {, found \"x\""},
	{"RETURN EXISTS { MATCH p = shortestPath((a)-->(b)) }", "line 1, column 23: a shortest path inside EXISTS { } is not supported by Torua"},
	{"RETURN exists((a)-->() OR true)", "line 1, column 24: expected \")\" after the pattern of exists, found \"OR\""},
	{"MATCH (a) WHERE (a)-->(b)-1 RETURN a", "line 1, column 27: expected \"[\" or \"-\" in the relationship pattern, found \"1\""},
	{"RETURN sum(*)", "line 1, column 12: expected an argument, found \"*\": only count takes *"},
	{"RETURN CASE WHEN a THEN 1", "line 1, column 26: expected WHEN, ELSE or END in CASE, found end of query"},
	{"RETURN CASE a 1 END", "line 1, column 15: expected WHEN in CASE, found \"1\""},
	{"RETURN shortestPath((a)-->(b))", "line 1, column 8: shortestPath outside MATCH is not supported by Torua"},
	{"CALL db.labels() YIELD label RETURN label", "line 1, column 1: CALL (procedures and subqueries) is not supported by Torua"},
	{"FOREACH (x IN [1] | MATCH (n) SET n.x = x)", "line 1, column 21: expected an updating clause (CREATE, MERGE, SET, REMOVE, DELETE, FOREACH) in FOREACH, found \"MATCH\": FOREACH cannot read"},
	{"FOREACH (x IN [1] | CREATE (n)\n  WITH n SET n.x = 1)", "line 2, column 3: expected an updating clause (CREATE, MERGE, SET, REMOVE, DELETE, FOREACH) in FOREACH, found \"WITH\": FOREACH cannot read"},
	{"FOREACH (x IN [1] | FOREACH (y IN [2] | UNWIND [3] AS z CREATE (n)))", "line 1, column 41: expected an updating clause (CREATE, MERGE, SET, REMOVE, DELETE, FOREACH) in FOREACH, found \"UNWIND\": FOREACH cannot read"},
	{"FOREACH (x IN [1] | RETURN x)", "line 1, column 21: expected an updating clause (CREATE, MERGE, SET, REMOVE, DELETE, FOREACH) in FOREACH, found \"RETURN\": FOREACH cannot read"},
	{"FOREACH (x IN [1] | )", "line 1, column 21: expected an updating clause (CREATE, MERGE, SET, REMOVE, DELETE, FOREACH), found \")\""},
	{"FOREACH (x IN [1] | CREATE (n)", "line 1, column 31: expected an updating clause (CREATE, MERGE, SET, REMOVE, DELETE, FOREACH) or \")\", found end of query"},
	{"FOREACH (x IN [1] CREATE (n))", "line 1, column 19: expected \"|\" after the FOREACH list, found \"CREATE\""},
	{"FOREACH x IN [1] | CREATE (n)", "line 1, column 9: expected \"(\" after FOREACH, found \"x\""},
	{"FOREACH (x [1] | CREATE (n))", "line 1, column 12: expected IN after the FOREACH variable, found \"[\""},
	{"FOREACH (x IN [1] | CREATE (n)) MATCH (m) RETURN m", "line 1, column 33: expected WITH between FOREACH and MATCH: reading clauses come before updating ones in each part of a query"},
	{"FOREACH (x IN [1] | CREATE (n)) RETURN 1 UNION RETURN 1", "line 1, column 1: updating clauses (FOREACH) in a query combined by UNION are not supported by Torua"},
	{"LOAD CSV FROM 'x' AS row RETURN row", "line 1, column 1: LOAD CSV is not supported by Torua"},
	{"MATCH (a) RETURN a SKIP", "line 1, column 24: expected an expression after SKIP, found end of query"},
	{"MATCH (a) WITH a LIMIT RETURN a", "line 1, column 24: expected an expression after LIMIT, found \"RETURN\""},
	{"MATCH (a) RETURN a ORDER a", "line 1, column 26: expected BY after ORDER, found \"a\""},
	{"MATCH (a) WITH a.x RETURN 1", "line 1, column 20: expected AS and a name after a.x, found \"RETURN\": WITH passes on variables and named expressions only"},
	{"MATCH (a) WITH a.x, a RETURN 1", "line 1, column 19: expected AS and a name after a.x, found \",\": WITH passes on variables and named expressions only"},
	{"CREATE (a)-[:T]-(b)", "line 1, column 11: a relationship in CREATE needs a direction, -> or <-"},
	{"CREATE (a)-[]->(b)", "line 1, column 11: a relationship in CREATE needs exactly one type, as in -[:KNOWS]->"},
	{"CREATE (a)-[:T|U]->(b)", "line 1, column 11: a relationship in CREATE needs exactly one type, as in -[:KNOWS]->"},
	{"CREATE (a)-[:T*1..2]->(b)", "line 1, column 15: a variable-length relationship cannot be written: CREATE takes single relationships"},
	{"CREATE p = shortestPath((a)-[:T]->(b))", "line 1, column 8: a shortest path cannot be written: CREATE takes a plain pattern"},
	{"MERGE (a) ON DELETE SET a.x = 1", "line 1, column 14: expected CREATE or MATCH after ON, found \"DELETE\""},
	{"MERGE (a)-[:T*1..2]->(b)", "line 1, column 14: a variable-length relationship cannot be written: MERGE takes single relationships"},
	{"MATCH (a) SET a.x 1", "line 1, column 19: expected \"=\" after a.x, found \"1\""},
	{"MATCH (a) SET a", "line 1, column 16: expected \".\", \"=\", \"+=\" or \":\" after the variable, found end of query"},
	{"MATCH (a) SET a.b.c = 1", "line 1, column 18: expected \"=\" after a.b, found \".\""},
	{"MATCH (a) REMOVE a", "line 1, column 19: expected \".\" or \":\" after the variable, found end of query"},
	{"MATCH (a) DETACH a", "line 1, column 18: expected DELETE after DETACH, found \"a\""},
	{"MATCH (a) DELETE", "line 1, column 17: expected an expression, found end of query"},
	{"MATCH p = shortestPath((a)-->(b)-->(c)) RETURN p", "line 1, column 11: expected a pattern of exactly one relationship between two nodes in shortestPath, found 2 relationships"},
	{"MATCH p = shortestPath((a)-->(b) RETURN p", "line 1, column 34: expected \")\" after the pattern of shortestPath, found \"RETURN\""},
	{"MATCH (match) RETURN 1", "line 1, column 8: expected a variable, \":\", a property map or \")\" in the node pattern, found \"match\""},
	{"RETURN a AS match", "line 1, column 13: expected a name after AS, found \"match\""},
	{"RETURN 1; RETURN 2", "line 1, column 11: expected end of query after \";\", found \"RETURN\""},
	{"CREATE INDEX FOR (p:Person) ON (q.name)", "line 1, column 33: expected p, the variable of the node pattern, found \"q\""},
	{"CREATE INDEX FOR (p:Person) ON (p.a, p.b)", "line 1, column 36: indexes and constraints on several properties are not supported by Torua"},
	{"CREATE INDEX ON :Person(a, b)", "line 1, column 26: indexes and constraints on several properties are not supported by Torua"},
	{"CREATE INDEX FOR (p) ON (p.name)", "line 1, column 20: expected \":\" and a label after the variable, found \")\""},
	{"CREATE INDEX FOR (p:Person:Admin) ON (p.name)", "line 1, column 27: expected \")\" after the label (a schema command names one label), found \":\""},
	{"CREATE INDEX idx Person", "line 1, column 18: expected IF NOT EXISTS or FOR after the index name, found \"Person\""},
	{"CREATE INDEX IF NOT EXISTS (p:Person) ON (p.name)", "line 1, column 28: expected FOR after IF NOT EXISTS, found \"(\""},
	{"CREATE INDEX FOR ()-[r:T]-() ON (r.x)", "line 1, column 19: expected a variable in the node pattern, as in (p:Person), found \")\""},
	{"CREATE CONSTRAINT FOR (p:Person) REQUIRE p.id IS NOT NULL", "line 1, column 50: IS NOT NULL (property existence) constraints are not supported by Torua"},
	{"CREATE CONSTRAINT FOR (p:Person) REQUIRE p.id IS KEY", "line 1, column 50: expected UNIQUE or NODE KEY after IS, found \"KEY\""},
	{"CREATE CONSTRAINT FOR (p:Person) ASSERT p.id IS UNIQUE", "line 1, column 34: expected REQUIRE after the node pattern, found \"ASSERT\""},
	{"DROP INDEX", "line 1, column 11: expected the name of the index to drop, found end of query"},
	{"DROP TABLE x", "line 1, column 6: expected INDEX or CONSTRAINT after DROP, found \"TABLE\""},
	{"DROP CONSTRAINT c IF NOT EXISTS", "line 1, column 22: expected EXISTS after IF, found \"NOT\""},
	// A variable used as another kind than the clauses before bound it (VariableTypeConflict).
	{"MATCH ()-[r]-() MATCH (r) RETURN r", "line 1, column 23: variable r is a relationship, so it cannot stand for a node here"},
	{"MATCH r = ()-->() MATCH (r) RETURN r", "line 1, column 25: variable r is a path, so it cannot stand for a node here"},
	{"MATCH ()-[r]-(r) RETURN r", "line 1, column 14: variable r is a relationship, so it cannot stand for a node here"},
	{"MATCH (r) MATCH ()-[r]-() RETURN r", "line 1, column 19: variable r is a node, so it cannot stand for a relationship here"},
	{"WITH true AS n MATCH (n) RETURN n", "line 1, column 22: variable n is a value, so it cannot stand for a node here"},
	{"MATCH (n) WITH [n] AS users MATCH (users)-->(m) RETURN m", "line 1, column 35: variable users is a value, so it cannot stand for a node here"},
	{"MATCH ()-[r*]-()-[r]-() RETURN r", "line 1, column 17: variable r is a list of relationships, so it cannot stand for a relationship here"},
	{"MATCH (a) MATCH a = ()-->() RETURN a", "line 1, column 17: variable a is already bound: a path's variable must be new"},
	{"MATCH ()-[r]->() CREATE (r)", "line 1, column 25: variable r is a relationship, so it cannot stand for a node here"},
	{"SHOW TABLES", "line 1, column 6: expected INDEXES or CONSTRAINTS after SHOW, found \"TABLES\""},
	{"SHOW FULLTEXT INDEXES", "line 1, column 6: SHOW FULLTEXT INDEXES is not supported by Torua"},
	{"SHOW UNIQUE CONSTRAINTS", "line 1, column 6: SHOW UNIQUE CONSTRAINTS is not supported by Torua"},
	{"SHOW INDEXES YIELD name", "line 1, column 14: SHOW ... YIELD is not supported by Torua"},
	{"SHOW INDEXES RETURN 1", "line 1, column 14: expected end of query after the schema command, found \"RETURN\""},
	{"CREATE INDEX FOR (p:Person) ON (p.name) RETURN 1", "line 1, column 41: expected end of query after the schema command, found \"RETURN\""},
	{"MATCH (a) CREATE INDEX FOR (p:Person) ON (p.name)", "line 1, column 11: CREATE INDEX stands alone: a schema command cannot be combined with other clauses"},
	{"RETURN 99999999999999999999", "line 1, column 8: number 99999999999999999999 out of range"},
	{"RETURN 9223372036854775808", "line 1, column 8: number 9223372036854775808 out of range"},
	{"RETURN 0x8000000000000000", "line 1, column 8: number 0x8000000000000000 out of range"},
	{"RETURN 0o8", "line 1, column 8: invalid octal integer 0o8"},
	{"RETURN -0o2000000000000000000001", "line 1, column 9: invalid octal integer 0o2000000000000000000001"},
	{"RETURN 'abc", "line 1, column 8: string not closed: expected '"},
	{";", "line 1, column 1: expected a clause (MATCH, OPTIONAL MATCH, CREATE, MERGE, WITH, UNWIND, RETURN, ...), found \";\""},
	{"MATCH (a)\nWHERE a.x =\nRETURN a", "line 3, column 1: expected an expression, found \"RETURN\""},
	{"MATCH (a:Person)\n  -[:KNOWS*..x]->(b)\nRETURN b", "line 2, column 14: expected an integer after \"..\", found \"x\""},
	{"MATCH (a)\nRETURN a\nMATCH (b)", "line 3, column 1: expected end of query after RETURN, found \"MATCH\": RETURN is the last clause (WITH passes rows on to further clauses)"},
	{"CREATE (a)\n  MATCH (b)\nRETURN b", "line 2, column 3: expected WITH between CREATE and MATCH: reading clauses come before updating ones in each part of a query"},
	{"MATCH (n)\nRETURN n.name AS name,\n       count(*) AS c\nORDER BY c DESC\nLIMIT", "line 5, column 6: expected an expression after LIMIT, found end of query"},
	{"MATCH (n)\n// a comment\nWHERE n.x =~\nRETURN n", "line 4, column 1: expected an expression, found \"RETURN\""},
	{"UNWIND [1,\n 2,\n 3 AS x RETURN x", "line 3, column 4: expected \",\" or \"]\" in the list, found \"AS\""},
	{"MATCH (a)-[r:T\n  {since: 1}\n  -(b) RETURN a", "line 3, column 3: expected \"]\" after the property map, found \"-\""},
	{"MATCH (a)\nWITH a, a.x\nRETURN a", "line 3, column 1: expected AS and a name after a.x, found \"RETURN\": WITH passes on variables and named expressions only"},
	{"MATCH (a)\nSET a.x = [x IN a.list | x * 2", "line 2, column 31: expected \"]\" to close the list comprehension, found end of query"},
	{"MATCH (a)\nRETURN 1 AS x\nUNION\nRETURN 2 AS y", "line 3, column 1: expected the same column names on both sides of UNION, found (x) before it and (y) after it"},
	{"MATCH (a) RETURN a ORDER BY a x", "line 1, column 31: expected \",\", ASC, DESC, SKIP, LIMIT or end of query, found \"x\""},
	{"MATCH (a) RETURN a ORDER BY a DESC x", "line 1, column 36: expected \",\", SKIP, LIMIT or end of query, found \"x\""},
	{"MATCH (a) RETURN a SKIP 1 x", "line 1, column 27: expected LIMIT or end of query, found \"x\""},
	{"MATCH (a) RETURN * x", "line 1, column 20: expected \",\", ORDER BY, SKIP, LIMIT or end of query, found \"x\""},
	{"MATCH (a) RETURN a $x", "line 1, column 20: expected \",\", AS, ORDER BY, SKIP, LIMIT or end of query, found \"$x\""},
	{"MATCH (a) RETURN a.b {x}", "line 1, column 22: expected \",\", AS, ORDER BY, SKIP, LIMIT or end of query, found \"{\""},
	{"RETURN )", "line 1, column 8: expected an expression, found \")\""},
	{"OPTIONAL MATCH (a)", "line 1, column 19: expected RETURN or an updating clause (CREATE, MERGE, SET, REMOVE, DELETE, FOREACH) to end the query after OPTIONAL MATCH, found end of query"},
	{"MATCH (a) DETACH DELETE a MATCH (b) RETURN b", "line 1, column 27: expected WITH between DETACH DELETE and MATCH: reading clauses come before updating ones in each part of a query"},
	{"MATCH (a) DELETE a UNWIND [1] AS x RETURN x", "line 1, column 20: expected WITH between DELETE and UNWIND: reading clauses come before updating ones in each part of a query"},
	{"MATCH (a) MERGE (b) OPTIONAL MATCH (c) RETURN c", "line 1, column 21: expected WITH between MERGE and OPTIONAL MATCH: reading clauses come before updating ones in each part of a query"},
	{"MATCH (a) REMOVE a.x MATCH (b) RETURN b", "line 1, column 22: expected WITH between REMOVE and MATCH: reading clauses come before updating ones in each part of a query"},
	{"CREATE CONSTRAINT c (p:P) REQUIRE p.id IS UNIQUE", "line 1, column 21: expected IF NOT EXISTS or FOR after the constraint name, found \"(\""},
	{"CREATE INDEX (p:P) ON (p.x)", "line 1, column 14: expected a name, IF NOT EXISTS or FOR after CREATE INDEX, found \"(\""},
	{"MATCH (a) RETURN 'x' 'y'", "line 1, column 22: expected \",\", AS, ORDER BY, SKIP, LIMIT or end of query, found the string 'y'"},
	{"MATCH (a)-[r:T*1..2 $p x]->(b) RETURN a", "line 1, column 24: expected \"]\" after the property map, found \"x\""},
}

// TestParseDepth: nesting beyond maxDepth is refused where it goes too deep, whatever
// nests (parentheses, lists, maps, calls, NOT, unary minus, ^), and maxDepth levels parse.
func TestParseDepth(t *testing.T) {
	for _, c := range []struct{ open, close string }{
		{"(", ")"}, {"[", "]"}, {"{a: ", "}"}, {"f(", ")"}, {"NOT ", ""}, {"- ", ""},
	} {
		g := NewWithT(t)
		nest := func(n int) string {
			return "RETURN " + strings.Repeat(c.open, n) + "x" + strings.Repeat(c.close, n)
		}
		// RETURN's item is one level, so maxDepth-1 more parse.
		_, err := Parse(nest(maxDepth - 1))
		g.Expect(err).NotTo(HaveOccurred(), c.open)
		_, err = Parse(nest(maxDepth))
		g.Expect(err).To(MatchError(ContainSubstring(fmt.Sprintf("expected expressions nested at most %d deep, found deeper nesting", maxDepth))), c.open)
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range errorCases {
		g := NewWithT(t)
		q, err := Parse(c.query)
		g.Expect(q).To(BeNil(), c.query)
		var e *Error
		g.Expect(errors.As(err, &e)).To(BeTrue(), "%q: %v", c.query, err)
		g.Expect(err.Error()).To(Equal(c.want), c.query)
	}
}

// ParseChecked refuses what no row can make valid: an aggregate in a WHERE, and a function
// given a variable of a kind it never takes; it accepts the kinds those functions take, and
// variables of unknown kind.
func TestParseCheckedAggregatesAndArgumentKinds(t *testing.T) {
	for q, want := range map[string]string{
		"MATCH (a) WHERE count(a) > 10 RETURN a":            "line 1, column 17: aggregate function count() cannot be used in WHERE: aggregate in a WITH, then filter with its WHERE",
		"MATCH (a) WITH a WHERE 1 < max(a.x) RETURN a":      "line 1, column 28: aggregate function max() cannot be used in WHERE: aggregate in a WITH, then filter with its WHERE",
		"MATCH (r) RETURN type(r)":                          "line 1, column 23: type() cannot take a node, which r is",
		"MATCH p = ()-->() RETURN type(p)":                  "line 1, column 31: type() cannot take a path, which p is",
		"MATCH (n) RETURN length(n)":                        "line 1, column 25: length() cannot take a node, which n is",
		"MATCH ()-[r]->() RETURN length(r)":                 "line 1, column 32: length() cannot take a relationship, which r is",
		"MATCH p = (a)-->(b) RETURN size(p)":                "line 1, column 33: size() cannot take a path, which p is",
		"MATCH (n) DELETE n:Person":                         "line 1, column 19: DELETE takes nodes, relationships and paths, and this is a value of another kind",
		"MATCH () DELETE 1 + 1":                             "line 1, column 19: DELETE takes nodes, relationships and paths, and this is a value of another kind",
		"MATCH r = (n)-[*]->() WHERE r.name = 'x' RETURN r": "line 1, column 30: r is a path, which has no properties",
	} {
		_, err := ParseChecked(q)
		if err == nil || err.Error() != want {
			t.Errorf("%s: error %v, want %q", q, err, want)
		}
	}
	for _, q := range []string{
		"MATCH ()-[r]->() RETURN type(r)",
		"MATCH p = ()-->() RETURN length(p), nodes(p)",
		"MATCH ()-[r*]->() RETURN size(r), length('abc')",
		"MATCH (n) WITH collect(n) AS ns RETURN size(ns), type(ns[0])",
		"UNWIND [1] AS x RETURN type(x)",
		"MATCH (n) WITH count(n) AS c WHERE c > 1 RETURN c",
		"MATCH (n) WHERE COUNT { (n)-->() } > 1 RETURN n",
		"MATCH (n) RETURN [n IN [1] | size(n)]",
		"MATCH p = (a)-->(b) DELETE p",
		"MATCH (a) WITH collect(a) AS xs DELETE xs[0]",
		"MATCH p = (a)-->(b) RETURN nodes(p)[0].name",
		"MATCH (a) WITH {key: a} AS m DELETE m.key",
		"MATCH (a) WITH {key: a} AS m WITH m.key AS b MATCH (b)-->() RETURN b",
	} {
		if _, err := ParseChecked(q); err != nil {
			t.Errorf("%s: %v, want no error", q, err)
		}
	}
}

// ParseChecked refuses a variable read where no clause before bound it, and accepts the
// variables a query binds for itself: a comprehension's, a pattern predicate's new ones, the
// ones before a WITH in its WHERE and ORDER BY.
func TestParseCheckedVariables(t *testing.T) {
	for q, want := range map[string]string{
		"MATCH () RETURN foo":                                 "line 1, column 17: variable foo is not defined",
		"MATCH (a) SET a.name = missing RETURN a":             "line 1, column 24: variable missing is not defined",
		"MATCH (a) SET x.name = 1":                            "line 1, column 15: variable x is not defined",
		"MERGE (n) ON MATCH SET x.num = 1":                    "line 1, column 24: variable x is not defined",
		"MATCH (a) DELETE x":                                  "line 1, column 18: variable x is not defined",
		"MATCH (a) REMOVE b.x":                                "line 1, column 18: variable b is not defined",
		"MATCH (s) WHERE s.name = undefined RETURN s":         "line 1, column 26: variable undefined is not defined",
		"MATCH (a) CREATE (a)-[:T]->(b {name: missing})":      "line 1, column 38: variable missing is not defined",
		"UNWIND xs AS x RETURN x":                             "line 1, column 8: variable xs is not defined",
		"MATCH (a) WITH a.x AS y RETURN a":                    "line 1, column 32: variable a is not defined",
		"MATCH (a) FOREACH (x IN [1] | SET a.v = x) RETURN x": "line 1, column 51: variable x is not defined",
	} {
		_, err := ParseChecked(q)
		if err == nil || err.Error() != want {
			t.Errorf("%s: error %v, want %q", q, err, want)
		}
		if _, err := Parse(q); err != nil {
			t.Errorf("Parse(%s): %v, want no error", q, err)
		}
	}
	for _, q := range []string{
		"MATCH (a) RETURN [x IN a.l WHERE x > 1 | x * 2], all(y IN a.l WHERE y > 0), reduce(s = 0, z IN a.l | s + z)",
		"MATCH (a) WHERE (a)-[r]->(b) AND exists((a)-->(c)) RETURN a, COUNT { (a)-->(d) } AS n, [(a)-->(e) | e.x] AS xs",
		"MATCH (a) WITH a.name AS name WHERE a.x > 1 RETURN name",
		"MATCH (a) WITH DISTINCT a.name AS name ORDER BY a.name RETURN name",
		"MATCH (a {k: b.k}), (b) RETURN a",
		"CREATE (a {id: 1}), (b {id: a.id + 1}) RETURN b",
		"MERGE (a:A {id: 1}) ON CREATE SET a.new = true ON MATCH SET a.seen = a.seen + 1",
		"UNWIND [1, 2] AS x FOREACH (y IN [x] | CREATE ({v: y + x}))",
		"MATCH p = (a)-->(b) RETURN p, a {.name, b, k: b.x}",
		"MATCH (a) RETURN CASE WHEN a.x > 1 THEN a.y ELSE $p END, a.l[0..a.n]",
		"MATCH (a) RETURN a UNION MATCH (b) RETURN b AS a",
		"MATCH (n) RETURN size((n)-->())",
	} {
		if _, err := ParseChecked(q); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
}
