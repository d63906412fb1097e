package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// writeFiles writes name -> contents into a new directory and returns the paths by name.
func writeFiles(t *testing.T, files map[string]string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	paths := map[string]string{}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		paths[name] = p
	}
	return paths
}

// queryJSON runs q on graph and returns the JSON rows it printed.
func queryJSON(t *testing.T, u, graph, q string) string {
	t.Helper()
	out, errOut, err := runCLI(t, "", "query", u, "--graph", graph, "--json", q)
	if err != nil {
		t.Fatalf("%s: %v\n%s", q, err, errOut)
	}
	i, j := strings.Index(out, `"rows":`), strings.Index(out, `,"stats"`)
	if i < 0 || j < i {
		t.Fatalf("%s: %s", q, out)
	}
	return out[i+len(`"rows":`) : j]
}

const (
	peopleCSV = `id:int,name,age:int,score:float,active:bool,nicks:string[],nums:int[],:LABEL
1,Ann,42,1.5,true,an;annie,1;2;3,Person;Admin
2,Bob,,2,false,,,Person
3,"Cy, ""Jr""",7,,,bo,,Person
`
	knowsCSV = `:START,:END,:TYPE,:RANK,since:int,w:float
1,2,KNOWS,0,2020,0.5
1,2,KNOWS,1,2021,
2,3,,,,
`
)

// checkPeople checks that graph holds what peopleCSV and knowsCSV load (with --type LIKES).
func checkPeople(t *testing.T, u, graph string) {
	t.Helper()
	wantVertices := `[[1,"Ann",42,1.5,true,["an","annie"],[1,2,3],["Admin","Person"]],` +
		`[2,"Bob",null,2.0,false,null,null,["Person"]],` +
		`[3,"Cy, \"Jr\"",7,null,null,["bo"],null,["Person"]]]`
	wantEdges := `[[1,"KNOWS",2020,0.5,2],[1,"KNOWS",2021,null,2],[2,"LIKES",null,null,3]]`
	if got := queryJSON(t, u, graph, `MATCH (p:Person) RETURN p.id, p.name, p.age, p.score, p.active, p.nicks, p.nums, labels(p) ORDER BY p.id`); got != wantVertices {
		t.Errorf("vertices\n got %s\nwant %s", got, wantVertices)
	}
	if got := queryJSON(t, u, graph, `MATCH (a)-[r]->(b) RETURN a.id, type(r), r.since, r.w, b.id ORDER BY a.id, r.since`); got != wantEdges {
		t.Errorf("edges\n got %s\nwant %s", got, wantEdges)
	}
}

