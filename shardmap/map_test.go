package shardmap

import (
	"encoding/json"
	"strings"
	"testing"
)

// testMap returns a valid map with n nodes, s shards and replication factor rf, placed by Place.
func testMap(t testing.TB, n, s, rf int) *Map {
	t.Helper()
	m, err := Place(nil, testNodes(n), PlaceConfig{Cluster: "test", Shards: s, ReplicationFactor: rf})
	if err != nil {
		t.Fatalf("Place: %v", err)
	}
	return m
}

func testNodes(n int) []Node {
	nodes := make([]Node, n)
	for i := range nodes {
		nodes[i] = Node{ID: nodeID(i), API: "127.0.0.1:" + itoa(7000+i), Raft: "127.0.0.1:" + itoa(8000+i), State: NodeActive}
	}
	return nodes
}

func nodeID(i int) string { return "node-" + itoa(i) }

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestShardOfIsStableXXHash64(t *testing.T) {
	// Golden values pin the hash: changing it would move every key of every cluster.
	for _, tc := range []struct {
		key    string
		shards int
		want   int
	}{
		{"", 16, int(0xef46db3751d8e999 % 16)},
		{"a", 16, int(0xd24ec4f1a98c6e5b % 16)},
		{"a", 4096, int(0xd24ec4f1a98c6e5b % 4096)},
		{"a", 1, 0},
	} {
		if got := ShardOf([]byte(tc.key), tc.shards); got != tc.want {
			t.Errorf("ShardOf(%q, %d) = %d, want %d", tc.key, tc.shards, got, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(m *Map)
		want   string // substring of the error; "" means valid
	}{
		{"valid", func(*Map) {}, ""},
		{"zero version", func(m *Map) { m.Version = 0 }, "version must be greater than 0"},
		{"unknown hash", func(m *Map) { m.Hash = "md5" }, `hash "md5" is not supported`},
		{"no shards", func(m *Map) { m.Shards = 0; m.Assignments = nil }, "shards must be in 1..4096"},
		{"too many shards", func(m *Map) { m.Shards = 4097 }, "shards must be in 1..4096"},
		{"zero rf", func(m *Map) { m.ReplicationFactor = 0 }, "replicationFactor must be at least 1"},
		{"empty node id", func(m *Map) { m.Nodes[1].ID = "" }, "nodes[1]: empty id"},
		{"duplicate node id", func(m *Map) { m.Nodes[1].ID = m.Nodes[0].ID }, `duplicate id "node-0"`},
		{"api without port", func(m *Map) { m.Nodes[0].API = "127.0.0.1" }, "api address"},
		{"api port out of range", func(m *Map) { m.Nodes[0].API = "127.0.0.1:70000" }, "port must be 1..65535"},
		{"api without host", func(m *Map) { m.Nodes[0].API = ":7070" }, "has no host"},
		{"bad raft address", func(m *Map) { m.Nodes[2].Raft = "x" }, "raft address"},
		{"bad state", func(m *Map) { m.Nodes[0].State = "gone" }, `state "gone"`},
		{"missing shard", func(m *Map) { m.Assignments = m.Assignments[:3] }, "3 assignments for 4 shards"},
		{"shard out of order", func(m *Map) { m.Assignments[1].Shard, m.Assignments[2].Shard = 2, 1 }, "assignments[1] is for shard 2"},
		{"too few replicas", func(m *Map) { m.Assignments[0].Replicas = m.Assignments[0].Replicas[:1] }, "shard 0 has 1 replicas, want 2"},
		{"unknown replica", func(m *Map) { m.Assignments[3].Replicas[0] = "ghost" }, `replica "ghost" is not a node`},
		{"two replicas on one node", func(m *Map) {
			m.Assignments[2].Replicas[1] = m.Assignments[2].Replicas[0]
		}, "holds two replicas"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := testMap(t, 3, 4, 2)
			tc.mutate(m)
			err := m.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("Validate accepted a map with %s", tc.name)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("Validate error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestCodecRoundTrip(t *testing.T) {
	m := testMap(t, 5, 16, 3)
	data, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(data)
	if err != nil {
		t.Fatalf("Decode(Encode(m)): %v", err)
	}
	if !SameContent(m, got) || got.Version != m.Version {
		t.Fatalf("round trip changed the map:\n%s", data)
	}
}

func TestDecodeRefuses(t *testing.T) {
	valid, _ := Encode(testMap(t, 3, 4, 2))
	for _, tc := range []struct{ name, doc, want string }{
		{"empty", "", "decode shard map"},
		{"not json", "shards: 4", "decode shard map"},
		{"truncated", string(valid[:len(valid)/2]), "decode shard map"},
		{"trailing garbage", string(valid) + "{}", "trailing data"},
		{"wrong type", `{"version":"7"}`, "decode shard map"},
		{"invalid content", `{"version":1,"shards":1,"replicationFactor":1,"hash":"xxhash64"}`, "invalid shard map"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode error = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestDecodeIgnoresUnknownFields(t *testing.T) {
	doc := `{"cluster":"demo","version":7,"shards":1,"replicationFactor":1,"hash":"xxhash64","zone":"later",
	"nodes":[{"id":"n0","api":"10.0.0.5:7070","raft":"10.0.0.5:7071","state":"active","labels":{}}],
	"assignments":[{"shard":0,"replicas":["n0"]}]}`
	m, err := Decode([]byte(doc))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if m.Version != 7 || m.Replicas(0)[0] != "n0" {
		t.Fatalf("decoded %+v", m)
	}
}

// FuzzDecode checks that Decode never panics and that whatever it accepts is valid and
// survives an encode/decode round trip unchanged. The seed corpus runs in every `go test`.
func FuzzDecode(f *testing.F) {
	// Small seeds: the fuzzer minimizes every new interesting input, in time quadratic in its size.
	for _, m := range []*Map{testMap(f, 1, 1, 1), testMap(f, 2, 3, 2), testMap(f, 3, 4, 1)} {
		data, _ := Encode(m)
		f.Add(data)
	}
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"cluster":"x","version":1,"shards":1,"replicationFactor":1,"hash":"xxhash64","nodes":[{"id":"a","api":"[::1]:1","state":"active"}],"assignments":[{"shard":0,"replicas":["a"]}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("Decode accepted an invalid map: %v", err)
		}
		again, err := Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := Decode(again)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !SameContent(m, m2) || m.Version != m2.Version {
			t.Fatal("round trip changed the map")
		}
	})
}
