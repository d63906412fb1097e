package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
	"github.com/torua/torua/shardmap"
)

func testCluster() *toruav1alpha1.ToruaCluster {
	return &toruav1alpha1.ToruaCluster{ObjectMeta: metav1.ObjectMeta{Name: "demo", Namespace: "ns"}}
}

func names(n int) []string {
	tc := testCluster()
	out := make([]string, n)
	for i := range out {
		out[i] = podName(tc, i)
	}
	return out
}

func mustPlace(t *testing.T, prev *shardmap.Map, members []shardmap.Node) *shardmap.Map {
	t.Helper()
	m, err := shardmap.Place(prev, members, shardmap.PlaceConfig{Cluster: "demo", Shards: 16, ReplicationFactor: 3})
	if err != nil {
		t.Fatalf("place: %v", err)
	}
	return m
}

func TestMembership(t *testing.T) {
	three := mustPlace(t, nil, []shardmap.Node{
		nodeFor("demo-node-0", "10.0.0.1", shardmap.NodeActive),
		nodeFor("demo-node-1", "10.0.0.2", shardmap.NodeActive),
		nodeFor("demo-node-2", "10.0.0.3", shardmap.NodeActive),
	})
	// A map where demo-node-3 was drained (it holds nothing) and demo-node-4 still holds replicas.
	drained := &shardmap.Map{Cluster: "demo", Version: 9, Shards: 1, ReplicationFactor: 1, Hash: shardmap.HashXXHash64,
		Nodes: []shardmap.Node{
			nodeFor("demo-node-0", "10.0.0.1", shardmap.NodeActive),
			nodeFor("demo-node-3", "10.0.0.4", shardmap.NodeDraining),
			nodeFor("demo-node-4", "10.0.0.5", shardmap.NodeDraining),
		},
		Assignments: []shardmap.Assignment{{Shard: 0, Replicas: []string{"demo-node-4"}}},
	}
	eps := func(ready ...bool) map[string]endpoint {
		out := map[string]endpoint{}
		for i, r := range ready {
			out[podName(testCluster(), i)] = endpoint{IP: "10.0.0." + string(rune('1'+i)), Ready: r}
		}
		return out
	}
	var members []shardmap.Node
	for i := range 5 {
		members = append(members, nodeFor(podName(testCluster(), i), "10.0.0."+string(rune('1'+i)), shardmap.NodeActive))
	}
	five := mustPlace(t, nil, members)
	members[4].State = shardmap.NodeDraining
	fiveDown4 := mustPlace(t, five, members)
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	// downInput: five nodes, RF 3, every node that is not ready (or has no address) has been
	// so for the given time; the timeout is 30m.
	downInput := func(prev *shardmap.Map, endpoints map[string]endpoint, downFor time.Duration) membershipInput {
		since := map[string]time.Time{}
		for _, id := range names(5) {
			if !endpoints[id].Ready {
				since[id] = now.Add(-downFor)
			}
		}
		return membershipInput{prev: prev, endpoints: endpoints, podNames: names(5), keep: 5, replicationFactor: 3,
			drained: true, notReadySince: since, now: now, nodeDownTimeout: 30 * time.Minute}
	}

	tests := []struct {
		name      string
		in        membershipInput
		wantIDs   []string
		wantState map[string]shardmap.NodeState
		joining   []string
		pruned    []string
		down      []string
		stuck     []string
		check     func(g *WithT, res membershipResult)
	}{
		{
			name:    "first map takes every addressed pod, ready or not",
			in:      membershipInput{endpoints: eps(false, false, true), podNames: names(3), keep: 3, replicationFactor: 3},
			wantIDs: []string{"demo-node-0", "demo-node-1", "demo-node-2"},
		},
		{
			name:    "first map waits for replicationFactor addressed pods",
			in:      membershipInput{endpoints: eps(true, true), podNames: names(3), keep: 3, replicationFactor: 3},
			wantIDs: nil,
			joining: []string{"demo-node-0", "demo-node-1"},
		},
		{
			name:    "an unready member keeps its place",
			in:      membershipInput{prev: three, endpoints: eps(true, true, false), podNames: names(3), keep: 3, replicationFactor: 3},
			wantIDs: []string{"demo-node-0", "demo-node-1", "demo-node-2"},
		},
		{
			name:    "a member without an address keeps its last one",
			in:      membershipInput{prev: three, endpoints: eps(true, true), podNames: names(3), keep: 3, replicationFactor: 3},
			wantIDs: []string{"demo-node-0", "demo-node-1", "demo-node-2"},
			check: func(g *WithT, res membershipResult) {
				g.Expect(res.members[2].API).To(Equal("10.0.0.3:7070"))
			},
		},
		{
			name: "a new IP is followed",
			in: membershipInput{prev: three, podNames: names(3), keep: 3, replicationFactor: 3, endpoints: map[string]endpoint{
				"demo-node-0": {IP: "10.0.0.1", Ready: true}, "demo-node-1": {IP: "10.0.0.2", Ready: true}, "demo-node-2": {IP: "10.9.9.9", Ready: true},
			}},
			wantIDs: []string{"demo-node-0", "demo-node-1", "demo-node-2"},
			check: func(g *WithT, res membershipResult) {
				g.Expect(res.members[2].API).To(Equal("10.9.9.9:7070"))
				g.Expect(res.members[2].Raft).To(Equal("10.9.9.9:7071"))
			},
		},
		{
			name:    "a new pod joins only once ready",
			in:      membershipInput{prev: three, endpoints: eps(true, true, true, false, true), podNames: names(5), keep: 5, replicationFactor: 3},
			wantIDs: []string{"demo-node-0", "demo-node-1", "demo-node-2", "demo-node-4"},
			joining: []string{"demo-node-3"},
		},
		{
			name:      "ordinals at or above spec.replicas drain",
			in:        membershipInput{prev: three, endpoints: eps(true, true, true), podNames: names(3), keep: 2, replicationFactor: 1},
			wantIDs:   []string{"demo-node-0", "demo-node-1", "demo-node-2"},
			wantState: map[string]shardmap.NodeState{"demo-node-1": shardmap.NodeActive, "demo-node-2": shardmap.NodeDraining},
		},
		{
			name:      "departed nodes are pruned only once they hold nothing",
			in:        membershipInput{prev: drained, endpoints: eps(true), podNames: names(1), keep: 1, replicationFactor: 1, drained: true},
			wantIDs:   []string{"demo-node-0", "demo-node-4"},
			wantState: map[string]shardmap.NodeState{"demo-node-4": shardmap.NodeDraining},
			pruned:    []string{"demo-node-3"},
		},
		{
			name:      "a StatefulSet shrunk before the drain is done prunes nobody",
			in:        membershipInput{prev: drained, endpoints: eps(true), podNames: names(1), keep: 1, replicationFactor: 1},
			wantIDs:   []string{"demo-node-0", "demo-node-3", "demo-node-4"},
			wantState: map[string]shardmap.NodeState{"demo-node-3": shardmap.NodeDraining, "demo-node-4": shardmap.NodeDraining},
		},
		{
			name:      "a node down for longer than the timeout drains when enough others are ready",
			in:        downInput(five, eps(true, true, true, true, false), 31*time.Minute),
			wantIDs:   names(5),
			wantState: map[string]shardmap.NodeState{"demo-node-4": shardmap.NodeDraining, "demo-node-3": shardmap.NodeActive},
			down:      []string{"demo-node-4"},
		},
		{
			name:    "a node without an address is down too",
			in:      downInput(five, eps(true, true, true, true), 31*time.Minute),
			wantIDs: names(5),
			down:    []string{"demo-node-4"},
		},
		{
			name:      "a node down for less than the timeout keeps its replicas",
			in:        downInput(five, eps(true, true, true, true, false), 29*time.Minute),
			wantIDs:   names(5),
			wantState: map[string]shardmap.NodeState{"demo-node-4": shardmap.NodeActive},
		},
		{
			name:      "down nodes stay when fewer than replicationFactor others are ready",
			in:        downInput(five, eps(true, true, false, false, false), 31*time.Minute),
			wantIDs:   names(5),
			wantState: map[string]shardmap.NodeState{"demo-node-2": shardmap.NodeActive, "demo-node-3": shardmap.NodeActive, "demo-node-4": shardmap.NodeActive},
			stuck:     []string{"demo-node-2", "demo-node-3", "demo-node-4"},
		},
		{
			name:      "two down nodes drain together when three others are ready",
			in:        downInput(five, eps(true, true, true, false, false), 31*time.Minute),
			wantIDs:   names(5),
			wantState: map[string]shardmap.NodeState{"demo-node-3": shardmap.NodeDraining, "demo-node-4": shardmap.NodeDraining},
			down:      []string{"demo-node-3", "demo-node-4"},
		},
		{
			name:      "a node drained while down stays draining while down, without needing spare nodes",
			in:        downInput(fiveDown4, eps(true, true, false, false, false), 31*time.Minute),
			wantIDs:   names(5),
			wantState: map[string]shardmap.NodeState{"demo-node-4": shardmap.NodeDraining, "demo-node-2": shardmap.NodeActive},
			down:      []string{"demo-node-4"},
			stuck:     []string{"demo-node-2", "demo-node-3"},
		},
		{
			name:      "a node drained while down is active again once ready",
			in:        downInput(fiveDown4, eps(true, true, true, true, true), 31*time.Minute),
			wantIDs:   names(5),
			wantState: map[string]shardmap.NodeState{"demo-node-4": shardmap.NodeActive},
		},
		{
			name: "a node being scaled away is draining, not down",
			in: func() membershipInput {
				in := downInput(five, eps(true, true, true, true, false), 31*time.Minute)
				in.keep = 4
				return in
			}(),
			wantIDs:   names(5),
			wantState: map[string]shardmap.NodeState{"demo-node-4": shardmap.NodeDraining},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			res := membership(tt.in)
			var ids []string
			for _, m := range res.members {
				ids = append(ids, m.ID)
				if want, ok := tt.wantState[m.ID]; ok {
					g.Expect(m.State).To(Equal(want), m.ID)
				}
			}
			g.Expect(ids).To(Equal(tt.wantIDs))
			g.Expect(res.joining).To(ConsistOf(tt.joining))
			g.Expect(res.pruned).To(ConsistOf(tt.pruned))
			g.Expect(res.down).To(ConsistOf(tt.down))
			g.Expect(res.stuck).To(ConsistOf(tt.stuck))
			if tt.check != nil {
				tt.check(g, res)
			}
		})
	}
}

