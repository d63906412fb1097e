//go:build envtest

package controllers

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
	"github.com/torua/torua/shardmap"
)

var _ = Describe("Node volumes", func() {
	var (
		ns     string
		prefix string
	)
	BeforeEach(func() {
		ns, prefix = newNamespace()
	})

	claimName := func(i int) string { return fmt.Sprintf("data-demo-node-%d", i) }

	It("keeps every volume when the StatefulSet is scaled down behind the operator's back, and grows it back", func() {
		startOperator(ns)
		_, m1 := bringUp(ns, newCluster(ns, "demo", 5), prefix)
		createNodePodsAndClaims(ns, "demo", 0, 1, 2, 3, 4)
		sts := &appsv1.StatefulSet{ObjectMeta: metaOf(ns, "demo-node")}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(sts), sts)).To(Succeed())
		Expect(sts.Spec.PersistentVolumeClaimRetentionPolicy.WhenScaled).To(Equal(appsv1.RetainPersistentVolumeClaimRetentionPolicyType),
			"the StatefulSet controller keeps the claims of pods it removes")

		By("kubectl scale sts demo-node --replicas=1, and the StatefulSet controller removing four pods")
		sc := &autoscalingv1.Scale{}
		Expect(k8sClient.SubResource("scale").Get(ctx, sts, sc)).To(Succeed())
		sc.Spec.Replicas = 1
		Expect(k8sClient.SubResource("scale").Update(ctx, sts, client.WithSubResourceBody(sc))).To(Succeed())
		deleteNodePods(ns, "demo", 1, 2, 3, 4)
		writeEndpoints(ns, "demo", readyPods(prefix, 1))

		By("the operator grows it back, so the pods come back on their volumes")
		Eventually(func(g Gomega) int32 { return statefulSetReplicas(g, ns, "demo") }, timeout, interval).Should(Equal(int32(5)))
		Consistently(func(g Gomega) {
			for i := range 5 {
				g.Expect(claimGone(g, ns, claimName(i))).To(BeFalse(), "claim %s kept", claimName(i))
			}
			m := publishedMap(g, ns, "demo")
			g.Expect(m.Version).To(Equal(m1.Version), "the nodes keep their replicas")
			g.Expect(statefulSetReplicas(g, ns, "demo")).To(Equal(int32(5)))
		}, 2*time.Second, interval).Should(Succeed())
		Expect(eventReasons(Default, ns, "demo")).NotTo(ContainElement(toruav1alpha1.ReasonVolumeDeleted))
	})

	It("deletes a scaled-away node's volume only once it is drained, out of the map and its pod is gone", func() {
		startOperator(ns)
		nodes, m1 := bringUp(ns, newCluster(ns, "demo", 5), prefix)
		createNodePodsAndClaims(ns, "demo", 0, 1, 2, 3, 4)

		By("scaling to 3 while replication has not moved anything yet")
		for _, n := range nodes {
			n.lagging.Store(m1)
		}
		scale(ns, "demo", 3)
		Eventually(func(g Gomega) {
			n, _ := publishedMap(g, ns, "demo").Node("demo-node-4")
			g.Expect(n.State).To(Equal(shardmap.NodeDraining))
		}, timeout, interval).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(statefulSetReplicas(g, ns, "demo")).To(Equal(int32(5)))
			g.Expect(claimGone(g, ns, claimName(3))).To(BeFalse())
			g.Expect(claimGone(g, ns, claimName(4))).To(BeFalse())
		}, time.Second, interval).Should(Succeed())

		By("letting replication finish: the StatefulSet shrinks and the nodes leave the map, but their pods still run")
		for _, n := range nodes {
			n.lagging.Store(nil)
		}
		Eventually(func(g Gomega) int32 { return statefulSetReplicas(g, ns, "demo") }, timeout, interval).Should(Equal(int32(3)))
		Eventually(func(g Gomega) { g.Expect(publishedMap(g, ns, "demo").Nodes).To(HaveLen(3)) }, timeout, interval).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(claimGone(g, ns, claimName(3))).To(BeFalse(), "its pod is still terminating")
		}, time.Second, interval).Should(Succeed())

		By("the StatefulSet controller removing the pods: their claims go, the others stay")
		deleteNodePods(ns, "demo", 3, 4)
		writeEndpoints(ns, "demo", readyPods(prefix, 3))
		Eventually(func(g Gomega) {
			g.Expect(claimGone(g, ns, claimName(3))).To(BeTrue())
			g.Expect(claimGone(g, ns, claimName(4))).To(BeTrue())
		}, timeout, interval).Should(Succeed())
		for i := range 3 {
			Expect(claimGone(Default, ns, claimName(i))).To(BeFalse(), "claim %s kept", claimName(i))
		}
		Eventually(func(g Gomega) []string { return eventsOf(g, ns, "demo", toruav1alpha1.ReasonVolumeDeleted) }, timeout, interval).
			Should(ConsistOf(ContainSubstring(claimName(3)), ContainSubstring(claimName(4))))
	})
})
