//go:build envtest

package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
	"github.com/torua/torua/internal/nodeapi"
)

// ownedObjects are the cluster's objects, empty, keyed for resourceVersion bookkeeping.
func ownedObjects(ns, name string) []client.Object {
	key := func(n string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: n} }
	return []client.Object{
		&corev1.ServiceAccount{ObjectMeta: key(name + "-data")},
		&rbacv1.Role{ObjectMeta: key(name + "-data")},
		&rbacv1.RoleBinding{ObjectMeta: key(name + "-data")},
		&corev1.Service{ObjectMeta: key(name + "-peers")},
		&corev1.Service{ObjectMeta: key(name + "-node")},
		&corev1.Service{ObjectMeta: key(name)},
		&corev1.ConfigMap{ObjectMeta: key(name + "-shardmap")},
		&appsv1.StatefulSet{ObjectMeta: key(name + "-node")},
		&policyv1.PodDisruptionBudget{ObjectMeta: key(name + "-node")},
		&appsv1.Deployment{ObjectMeta: key(name + "-router")},
	}
}

// resourceVersions reads every owned object's resourceVersion, by kind and name.
func resourceVersions(g Gomega, ns, name string) map[string]string {
	out := map[string]string{}
	for _, obj := range ownedObjects(ns, name) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		out[fmt.Sprintf("%T %s", obj, obj.GetName())] = obj.GetResourceVersion()
	}
	return out
}

// edit gets obj, changes it and updates it, as a person with kubectl edit would.
func edit[T client.Object](obj T, change func(T)) {
	Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		change(obj)
		g.Expect(k8sClient.Update(ctx, obj)).To(Succeed())
	}, timeout, interval).Should(Succeed())
}

