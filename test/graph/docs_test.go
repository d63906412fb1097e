package graph

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// codeBlocks returns the fenced blocks of lang in the markdown file at path.
func codeBlocks(t *testing.T, path, lang string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var cur []string
	in := false
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case !in && strings.TrimSpace(line) == "```"+lang:
			in, cur = true, nil
		case in && strings.TrimSpace(line) == "```":
			in = false
			out = append(out, strings.Join(cur, "\n"))
		case in:
			cur = append(cur, line)
		}
	}
	return out
}

// TestGraphDocExamplesRun runs the examples of docs/graph.md as a user would: the quick
// start's curl commands against a router, the bulk load's, and each Cypher example (blocks split at blank
// lines and comments), so the page never shows a query that does not run.
func TestGraphDocExamplesRun(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed to run the documentation's commands: install it")
	}
	cl, c := startLocal(t)
	addr := strings.TrimPrefix(c.RouterURL(), "http://")
	ctx := context.Background()
	blocks := codeBlocks(t, "../../docs/graph.md", "sh")
	if len(blocks) == 0 {
		t.Fatal("no sh block in docs/graph.md")
	}
	script := strings.ReplaceAll(blocks[0], "127.0.0.1:8080", addr)
	out, err := exec.CommandContext(ctx, "sh", "-ec", strings.ReplaceAll(script, "curl -s", "curl -sf")).CombinedOutput()
	if err != nil {
		t.Fatalf("the quick start's commands failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `"rows":[["Ada",1833,"Charles"]]`) || !strings.Contains(string(out), `{"graphs":["social"]}`) {
		t.Fatalf("the quick start's answers are not what the page shows:\n%s", out)
	}

	// The bulk load's example.
	var bulk string
	for _, b := range blocks {
		if strings.Contains(b, "bulk=true") {
			bulk = b
		}
	}
	if bulk == "" {
		t.Fatal("no sh block with a bulk load in docs/graph.md")
	}
	out, err = exec.CommandContext(ctx, "sh", "-ec", strings.ReplaceAll(strings.ReplaceAll(bulk, "127.0.0.1:8080", addr), "curl -s", "curl -sf")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), `{"vertices":2,"edges":1,"keys":8,`) {
		t.Fatalf("the bulk load's example: %v\n%s", err, out)
	}
	if res, err := cl.Query(ctx, "pioneers", `MATCH (a:Person)-[:KNOWS]->(b) RETURN a.name, b.name`, nil); err != nil || len(res.Rows) != 1 {
		t.Fatalf("the bulk-loaded example graph: %v %v", res, err)
	}

	// The Cypher examples, on a small graph of :Person vertices with ids.
	if _, err := cl.Query(ctx, "docs", `CREATE CONSTRAINT FOR (p:Person) REQUIRE p.id IS UNIQUE`, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Query(ctx, "docs", `UNWIND range(1, 9) AS i CREATE (p:Person {id: i, name: 'p' + toString(i)})
		WITH collect(p) AS ps UNWIND range(0, 7) AS i WITH ps[i] AS a, ps[i + 1] AS b CREATE (a)-[:KNOWS]->(b)`, nil); err != nil {
		t.Fatal(err)
	}
	params := map[string]any{"id": 1, "friendIds": []any{2}, "rows": []any{map[string]any{"sensor": "s1", "value": 1.5}}}
	ran := 0
	for _, block := range codeBlocks(t, "../../docs/graph.md", "cypher") {
		var stmt []string
		flush := func() {
			q := strings.TrimSpace(strings.Join(stmt, "\n"))
			stmt = nil
			if q == "" {
				return
			}
			ran++
			if _, err := cl.Query(ctx, "docs", q, params); err != nil {
				t.Errorf("docs/graph.md example fails: %v\n%s", err, q)
			}
		}
		for _, line := range strings.Split(block, "\n") {
			if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "//") {
				flush()
				continue
			}
			stmt = append(stmt, line)
		}
		flush()
	}
	if ran < 5 {
		t.Fatalf("ran %d examples from docs/graph.md, expected more", ran)
	}
}
