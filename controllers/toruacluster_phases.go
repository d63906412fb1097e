package controllers

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
)

func (r *ToruaClusterReconciler) reconcileDataPlaneRBAC(ctx context.Context, s *clusterState) error {
	for _, obj := range []client.Object{desiredServiceAccount(s.tc), desiredRole(s.tc), desiredRoleBinding(s.tc)} {
		if _, err := r.ensure(ctx, s.tc, obj); err != nil {
			return err
		}
	}
	return nil
}

func (r *ToruaClusterReconciler) reconcileServices(ctx context.Context, s *clusterState) error {
	for _, obj := range []client.Object{desiredPeersService(s.tc), desiredNodeService(s.tc), desiredRouterService(s.tc)} {
		if _, err := r.ensure(ctx, s.tc, obj); err != nil {
			return err
		}
	}
	return nil
}

func (r *ToruaClusterReconciler) reconcileDisruptionBudget(ctx context.Context, s *clusterState) error {
	_, err := r.ensure(ctx, s.tc, desiredPDB(s.tc))
	return err
}

func (r *ToruaClusterReconciler) reconcileRouter(ctx context.Context, s *clusterState) error {
	obj, err := r.ensure(ctx, s.tc, desiredRouterDeployment(s.tc))
	if err != nil {
		return err
	}
	s.router = obj.(*appsv1.Deployment)
	return nil
}

// event records a decision on the cluster object.
func (r *ToruaClusterReconciler) event(tc *toruav1alpha1.ToruaCluster, eventType, reason, action, note string, args ...any) {
	r.relatedEvent(tc, nil, eventType, reason, action, note, args...)
}

// relatedEvent records a decision on the cluster object about another object (a node's pod,
// a volume claim). NB: events of one reason about different objects need it: the recorder
// folds events with the same reason, action and objects into one series, whatever their note.
func (r *ToruaClusterReconciler) relatedEvent(tc *toruav1alpha1.ToruaCluster, related runtime.Object, eventType, reason, action, note string, args ...any) {
	if r.Recorder == nil {
		return
	}
	r.Recorder.Eventf(tc, related, eventType, reason, action, note, args...)
}

// nodePod names a node's pod, as the object an event is about.
func nodePod(tc *toruav1alpha1.ToruaCluster, id string) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Namespace: tc.Namespace, Name: id},
	}
}
