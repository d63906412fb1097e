//go:build envtest

package controllers

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
	"github.com/torua/torua/shardmap"
)

var _ = Describe("Node down", func() {
	var (
		ns     string
		prefix string
		clock  *testClock
	)
	start := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	BeforeEach(func() {
		ns, prefix = newNamespace()
		clock = newTestClock(start)
	})

	member := func(tc *toruav1alpha1.ToruaCluster, name string) toruav1alpha1.MemberStatus {
		for _, m := range tc.Status.Members {
			if m.Name == name {
				return m
			}
		}
		return toruav1alpha1.MemberStatus{}
	}

	It("moves a down node's replicas to the others after nodeDownTimeout, and gives it replicas again once it is ready", func() {
		startOperator(ns, func(r *ToruaClusterReconciler) { r.Now = clock.Now })
		_, m1 := bringUp(ns, newCluster(ns, "demo", 4), prefix)
		Expect(m1.ShardsOf("demo-node-3")).NotTo(BeEmpty())

		By("turning demo-node-3 unready: it keeps its replicas until the timeout")
		pods := readyPods(prefix, 4)
		pods[3].ready = false
		writeEndpoints(ns, "demo", pods)
		Eventually(func(g Gomega) {
			m := member(getCluster(g, ns, "demo"), "demo-node-3")
			g.Expect(m.NotReadySince).NotTo(BeNil())
			g.Expect(m.NotReadySince.Time).To(BeTemporally("==", start))
		}, timeout, interval).Should(Succeed())
		clock.Add(29 * time.Minute)
		poke(ns, "demo")
		Consistently(func(g Gomega) {
			m := publishedMap(g, ns, "demo")
			g.Expect(m.Version).To(Equal(m1.Version))
			g.Expect(m.ShardsOf("demo-node-3")).NotTo(BeEmpty())
		}, time.Second, interval).Should(Succeed())

		By("passing the timeout: its replicas move, the StatefulSet keeps it")
		clock.Add(2 * time.Minute)
		poke(ns, "demo")
		var m2 *shardmap.Map
		Eventually(func(g Gomega) {
			m2 = publishedMap(g, ns, "demo")
			n, ok := m2.Node("demo-node-3")
			g.Expect(ok).To(BeTrue(), "a down node stays in the map")
			g.Expect(n.State).To(Equal(shardmap.NodeDraining))
			g.Expect(m2.ShardsOf("demo-node-3")).To(BeEmpty())
		}, timeout, interval).Should(Succeed())
		for _, a := range m2.Assignments {
			Expect(a.Replicas).To(HaveLen(3), "shard %d keeps replicationFactor replicas", a.Shard)
		}
		Eventually(func(g Gomega) {
			tc := getCluster(g, ns, "demo")
			d := condition(tc, toruav1alpha1.ConditionDegraded)
			g.Expect(d.Reason).To(Equal(toruav1alpha1.ReasonNodeDown))
			g.Expect(d.Message).To(ContainSubstring("demo-node-3"))
			g.Expect(member(tc, "demo-node-3").State).To(Equal(toruav1alpha1.MemberDraining))
			g.Expect(tc.Status.Drain).To(BeNil(), "not a scale-down")
		}, timeout, interval).Should(Succeed())
		Expect(eventsOf(Default, ns, "demo", toruav1alpha1.ReasonNodeDown)).To(ContainElement(
			"Node demo-node-3 has been down for 30m0s: moving its replicas to other nodes"))
		Consistently(func(g Gomega) int32 { return statefulSetReplicas(g, ns, "demo") }, time.Second, interval).Should(Equal(int32(4)))

		By("the node is ready again: active, with replicas")
		pods[3].ready = true
		writeEndpoints(ns, "demo", pods)
		Eventually(func(g Gomega) {
			m := publishedMap(g, ns, "demo")
			n, _ := m.Node("demo-node-3")
			g.Expect(n.State).To(Equal(shardmap.NodeActive))
			g.Expect(m.ShardsOf("demo-node-3")).NotTo(BeEmpty())
			tc := getCluster(g, ns, "demo")
			g.Expect(member(tc, "demo-node-3").NotReadySince).To(BeNil())
			g.Expect(condition(tc, toruav1alpha1.ConditionDegraded).Status).To(Equal(metav1.ConditionFalse))
		}, timeout, interval).Should(Succeed())
		Eventually(func(g Gomega) []string { return eventReasons(g, ns, "demo") }, timeout, interval).
			Should(ContainElement(toruav1alpha1.ReasonNodeRecovered))
	})

	It("keeps a down node's replicas when too few other nodes are ready to take them", func() {
		startOperator(ns, func(r *ToruaClusterReconciler) { r.Now = clock.Now })
		_, m1 := bringUp(ns, newCluster(ns, "demo", 3), prefix)
		pods := readyPods(prefix, 3)
		pods[2].ready = false
		writeEndpoints(ns, "demo", pods)
		Eventually(func(g Gomega) {
			g.Expect(member(getCluster(g, ns, "demo"), "demo-node-2").NotReadySince).NotTo(BeNil())
		}, timeout, interval).Should(Succeed())
		clock.Add(31 * time.Minute)
		poke(ns, "demo")
		Eventually(func(g Gomega) {
			d := condition(getCluster(g, ns, "demo"), toruav1alpha1.ConditionDegraded)
			g.Expect(d.Reason).To(Equal(toruav1alpha1.ReasonNodeDown))
			g.Expect(d.Message).To(And(ContainSubstring("demo-node-2"), ContainSubstring("fewer than 3 other nodes are ready")))
		}, timeout, interval).Should(Succeed())
		Consistently(func(g Gomega) uint64 { return publishedMap(g, ns, "demo").Version }, time.Second, interval).Should(Equal(m1.Version))
		Expect(eventsOf(Default, ns, "demo", toruav1alpha1.ReasonNodeDown)).NotTo(BeEmpty())
	})
})
