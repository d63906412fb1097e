package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/torua/torua/router/client"
)

// The graph commands run against a real cluster in this process (startGraphCluster): the
// tables they print are of the router's real answers.

// queryID returns id(v) of the one vertex q's RETURN id(...) finds.
func queryID(t *testing.T, u, graph, q string) int64 {
	t.Helper()
	out, _, err := runCLI(t, "", "query", u, "--graph", graph, "--json", q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	var res struct{ Rows [][]int64 }
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Rows) != 1 || len(res.Rows[0]) != 1 {
		t.Fatalf("%s: %s (%v)", q, out, err)
	}
	return res.Rows[0][0]
}

// statsRE matches the stats line of a query that returned rows rows and changed nothing.
func statsRE(rows string) *regexp.Regexp {
	return regexp.MustCompile(`^` + rows + `, [0-9.]+ ms, [0-9]+ rounds?$`)
}

// TestQueryPrintsATable: nodes with their ids, labels and properties, relationships, paths in
// both directions, lists, maps and nulls, in Cypher's literal style, strings quoted only inside
// lists and maps, numbers aligned right; then the stats line.
func TestQueryPrintsATable(t *testing.T) {
	u := "--url=" + startGraphCluster(t)
	out, _, err := runCLI(t, "", "query", u, "--graph", "t",
		`CREATE (:Person:Admin {name: 'Ann', tags: ['x', 'y']})-[:KNOWS {since: 2020, w: 1.5}]->(:Person {name: 'Bob "B"'})`)
	if err != nil {
		t.Fatal(err)
	}
	created := regexp.MustCompile(`^0 rows, 2 nodes created, 1 relationship created, 5 properties set, 3 labels added, [0-9.]+ ms, [0-9]+ rounds?\n$`)
	if !created.MatchString(out) {
		t.Errorf("CREATE printed %q, want it to match %s", out, created)
	}
	ann := queryID(t, u, "t", `MATCH (a:Admin) RETURN id(a)`)
	bob := queryID(t, u, "t", `MATCH (a:Person) WHERE NOT a:Admin RETURN id(a)`)
	annText := fmt.Sprintf(`(#%d:Admin:Person {name: "Ann", tags: ["x", "y"]})`, ann)
	bobText := fmt.Sprintf(`(#%d:Person {name: "Bob \"B\""})`, bob)
	rel := `[:KNOWS {since: 2020, w: 1.5}]`

	for _, tc := range []struct {
		name, query string
		header      []string
		row         []string
		rows        string
	}{
		{"node and relationship", `MATCH (a:Admin)-[r]->(b) RETURN a, r, b.name AS name`,
			[]string{"a", "r", "name"}, []string{annText, rel, `Bob "B"`}, "1 row"},
		{"outgoing path", `MATCH p = (:Admin)-[:KNOWS]->() RETURN p`,
			[]string{"p"}, []string{annText + "-" + rel + "->" + bobText}, "1 row"},
		{"incoming path", `MATCH p = (b)<-[:KNOWS]-(:Admin) RETURN p`,
			[]string{"p"}, []string{bobText + "<-" + rel + "-" + annText}, "1 row"},
		{"lists, maps, null, numbers", `MATCH (a:Admin) RETURN [a.name, null, 1, 2.0] AS l, {k: a.name, ` + "`odd key`" + `: null} AS m, null AS z, 7 AS n, "it's" AS s`,
			[]string{"l", "m", "z", "n", "s"}, []string{`["Ann", null, 1, 2.0]`, "{k: \"Ann\", `odd key`: null}", "null", "7", "it's"}, "1 row"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, err := runCLI(t, "", "query", u, "--graph", "t", tc.query)
			if err != nil {
				t.Fatalf("%v: %s", err, errOut)
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(lines) != 4 {
				t.Fatalf("want a header, a rule, a row and stats; got\n%s", out)
			}
			widths := make([]int, len(tc.header))
			for j := range tc.header {
				widths[j] = max(len([]rune(tc.header[j])), len([]rune(tc.row[j])))
			}
			want := []string{tableLine(tc.header, widths, nil), "", tableLine(tc.row, widths, tc.row)}
			rule := make([]string, len(widths))
			for j, w := range widths {
				rule[j] = strings.Repeat("-", w)
			}
			want[1] = strings.Join(rule, "-+-")
			for i := range want {
				if lines[i] != want[i] {
					t.Errorf("line %d:\n got %q\nwant %q", i+1, lines[i], want[i])
				}
			}
			if !statsRE(tc.rows).MatchString(lines[3]) {
				t.Errorf("stats line %q, want %s", lines[3], statsRE(tc.rows))
			}
		})
	}
}