func TestPodOrdinal(t *testing.T) {
	g := NewWithT(t)
	tc := testCluster()
	for name, want := range map[string]int{"demo-node-0": 0, "demo-node-12": 12} {
		n, ok := podOrdinal(tc, name)
		g.Expect(ok).To(BeTrue())
		g.Expect(n).To(Equal(want))
	}
	for _, name := range []string{"demo-node-", "demo-node-01", "demo-node-x", "other-node-1", "demo-node--1"} {
		_, ok := podOrdinal(tc, name)
		g.Expect(ok).To(BeFalse(), name)
	}
}

func TestDesiredHashIgnoresNothingItOwns(t *testing.T) {
	g := NewWithT(t)
	tc := testCluster()
	tc.Spec.Replicas, tc.Spec.Image = 3, "a"
	h1 := podTemplateHash(tc)
	g.Expect(podTemplateHash(tc)).To(Equal(h1), "deterministic")
	tc.Spec.Image = "b"
	g.Expect(podTemplateHash(tc)).NotTo(Equal(h1))
	tc.Spec.Image = "a"
	tc.Spec.Replicas = 5
	g.Expect(podTemplateHash(tc)).To(Equal(h1), "size is not part of the pod template")
}

// TestNodeBlockCacheFollowsTheMemoryLimit: a node container with a memory limit gets a
// quarter of it as its block cache; without one, the node's own default (no flag).
func TestNodeBlockCacheFollowsTheMemoryLimit(t *testing.T) {
	g := NewWithT(t)
	tc := testCluster()
	g.Expect(nodePodTemplate(tc).Spec.Containers[0].Args).NotTo(ContainElement(HavePrefix("--block-cache")))
	tc.Spec.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")}
	g.Expect(nodePodTemplate(tc).Spec.Containers[0].Args).To(ContainElement("--block-cache=512Mi"))
	tc.Spec.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1G")}
	g.Expect(nodePodTemplate(tc).Spec.Containers[0].Args).To(ContainElement("--block-cache=250M"))
}

