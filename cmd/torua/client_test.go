package main

// The client commands run here against clienttest.Router, an in-memory stand-in for the
// router's public API; the real router is tested in its own package.

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/torua/torua/router/client"
	"github.com/torua/torua/router/client/clienttest"
	"github.com/torua/torua/shardmap"
)

// runCLI executes the torua command line args with stdin and returns what it wrote and
// the error main would print (as "torua: <err>") before exiting with status 1.
func runCLI(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err = root.ExecuteContext(context.Background())
	if err != nil && strings.Contains(err.Error(), "\n") {
		t.Errorf("torua %q: error message spans lines: %q", args, err)
	}
	return out.String(), errOut.String(), err
}

func TestPutGetDel(t *testing.T) {
	fake := clienttest.NewRouter(t)
	u := "--url=" + fake.URL

	if _, _, err := runCLI(t, "", "put", "greeting", "hello", u); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := runCLI(t, "", "get", "greeting", u, "--etag")
	if err != nil {
		t.Fatal(err)
	}
	_, rev, _ := fake.Value("greeting")
	if out != "hello" || strings.TrimSpace(errOut) != "1" || rev != 1 {
		t.Errorf("get: stdout %q, stderr %q; want hello and revision 1", out, errOut)
	}

	// From standard input, byte for byte, with a tricky key.
	key := "dir/with space/../100%?#ü"
	value := "line 1\nline 2\n\x00\xff"
	if _, errOut, err := runCLI(t, value, "put", key, u, "--etag"); err != nil || strings.TrimSpace(errOut) != "2" {
		t.Fatalf("put from stdin: %v, stderr %q", err, errOut)
	}
	if v, _, _ := fake.Value(key); string(v) != value {
		t.Errorf("stored %q, want %q", v, value)
	}
	if out, _, err := runCLI(t, "", "get", key, u); err != nil || out != value {
		t.Errorf("get %q = %q, %v", key, out, err)
	}

	// From a file.
	file := filepath.Join(t.TempDir(), "v.bin")
	if err := os.WriteFile(file, []byte("from a file"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI(t, "", "put", "f", "--file", file, u); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := fake.Value("f"); string(v) != "from a file" {
		t.Errorf("stored %q", v)
	}
	if _, _, err := runCLI(t, "", "put", "f", "x", "--file", file, u); err == nil {
		t.Error("put with both VALUE and --file succeeded")
	}

	if _, _, err := runCLI(t, "", "del", "greeting", u); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := fake.Value("greeting"); ok {
		t.Error("greeting survived del")
	}
}

func TestMissingKey(t *testing.T) {
	fake := clienttest.NewRouter(t)
	for _, verb := range []string{"get", "del"} {
		_, _, err := runCLI(t, "", verb, "x", "--url", fake.URL)
		if err == nil || err.Error() != `key "x" not found` {
			t.Errorf("%s of a missing key: %v, want key \"x\" not found", verb, err)
		}
	}
}

func TestConditionalPut(t *testing.T) {
	fake := clienttest.NewRouter(t)
	u := "--url=" + fake.URL
	if _, _, err := runCLI(t, "", "put", "k", "1", "--if-absent", u); err != nil {
		t.Fatal(err)
	}
	_, _, err := runCLI(t, "", "put", "k", "2", "--if-absent", u)
	if err == nil || err.Error() != `put "k": 412 Precondition Failed: key exists` {
		t.Errorf("second --if-absent: %v", err)
	}
	if _, _, err := runCLI(t, "", "put", "k", "2", "--if-match", "5", u); err == nil || !strings.Contains(err.Error(), "412") {
		t.Errorf("stale --if-match: %v", err)
	}
	if _, _, err := runCLI(t, "", "put", "k", "2", "--if-match", `"1"`, u); err != nil {
		t.Errorf("--if-match with the current revision: %v", err)
	}
	if _, _, err := runCLI(t, "", "del", "k", "--if-match", "1", u); err == nil || !strings.Contains(err.Error(), "412") {
		t.Errorf("del with a stale --if-match: %v", err)
	}
	if _, _, err := runCLI(t, "", "put", "k", "2", "--if-match", "seven", u); err == nil || !strings.Contains(err.Error(), "--if-match") {
		t.Errorf("bad --if-match: %v", err)
	}
	if v, rev, _ := fake.Value("k"); string(v) != "2" || rev != 2 {
		t.Errorf("k = %q at %d, want 2 at 2", v, rev)
	}
}

func TestUnreachableRouterMessage(t *testing.T) {
	fake := clienttest.NewRouter(t)
	fake.Close()
	want := "cannot reach router at " + fake.URL + ": connection refused"
	for _, args := range [][]string{{"get", "k"}, {"put", "k", "v"}, {"del", "k"}, {"ls"}, {"status"}} {
		_, _, err := runCLI(t, "", append(args, "--url", fake.URL)...)
		if err == nil || err.Error() != want {
			t.Errorf("torua %s: %v, want %q", args[0], err, want)
		}
	}
}

func TestURLFromEnvironment(t *testing.T) {
	fake := clienttest.NewRouter(t)
	fake.Set("k", []byte("v"))
	t.Setenv("TORUA_URL", fake.URL)
	if out, _, err := runCLI(t, "", "get", "k"); err != nil || out != "v" {
		t.Errorf("get with TORUA_URL: %q, %v", out, err)
	}
}

func TestLs(t *testing.T) {
	fake := clienttest.NewRouter(t)
	for _, k := range []string{"a/1", "a/2", "a/3", "b/1", "a/new\nline"} {
		fake.Set(k, nil)
	}
	u := "--url=" + fake.URL

	out, errOut, err := runCLI(t, "", "ls", "--prefix", "a/", "--limit", "2", u)
	if err != nil {
		t.Fatal(err)
	}
	if out != "a/1\na/2\n" || !strings.Contains(errOut, "--after 'a/2'") {
		t.Errorf("one page: stdout %q, stderr %q", out, errOut)
	}
	out, errOut, err = runCLI(t, "", "ls", "--prefix", "a/", "--limit", "2", "--all", u)
	if err != nil {
		t.Fatal(err)
	}
	if want := "a/1\na/2\na/3\n\"a/new\\nline\"\n"; out != want || errOut != "" {
		t.Errorf("--all: stdout %q, stderr %q; want %q", out, errOut, want)
	}
	if out, _, err := runCLI(t, "", "ls", "--limit", "0", u); err != nil || strings.Count(out, "\n") != 5 {
		t.Errorf("ls --limit 0 (the router's default page): %q, %v", out, err)
	}
	if _, _, err := runCLI(t, "", "ls", "--limit", "20000", u); err == nil || err.Error() != "list keys: 400 Bad Request: limit must be 1..10000" {
		t.Errorf("ls --limit 20000: %v", err)
	}
}

func TestStatus(t *testing.T) {
	fake := clienttest.NewRouter(t)
	m := &shardmap.Map{
		Cluster: "demo", Version: 3, Shards: 2, ReplicationFactor: 2, Hash: shardmap.HashXXHash64,
		Nodes: []shardmap.Node{
			{ID: "node-0", API: "127.0.0.1:7070", State: shardmap.NodeActive},
			{ID: "node-1", API: "127.0.0.1:7071", State: shardmap.NodeActive},
			{ID: "node-2", API: "127.0.0.1:7072", State: shardmap.NodeDraining},
		},
		Assignments: []shardmap.Assignment{
			{Shard: 0, Replicas: []string{"node-0", "node-1"}},
			{Shard: 1, Replicas: []string{"node-1", "node-2"}},
		},
	}
	fake.SetCluster(&client.ClusterInfo{Map: m, Nodes: []client.NodeInfo{
		{ID: "node-0", API: "127.0.0.1:7070", State: shardmap.NodeActive, Reachable: true,
			Status: &shardmap.NodeStatus{Node: "node-0", MapVersion: 3, Ready: true, Shards: []shardmap.ShardStatus{
				{Shard: 0, Role: "leader", Term: 4, CommitIndex: 120, Voters: []string{"node-0"}, Learners: []string{"node-1"}, Keys: 10},
			}}},
		{ID: "node-1", API: "127.0.0.1:7071", State: shardmap.NodeActive, Reachable: true,
			Status: &shardmap.NodeStatus{Node: "node-1", MapVersion: 2, Ready: true, Shards: []shardmap.ShardStatus{
				{Shard: 0, Role: "learner", Leader: "node-0", AppliedIndex: 100, Keys: 9},
				{Shard: 1, Role: "follower", Leader: "node-2", Keys: 4},
			}}},
		{ID: "node-2", API: "127.0.0.1:7072", State: shardmap.NodeDraining, Error: "connection refused"},
	}})
	out, _, err := runCLI(t, "", "status", "--url", fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out, "\n")
	wantLines := [][]string{
		{`cluster "demo": shard map version 3, 2 shards, replication factor 2`},
		{"NODE", "API", "STATE", "REACHABLE", "MAP", "SHARDS", "KEYS", "ERROR"},
		{"node-0", "127.0.0.1:7070", "active", "yes", "3", "1", "10"},
		{"node-1", "127.0.0.1:7071", "active", "yes", "2 (stale)", "2", "13"},
		{"node-2", "127.0.0.1:7072", "draining", "no", "-", "-", "-", "connection refused"},
		{"SHARD", "REPLICAS", "LEADER", "TERM", "VOTERS", "LEARNERS (applied/commit)", "KEYS", "PLACEMENT"},
		{"0", "node-0,node-1", "node-0", "4", "node-0", "node-1 (100/120)", "10", "moving"},
		{"1", "node-1,node-2", "node-2?", "-", "-", "-", "4", "no leader"},
		{"0 of 2 shards in place"},
	}
	for _, want := range wantLines {
		found := false
		for _, line := range lines {
			if fieldsInOrder(line, want) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no line with %q in:\n%s", want, out)
		}
	}

	out, _, err = runCLI(t, "", "status", "--json", "--url", fake.URL)
	if err != nil || !strings.Contains(out, `"reachable": false`) || !strings.Contains(out, `"mapVersion": 3`) {
		t.Errorf("status --json: %v\n%s", err, out)
	}

	fake.SetCluster(nil)
	if out, _, err := runCLI(t, "", "status", "--url", fake.URL); err != nil || !strings.Contains(out, "no shard map") {
		t.Errorf("status without a map: %q, %v", out, err)
	}
}

// fieldsInOrder reports whether line holds every string of want, left to right.
func fieldsInOrder(line string, want []string) bool {
	for _, w := range want {
		i := strings.Index(line, w)
		if i < 0 {
			return false
		}
		line = line[i+len(w):]
	}
	return true
}