// TestImportLoadsCSV: vertices with two labels, typed columns and lists, empty cells as no
// property; edges with types from a column or --type, ranks (two KNOWS between the same two
// vertices) and properties; sent in batches of two, two in flight; a re-run finds everything
// and loads nothing twice; progress lines when standard error is not a terminal.
func TestImportLoadsCSV(t *testing.T) {
	u := "--url=" + startGraphCluster(t)
	f := writeFiles(t, map[string]string{"people.csv": peopleCSV, "knows.csv": knowsCSV})
	args := []string{"import", u, "--graph", "g", "--vertices", f["people.csv"], "--edges", f["knows.csv"],
		"--start-label", "Person", "--end-label", "Person", "--type", "LIKES", "--batch", "2", "--parallel", "2"}

	out, errOut, err := runCLI(t, "", args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	first := regexp.MustCompile(`^imported into graph g: 3 vertices and 3 edges created, 0 vertices and 0 edges found already there; 6 rows in [0-9.]+[mµ]?s, [0-9]+ rows/s\n$`)
	if !first.MatchString(out) {
		t.Errorf("summary %q, want it to match %s", out, first)
	}
	progress := regexp.MustCompile(`(?m)^import: vertices done: 3 rows from 1 file, [0-9]+ rows/s\nimport: edges done: 3 rows from 1 file, [0-9]+ rows/s\n$`)
	if !progress.MatchString(errOut) {
		t.Errorf("progress on stderr %q, want it to match %s", errOut, progress)
	}

	check := func() { checkPeople(t, u, "g") }
	check()

	out, errOut, err = runCLI(t, "", args...)
	if err != nil {
		t.Fatalf("re-run: %v\n%s", err, errOut)
	}
	again := regexp.MustCompile(`^imported into graph g: 0 vertices and 0 edges created, 3 vertices and 3 edges found already there; 6 rows in `)
	if !again.MatchString(out) {
		t.Errorf("re-run summary %q, want it to match %s", out, again)
	}
	check()
}

// TestImportBulkLoadsCSV: --bulk loads the same files as one bulk load, with the same result
// as the online import (types, lists, labels, ranks, --type); its summary and progress say
// what it did; a second --bulk into the loaded graph is refused and changes nothing; a bad row
// stops a bulk load with nothing loaded.
func TestImportBulkLoadsCSV(t *testing.T) {
	u := "--url=" + startGraphCluster(t)
	f := writeFiles(t, map[string]string{"people.csv": peopleCSV, "knows.csv": knowsCSV,
		"bad.csv": "id:int,name\n7,Ann\n8,Bob,extra\n"})
	args := []string{"import", u, "--bulk", "--graph", "b", "--vertices", f["people.csv"], "--edges", f["knows.csv"],
		"--start-label", "Person", "--end-label", "Person", "--type", "LIKES", "--batch", "2"}
	out, errOut, err := runCLI(t, "", args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	summary := regexp.MustCompile(`^bulk-loaded graph b: 3 vertices and 3 edges, [0-9]+ keys \([0-9.]+ [KM]?i?B\) in [0-9]+ parts; 6 rows in [0-9.]+[mµ]?s \(read and sorted in [0-9.]+[mµ]?s, written in [0-9.]+[mµ]?s\), [0-9]+ rows/s\n$`)
	if !summary.MatchString(out) {
		t.Errorf("summary %q, want it to match %s", out, summary)
	}
	if !strings.Contains(errOut, "import: 6 rows sent") || !strings.Contains(errOut, "the router is loading them into the shards") {
		t.Errorf("progress on stderr %q, want the rows sent and the loading said", errOut)
	}
	check := func() { checkPeople(t, u, "b") }
	check()

	_, _, err = runCLI(t, "", args...)
	if err == nil || !strings.Contains(err.Error(), `409 Conflict: graph "b" has vertices: a bulk load is into a new or empty graph`) {
		t.Errorf("a second bulk load: %v, want it refused: the graph has vertices", err)
	}
	check()

	_, _, err = runCLI(t, "", "import", u, "--bulk", "--graph", "c", "--label", "P", "--vertices", f["bad.csv"])
	if err == nil || !strings.Contains(err.Error(), `bad.csv:3:3: 3 fields, the header has 2; nothing was loaded`) {
		t.Errorf("a bad row: %v, want it named", err)
	}
	if got := queryJSON(t, u, "c", `MATCH (n) RETURN count(n)`); got != "[[0]]" {
		t.Errorf("a bulk load stopped by a bad row loaded %s", got)
	}
}

// TestImportStopsAtABadRow: a cell not of its column's type or a row with the wrong number of
// fields stops the import with the file, line and column; the batch sent before it stays
// loaded and nothing after it is.
func TestImportStopsAtABadRow(t *testing.T) {
	u := "--url=" + startGraphCluster(t)
	f := writeFiles(t, map[string]string{
		"cell.csv":   "id:int,name,age:int\n1,Ann,42\n2,Bob,x\n3,Cy,7\n",
		"fields.csv": "id:int,name,age:int\n11,Ann,42\n12,Bob,1,extra\n13,Cy,7\n",
		"list.csv":   "id:int,nums:int[]\n21,1;2\n22,1;;2\n",
		"key.csv":    "id:int,name\n31,Ann\n,Bob\n",
		"quote.csv":  "id:int,name\n41,Ann\n42,B\"ob\n",
		"edges.csv":  ":START,:END\n1,3\n",
	})
	for _, tc := range []struct {
		file, graph, want string
		loaded            string
	}{
		{"cell.csv", "cell", `cell.csv:3:3: column "age:int": "x" is not an int (64-bit); nothing after it was loaded: 1 batch (1 row) loaded before it stay loaded`, "[[1]]"},
		{"fields.csv", "fields", `fields.csv:3:4: 4 fields, the header has 3; nothing after it was loaded: 1 batch (1 row)`, "[[11]]"},
		{"list.csv", "list", `list.csv:3:2: column "nums:int[]": element 2: "" is not an int (64-bit)`, "[[21]]"},
		{"key.csv", "key", `key.csv:3:1: column "id:int": empty: the key (--key id) is required`, "[[31]]"},
		{"quote.csv", "quote", `quote.csv:3: character 5: bare " in non-quoted-field`, "[[41]]"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			_, _, err := runCLI(t, "", "import", u, "--graph", tc.graph, "--label", "P", "--batch", "1",
				"--vertices", f[tc.file], "--edges", f["edges.csv"])
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), f[tc.file]) {
				t.Fatalf("error %v\nwant one with %q", err, tc.want)
			}
			if got := queryJSON(t, u, tc.graph, `MATCH (p) RETURN p.id ORDER BY p.id`); got != tc.loaded {
				t.Errorf("loaded %s, want %s", got, tc.loaded)
			}
			if got := queryJSON(t, u, tc.graph, `MATCH ()-[r]->() RETURN count(r)`); got != "[[0]]" {
				t.Errorf("edges loaded after a bad vertex file: %s", got)
			}
		})
	}
}