// TestPodTemplateHashKeepsItsForm: the pod template hash is the one earlier operators wrote
// (the JSON of [null, null, StatefulSetSpec{Template}]); another form would roll every
// cluster's pods on an operator upgrade.
func TestPodTemplateHashKeepsItsForm(t *testing.T) {
	g := NewWithT(t)
	tc := testCluster()
	tc.Spec.Image = "torua:test"
	data, err := json.Marshal([]any{map[string]string(nil), map[string]string(nil), appsv1.StatefulSetSpec{Template: nodePodTemplate(tc)}})
	g.Expect(err).NotTo(HaveOccurred())
	sum := sha256.Sum256(data)
	g.Expect(podTemplateHash(tc)).To(Equal(hex.EncodeToString(sum[:8])))
}

// TestNotReadySince: a spell without a ready endpoint keeps its start, a new one starts now
// (whole seconds), a ready node has none.
func TestNotReadySince(t *testing.T) {
	g := NewWithT(t)
	now := time.Date(2026, 11, 1, 12, 0, 0, 700_000_000, time.UTC)
	earlier := now.Add(-time.Hour).Truncate(time.Second)
	prev := map[string]time.Time{"a": earlier, "b": earlier}
	eps := map[string]endpoint{"a": {IP: "10.0.0.1"}, "b": {IP: "10.0.0.2", Ready: true}, "c": {IP: "10.0.0.3"}}
	got := notReadySince(prev, eps, []string{"a", "b", "c", "d"}, now)
	g.Expect(got).To(Equal(map[string]time.Time{"a": earlier, "c": now.Truncate(time.Second), "d": now.Truncate(time.Second)}))
}

