//go:build envtest

package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
	"github.com/torua/torua/internal/nodeapi"
	"github.com/torua/torua/shardmap"
)

const (
	timeout  = 20 * time.Second
	interval = 50 * time.Millisecond
)

// fakeNode stands in for one storage node's HTTP API: an httptest server on 127.0.0.1 that
// keeps the shard map in a real shardmap.Holder, offered the ConfigMap's document whenever the
// node is asked something (a real node's informer offers it within a second), so it refuses
// invalid, older and conflicting maps as a node does. It answers GET /internal/status from
// the map it holds (as a real node that has caught up would), GET /internal/shardmap and
// POST /internal/transfer-leadership. EndpointSlices refuse loopback addresses, so the
// slices carry a 10.x pod IP and fakeNodeRegistry's dialer sends that address to this server.
type fakeNode struct {
	id, namespace, cluster string
	srv                    *httptest.Server
	holder                 *shardmap.Holder
	// lagging, when set, is the map whose replicas the node still reports (replication has not
	// moved them yet); the node still reports the current map's version.
	lagging atomic.Pointer[shardmap.Map]
	// transferStatus is the HTTP status transfer-leadership answers (200 unless set).
	transferStatus atomic.Int32
	transfers      atomic.Int32
	// shardMapStatus, when set, is the HTTP status GET /internal/shardmap answers instead of
	// the map (a node that cannot be asked).
	shardMapStatus atomic.Int32
}

// sync offers the ConfigMap's current document to the node's holder, as its informer would.
func (n *fakeNode) sync() *shardmap.Map {
	cm := &corev1.ConfigMap{}
	if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: n.namespace, Name: n.cluster + "-shardmap"}, cm); err == nil {
		if doc, ok := cm.Data[shardmap.ConfigMapKey]; ok {
			_ = n.holder.OfferBytes([]byte(doc), "configmap")
		}
	}
	return n.holder.Current()
}

// heldVersion is the version of the map the node holds after a sync (0: none).
func (n *fakeNode) heldVersion() uint64 {
	if m := n.sync(); m != nil {
		return m.Version
	}
	return 0
}

func (n *fakeNode) status() shardmap.NodeStatus {
	st := shardmap.NodeStatus{Node: n.id, Shards: []shardmap.ShardStatus{}}
	cur := n.sync()
	if cur == nil {
		return st
	}
	st.MapVersion, st.Ready = cur.Version, true
	replicas := cur
	if lag := n.lagging.Load(); lag != nil {
		replicas = lag
	}
	for _, sh := range replicas.ShardsOf(n.id) {
		a := replicas.Assignments[sh]
		role := shardmap.RoleFollower
		if a.Replicas[0] == n.id {
			role = shardmap.RoleLeader
		}
		st.Shards = append(st.Shards, shardmap.ShardStatus{Shard: sh, Role: role, Leader: a.Replicas[0], Voters: a.Replicas})
	}
	return st
}

