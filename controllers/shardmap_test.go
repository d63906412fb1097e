package controllers

import (
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/torua/torua/shardmap"
)

// shardMapCM is a shard map ConfigMap holding doc (no key when doc is nil), with the hash
// annotation of mark (none when mark is nil).
func shardMapCM(doc, mark *string) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "demo-shardmap", Namespace: "ns"}}
	if doc != nil {
		cm.Data = map[string]string{shardmap.ConfigMapKey: *doc}
	}
	if mark != nil {
		cm.Annotations = map[string]string{shardMapHashAnnotation: documentHash(*mark)}
	}
	return cm
}

func encoded(t *testing.T, m *shardmap.Map) string {
	t.Helper()
	data, err := shardmap.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestReadShardMapConfigMap: only a document whose hash the operator recorded is its own;
// a document that parses keeps its version (a published map must be newer), valid or not.
func TestReadShardMapConfigMap(t *testing.T) {
	g := NewWithT(t)
	m := mustPlace(t, nil, []shardmap.Node{
		nodeFor("demo-node-0", "10.0.0.1", shardmap.NodeActive),
		nodeFor("demo-node-1", "10.0.0.2", shardmap.NodeActive),
		nodeFor("demo-node-2", "10.0.0.3", shardmap.NodeActive),
	})
	doc := encoded(t, m)
	empty := ""
	garbage := `{"cluster":"demo","version":`
	wrongType := `{"cluster":"demo","version":42,"shards":"many"}`
	edited := `{"cluster":"demo","version":9}`

	v := readShardMapConfigMap(shardMapCM(&doc, &doc), "demo", 16)
	g.Expect(v.ours).To(BeTrue())
	g.Expect(v.m).To(Equal(m))
	g.Expect(v.trusted(1)).To(BeTrue())
	g.Expect(v.trusted(2)).To(BeFalse(), "older than a version the operator published")
	g.Expect(v.problem(2)).To(ContainSubstring("older than version 2"))

	v = readShardMapConfigMap(shardMapCM(&doc, nil), "demo", 16)
	g.Expect(v.ours).To(BeFalse())
	g.Expect(v.m).To(Equal(m), "a valid map, whoever wrote it")
	g.Expect(v.trusted(0)).To(BeFalse())
	g.Expect(v.problem(0)).To(ContainSubstring("did not write"))

	v = readShardMapConfigMap(shardMapCM(&edited, &doc), "demo", 16)
	g.Expect(v.ours).To(BeFalse(), "edited after the operator wrote it")
	g.Expect(v.m).To(BeNil())
	g.Expect(v.version).To(Equal(uint64(9)))
	g.Expect(v.problem(1)).To(ContainSubstring("not a shard map"))

	v = readShardMapConfigMap(shardMapCM(&garbage, &garbage), "demo", 16)
	g.Expect(v.m).To(BeNil())
	g.Expect(v.version).To(BeZero(), "does not parse: no version")
	g.Expect(v.trusted(0)).To(BeFalse(), "marked, but not a map")

	v = readShardMapConfigMap(shardMapCM(&wrongType, nil), "demo", 16)
	g.Expect(v.m).To(BeNil())
	g.Expect(v.version).To(Equal(uint64(42)), "not a map, but its version is readable: a published map must be newer")

	v = readShardMapConfigMap(shardMapCM(&doc, &doc), "other", 16)
	g.Expect(v.m).To(BeNil())
	g.Expect(v.problem(0)).To(ContainSubstring(`not "other" with 16`))

	v = readShardMapConfigMap(shardMapCM(nil, &empty), "demo", 16)
	g.Expect(v.trusted(0)).To(BeTrue(), "the operator's empty ConfigMap before the first map")
	g.Expect(v.trusted(3)).To(BeFalse(), "a map was published: its key was removed")
	g.Expect(v.problem(3)).To(ContainSubstring("holds no key"))

	v = readShardMapConfigMap(nil, "demo", 16)
	g.Expect(v.trusted(0)).To(BeFalse())
	g.Expect(v.problem(0)).To(Equal("was deleted"))
}

// TestLastGoodShardMap: the newest map a node holds (or the operator remembers) is the last
// good one; a valid ConfigMap map only without them; never a lower version than any seen.
func TestLastGoodShardMap(t *testing.T) {
	nodes := []shardmap.Node{
		nodeFor("demo-node-0", "10.0.0.1", shardmap.NodeActive),
		nodeFor("demo-node-1", "10.0.0.2", shardmap.NodeActive),
		nodeFor("demo-node-2", "10.0.0.3", shardmap.NodeActive),
	}
	v1 := mustPlace(t, nil, nodes)
	nodes[2].API = "10.0.0.9:7070"
	v2 := mustPlace(t, v1, nodes)
	other := *v2
	other.Cluster = "other"
	edited := withVersion(v1, 50) // a valid map someone wrote with a high version
	view := func(m *shardmap.Map, version uint64) configMapView {
		return configMapView{exists: true, hasKey: true, m: m, version: version}
	}
	tests := []struct {
		name     string
		in       lastGoodInput
		decision mapDecision
		prev     *shardmap.Map
		floor    uint64
		from     string
	}{
		{name: "garbage: the nodes' newest map, above the garbage's version",
			in:       lastGoodInput{cm: view(nil, 7), nodes: map[string]*shardmap.Map{"demo-node-0": v2, "demo-node-1": v1}},
			decision: mapRestore, prev: v2, floor: 7, from: "nodes [demo-node-0]"},
		{name: "an older map in the ConfigMap: the nodes' newer one",
			in:       lastGoodInput{cm: view(v1, 1), nodes: map[string]*shardmap.Map{"demo-node-0": v2, "demo-node-1": v2}, statusVersion: 2},
			decision: mapRestore, prev: v2, floor: 2, from: "nodes [demo-node-0 demo-node-1]"},
		{name: "a valid edited map the nodes took: build on it",
			in:       lastGoodInput{cm: view(edited, 50), nodes: map[string]*shardmap.Map{"demo-node-0": edited}, statusVersion: 2},
			decision: mapAdopt, prev: edited, floor: 50},
		{name: "a valid edited map the nodes refused: theirs, above the edit",
			in:       lastGoodInput{cm: view(edited, 50), nodes: map[string]*shardmap.Map{"demo-node-0": v2}, statusVersion: 2},
			decision: mapRestore, prev: v2, floor: 50},
		{name: "the operator's own map, unmarked (an upgrade): adopted as it is",
			in:       lastGoodInput{cm: view(v2, 2), nodes: map[string]*shardmap.Map{"demo-node-0": v2}, statusVersion: 2},
			decision: mapAdopt, prev: v2, floor: 2},
		{name: "deleted, every node down: the remembered map",
			in:       lastGoodInput{remembered: v2, statusVersion: 2},
			decision: mapRestore, prev: v2, floor: 2, from: "the operator's last published map"},
		{name: "a node ahead of the remembered map wins",
			in:       lastGoodInput{remembered: v1, nodes: map[string]*shardmap.Map{"demo-node-2": v2}},
			decision: mapRestore, prev: v2, floor: 2, from: "nodes [demo-node-2]"},
		{name: "nobody else knows: a valid map in the ConfigMap",
			in:       lastGoodInput{cm: view(edited, 50), statusVersion: 2},
			decision: mapRestore, prev: edited, floor: 50, from: "the ConfigMap"},
		{name: "maps of another cluster do not count",
			in:       lastGoodInput{cm: view(nil, 0), nodes: map[string]*shardmap.Map{"demo-node-0": &other}, statusVersion: 2},
			decision: mapLost, floor: 2},
		{name: "a map was published, nobody holds one: lost",
			in:       lastGoodInput{cm: view(nil, 3), statusVersion: 2},
			decision: mapLost, floor: 3},
		{name: "never published, nobody holds one: bootstrap above the garbage",
			in:       lastGoodInput{cm: view(nil, 3)},
			decision: mapBootstrap, floor: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			tt.in.cluster, tt.in.shards = "demo", 16
			res := lastGoodShardMap(tt.in)
			g.Expect(res.decision).To(Equal(tt.decision))
			g.Expect(res.prev).To(Equal(tt.prev))
			g.Expect(res.floor).To(Equal(tt.floor))
			if tt.from != "" {
				g.Expect(res.from).To(Equal(tt.from))
			}
		})
	}

	g := NewWithT(t)
	v, err := nextVersion(3, 7)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(v).To(Equal(uint64(8)))
	v, _ = nextVersion(9, 7)
	g.Expect(v).To(Equal(uint64(9)))
	_, err = nextVersion(1, ^uint64(0))
	g.Expect(err).To(HaveOccurred())
	g.Expect(withVersion(v2, 9).Version).To(Equal(uint64(9)))
	g.Expect(v2.Version).To(Equal(uint64(2)), "maps are never modified")
}