// TestNextDownCheck: the reconcile looks again when the first not-ready node of the map
// reaches the timeout; nodes already past it or not in the map do not count.
func TestNextDownCheck(t *testing.T) {
	g := NewWithT(t)
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	m := &shardmap.Map{Nodes: []shardmap.Node{{ID: "a"}, {ID: "b"}, {ID: "c"}}}
	since := map[string]time.Time{"a": now.Add(-10 * time.Minute), "b": now.Add(-40 * time.Minute), "x": now}
	g.Expect(nextDownCheck(m, since, now, 30*time.Minute)).To(Equal(20 * time.Minute))
	g.Expect(nextDownCheck(m, map[string]time.Time{}, now, 30*time.Minute)).To(BeZero())
	g.Expect(nextDownCheck(nil, since, now, 30*time.Minute)).To(BeZero())
}

// TestNodeCount: spec.replicas, held while nodes being scaled away are not drained, never
// shrunk while the map is unknown; a StatefulSet someone else resized is put back.
func TestNodeCount(t *testing.T) {
	tests := []struct {
		name           string
		want, current  int32
		highest        int
		drained, known bool
		size           int32
	}{
		{name: "steady", want: 3, current: 3, highest: -1, drained: true, known: true, size: 3},
		{name: "scale up", want: 5, current: 3, highest: -1, drained: true, known: true, size: 5},
		{name: "scaled down by someone else", want: 5, current: 1, highest: -1, drained: true, known: true, size: 5},
		{name: "draining holds the size", want: 3, current: 5, highest: 4, drained: false, known: true, size: 5},
		{name: "draining, scaled down by someone else: grows back", want: 3, current: 3, highest: 4, drained: false, known: true, size: 5},
		{name: "drain done", want: 3, current: 5, highest: 4, drained: true, known: true, size: 3},
		{name: "nodes leaving never joined", want: 3, current: 5, highest: -1, drained: true, known: true, size: 3},
		{name: "map unknown: never shrinks", want: 3, current: 5, highest: -1, drained: true, known: false, size: 5},
		{name: "map unknown: still grows", want: 5, current: 3, highest: -1, drained: true, known: false, size: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			NewWithT(t).Expect(nodeCount(tt.want, tt.current, tt.highest, tt.drained, tt.known)).To(Equal(tt.size))
		})
	}
}

