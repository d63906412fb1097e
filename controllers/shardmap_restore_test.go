//go:build envtest

package controllers

import (
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
	"github.com/torua/torua/shardmap"
)

var _ = Describe("Shard map restore", func() {
	var (
		ns     string
		prefix string
	)
	BeforeEach(func() {
		ns, prefix = newNamespace()
	})

	encode := func(m *shardmap.Map) string {
		data, err := shardmap.Encode(m)
		Expect(err).NotTo(HaveOccurred())
		return string(data)
	}

	// upWithTwoVersions brings up three nodes, then moves one pod to a new IP so that the
	// map is at version 2, which every node holds.
	upWithTwoVersions := func() (map[string]*fakeNode, *shardmap.Map, *shardmap.Map) {
		nodes, m1 := bringUp(ns, newCluster(ns, "demo", 3), prefix)
		pods := readyPods(prefix, 3)
		pods[2].ip = prefix + ".99"
		nodes["demo-node-2"] = startFakeNodes(ns, "demo", pods[2:])["demo-node-2"]
		writeEndpoints(ns, "demo", pods)
		var m2 *shardmap.Map
		Eventually(func(g Gomega) {
			m2 = publishedMap(g, ns, "demo")
			g.Expect(m2.Version).To(Equal(uint64(2)))
		}, timeout, interval).Should(Succeed())
		for id, n := range nodes {
			Eventually(n.heldVersion, timeout, interval).Should(Equal(uint64(2)), "%s holds version 2", id)
		}
		return nodes, m1, m2
	}

	// expectRestored waits for a published map above version floor with m's placement, that
	// the nodes take, and for the event.
	expectRestored := func(nodes map[string]*fakeNode, m *shardmap.Map, floor uint64) *shardmap.Map {
		var got *shardmap.Map
		Eventually(func(g Gomega) {
			got = publishedMap(g, ns, "demo")
			g.Expect(got.Version).To(BeNumerically(">", floor))
			g.Expect(got.Nodes).To(Equal(m.Nodes))
			g.Expect(got.Assignments).To(Equal(m.Assignments), "no replica moves")
		}, timeout, interval).Should(Succeed())
		for id, n := range nodes {
			Eventually(n.heldVersion, timeout, interval).Should(Equal(got.Version), "%s takes the restored map", id)
		}
		Eventually(func(g Gomega) []string { return eventsOf(g, ns, "demo", toruav1alpha1.ReasonShardMapRestored) }, timeout, interval).
			ShouldNot(BeEmpty())
		Eventually(func(g Gomega) {
			tc := getCluster(g, ns, "demo")
			g.Expect(condition(tc, toruav1alpha1.ConditionDegraded).Status).NotTo(Equal(metav1.ConditionTrue), condition(tc, toruav1alpha1.ConditionDegraded).Message)
			g.Expect(tc.Status.ShardMapVersion).To(Equal(int64(got.Version)))
		}, timeout, interval).Should(Succeed())
		return got
	}

	It("replaces garbage with the map the nodes hold, above the garbage's version", func() {
		startOperator(ns)
		nodes, _, m2 := upWithTwoVersions()
		setShardMapDocument(ns, "demo", ptr.To(`{"cluster":"demo","version":7,"shards":"sixteen"}`))
		got := expectRestored(nodes, m2, 7)
		Expect(got.Version).To(Equal(uint64(8)))
		Expect(eventsOf(Default, ns, "demo", toruav1alpha1.ReasonShardMapRestored)).To(ContainElement(And(
			ContainSubstring("not a shard map"), ContainSubstring("version 2"), ContainSubstring("as version 8"))))
	})

	It("replaces an older map with the newer one the nodes hold", func() {
		startOperator(ns)
		nodes, m1, m2 := upWithTwoVersions()
		setShardMapDocument(ns, "demo", ptr.To(encode(m1)))
		Expect(expectRestored(nodes, m2, 2).Version).To(Equal(uint64(3)))
	})

	It("replaces a map with the version in use but another placement, which the nodes refuse", func() {
		startOperator(ns)
		nodes, _, m2 := upWithTwoVersions()
		forged := *m2
		forged.Assignments = append([]shardmap.Assignment(nil), m2.Assignments...)
		forged.Assignments[0] = shardmap.Assignment{Shard: 0, Replicas: []string{"demo-node-2", "demo-node-1", "demo-node-0"}}
		Expect(forged.Validate()).To(Succeed())
		setShardMapDocument(ns, "demo", ptr.To(encode(&forged)))
		Expect(expectRestored(nodes, m2, 2).Version).To(Equal(uint64(3)))
	})

	It("puts back a removed key and a deleted ConfigMap", func() {
		startOperator(ns)
		nodes, _, m2 := upWithTwoVersions()
		setShardMapDocument(ns, "demo", nil)
		m3 := expectRestored(nodes, m2, 2)

		By("deleting the ConfigMap")
		Expect(k8sClient.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "demo-shardmap"}})).To(Succeed())
		expectRestored(nodes, m2, m3.Version)
	})

	It("builds on a valid map someone else wrote when the nodes took it", func() {
		startOperator(ns)
		nodes, _, m2 := upWithTwoVersions()
		edited := withVersion(m2, 40)
		setShardMapDocument(ns, "demo", ptr.To(encode(edited)))
		for id, n := range nodes {
			Eventually(n.heldVersion, timeout, interval).Should(Equal(uint64(40)), "%s takes version 40", id)
		}
		Eventually(func(g Gomega) []string { return eventsOf(g, ns, "demo", toruav1alpha1.ReasonShardMapAdopted) }, timeout, interval).
			ShouldNot(BeEmpty())
		Eventually(func(g Gomega) {
			cm := &corev1.ConfigMap{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "demo-shardmap"}, cm)).To(Succeed())
			g.Expect(cm.Annotations).To(HaveKeyWithValue(shardMapHashAnnotation, documentHash(cm.Data[shardmap.ConfigMapKey])))
			g.Expect(publishedMap(g, ns, "demo").Version).To(Equal(uint64(40)), "kept as it is")
			g.Expect(getCluster(g, ns, "demo").Status.ShardMapVersion).To(Equal(int64(40)))
		}, timeout, interval).Should(Succeed())
		Expect(eventsOf(Default, ns, "demo", toruav1alpha1.ReasonShardMapRestored)).To(BeEmpty())
	})

	It("waits, changing nothing, while neither the nodes nor the operator know the last map, then restores it from the nodes", func() {
		stop := startOperator(ns)
		nodes, _, m2 := upWithTwoVersions()

		By("stopping the operator, corrupting the map, and starting a new operator while no node answers")
		stop()
		for _, n := range nodes {
			n.shardMapStatus.Store(http.StatusServiceUnavailable)
		}
		setShardMapDocument(ns, "demo", ptr.To("garbage"))
		scale(ns, "demo", 4)
		startOperator(ns)
		Eventually(func(g Gomega) {
			tc := getCluster(g, ns, "demo")
			g.Expect(condition(tc, toruav1alpha1.ConditionDegraded).Reason).To(Equal(toruav1alpha1.ReasonShardMapLost))
			g.Expect(condition(tc, toruav1alpha1.ConditionDegraded).Message).To(ContainSubstring("not a shard map"))
			g.Expect(condition(tc, toruav1alpha1.ConditionAvailable).Reason).To(Equal(toruav1alpha1.ReasonShardMapLost))
		}, timeout, interval).Should(Succeed())
		Consistently(func(g Gomega) {
			cm := &corev1.ConfigMap{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "demo-shardmap"}, cm)).To(Succeed())
			g.Expect(cm.Data[shardmap.ConfigMapKey]).To(Equal("garbage"), "nothing is published over a map nobody can name")
		}, "1s", interval).Should(Succeed())
		Expect(eventsOf(Default, ns, "demo", toruav1alpha1.ReasonShardMapLost)).NotTo(BeEmpty())

		By("letting the nodes answer")
		for _, n := range nodes {
			n.shardMapStatus.Store(0)
		}
		Expect(expectRestored(nodes, m2, 2).Version).To(Equal(uint64(3)))
		Eventually(func(g Gomega) int32 { return statefulSetReplicas(g, ns, "demo") }, timeout, interval).Should(Equal(int32(4)))
	})
})