var _ = Describe("Drift correction", func() {
	var (
		ns     string
		prefix string
	)
	BeforeEach(func() {
		ns, prefix = newNamespace()
	})

	key := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }

	// converged brings up a 5-node cluster and waits until it is converged; stop stops its
	// operator.
	converged := func() (stop func()) {
		stop = startOperator(ns)
		bringUp(ns, newCluster(ns, "demo", 5), prefix)
		Eventually(func(g Gomega) {
			tc := getCluster(g, ns, "demo")
			g.Expect(condition(tc, toruav1alpha1.ConditionProgressing).Reason).To(Equal(toruav1alpha1.ReasonConverged))
			g.Expect(condition(tc, toruav1alpha1.ConditionAvailable).Status).To(Equal(metav1.ConditionTrue))
		}, timeout, interval).Should(Succeed())
		return stop
	}

	DescribeTable("puts back a field the operator sets that someone else changed",
		func(change func(), restored func(g Gomega)) {
			converged()
			By("changing the field behind the operator's back")
			change()
			By("waiting for the operator to put it back")
			Eventually(restored, timeout, interval).Should(Succeed())
			Eventually(func(g Gomega) []string { return eventReasons(g, ns, "demo") }, timeout, interval).
				Should(ContainElement(toruav1alpha1.ReasonObjectRestored))
		},
		Entry("ServiceAccount: its labels and owner", func() {
			edit(&corev1.ServiceAccount{ObjectMeta: key("demo-data")}, func(sa *corev1.ServiceAccount) {
				delete(sa.Labels, "app.kubernetes.io/managed-by")
				sa.OwnerReferences = nil
			})
		}, func(g Gomega) {
			sa := &corev1.ServiceAccount{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "demo-data"}, sa)).To(Succeed())
			g.Expect(sa.Labels).To(HaveKeyWithValue("app.kubernetes.io/managed-by", "torua-operator"))
			g.Expect(metav1.GetControllerOf(sa)).NotTo(BeNil())
		}),
		Entry("Role: its rules", func() {
			edit(&rbacv1.Role{ObjectMeta: key("demo-data")}, func(r *rbacv1.Role) {
				r.Rules[0].ResourceNames = nil
				r.Rules[0].Verbs = append(r.Rules[0].Verbs, "delete")
			})
		}, func(g Gomega) {
			r := &rbacv1.Role{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "demo-data"}, r)).To(Succeed())
			g.Expect(r.Rules).To(HaveLen(1))
			g.Expect(r.Rules[0].ResourceNames).To(Equal([]string{"demo-shardmap"}))
			g.Expect(r.Rules[0].Verbs).To(ConsistOf("get", "list", "watch"))
		}),
		Entry("RoleBinding: its subjects", func() {
			edit(&rbacv1.RoleBinding{ObjectMeta: key("demo-data")}, func(rb *rbacv1.RoleBinding) {
				rb.Subjects = append(rb.Subjects, rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "intruder", Namespace: ns})
				rb.Subjects[0].Name = "someone-else"
			})
		}, func(g Gomega) {
			rb := &rbacv1.RoleBinding{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "demo-data"}, rb)).To(Succeed())
			g.Expect(rb.Subjects).To(Equal([]rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "demo-data", Namespace: ns}}))
		}),
		Entry("peers Service: publishNotReadyAddresses", func() {
			edit(&corev1.Service{ObjectMeta: key("demo-peers")}, func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = false })
		}, func(g Gomega) {
			s := &corev1.Service{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "demo-peers"}, s)).To(Succeed())
			g.Expect(s.Spec.PublishNotReadyAddresses).To(BeTrue())
		}),
		Entry("node Service: its selector", func() {
			edit(&corev1.Service{ObjectMeta: key("demo-node")}, func(s *corev1.Service) {
				s.Spec.Selector = map[string]string{"app": "elsewhere"}
			})
		}, func(g Gomega) {
			s := &corev1.Service{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "demo-node"}, s)).To(Succeed())
			g.Expect(s.Spec.Selector).To(Equal(map[string]string{
				"app.kubernetes.io/name": "torua", "app.kubernetes.io/instance": "demo", "app.kubernetes.io/component": "node"}))
		}),
		Entry("router Service: its port", func() {
			edit(&corev1.Service{ObjectMeta: key("demo")}, func(s *corev1.Service) { s.Spec.Ports[0].Port = 9090 })
		}, func(g Gomega) {
			s := &corev1.Service{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "demo"}, s)).To(Succeed())
			// A port someone else adds stays theirs; the operator's is back.
			g.Expect(s.Spec.Ports).To(ContainElement(And(HaveField("Port", int32(RouterPort)),
				HaveField("TargetPort", intstr.FromString("http")))))
		}),
		Entry("StatefulSet: replicas through the scale subresource (kubectl scale)", func() {
			sts := &appsv1.StatefulSet{ObjectMeta: key("demo-node")}
			sc := &autoscalingv1.Scale{}
			Expect(k8sClient.SubResource("scale").Get(ctx, sts, sc)).To(Succeed())
			Expect(sc.Spec.Replicas).To(Equal(int32(5)))
			sc.Spec.Replicas = 1
			Expect(k8sClient.SubResource("scale").Update(ctx, sts, client.WithSubResourceBody(sc))).To(Succeed())
		}, func(g Gomega) {
			g.Expect(statefulSetReplicas(g, ns, "demo")).To(Equal(int32(5)))
		}),
		Entry("StatefulSet: its pod template, partition and volume claim retention", func() {
			edit(&appsv1.StatefulSet{ObjectMeta: key("demo-node")}, func(s *appsv1.StatefulSet) {
				s.Spec.Template.Spec.Containers[0].Image = "evil:latest"
				s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To[int32](3)
				s.Spec.PersistentVolumeClaimRetentionPolicy.WhenScaled = appsv1.DeletePersistentVolumeClaimRetentionPolicyType
			})
		}, func(g Gomega) {
			s := &appsv1.StatefulSet{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "demo-node"}, s)).To(Succeed())
			g.Expect(s.Spec.Template.Spec.Containers[0].Image).To(Equal("torua:test"))
			g.Expect(*s.Spec.UpdateStrategy.RollingUpdate.Partition).To(BeZero())
			g.Expect(s.Spec.PersistentVolumeClaimRetentionPolicy.WhenScaled).To(Equal(appsv1.RetainPersistentVolumeClaimRetentionPolicyType))
		}),
		Entry("PodDisruptionBudget: maxUnavailable", func() {
			edit(&policyv1.PodDisruptionBudget{ObjectMeta: key("demo-node")}, func(p *policyv1.PodDisruptionBudget) {
				p.Spec.MaxUnavailable = ptr.To(intstr.FromInt32(5))
			})
		}, func(g Gomega) {
			p := &policyv1.PodDisruptionBudget{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "demo-node"}, p)).To(Succeed())
			g.Expect(p.Spec.MaxUnavailable.IntValue()).To(Equal(1))
		}),
		Entry("router Deployment: replicas and arguments", func() {
			edit(&appsv1.Deployment{ObjectMeta: key("demo-router")}, func(d *appsv1.Deployment) {
				d.Spec.Replicas = ptr.To[int32](7)
				d.Spec.Template.Spec.Containers[0].Args = []string{"router", "--listen=:1"}
			})
		}, func(g Gomega) {
			d := &appsv1.Deployment{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "demo-router"}, d)).To(Succeed())
			g.Expect(*d.Spec.Replicas).To(Equal(int32(2)))
			g.Expect(d.Spec.Template.Spec.Containers[0].Args).To(ContainElements("--listen=:8080", "--shardmap-configmap="+ns+"/demo-shardmap"))
		}),
		Entry("shard map ConfigMap: its labels and owner", func() {
			edit(&corev1.ConfigMap{ObjectMeta: key("demo-shardmap")}, func(cm *corev1.ConfigMap) {
				cm.Labels = nil
				cm.OwnerReferences = nil
			})
		}, func(g Gomega) {
			cm := &corev1.ConfigMap{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "demo-shardmap"}, cm)).To(Succeed())
			g.Expect(cm.Labels).To(HaveKeyWithValue("app.kubernetes.io/instance", "demo"))
			g.Expect(metav1.GetControllerOf(cm)).NotTo(BeNil())
		}),
	)

	It("changes nothing in storage when it reconciles a converged cluster again, and sends nothing the second time", func() {
		stop := converged()
		Expect(eventReasons(Default, ns, "demo")).NotTo(ContainElement(toruav1alpha1.ReasonObjectRestored),
			"nothing was changed behind the operator's back")
		// The reconciler below is then the only writer.
		stop()

		By("reconciling with a new reconciler (nothing applied yet in this process) through a client that counts requests")
		var (
			mu      sync.Mutex
			written []string
		)
		count := func(what string, obj any) {
			mu.Lock()
			defer mu.Unlock()
			name := ""
			if o, ok := obj.(client.Object); ok {
				name = o.GetName()
			}
			written = append(written, fmt.Sprintf("%s %T %s", what, obj, name))
		}
		base, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		counting := interceptor.NewClient(base, interceptor.Funcs{
			Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
				count("create", obj)
				return c.Create(ctx, obj, opts...)
			},
			Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
				count("update", obj)
				return c.Update(ctx, obj, opts...)
			},
			Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
				count("patch", obj)
				return c.Patch(ctx, obj, p, opts...)
			},
			Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
				count("apply", obj)
				return c.Apply(ctx, obj, opts...)
			},
			Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
				count("delete", obj)
				return c.Delete(ctx, obj, opts...)
			},
			SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
				count("update "+sub, obj)
				return c.SubResource(sub).Update(ctx, obj, opts...)
			},
			SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
				count("patch "+sub, obj)
				return c.SubResource(sub).Patch(ctx, obj, p, opts...)
			},
		})
		restored := 0
		r := &ToruaClusterReconciler{
			Client: counting, Scheme: scheme, Recorder: recorderFunc(func(reason string) {
				if reason == toruav1alpha1.ReasonObjectRestored || reason == toruav1alpha1.ReasonShardMapRestored {
					restored++
				}
			}),
			Nodes: nodeapi.New(nodeapi.Config{HTTP: fakeNodes.httpClient(), Timeout: time.Second}),
		}
		req := ctrl.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: "demo"}}
		before := resourceVersions(Default, ns, "demo")
		tcBefore := getCluster(Default, ns, "demo").ResourceVersion

		_, err = r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())
		for _, w := range written {
			Expect(w).To(HavePrefix("apply "), "the first reconcile of a new process only applies (no-ops): %v", written)
		}
		Expect(resourceVersions(Default, ns, "demo")).To(Equal(before), "an apply of what is stored writes nothing: %v", written)

		written = nil
		_, err = r.Reconcile(ctx, req)
		Expect(err).NotTo(HaveOccurred())
		Expect(written).To(BeEmpty(), "objects unchanged since the last apply are not sent again")
		Expect(resourceVersions(Default, ns, "demo")).To(Equal(before))
		Expect(getCluster(Default, ns, "demo").ResourceVersion).To(Equal(tcBefore), "nor is the status")
		Expect(restored).To(BeZero(), "nothing was restored")
	})
})

// recorderFunc is an event recorder that hands every event's reason to a function.
type recorderFunc func(reason string)

func (f recorderFunc) Eventf(_ runtime.Object, _ runtime.Object, _, reason, _, _ string, _ ...any) {
	f(reason)
}

func (f recorderFunc) AnnotatedEventf(_ runtime.Object, _ runtime.Object, _ map[string]string, _, reason, _, _ string, _ ...any) {
	f(reason)
}