// TestClaimsToDelete: a claim goes only when its ordinal is scaled away (at or above both
// the StatefulSet's size and spec.replicas), its node is out of the map and its pod is gone.
func TestClaimsToDelete(t *testing.T) {
	tc := testCluster()
	three := mustPlace(t, nil, []shardmap.Node{
		nodeFor("demo-node-0", "10.0.0.1", shardmap.NodeActive),
		nodeFor("demo-node-1", "10.0.0.2", shardmap.NodeActive),
		nodeFor("demo-node-2", "10.0.0.3", shardmap.NodeActive),
	})
	withFour := mustPlace(t, three, []shardmap.Node{
		nodeFor("demo-node-0", "10.0.0.1", shardmap.NodeActive),
		nodeFor("demo-node-1", "10.0.0.2", shardmap.NodeActive),
		nodeFor("demo-node-2", "10.0.0.3", shardmap.NodeActive),
		nodeFor("demo-node-4", "10.0.0.5", shardmap.NodeDraining),
	})
	claims := func(ords ...int) []volumeClaim {
		var out []volumeClaim
		for _, o := range ords {
			out = append(out, volumeClaim{name: "data-" + podName(tc, o), ordinal: o})
		}
		return out
	}
	tests := []struct {
		name      string
		in        volumesInput
		del, wait []string
	}{
		{name: "drained, pruned and gone", in: volumesInput{claims: claims(0, 1, 2, 3, 4), size: 3, want: 3, current: three},
			del: []string{"data-demo-node-3", "data-demo-node-4"}},
		{name: "a pod still terminating", in: volumesInput{claims: claims(0, 1, 2, 3), size: 3, want: 3, current: three, pods: map[int]bool{3: true}},
			wait: []string{"data-demo-node-3"}},
		{name: "still in the map", in: volumesInput{claims: claims(3, 4), size: 3, want: 3, current: withFour},
			del: []string{"data-demo-node-3"}},
		{name: "StatefulSet scaled down by someone else", in: volumesInput{claims: claims(0, 1, 2, 3, 4), size: 1, want: 5, current: three}},
		{name: "StatefulSet larger than spec (draining)", in: volumesInput{claims: claims(3, 4), size: 5, want: 3, current: three}},
		{name: "no map known", in: volumesInput{claims: claims(3), size: 3, want: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			tt.in.nodeID = func(i int) string { return podName(tc, i) }
			del, wait := claimsToDelete(tt.in)
			g.Expect(del).To(Equal(tt.del))
			g.Expect(wait).To(Equal(tt.wait))
		})
	}
	g := NewWithT(t)
	ord, ok := claimOrdinal(tc, "data-demo-node-7")
	g.Expect(ok).To(BeTrue())
	g.Expect(ord).To(Equal(7))
	for _, name := range []string{"demo-node-7", "data-other-node-1", "data-demo-node-x", "logs-demo-node-1"} {
		_, ok := claimOrdinal(tc, name)
		g.Expect(ok).To(BeFalse(), name)
	}
}