// tableLine is a row as writeTable should align it: numeric cells (those of numbers) right,
// the last column unpadded.
func tableLine(cells []string, widths []int, values []string) string {
	parts := make([]string, len(cells))
	for j, c := range cells {
		pad := strings.Repeat(" ", widths[j]-len([]rune(c)))
		switch {
		case values != nil && regexp.MustCompile(`^-?[0-9][0-9.]*$`).MatchString(c):
			parts[j] = pad + c
		case j == len(cells)-1:
			parts[j] = c
		default:
			parts[j] = c + pad
		}
	}
	return strings.Join(parts, " | ")
}

// TestQueryJSON: --json prints the columns, the rows with nodes, relationships and paths as the
// HTTP API has them (a float keeps its fraction), and the stats.
func TestQueryJSON(t *testing.T) {
	u := "--url=" + startGraphCluster(t)
	if _, _, err := runCLI(t, "", "query", u, `CREATE (:A {f: 2.0, i: 2})-[:T {r: 1}]->(:B)`); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCLI(t, "", "query", u, "--json", `MATCH p = (a:A)-[r]->(b) RETURN a, r, p, [a.f, null] AS l, {i: a.i} AS m`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out, "}\n") || strings.Count(out, "\n") != 1 {
		t.Errorf("want one JSON document on one line, got %q", out)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	var res struct {
		Columns []string
		Rows    [][]any
		Stats   map[string]any
	}
	if err := dec.Decode(&res); err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Columns, ",") != "a,r,p,l,m" || len(res.Rows) != 1 {
		t.Fatalf("columns %q, %d rows", res.Columns, len(res.Rows))
	}
	row := res.Rows[0]
	a, _ := row[0].(map[string]any)
	r, _ := row[1].(map[string]any)
	p, _ := row[2].(map[string]any)
	if fmt.Sprint(a["labels"]) != "[A]" || fmt.Sprint(a["properties"]) != "map[f:2.0 i:2]" || a["id"] == nil {
		t.Errorf("node %v", a)
	}
	if r["type"] != "T" || r["start"] != a["id"] || fmt.Sprint(r["properties"]) != "map[r:1]" {
		t.Errorf("relationship %v", r)
	}
	if nodes, _ := p["nodes"].([]any); len(nodes) != 2 {
		t.Errorf("path %v", p)
	}
	if fmt.Sprint(row[3]) != "[2.0 <nil>]" || fmt.Sprint(row[4]) != "map[i:2]" {
		t.Errorf("list %v, map %v", row[3], row[4])
	}
	if !strings.Contains(out, `"f":2.0`) {
		t.Errorf("the float lost its fraction: %s", out)
	}
	if _, ok := res.Stats["rounds"]; !ok {
		t.Errorf("stats %v have no rounds", res.Stats)
	}
}

