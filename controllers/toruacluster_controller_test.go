//go:build envtest

package controllers

import (
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
	"github.com/torua/torua/shardmap"
)

var _ = Describe("ToruaCluster controller", func() {
	var (
		ns     string
		prefix string
	)
	BeforeEach(func() {
		ns, prefix = newNamespace()
	})

	It("creates every child object with owner references, labels, probes, a PVC template and a locked-down security context", func() {
		startOperator(ns)
		tc := newCluster(ns, "demo", 3, func(tc *toruav1alpha1.ToruaCluster) {
			tc.Spec.Storage.StorageClassName = ptr.To("fast")
			tc.Spec.PodTemplate.NodeSelector = map[string]string{"disk": "ssd"}
		})
		Expect(k8sClient.Create(ctx, tc)).To(Succeed())

		owned := func(g Gomega, obj client.Object) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
			owner := metav1.GetControllerOf(obj)
			g.Expect(owner).NotTo(BeNil(), "%T %s has no controller", obj, obj.GetName())
			g.Expect(owner.Kind).To(Equal("ToruaCluster"))
			g.Expect(owner.Name).To(Equal("demo"))
			g.Expect(obj.GetLabels()).To(HaveKeyWithValue("app.kubernetes.io/instance", "demo"))
			g.Expect(obj.GetLabels()).To(HaveKeyWithValue("app.kubernetes.io/managed-by", "torua-operator"))
		}
		key := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }

		By("owning every child")
		Eventually(func(g Gomega) {
			for _, obj := range []client.Object{
				&corev1.ServiceAccount{ObjectMeta: key("demo-data")},
				&rbacv1.Role{ObjectMeta: key("demo-data")},
				&rbacv1.RoleBinding{ObjectMeta: key("demo-data")},
				&corev1.Service{ObjectMeta: key("demo-peers")},
				&corev1.Service{ObjectMeta: key("demo-node")},
				&corev1.Service{ObjectMeta: key("demo")},
				&corev1.ConfigMap{ObjectMeta: key("demo-shardmap")},
				&appsv1.StatefulSet{ObjectMeta: key("demo-node")},
				&policyv1.PodDisruptionBudget{ObjectMeta: key("demo-node")},
				&appsv1.Deployment{ObjectMeta: key("demo-router")},
			} {
				owned(g, obj)
			}
		}, timeout, interval).Should(Succeed())

		By("limiting the data plane to reading its own ConfigMap")
		role := &rbacv1.Role{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "demo-data"}, role)).To(Succeed())
		Expect(role.Rules).To(HaveLen(1))
		Expect(role.Rules[0].ResourceNames).To(Equal([]string{"demo-shardmap"}))
		Expect(role.Rules[0].Verbs).To(ConsistOf("get", "list", "watch"))

		By("making the peers Service headless and publishing not-ready addresses")
		peers := &corev1.Service{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "demo-peers"}, peers)).To(Succeed())
		Expect(peers.Spec.ClusterIP).To(Equal(corev1.ClusterIPNone))
		Expect(peers.Spec.PublishNotReadyAddresses).To(BeTrue())

		By("building the StatefulSet")
		sts := &appsv1.StatefulSet{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "demo-node"}, sts)).To(Succeed())
		Expect(*sts.Spec.Replicas).To(Equal(int32(3)))
		Expect(sts.Spec.ServiceName).To(Equal("demo-peers"))
		Expect(sts.Spec.VolumeClaimTemplates).To(HaveLen(1))
		pvc := sts.Spec.VolumeClaimTemplates[0]
		Expect(pvc.Spec.StorageClassName).To(Equal(ptr.To("fast")))
		Expect(pvc.Spec.Resources.Requests.Storage().String()).To(Equal("1Gi"))
		pod := sts.Spec.Template.Spec
		Expect(pod.NodeSelector).To(Equal(map[string]string{"disk": "ssd"}))
		Expect(pod.ServiceAccountName).To(Equal("demo-data"))
		Expect(pod.SecurityContext.RunAsNonRoot).To(Equal(ptr.To(true)))
		Expect(pod.Containers).To(HaveLen(1))
		c := pod.Containers[0]
		Expect(c.Image).To(Equal("torua:test"))
		Expect(c.Args).To(ContainElements("node", "--id=$(POD_NAME)",
			"--shardmap-configmap=$(POD_NAMESPACE)/demo-shardmap"))
		Expect(c.ReadinessProbe.HTTPGet.Path).To(Equal("/readyz"))
		Expect(c.LivenessProbe.HTTPGet.Path).To(Equal("/healthz"))
		Expect(c.SecurityContext.ReadOnlyRootFilesystem).To(Equal(ptr.To(true)))
		Expect(c.SecurityContext.AllowPrivilegeEscalation).To(Equal(ptr.To(false)))
		var env []string
		for _, e := range c.Env {
			env = append(env, e.Name)
		}
		Expect(env).To(ConsistOf("POD_NAME", "POD_NAMESPACE", "POD_IP"))

		By("giving the PDB maxUnavailable 1 and the router its flags")
		pdb := &policyv1.PodDisruptionBudget{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "demo-node"}, pdb)).To(Succeed())
		Expect(pdb.Spec.MaxUnavailable.IntValue()).To(Equal(1))
		dep := &appsv1.Deployment{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "demo-router"}, dep)).To(Succeed())
		Expect(dep.Spec.Template.Spec.Containers[0].Args).To(ContainElements("router", "--shardmap-configmap="+ns+"/demo-shardmap", "--spool-dir=/var/lib/torua/spool"))
		Expect(dep.Spec.Template.Spec.Containers[0].VolumeMounts).To(ConsistOf(corev1.VolumeMount{Name: "spool", MountPath: "/var/lib/torua/spool"}))
		Expect(dep.Spec.Template.Spec.Volumes).To(HaveLen(1))
		Expect(dep.Spec.Template.Spec.Volumes[0].Name).To(Equal("spool"))
		Expect(dep.Spec.Template.Spec.Volumes[0].EmptyDir).NotTo(BeNil(), "bulk loads spool on the node's ephemeral storage: the root filesystem is read-only")
		Expect(dep.Spec.Template.Spec.Containers[0].ReadinessProbe.HTTPGet.Path).To(Equal("/readyz"))

		By("publishing no shard map before any pod has an address")
		cm := &corev1.ConfigMap{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "demo-shardmap"}, cm)).To(Succeed())
		Expect(cm.Data).NotTo(HaveKey(shardmap.ConfigMapKey))
	})

	It("publishes a balanced shard map once the EndpointSlices list the pods, and reports conditions over the lifecycle", func() {
		startOperator(ns)
		tc := newCluster(ns, "demo", 3)
		Expect(k8sClient.Create(ctx, tc)).To(Succeed())

		By("reporting ShardMapPending while no pod has an address")
		Eventually(func(g Gomega) {
			tc := getCluster(g, ns, "demo")
			g.Expect(condition(tc, toruav1alpha1.ConditionAvailable).Reason).To(Equal(toruav1alpha1.ReasonShardMapPending))
			g.Expect(condition(tc, toruav1alpha1.ConditionProgressing).Reason).To(Equal(toruav1alpha1.ReasonCreating))
		}, timeout, interval).Should(Succeed())

		By("listing three ready pods in the EndpointSlice (the test plays the EndpointSlice controller)")
		pods := readyPods(prefix, 3)
		startFakeNodes(ns, "demo", pods)
		writeEndpoints(ns, "demo", pods)

		var m *shardmap.Map
		Eventually(func(g Gomega) { m = publishedMap(g, ns, "demo") }, timeout, interval).Should(Succeed())
		Expect(m.Version).To(Equal(uint64(1)))
		Expect(m.Nodes).To(HaveLen(3))
		Expect(m.Nodes[0].API).To(Equal(prefix + ".1:7070"))
		Expect(m.Nodes[0].Raft).To(Equal(prefix + ".1:7071"))
		for id, n := range replicaCounts(m) {
			Expect(n).To(Equal(16), "node %s", id)
		}

		By("waiting for the router before reporting Available")
		Eventually(func(g Gomega) {
			tc := getCluster(g, ns, "demo")
			g.Expect(condition(tc, toruav1alpha1.ConditionAvailable).Reason).To(Equal(toruav1alpha1.ReasonRouterUnavailable))
		}, timeout, interval).Should(Succeed())
		markRouterAvailable(ns, "demo")

		Eventually(func(g Gomega) {
			tc := getCluster(g, ns, "demo")
			g.Expect(tc.Status.ObservedGeneration).To(Equal(tc.Generation))
			g.Expect(condition(tc, toruav1alpha1.ConditionAvailable).Status).To(Equal(metav1.ConditionTrue))
			g.Expect(condition(tc, toruav1alpha1.ConditionProgressing)).To(And(
				HaveField("Status", metav1.ConditionFalse), HaveField("Reason", toruav1alpha1.ReasonConverged)))
			g.Expect(condition(tc, toruav1alpha1.ConditionDegraded).Status).To(Equal(metav1.ConditionFalse))
			g.Expect(condition(tc, toruav1alpha1.ConditionRebalancing).Status).To(Equal(metav1.ConditionFalse))
			g.Expect(tc.Status.ReadyNodes).To(Equal(int32(3)))
			g.Expect(tc.Status.ShardMapVersion).To(Equal(int64(1)))
			g.Expect(tc.Status.UnderReplicatedShards).To(BeZero())
			g.Expect(tc.Status.RouterEndpoint).To(Equal("http://demo." + ns + ".svc:8080"))
			g.Expect(tc.Status.Members).To(HaveLen(3))
			leaders := int32(0)
			for _, mem := range tc.Status.Members {
				g.Expect(mem.Ready).To(BeTrue())
				g.Expect(mem.State).To(Equal(toruav1alpha1.MemberActive))
				g.Expect(mem.Replicas).To(Equal(int32(16)))
				g.Expect(mem.Leaders).NotTo(BeNil(), "leaders of %s come from its /internal/status", mem.Name)
				leaders += *mem.Leaders
			}
			g.Expect(leaders).To(Equal(int32(16)))
		}, timeout, interval).Should(Succeed())

		By("recording events for the decisions")
		Eventually(func(g Gomega) []string { return eventReasons(g, ns, "demo") }, timeout, interval).Should(ContainElements(
			toruav1alpha1.ReasonCreating, toruav1alpha1.ReasonShardMapUpdated, toruav1alpha1.ReasonNodeJoined))

		By("reporting Degraded and QuorumLost when two of three pods turn unready")
		pods[1].ready, pods[2].ready = false, false
		writeEndpoints(ns, "demo", pods)
		Eventually(func(g Gomega) {
			tc := getCluster(g, ns, "demo")
			g.Expect(condition(tc, toruav1alpha1.ConditionAvailable).Reason).To(Equal(toruav1alpha1.ReasonQuorumLost))
			g.Expect(condition(tc, toruav1alpha1.ConditionDegraded).Reason).To(Equal(toruav1alpha1.ReasonUnderReplicated))
			g.Expect(tc.Status.UnderReplicatedShards).To(Equal(int32(16)))
		}, timeout, interval).Should(Succeed())
		Expect(publishedMap(Default, ns, "demo").Version).To(Equal(uint64(1)), "unready pods keep their replicas")
	})

	It("keeps the replicas of a briefly unready pod and follows a pod IP change without moving data", func() {
		startOperator(ns)
		_, m1 := bringUp(ns, newCluster(ns, "demo", 3), prefix)

		By("turning one pod unready: the map does not change")
		pods := readyPods(prefix, 3)
		pods[2].ready = false
		writeEndpoints(ns, "demo", pods)
		Eventually(func(g Gomega) {
			g.Expect(condition(getCluster(g, ns, "demo"), toruav1alpha1.ConditionDegraded).Reason).To(Equal(toruav1alpha1.ReasonUnderReplicated))
		}, timeout, interval).Should(Succeed())
		Consistently(func(g Gomega) uint64 { return publishedMap(g, ns, "demo").Version }, time.Second, interval).Should(Equal(m1.Version))

		By("restarting it with a new IP: a new version with the new address and the same placement")
		pods[2] = testPod{ordinal: 2, ip: prefix + ".99", ready: true}
		startFakeNodes(ns, "demo", pods[2:])
		writeEndpoints(ns, "demo", pods)
		Eventually(func(g Gomega) {
			m := publishedMap(g, ns, "demo")
			g.Expect(m.Version).To(Equal(m1.Version + 1))
			n, ok := m.Node("demo-node-2")
			g.Expect(ok).To(BeTrue())
			g.Expect(n.API).To(Equal(prefix + ".99:7070"))
			g.Expect(movedReplicas(m1, m)).To(BeZero())
		}, timeout, interval).Should(Succeed())
	})

	It("scales 3 to 5 with minimal movement, then drains before scaling 5 to 3", func() {
		startOperator(ns)
		tc := newCluster(ns, "demo", 3, func(tc *toruav1alpha1.ToruaCluster) {
			tc.Spec.DrainTimeout = &metav1.Duration{Duration: 2 * time.Second}
		})
		nodes, m1 := bringUp(ns, tc, prefix)

		By("scaling up to 5: the StatefulSet grows at once")
		scale(ns, "demo", 5)
		Eventually(func(g Gomega) int32 { return statefulSetReplicas(g, ns, "demo") }, timeout, interval).Should(Equal(int32(5)))

		By("the new pods get addresses but are not ready: they do not join yet")
		pods := readyPods(prefix, 5)
		for id, n := range startFakeNodes(ns, "demo", pods[3:]) {
			nodes[id] = n
		}
		pods[3].ready, pods[4].ready = false, false
		writeEndpoints(ns, "demo", pods)
		Eventually(func(g Gomega) {
			tc := getCluster(g, ns, "demo")
			g.Expect(condition(tc, toruav1alpha1.ConditionProgressing).Reason).To(Equal(toruav1alpha1.ReasonScalingUp))
		}, timeout, interval).Should(Succeed())
		Expect(publishedMap(Default, ns, "demo").Version).To(Equal(m1.Version))

		By("once ready they join, with balanced counts and only the replicas they take moving")
		pods[3].ready, pods[4].ready = true, true
		writeEndpoints(ns, "demo", pods)
		var m2 *shardmap.Map
		Eventually(func(g Gomega) {
			m2 = publishedMap(g, ns, "demo")
			g.Expect(m2.Nodes).To(HaveLen(5))
			counts := replicaCounts(m2)
			g.Expect(counts).To(HaveLen(5))
			lo, hi := 1<<30, 0
			for _, n := range counts {
				lo, hi = min(lo, n), max(hi, n)
			}
			g.Expect(hi - lo).To(BeNumerically("<=", 1))
			// 48 replicas over 5 nodes: the two new nodes take 9 or 10 each; nothing else moves.
			g.Expect(movedReplicas(m1, m2)).To(Equal(counts["demo-node-3"] + counts["demo-node-4"]))
		}, timeout, interval).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(condition(getCluster(g, ns, "demo"), toruav1alpha1.ConditionProgressing).Reason).To(Equal(toruav1alpha1.ReasonConverged))
		}, timeout, interval).Should(Succeed())

		By("scaling down to 3 while replication has not moved anything yet (the nodes lag)")
		for _, n := range nodes {
			n.lagging.Store(m2)
		}
		scale(ns, "demo", 3)
		var m3 *shardmap.Map
		Eventually(func(g Gomega) {
			m3 = publishedMap(g, ns, "demo")
			for _, id := range []string{"demo-node-3", "demo-node-4"} {
				n, ok := m3.Node(id)
				g.Expect(ok).To(BeTrue())
				g.Expect(n.State).To(Equal(shardmap.NodeDraining))
				g.Expect(m3.ShardsOf(id)).To(BeEmpty())
			}
		}, timeout, interval).Should(Succeed())
		Eventually(func(g Gomega) {
			tc := getCluster(g, ns, "demo")
			g.Expect(condition(tc, toruav1alpha1.ConditionRebalancing).Status).To(Equal(metav1.ConditionTrue))
			g.Expect(condition(tc, toruav1alpha1.ConditionProgressing).Reason).To(Equal(toruav1alpha1.ReasonDraining))
			g.Expect(tc.Status.Drain).NotTo(BeNil())
			g.Expect(tc.Status.Drain.Nodes).To(Equal([]string{"demo-node-3", "demo-node-4"}))
			g.Expect(tc.Status.Drain.RemainingReplicas).To(BeNumerically(">", 0))
		}, timeout, interval).Should(Succeed())

		By("keeping the StatefulSet at 5 while the draining nodes still hold replicas")
		Consistently(func(g Gomega) int32 { return statefulSetReplicas(g, ns, "demo") }, time.Second, interval).Should(Equal(int32(5)))

		By("reporting Degraded DrainStalled after drainTimeout without progress")
		Eventually(func(g Gomega) {
			tc := getCluster(g, ns, "demo")
			g.Expect(condition(tc, toruav1alpha1.ConditionDegraded).Reason).To(Equal(toruav1alpha1.ReasonDrainStalled))
		}, timeout, interval).Should(Succeed())
		Expect(statefulSetReplicas(Default, ns, "demo")).To(Equal(int32(5)), "a stalled drain never loses data")

		By("letting replication catch up: the StatefulSet shrinks and the drained nodes are pruned")
		for _, n := range nodes {
			n.lagging.Store(nil)
		}
		Eventually(func(g Gomega) int32 { return statefulSetReplicas(g, ns, "demo") }, timeout, interval).Should(Equal(int32(3)))
		Eventually(func(g Gomega) {
			m := publishedMap(g, ns, "demo")
			g.Expect(m.Nodes).To(HaveLen(3))
			g.Expect(m.Version).To(BeNumerically(">", m3.Version))
		}, timeout, interval).Should(Succeed())
		writeEndpoints(ns, "demo", pods[:3])
		Eventually(func(g Gomega) {
			tc := getCluster(g, ns, "demo")
			g.Expect(tc.Status.Drain).To(BeNil())
			g.Expect(condition(tc, toruav1alpha1.ConditionDegraded).Status).To(Equal(metav1.ConditionFalse))
			g.Expect(condition(tc, toruav1alpha1.ConditionRebalancing).Status).To(Equal(metav1.ConditionFalse))
			g.Expect(condition(tc, toruav1alpha1.ConditionProgressing).Reason).To(Equal(toruav1alpha1.ReasonConverged))
			g.Expect(tc.Status.Replicas).To(Equal(int32(3)))
		}, timeout, interval).Should(Succeed())
		Eventually(func(g Gomega) []string { return eventReasons(g, ns, "demo") }, timeout, interval).Should(ContainElements(
			toruav1alpha1.ReasonScalingUp, toruav1alpha1.ReasonScaledDown, toruav1alpha1.ReasonDrainStalled, toruav1alpha1.ReasonNodeRemoved))
	})

	It("cancels a drain when replicas are raised again", func() {
		startOperator(ns)
		nodes, m1 := bringUp(ns, newCluster(ns, "demo", 5), prefix)
		for _, n := range nodes {
			n.lagging.Store(m1)
		}
		scale(ns, "demo", 3)
		Eventually(func(g Gomega) {
			n, _ := publishedMap(g, ns, "demo").Node("demo-node-4")
			g.Expect(n.State).To(Equal(shardmap.NodeDraining))
		}, timeout, interval).Should(Succeed())

		By("raising replicas back to 5 during the drain")
		scale(ns, "demo", 5)
		Eventually(func(g Gomega) {
			m := publishedMap(g, ns, "demo")
			for _, n := range m.Nodes {
				g.Expect(n.State).To(Equal(shardmap.NodeActive), "node %s", n.ID)
			}
			tc := getCluster(g, ns, "demo")
			g.Expect(tc.Status.Drain).To(BeNil())
			// The groups still have the replicas of the first map: they move to the new one.
			g.Expect(condition(tc, toruav1alpha1.ConditionRebalancing).Reason).To(Equal(toruav1alpha1.ReasonMovingReplicas))
		}, timeout, interval).Should(Succeed())
		By("letting replication catch up with the map")
		for _, n := range nodes {
			n.lagging.Store(nil)
		}
		Eventually(func(g Gomega) {
			g.Expect(condition(getCluster(g, ns, "demo"), toruav1alpha1.ConditionRebalancing).Status).To(Equal(metav1.ConditionFalse))
		}, timeout, interval).Should(Succeed())
		Consistently(func(g Gomega) int32 { return statefulSetReplicas(g, ns, "demo") }, time.Second, interval).Should(Equal(int32(5)))
	})

	It("converges when the operator restarts in the middle of a scale-down", func() {
		stop := startOperator(ns)
		nodes, m1 := bringUp(ns, newCluster(ns, "demo", 5), prefix)
		for _, n := range nodes {
			n.lagging.Store(m1)
		}
		scale(ns, "demo", 3)
		Eventually(func(g Gomega) {
			g.Expect(getCluster(g, ns, "demo").Status.Drain).NotTo(BeNil())
		}, timeout, interval).Should(Succeed())

		By("stopping the operator mid-drain, letting replication finish, starting a new operator")
		stop()
		for _, n := range nodes {
			n.lagging.Store(nil)
		}
		Expect(statefulSetReplicas(Default, ns, "demo")).To(Equal(int32(5)))
		startOperator(ns)
		Eventually(func(g Gomega) int32 { return statefulSetReplicas(g, ns, "demo") }, timeout, interval).Should(Equal(int32(3)))
		Eventually(func(g Gomega) {
			g.Expect(publishedMap(g, ns, "demo").Nodes).To(HaveLen(3))
			g.Expect(getCluster(g, ns, "demo").Status.Drain).To(BeNil())
		}, timeout, interval).Should(Succeed())
	})

	It("changes nothing while paused", func() {
		startOperator(ns)
		_, m1 := bringUp(ns, newCluster(ns, "demo", 3), prefix)
		Eventually(func(g Gomega) {
			tc := getCluster(g, ns, "demo")
			tc.Spec.Paused = true
			g.Expect(k8sClient.Update(ctx, tc)).To(Succeed())
		}, timeout, interval).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(condition(getCluster(g, ns, "demo"), toruav1alpha1.ConditionProgressing).Reason).To(Equal(toruav1alpha1.ReasonPaused))
		}, timeout, interval).Should(Succeed())

		scale(ns, "demo", 4)
		pods := readyPods(prefix, 3)
		pods[0].ip = prefix + ".77"
		writeEndpoints(ns, "demo", pods)
		Consistently(func(g Gomega) {
			g.Expect(statefulSetReplicas(g, ns, "demo")).To(Equal(int32(3)))
			g.Expect(publishedMap(g, ns, "demo").Version).To(Equal(m1.Version))
		}, time.Second, interval).Should(Succeed())

		By("resuming: the changes are made")
		Eventually(func(g Gomega) {
			tc := getCluster(g, ns, "demo")
			tc.Spec.Paused = false
			g.Expect(k8sClient.Update(ctx, tc)).To(Succeed())
		}, timeout, interval).Should(Succeed())
		Eventually(func(g Gomega) int32 { return statefulSetReplicas(g, ns, "demo") }, timeout, interval).Should(Equal(int32(4)))
	})

	It("rolls a pod template change out one pod at a time, after the pod hands off its leaderships", func() {
		startOperator(ns)
		nodes, _ := bringUp(ns, newCluster(ns, "demo", 3), prefix)
		sts := &appsv1.StatefulSet{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "demo-node"}, sts)).To(Succeed())

		By("changing the image: the partition is raised so no pod restarts by itself")
		Eventually(func(g Gomega) {
			tc := getCluster(g, ns, "demo")
			tc.Spec.Image = "torua:v2"
			g.Expect(k8sClient.Update(ctx, tc)).To(Succeed())
		}, timeout, interval).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(sts), sts)).To(Succeed())
			g.Expect(sts.Spec.Template.Spec.Containers[0].Image).To(Equal("torua:v2"))
			g.Expect(*sts.Spec.UpdateStrategy.RollingUpdate.Partition).To(Equal(int32(3)))
		}, timeout, interval).Should(Succeed())

		By("playing the StatefulSet controller: revisions and pods (envtest runs none)")
		for i := range 3 {
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("demo-node-%d", i), Labels: map[string]string{
					"app.kubernetes.io/name": "torua", "app.kubernetes.io/instance": "demo", "app.kubernetes.io/component": "node",
					appsv1.ControllerRevisionHashLabelKey: "rev-1",
				}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "node", Image: "torua:test"}}},
			}
			Expect(k8sClient.Create(ctx, pod)).To(Succeed())
		}
		By("a node that does not hand off its leaderships holds the rollout")
		// NB: before the revisions appear, or the operator may lower the partition first.
		nodes["demo-node-2"].transferStatus.Store(http.StatusServiceUnavailable)
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(sts), sts)).To(Succeed())
			sts.Status = appsv1.StatefulSetStatus{ObservedGeneration: sts.Generation, Replicas: 3, ReadyReplicas: 3,
				CurrentRevision: "rev-1", UpdateRevision: "rev-2", CurrentReplicas: 3}
			g.Expect(k8sClient.Status().Update(ctx, sts)).To(Succeed())
		}, timeout, interval).Should(Succeed())
		Eventually(func(g Gomega) {
			tc := getCluster(g, ns, "demo")
			g.Expect(condition(tc, toruav1alpha1.ConditionProgressing).Reason).To(Equal(toruav1alpha1.ReasonLeadershipTransferPending))
		}, timeout, interval).Should(Succeed())
		Consistently(func(g Gomega) int32 {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(sts), sts)).To(Succeed())
			return *sts.Spec.UpdateStrategy.RollingUpdate.Partition
		}, 500*time.Millisecond, interval).Should(Equal(int32(3)))

		By("once it hands off, the highest ordinal may restart, and only it")
		nodes["demo-node-2"].transferStatus.Store(http.StatusOK)
		Eventually(func(g Gomega) int32 {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(sts), sts)).To(Succeed())
			return *sts.Spec.UpdateStrategy.RollingUpdate.Partition
		}, timeout, interval).Should(Equal(int32(2)))
		Expect(nodes["demo-node-1"].transfers.Load()).To(BeZero())

		By("the next pod waits until the restarted pod runs the new revision and is ready")
		Consistently(func(g Gomega) int32 {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(sts), sts)).To(Succeed())
			return *sts.Spec.UpdateStrategy.RollingUpdate.Partition
		}, 500*time.Millisecond, interval).Should(Equal(int32(2)))
		pod := &corev1.Pod{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "demo-node-2"}, pod)).To(Succeed())
		pod.Labels[appsv1.ControllerRevisionHashLabelKey] = "rev-2"
		Expect(k8sClient.Update(ctx, pod)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(sts), sts)).To(Succeed())
			sts.Status.ObservedGeneration, sts.Status.UpdatedReplicas, sts.Status.CurrentReplicas = sts.Generation, 1, 2
			g.Expect(k8sClient.Status().Update(ctx, sts)).To(Succeed())
		}, timeout, interval).Should(Succeed())
		Eventually(func(g Gomega) int32 {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(sts), sts)).To(Succeed())
			return *sts.Spec.UpdateStrategy.RollingUpdate.Partition
		}, timeout, interval).Should(Equal(int32(1)))
		Eventually(func(g Gomega) []string { return eventReasons(g, ns, "demo") }, timeout, interval).Should(ContainElements(
			toruav1alpha1.ReasonRollingUpdate, toruav1alpha1.ReasonNodeRestarted, toruav1alpha1.ReasonLeadershipTransferPending))
	})

	It("lets no pod restart while replicas move, and changes the replication factor and image together safely", func() {
		startOperator(ns)
		nodes, m1 := bringUp(ns, newCluster(ns, "demo", 5), prefix)
		for _, n := range nodes {
			n.lagging.Store(m1)
		}
		By("raising the replication factor to 5 and changing the image in one update, while the groups keep three voters")
		Eventually(func(g Gomega) {
			tc := getCluster(g, ns, "demo")
			tc.Spec.ReplicationFactor, tc.Spec.Image = 5, "torua:v2"
			g.Expect(k8sClient.Update(ctx, tc)).To(Succeed())
		}, timeout, interval).Should(Succeed())
		sts := &appsv1.StatefulSet{}
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "demo-node"}, sts)).To(Succeed())
			g.Expect(sts.Spec.Template.Spec.Containers[0].Image).To(Equal("torua:v2"))
			g.Expect(publishedMap(g, ns, "demo").ReplicationFactor).To(Equal(5))
		}, timeout, interval).Should(Succeed())
		for i := range 5 {
			createNodePod(ns, "demo", i)
		}
		Eventually(func(g Gomega) {
			pods := &corev1.PodList{}
			g.Expect(k8sClient.List(ctx, pods, client.InNamespace(ns))).To(Succeed())
			for _, p := range pods.Items {
				p.Labels[appsv1.ControllerRevisionHashLabelKey] = "rev-1"
				g.Expect(k8sClient.Update(ctx, &p)).To(Succeed())
			}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(sts), sts)).To(Succeed())
			sts.Status = appsv1.StatefulSetStatus{ObservedGeneration: sts.Generation, Replicas: 5, ReadyReplicas: 5,
				CurrentRevision: "rev-1", UpdateRevision: "rev-2", CurrentReplicas: 5}
			g.Expect(k8sClient.Status().Update(ctx, sts)).To(Succeed())
		}, timeout, interval).Should(Succeed())
		Eventually(func(g Gomega) {
			p := condition(getCluster(g, ns, "demo"), toruav1alpha1.ConditionProgressing)
			g.Expect(p.Reason).To(Equal(toruav1alpha1.ReasonWaitingForNodes))
			g.Expect(p.Message).To(ContainSubstring("shards to finish moving replicas before restarting demo-node-4"))
		}, timeout, interval).Should(Succeed())
		Consistently(func(g Gomega) int32 {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(sts), sts)).To(Succeed())
			return *sts.Spec.UpdateStrategy.RollingUpdate.Partition
		}, time.Second, interval).Should(Equal(int32(5)))

		By("once every group has the map's five replicas, the highest ordinal may restart")
		for _, n := range nodes {
			n.lagging.Store(nil)
		}
		Eventually(func(g Gomega) int32 {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(sts), sts)).To(Succeed())
			return *sts.Spec.UpdateStrategy.RollingUpdate.Partition
		}, timeout, interval).Should(Equal(int32(4)))
	})

	DescribeTable("refuses invalid specs with a message a person understands",
		func(mutate func(*toruav1alpha1.ToruaCluster), message string) {
			tc := newCluster(ns, "bad", 3, mutate)
			err := k8sClient.Create(ctx, tc)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(message))
		},
		Entry("replicationFactor above replicas", func(tc *toruav1alpha1.ToruaCluster) { tc.Spec.ReplicationFactor = 5 },
			"replicas must be at least replicationFactor"),
		Entry("no replicas", func(tc *toruav1alpha1.ToruaCluster) { tc.Spec.Replicas = -1 },
			"should be greater than or equal to 1"),
		Entry("too many shards", func(tc *toruav1alpha1.ToruaCluster) { tc.Spec.Shards = 5000 },
			"should be less than or equal to 4096"),
		Entry("unknown pull policy", func(tc *toruav1alpha1.ToruaCluster) { tc.Spec.ImagePullPolicy = "Sometimes" },
			`supported values: "Always", "Never", "IfNotPresent"`),
		Entry("replicationFactor 2", func(tc *toruav1alpha1.ToruaCluster) { tc.Spec.ReplicationFactor = 2 },
			"replicationFactor must be odd (1, 3, 5 or 7): an even number of replicas survives no more node failures than one fewer"),
		Entry("replicationFactor 4", func(tc *toruav1alpha1.ToruaCluster) { tc.Spec.Replicas, tc.Spec.ReplicationFactor = 5, 4 },
			"with 2 no node could restart in a rolling update without a shard losing its quorum"),
		Entry("a negative nodeDownTimeout", func(tc *toruav1alpha1.ToruaCluster) {
			tc.Spec.NodeDownTimeout = &metav1.Duration{Duration: -time.Minute}
		}, "nodeDownTimeout must be a duration such as 30m or 1h, not negative"),
	)

	DescribeTable("accepts odd replication factors",
		func(rf int32) {
			tc := newCluster(ns, "good", 5, func(tc *toruav1alpha1.ToruaCluster) { tc.Spec.ReplicationFactor = rf })
			Expect(k8sClient.Create(ctx, tc)).To(Succeed())
		},
		Entry("1", int32(1)), Entry("3", int32(3)), Entry("5", int32(5)),
	)

	It("changes the replication factor of a live cluster 3 -> 5 -> 3 by adding and removing replicas only", func() {
		startOperator(ns)
		_, m1 := bringUp(ns, newCluster(ns, "demo", 5), prefix)
		Expect(m1.ReplicationFactor).To(Equal(3))
		setRF := func(rf int32) {
			Eventually(func(g Gomega) {
				tc := getCluster(g, ns, "demo")
				tc.Spec.ReplicationFactor = rf
				g.Expect(k8sClient.Update(ctx, tc)).To(Succeed())
			}, timeout, interval).Should(Succeed())
		}
		converged := func(rf int) {
			Eventually(func(g Gomega) {
				tc := getCluster(g, ns, "demo")
				g.Expect(tc.Status.ShardMapVersion).To(Equal(int64(publishedMap(g, ns, "demo").Version)))
				g.Expect(tc.Status.UnderReplicatedShards).To(BeZero())
				g.Expect(condition(tc, toruav1alpha1.ConditionAvailable).Status).To(Equal(metav1.ConditionTrue))
				g.Expect(condition(tc, toruav1alpha1.ConditionDegraded).Status).To(Equal(metav1.ConditionFalse))
				g.Expect(condition(tc, toruav1alpha1.ConditionRebalancing).Status).To(Equal(metav1.ConditionFalse))
				g.Expect(publishedMap(g, ns, "demo").ReplicationFactor).To(Equal(rf))
			}, timeout, interval).Should(Succeed())
		}
		balanced := func(m *shardmap.Map) {
			lo, hi := 1<<30, 0
			for _, n := range replicaCounts(m) {
				lo, hi = min(lo, n), max(hi, n)
			}
			Expect(hi-lo).To(BeNumerically("<=", 1), "replicas per node %v", replicaCounts(m))
		}

		By("raising it to 5: every shard keeps its three replicas and gains two")
		setRF(5)
		var m2 *shardmap.Map
		Eventually(func(g Gomega) {
			m2 = publishedMap(g, ns, "demo")
			g.Expect(m2.ReplicationFactor).To(Equal(5))
		}, timeout, interval).Should(Succeed())
		Expect(m2.Version).To(BeNumerically(">", m1.Version))
		for _, a := range m2.Assignments {
			Expect(a.Replicas).To(HaveLen(5))
			Expect(a.Replicas).To(ContainElements(m1.Replicas(a.Shard)), "shard %d keeps its replicas", a.Shard)
		}
		balanced(m2)
		converged(5)

		By("lowering it to 3: every shard keeps three of its five replicas and loses two")
		setRF(3)
		var m3 *shardmap.Map
		Eventually(func(g Gomega) {
			m3 = publishedMap(g, ns, "demo")
			g.Expect(m3.ReplicationFactor).To(Equal(3))
		}, timeout, interval).Should(Succeed())
		Expect(m3.Version).To(BeNumerically(">", m2.Version))
		for _, a := range m3.Assignments {
			Expect(a.Replicas).To(HaveLen(3))
			Expect(m2.Replicas(a.Shard)).To(ContainElements(a.Replicas), "shard %d only loses replicas", a.Shard)
		}
		balanced(m3)
		converged(3)
	})

	It("refuses changing shards and scaling below replicationFactor", func() {
		tc := newCluster(ns, "demo", 3)
		Expect(k8sClient.Create(ctx, tc)).To(Succeed())
		tc.Spec.Shards = 32
		err := k8sClient.Update(ctx, tc)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("shards cannot be changed after the cluster is created"))

		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(tc), tc)).To(Succeed())
		tc.Spec.Replicas = 2
		err = k8sClient.Update(ctx, tc)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("replicas must be at least replicationFactor"))

		By("also through the scale subresource, which can still scale up")
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(tc), tc)).To(Succeed())
		sc := &autoscalingv1.Scale{}
		Expect(k8sClient.SubResource("scale").Get(ctx, tc, sc)).To(Succeed())
		Expect(sc.Spec.Replicas).To(Equal(int32(3)))
		sc.Spec.Replicas = 2
		err = k8sClient.SubResource("scale").Update(ctx, tc, client.WithSubResourceBody(sc))
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("must be at least replicationFactor"))
		Expect(k8sClient.SubResource("scale").Get(ctx, tc, sc)).To(Succeed())
		sc.Spec.Replicas = 4
		Expect(k8sClient.SubResource("scale").Update(ctx, tc, client.WithSubResourceBody(sc))).To(Succeed())
		Expect(getCluster(Default, ns, "demo").Spec.Replicas).To(Equal(int32(4)))
	})

	It("fills in defaults", func() {
		tc := &toruav1alpha1.ToruaCluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "defaults"}}
		Expect(k8sClient.Create(ctx, tc)).To(Succeed())
		Expect(tc.Spec.Replicas).To(Equal(int32(3)))
		Expect(tc.Spec.Shards).To(Equal(int32(16)))
		Expect(tc.Spec.ReplicationFactor).To(Equal(int32(3)))
		Expect(tc.Spec.Router.Replicas).To(Equal(int32(2)))
		Expect(tc.Spec.Storage.Size.String()).To(Equal("1Gi"))
		Expect(tc.Spec.DrainTimeout.Duration).To(Equal(10 * time.Minute))
		Expect(tc.Spec.NodeDownTimeout.Duration).To(Equal(30 * time.Minute))
		Expect(tc.Spec.ImagePullPolicy).To(Equal(corev1.PullIfNotPresent))
	})
})
