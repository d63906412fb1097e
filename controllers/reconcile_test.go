package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
	"github.com/torua/torua/shardmap"
)

// stubNodes answers /internal/status from a function, for unit tests without HTTP.
type stubNodes struct {
	mu     sync.Mutex
	status func(addr string) (*shardmap.NodeStatus, error)
}

func (s *stubNodes) Status(_ context.Context, addr string) (*shardmap.NodeStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status == nil {
		return nil, errors.New("unreachable")
	}
	return s.status(addr)
}

func (s *stubNodes) TransferLeadership(context.Context, string) error { return nil }

func (s *stubNodes) ShardMap(context.Context, string) (*shardmap.Map, error) {
	return nil, ErrNoShardMap
}

// TestReconcileDrainsBeforeShrinking runs Reconcile against controller-runtime's fake client
// (no API server: no defaulting, no CEL; the envtest suite covers those).
func TestReconcileDrainsBeforeShrinking(t *testing.T) {
	g := NewWithT(t)
	sch := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(sch))
	utilruntime.Must(toruav1alpha1.AddToScheme(sch))
	tc := &toruav1alpha1.ToruaCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "demo", UID: "uid-1", Generation: 1},
		Spec: toruav1alpha1.ToruaClusterSpec{Replicas: 5, Shards: 16, ReplicationFactor: 3, Image: "torua:test",
			DrainTimeout: &metav1.Duration{Duration: time.Minute}},
	}
	c := fake.NewClientBuilder().WithScheme(sch).WithObjects(tc).WithStatusSubresource(tc).Build()
	ctx := context.Background()
	writeEPS := func(n int) {
		eps := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "demo-node-x",
			Labels: map[string]string{discoveryv1.LabelServiceName: "demo-node"}}, AddressType: discoveryv1.AddressTypeIPv4}
		for i := range n {
			eps.Endpoints = append(eps.Endpoints, discoveryv1.Endpoint{
				Addresses: []string{fmt.Sprintf("10.0.0.%d", i+1)}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: fmt.Sprintf("demo-node-%d", i)},
			})
		}
		_ = c.Delete(ctx, eps)
		g.Expect(c.Create(ctx, eps)).To(Succeed())
	}
	var lagging *shardmap.Map
	var unreachable string
	published := func() *shardmap.Map {
		cm := &corev1.ConfigMap{}
		g.Expect(c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: "demo-shardmap"}, cm)).To(Succeed())
		m, err := shardmap.Decode([]byte(cm.Data[shardmap.ConfigMapKey]))
		g.Expect(err).NotTo(HaveOccurred())
		return m
	}
	nodes := &stubNodes{status: func(addr string) (*shardmap.NodeStatus, error) {
		cur := published()
		var id string
		for _, n := range cur.Nodes {
			if n.API == addr {
				id = n.ID
			}
		}
		if id == unreachable {
			return nil, errors.New("connection refused")
		}
		src := cur
		if lagging != nil {
			src = lagging
		}
		st := &shardmap.NodeStatus{Node: id, MapVersion: cur.Version, Ready: true}
		for _, sh := range src.ShardsOf(id) {
			st.Shards = append(st.Shards, shardmap.ShardStatus{Shard: sh, Role: "follower", Voters: src.Assignments[sh].Replicas})
		}
		return st, nil
	}}
	r := &ToruaClusterReconciler{Client: c, Scheme: sch, Nodes: nodes}
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(tc)}
	reconcile := func() {
		t.Helper()
		_, err := r.Reconcile(ctx, req)
		g.Expect(err).NotTo(HaveOccurred())
	}
	stsReplicas := func() int32 {
		sts := &appsv1.StatefulSet{}
		g.Expect(c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: "demo-node"}, sts)).To(Succeed())
		return *sts.Spec.Replicas
	}
	get := func() *toruav1alpha1.ToruaCluster {
		out := &toruav1alpha1.ToruaCluster{}
		g.Expect(c.Get(ctx, req.NamespacedName, out)).To(Succeed())
		return out
	}

	reconcile()
	g.Expect(stsReplicas()).To(Equal(int32(5)))
	writeEPS(5)
	reconcile()
	m1 := published()
	g.Expect(m1.Nodes).To(HaveLen(5))

	// Scale down while replication lags.
	lagging = m1
	cur := get()
	cur.Spec.Replicas = 3
	cur.Generation = 2
	g.Expect(c.Update(ctx, cur)).To(Succeed())
	reconcile()
	m2 := published()
	g.Expect(m2.Version).To(Equal(m1.Version + 1))
	n4, _ := m2.Node("demo-node-4")
	g.Expect(n4.State).To(Equal(shardmap.NodeDraining))
	g.Expect(stsReplicas()).To(Equal(int32(5)))
	st := get().Status
	g.Expect(st.Drain).NotTo(BeNil())
	g.Expect(st.Drain.RemainingReplicas).To(BeNumerically(">", 0))

	// A node that cannot be asked blocks the drain and says so.
	lagging, unreachable = nil, "demo-node-0"
	reconcile()
	g.Expect(stsReplicas()).To(Equal(int32(5)))
	degraded := meta.FindStatusCondition(get().Status.Conditions, toruav1alpha1.ConditionDegraded)
	g.Expect(degraded.Reason).To(Equal(toruav1alpha1.ReasonNodeStatusUnavailable))

	// Replication done: shrink, then prune.
	unreachable = ""
	reconcile()
	g.Expect(stsReplicas()).To(Equal(int32(3)))
	reconcile()
	g.Expect(published().Nodes).To(HaveLen(3))
	g.Expect(get().Status.Drain).To(BeNil())

	// Converged: one more reconcile changes nothing.
	before := get()
	reconcile()
	g.Expect(get().ResourceVersion).To(Equal(before.ResourceVersion))
}