// TestQueryParams: --param values are JSON when they are JSON (integers apart from floats),
// else strings; the router sees their types.
func TestQueryParams(t *testing.T) {
	u := "--url=" + startGraphCluster(t)
	for _, tc := range []struct{ param, json, table string }{
		{"1", `1`, "1"},
		{"1.0", `1.0`, "1.0"},
		{"-2.5e3", `-2500.0`, "-2500.0"},
		{`"1"`, `"1"`, "1"},
		{"Ann Lee", `"Ann Lee"`, "Ann Lee"},
		{"", `""`, ""},
		{"true", `true`, "true"},
		{"null", `null`, "null"},
		{`[1, 2.0, "a"]`, `[1,2.0,"a"]`, `[1, 2.0, "a"]`},
		{`{"a": {"b": [1]}}`, `{"a":{"b":[1]}}`, `{a: {b: [1]}}`},
	} {
		t.Run(tc.param, func(t *testing.T) {
			out, _, err := runCLI(t, "", "query", u, "--json", "--param", "v="+tc.param, "RETURN $v AS v")
			if err != nil {
				t.Fatal(err)
			}
			if want := `"rows":[[` + tc.json + `]]`; !strings.Contains(out, want) {
				t.Errorf("--json printed %s, want %s", out, want)
			}
			out, _, err = runCLI(t, "", "query", u, "-p", "v="+tc.param, "RETURN $v AS v")
			if err != nil {
				t.Fatal(err)
			}
			if row := strings.Split(out, "\n")[2]; strings.TrimSpace(row) != tc.table {
				t.Errorf("table row %q, want %q", row, tc.table)
			}
		})
	}
	t.Run("integer type kept", func(t *testing.T) {
		out, _, err := runCLI(t, "", "query", u, "--json", "-p", "i=7", "-p", "f=7.0", "RETURN $i / 2 AS i, $f / 2 AS f")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, `"rows":[[3,3.5]]`) {
			t.Errorf("got %s, want integer division for 7 and float division for 7.0", out)
		}
	})
	for _, bad := range []string{"noequals", "=1", "v=123456789012345678901234567890"} {
		if _, _, err := runCLI(t, "", "query", u, "--param", bad, "RETURN 1"); err == nil || !strings.Contains(err.Error(), "parameter") {
			t.Errorf("--param %q: error %v, want one naming the parameter", bad, err)
		}
	}
}

// TestQueryFaultShowsACaret: a query's fault prints its message with line and column and the
// query's line with a caret under the column, and exits 1 without printing it twice.
func TestQueryFaultShowsACaret(t *testing.T) {
	u := "--url=" + startGraphCluster(t)
	for _, tc := range []struct{ query, want string }{
		{"MATCH (n RETURN n", "torua: line 1, column 10: expected \":\", a property map or \")\" after the variable, found \"RETURN\"\n" +
			"  MATCH (n RETURN n\n" +
			"           ^\n"},
		{"MATCH (n)\n\tWHERE n.x = \n\tRETURN n", "torua: line 3, column 2: expected an expression, found \"RETURN\"\n" +
			"  \tRETURN n\n" +
			"  \t^\n"},
	} {
		out, errOut, err := runCLI(t, "", "query", u, tc.query)
		var reported reportedError
		if !errors.As(err, &reported) {
			t.Errorf("%q: error %v, want a reportedError (exit 1, printed once)", tc.query, err)
		}
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != 400 {
			t.Errorf("%q: error %v, want the router's 400", tc.query, err)
		}
		if out != "" || errOut != tc.want {
			t.Errorf("%q: stdout %q, stderr\n%s\nwant stderr\n%s", tc.query, out, errOut, tc.want)
		}
	}
	// A fault that is not the query's (no router there) is an ordinary one-line error.
	_, _, err := runCLI(t, "", "query", "--url=http://127.0.0.1:1", "RETURN 1")
	if !errors.Is(err, client.ErrUnreachable) {
		t.Errorf("no router: %v", err)
	}
}