// TestImportRefusesIncompleteFiles: what the files and flags lack is said before anything is
// sent.
func TestImportRefusesIncompleteFiles(t *testing.T) {
	u := "--url=" + startGraphCluster(t)
	f := writeFiles(t, map[string]string{
		"nolabel.csv": "id:int\n1\n",
		"nokey.csv":   "name\nAnn\n",
		"badtype.csv": "id:integer\n1\n",
		"noend.csv":   ":START,:TYPE\n1,T\n",
		"notype.csv":  ":START,:END\n1,2\n",
		"empty.csv":   "",
	})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "nothing to import"},
		{[]string{"--vertices", f["nolabel.csv"]}, "nolabel.csv:1:1: no :LABEL column and no --label"},
		{[]string{"--label", "P", "--vertices", f["nokey.csv"]}, `nokey.csv:1:1: no key column "id" (--key)`},
		{[]string{"--label", "P", "--vertices", f["badtype.csv"]}, `badtype.csv:1:1: column 1 "id:integer": type "integer": want int, float, bool or string`},
		{[]string{"--edges", f["notype.csv"]}, "--start-label and --end-label (or --label)"},
		{[]string{"--label", "P", "--edges", f["noend.csv"]}, "noend.csv:1:1: an edge file needs :START and :END columns"},
		{[]string{"--label", "P", "--edges", f["notype.csv"]}, "notype.csv:1:1: no :TYPE column and no --type"},
		{[]string{"--label", "P", "--vertices", f["empty.csv"]}, "empty.csv:1:1: the file is empty"},
		{[]string{"--label", "P", "--key-type", "int[]", "--edges", f["notype.csv"]}, `--key-type "int[]"`},
		{[]string{"--label", "P", "--vertices", "no-such.csv"}, "no-such.csv"},
	} {
		_, _, err := runCLI(t, "", append([]string{"import", u, "--graph", "refused"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one with %q", tc.args, err, tc.want)
		}
	}
	if got := queryJSON(t, u, "refused", `MATCH (n) RETURN count(n)`); got != "[[0]]" {
		t.Errorf("refused imports loaded %s", got)
	}
}

// TestImportCellTypes: every type, its list, and what each refuses.
func TestImportCellTypes(t *testing.T) {
	for _, tc := range []struct {
		typ, cell string
		want      any
		err       string
	}{
		{"int", " -7 ", int64(-7), ""},
		{"int", "1.5", nil, `"1.5" is not an int`},
		{"int", "9223372036854775808", nil, "is not an int (64-bit)"},
		{"float", "1", 1.0, ""},
		{"float", "1e3", 1000.0, ""},
		{"float", "one", nil, `"one" is not a float`},
		{"bool", "TRUE", true, ""},
		{"bool", "false", false, ""},
		{"bool", "1", nil, "is not a bool (true or false)"},
		{"string", " a b ", " a b ", ""},
		{"string[]", "a;;b", []any{"a", "", "b"}, ""},
		{"float[]", "1;2.5", []any{1.0, 2.5}, ""},
		{"bool[]", "true;no", nil, `element 2: "no" is not a bool`},
	} {
		ct, err := parseCellType(tc.typ)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ct.parse(tc.cell)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s %q: %v, %v; want error %q", tc.typ, tc.cell, got, err, tc.err)
		case tc.err == "" && (err != nil || literal(got) != literal(tc.want)):
			t.Errorf("%s %q: %v, %v; want %v", tc.typ, tc.cell, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "int[][]", "list", "Int"} {
		if _, err := parseCellType(bad); err == nil {
			t.Errorf("type %q accepted", bad)
		}
	}
}