func (n *fakeNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/internal/status":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(n.status())
	case r.Method == http.MethodGet && r.URL.Path == "/internal/shardmap":
		m := n.sync()
		switch code := int(n.shardMapStatus.Load()); {
		case code != 0:
			w.WriteHeader(code)
		case m == nil:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"not found: holds no shard map yet"}`))
		default:
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(m)
		}
	case r.Method == http.MethodPost && r.URL.Path == "/internal/transfer-leadership":
		n.transfers.Add(1)
		code := int(n.transferStatus.Load())
		if code == 0 {
			code = http.StatusOK
		}
		w.WriteHeader(code)
	default:
		http.NotFound(w, r)
	}
}

// fakeNodeRegistry maps pod API addresses (10.x:7070) to fake nodes.
type fakeNodeRegistry struct {
	mu    sync.Mutex
	nodes map[string]*fakeNode
}

var fakeNodes = &fakeNodeRegistry{nodes: map[string]*fakeNode{}}

func (f *fakeNodeRegistry) add(ns, cluster, id, ip string) *fakeNode {
	n := &fakeNode{id: id, namespace: ns, cluster: cluster, holder: shardmap.NewHolder(nil, nil)}
	n.srv = httptest.NewServer(n)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nodes[net.JoinHostPort(ip, fmt.Sprint(NodeAPIPort))] = n
	return n
}

func (f *fakeNodeRegistry) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range f.nodes {
		n.srv.Close()
	}
}

// httpClient dials the fake node registered for an address; any other address is refused
// at once, like a pod that is not listening.
func (f *fakeNodeRegistry) httpClient() *http.Client {
	dialer := &net.Dialer{Timeout: time.Second}
	return &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			f.mu.Lock()
			n, ok := f.nodes[addr]
			f.mu.Unlock()
			if !ok {
				return nil, fmt.Errorf("dial %s: connection refused (no fake node)", addr)
			}
			return dialer.DialContext(ctx, network, n.srv.Listener.Addr().String())
		},
	}}
}

// startOperator runs a manager with the reconciler, watching only ns, until the returned
// function is called (or the spec ends). tune adjusts the reconciler (a clock).
func startOperator(ns string, tune ...func(*ToruaClusterReconciler)) (stop func()) {
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	Expect(err).NotTo(HaveOccurred())
	r := &ToruaClusterReconciler{
		Client:       mgr.GetClient(),
		APIReader:    mgr.GetAPIReader(),
		Scheme:       mgr.GetScheme(),
		Recorder:     mgr.GetEventRecorder("torua-operator"),
		Nodes:        nodeapi.New(nodeapi.Config{HTTP: fakeNodes.httpClient(), Timeout: time.Second}),
		PollInterval: 100 * time.Millisecond,
	}
	for _, t := range tune {
		t(r)
	}
	Expect(r.SetupWithManager(mgr)).To(Succeed())
	mctx, mcancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(mgr.Start(mctx)).To(Succeed())
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			mcancel()
			Eventually(done, timeout).Should(BeClosed())
		})
	}
	DeferCleanup(stop)
	return stop
}

var nsCounter atomic.Int32

// newNamespace creates a fresh namespace for one spec (envtest cannot delete namespaces, so
// specs never share one) and returns its name and a /16 prefix for its pod IPs.
func newNamespace() (string, string) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "torua-"}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	k := nsCounter.Add(1)
	return ns.Name, fmt.Sprintf("10.%d.%d", 100+k/250, k%250)
}

// newCluster returns a ToruaCluster with small test defaults; mutate adjusts it.
func newCluster(ns, name string, replicas int32, mutate ...func(*toruav1alpha1.ToruaCluster)) *toruav1alpha1.ToruaCluster {
	tc := &toruav1alpha1.ToruaCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: toruav1alpha1.ToruaClusterSpec{
			Replicas: replicas, Shards: 16, ReplicationFactor: 3, Image: "torua:test",
		},
	}
	for _, m := range mutate {
		m(tc)
	}
	return tc
}

// testPod is one node pod as the test's EndpointSlice lists it.
type testPod struct {
	ordinal int
	ip      string
	ready   bool
}

// writeEndpoints writes the <cluster>-node Service's EndpointSlice as the EndpointSlice
// controller would (envtest runs none): one endpoint per pod, with its readiness.
func writeEndpoints(ns, cluster string, pods []testPod) {
	eps := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: cluster + "-node-test"}}
	_, err := ctrlCreateOrUpdate(eps, func() {
		eps.Labels = map[string]string{discoveryv1.LabelServiceName: cluster + "-node"}
		eps.AddressType = discoveryv1.AddressTypeIPv4
		eps.Ports = []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](NodeAPIPort)}}
		eps.Endpoints = nil
		for _, p := range pods {
			eps.Endpoints = append(eps.Endpoints, discoveryv1.Endpoint{
				Addresses:  []string{p.ip},
				Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(p.ready)},
				TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: fmt.Sprintf("%s-node-%d", cluster, p.ordinal)},
			})
		}
	})
	Expect(err).NotTo(HaveOccurred())
}

func ctrlCreateOrUpdate(obj client.Object, mutate func()) (string, error) {
	res, err := ctrl.CreateOrUpdate(ctx, k8sClient, obj, func() error { mutate(); return nil })
	return string(res), err
}

// readyPods lists ordinals 0..n-1 as ready with IPs <prefix>.<ordinal+1>.
func readyPods(prefix string, n int) []testPod {
	var pods []testPod
	for i := range n {
		pods = append(pods, testPod{ordinal: i, ip: fmt.Sprintf("%s.%d", prefix, i+1), ready: true})
	}
	return pods
}

// startFakeNodes registers a fake node for every pod.
func startFakeNodes(ns, cluster string, pods []testPod) map[string]*fakeNode {
	out := map[string]*fakeNode{}
	for _, p := range pods {
		id := fmt.Sprintf("%s-node-%d", cluster, p.ordinal)
		out[id] = fakeNodes.add(ns, cluster, id, p.ip)
	}
	return out
}

// markRouterAvailable writes the router Deployment's status as the Deployment controller would.
func markRouterAvailable(ns, cluster string) {
	Eventually(func(g Gomega) {
		dep := &appsv1.Deployment{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: cluster + "-router"}, dep)).To(Succeed())
		dep.Status.Replicas, dep.Status.ReadyReplicas, dep.Status.AvailableReplicas = 2, 2, 2
		dep.Status.ObservedGeneration = dep.Generation
		g.Expect(k8sClient.Status().Update(ctx, dep)).To(Succeed())
	}, timeout, interval).Should(Succeed())
}

func getCluster(g Gomega, ns, name string) *toruav1alpha1.ToruaCluster {
	tc := &toruav1alpha1.ToruaCluster{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, tc)).To(Succeed())
	return tc
}

func publishedMap(g Gomega, ns, cluster string) *shardmap.Map {
	cm := &corev1.ConfigMap{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: cluster + "-shardmap"}, cm)).To(Succeed())
	data, ok := cm.Data[shardmap.ConfigMapKey]
	g.Expect(ok).To(BeTrue(), "the ConfigMap holds no shard map yet")
	m, err := shardmap.Decode([]byte(data))
	g.Expect(err).NotTo(HaveOccurred())
	return m
}

func statefulSetReplicas(g Gomega, ns, cluster string) int32 {
	sts := &appsv1.StatefulSet{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: cluster + "-node"}, sts)).To(Succeed())
	return *sts.Spec.Replicas
}

func condition(tc *toruav1alpha1.ToruaCluster, t string) metav1.Condition {
	for _, c := range tc.Status.Conditions {
		if c.Type == t {
			return c
		}
	}
	return metav1.Condition{}
}

// eventReasons lists the reasons of the events recorded on the cluster.
func eventReasons(g Gomega, ns, name string) []string {
	list := &eventsv1.EventList{}
	g.Expect(k8sClient.List(ctx, list, client.InNamespace(ns))).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Kind == "ToruaCluster" && e.Regarding.Name == name {
			out = append(out, e.Reason)
		}
	}
	return out
}

// scale sets spec.replicas.
func scale(ns, name string, replicas int32) {
	Eventually(func(g Gomega) {
		tc := getCluster(g, ns, name)
		tc.Spec.Replicas = replicas
		g.Expect(k8sClient.Update(ctx, tc)).To(Succeed())
	}, timeout, interval).Should(Succeed())
}

// bringUp creates the cluster, lists its pods as ready, starts fake nodes and marks the router
// available; it returns once the first map is published.
func bringUp(ns string, tc *toruav1alpha1.ToruaCluster, prefix string) (map[string]*fakeNode, *shardmap.Map) {
	Expect(k8sClient.Create(ctx, tc)).To(Succeed())
	pods := readyPods(prefix, int(tc.Spec.Replicas))
	nodes := startFakeNodes(ns, tc.Name, pods)
	writeEndpoints(ns, tc.Name, pods)
	markRouterAvailable(ns, tc.Name)
	var m *shardmap.Map
	Eventually(func(g Gomega) { m = publishedMap(g, ns, tc.Name) }, timeout, interval).Should(Succeed())
	return nodes, m
}

// testClock is a clock the test moves; the reconciler reads it through Now.
type testClock struct{ nanos atomic.Int64 }

func newTestClock(t time.Time) *testClock {
	c := &testClock{}
	c.nanos.Store(t.UnixNano())
	return c
}

func (c *testClock) Now() time.Time { return time.Unix(0, c.nanos.Load()).UTC() }

func (c *testClock) Add(d time.Duration) { c.nanos.Add(int64(d)) }

// poke makes the operator reconcile the cluster now (an annotation change is watched): time
// passing on a test clock is no event.
func poke(ns, name string) {
	Eventually(func(g Gomega) {
		tc := getCluster(g, ns, name)
		if tc.Annotations == nil {
			tc.Annotations = map[string]string{}
		}
		tc.Annotations["test.torua.io/poke"] = fmt.Sprint(time.Now().UnixNano())
		g.Expect(k8sClient.Update(ctx, tc)).To(Succeed())
	}, timeout, interval).Should(Succeed())
}

// eventsOf lists the notes of the events with reason recorded on the cluster.
func eventsOf(g Gomega, ns, name, reason string) []string {
	list := &eventsv1.EventList{}
	g.Expect(k8sClient.List(ctx, list, client.InNamespace(ns))).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Kind == "ToruaCluster" && e.Regarding.Name == name && e.Reason == reason {
			out = append(out, e.Note)
		}
	}
	return out
}

// setShardMapDocument writes doc (or, when doc is nil, removes the key) into the shard map
// ConfigMap as a person would with kubectl edit: its annotations stay.
func setShardMapDocument(ns, cluster string, doc *string) {
	Eventually(func(g Gomega) {
		cm := &corev1.ConfigMap{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: cluster + "-shardmap"}, cm)).To(Succeed())
		if doc == nil {
			delete(cm.Data, shardmap.ConfigMapKey)
		} else {
			if cm.Data == nil {
				cm.Data = map[string]string{}
			}
			cm.Data[shardmap.ConfigMapKey] = *doc
		}
		g.Expect(k8sClient.Update(ctx, cm)).To(Succeed())
	}, timeout, interval).Should(Succeed())
}

// metaOf is the metadata naming ns/name.
func metaOf(ns, name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }

// createNodePodsAndClaims plays the StatefulSet controller (envtest runs none): a pod and a
// volume claim data-<cluster>-node-<i> for each ordinal, labelled as the claim template and
// the pod template label them.
func createNodePodsAndClaims(ns, cluster string, ordinals ...int) {
	labels := map[string]string{
		"app.kubernetes.io/name": "torua", "app.kubernetes.io/instance": cluster, "app.kubernetes.io/component": "node",
	}
	for _, i := range ordinals {
		claim := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("data-%s-node-%d", cluster, i), Labels: labels},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			},
		}
		Expect(k8sClient.Create(ctx, claim)).To(Succeed())
		createNodePod(ns, cluster, i)
	}
}

// createNodePod creates node pod <cluster>-node-<i>, unscheduled (it is deleted at once).
func createNodePod(ns, cluster string, i int) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("%s-node-%d", cluster, i), Labels: map[string]string{
			"app.kubernetes.io/name": "torua", "app.kubernetes.io/instance": cluster, "app.kubernetes.io/component": "node",
		}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "node", Image: "torua:test"}}},
	}
	Expect(k8sClient.Create(ctx, pod)).To(Succeed())
}

// deleteNodePods deletes node pods, as the StatefulSet controller does on a scale-down.
func deleteNodePods(ns, cluster string, ordinals ...int) {
	for _, i := range ordinals {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("%s-node-%d", cluster, i)}}
		Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, pod, client.GracePeriodSeconds(0)))).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(pod), pod))
		}, timeout, interval).Should(BeTrue(), "pod %s gone", pod.Name)
	}
}

// claimGone reports whether a claim is deleted (or being deleted: envtest runs no
// pvc-protection controller to remove its finalizer).
func claimGone(g Gomega, ns, name string) bool {
	pvc := &corev1.PersistentVolumeClaim{}
	err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, pvc)
	if apierrors.IsNotFound(err) {
		return true
	}
	g.Expect(err).NotTo(HaveOccurred())
	return !pvc.DeletionTimestamp.IsZero()
}