// TestQueryFromStdin: the query comes from standard input when the argument is "-" or absent;
// --graph and TORUA_GRAPH choose the graph.
func TestQueryFromStdin(t *testing.T) {
	u := "--url=" + startGraphCluster(t)
	if _, _, err := runCLI(t, "CREATE (:S {n: 1})\n", "query", u, "--graph", "g1", "-"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TORUA_GRAPH", "g2")
	if _, _, err := runCLI(t, "CREATE (:S {n: 2}), (:S {n: 3})", "query", u); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--graph", "g1"}, "1"},
		{nil, "2"}, // g2, from TORUA_GRAPH
	} {
		out, _, err := runCLI(t, "MATCH (s:S)\nRETURN count(s) AS c\n", append([]string{"query", u}, tc.args...)...)
		if err != nil {
			t.Fatal(err)
		}
		if lines := strings.Split(out, "\n"); len(lines) < 3 || strings.TrimSpace(lines[2]) != tc.want {
			t.Errorf("%v: got\n%s\nwant count %s", tc.args, out, tc.want)
		}
	}
	if _, _, err := runCLI(t, "  \n", "query", u); err == nil {
		t.Error("an empty query from stdin: no error")
	}
}

// TestQueryLiteral: values as Cypher literals; a map that is not exactly a node's,
// relationship's or path's shape prints as a map.
func TestQueryLiteral(t *testing.T) {
	node := map[string]any{"id": int64(3), "labels": []any{"A", "two words"}, "properties": map[string]any{}}
	for _, tc := range []struct {
		v    any
		want string
	}{
		{nil, "null"},
		{"a\"b\\c\nd\x01", `"a\"b\\c\nd\u0001"`},
		{1.0, "1.0"},
		{1e21, "1e+21"},
		{-0.5, "-0.5"},
		{int64(-3), "-3"},
		{[]any{}, "[]"},
		{map[string]any{}, "{}"},
		{map[string]any{"b": int64(1), "a": []any{true}, "1x": "y", "a`b": nil}, "{`1x`: \"y\", a: [true], `a``b`: null, b: 1}"},
		{node, "(#3:A:`two words`)"},
		{map[string]any{"id": int64(3), "labels": []any{"A"}, "properties": map[string]any{}, "extra": 1}, `{extra: 1, id: 3, labels: ["A"], properties: {}}`},
		{map[string]any{"id": "3", "labels": []any{"A"}, "properties": map[string]any{}}, `{id: "3", labels: ["A"], properties: {}}`},
		{map[string]any{"id": int64(9), "type": "T", "start": int64(3), "end": int64(3), "properties": map[string]any{"k": "v"}}, `[:T {k: "v"}]`},
		{map[string]any{"nodes": []any{node}, "relationships": []any{}}, "(#3:A:`two words`)"},
		{map[string]any{"nodes": []any{node}, "relationships": []any{int64(1)}}, "{nodes: [(#3:A:`two words`)], relationships: [1]}"},
	} {
		if got := literal(tc.v); got != tc.want {
			t.Errorf("literal(%#v) = %s, want %s", tc.v, got, tc.want)
		}
	}
	if got := cellText("a\tb\nc"); got != `a\tb\nc` {
		t.Errorf("cellText keeps a cell on its line: %q", got)
	}
}

// TestQueryStatsLine: rows, changes in a fixed order, singular and plural, time and rounds.
func TestQueryStatsLine(t *testing.T) {
	for _, tc := range []struct {
		rows  int
		stats map[string]any
		want  string
	}{
		{0, nil, "0 rows"},
		{1, map[string]any{"elapsedMicros": int64(420), "rounds": int64(1)}, "1 row, 0.4 ms, 1 round"},
		{3, map[string]any{"elapsedMicros": int64(12_345), "rounds": int64(4), "requests": int64(9), "nodesCreated": int64(2),
			"propertiesSet": int64(1), "relationshipsDeleted": int64(0), "pending": int64(1)},
			"3 rows, 2 nodes created, 1 property set, 1 edge half pending, 12 ms, 4 rounds"},
	} {
		res := &client.QueryResult{Rows: make([][]any, tc.rows), Stats: tc.stats}
		if got := statsLine(res); got != tc.want {
			t.Errorf("statsLine = %q, want %q", got, tc.want)
		}
	}
	var b bytes.Buffer
	if err := writeResult(&b, &client.QueryResult{Columns: []string{"x"}}, false); err != nil || b.String() != "x\n-\n0 rows\n" {
		t.Errorf("no rows: %q, %v", b.String(), err)
	}
}
