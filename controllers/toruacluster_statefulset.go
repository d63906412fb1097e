package controllers

import (
	"context"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
)

// podTemplateHashAnnotation on the StatefulSet records the pod template the operator last
// rolled out, so a template change is told apart from a change of size or partition.
const podTemplateHashAnnotation = "torua.io/pod-template-hash"

// partitionAnnotation on the StatefulSet records the rolling-update partition the operator
// last decided: the rollout's progress is read from it, not from spec, which anyone can edit.
const partitionAnnotation = "torua.io/partition"

// reconcileStatefulSet sizes the node StatefulSet and drives its rolling-update partition.
// Growing is immediate (new nodes join the map once ready). Shrinking waits until the nodes
// leaving hold no replica, as every remaining node's /internal/status shows; until then the
// StatefulSet keeps every node of the map, whatever size someone else gave it.
func (r *ToruaClusterReconciler) reconcileStatefulSet(ctx context.Context, s *clusterState) error {
	tc := s.tc
	old := s.statefulSetSize()
	leaving, highest := s.leavingNodes()
	drained := true
	if len(leaving) > 0 {
		if r.drainProgress(ctx, s, leaving); !s.drain.done {
			drained = false
			s.waiting = true
		}
	}
	size := nodeCount(tc.Spec.Replicas, old, highest, drained, s.mapKnown())
	partition := r.rolloutPartition(ctx, s, size)
	created := s.sts == nil

	desired := desiredStatefulSet(tc, size, partition)
	desired.Annotations = map[string]string{
		podTemplateHashAnnotation: podTemplateHash(tc),
		partitionAnnotation:       strconv.Itoa(int(partition)),
	}
	obj, restored, err := r.ensureObject(ctx, tc, desired)
	if err != nil {
		return err
	}
	s.sts = obj.(*appsv1.StatefulSet)
	switch {
	case created:
		r.event(tc, corev1.EventTypeNormal, toruav1alpha1.ReasonCreating, "Create", "Created StatefulSet %s with %d nodes", desired.Name, size)
	case restored:
		// Someone else changed its size or template; ensureObject reported it.
	case size > old && old > 0:
		r.event(tc, corev1.EventTypeNormal, toruav1alpha1.ReasonScalingUp, "Scale", "Scaled nodes from %d to %d", old, size)
	case size < old && s.drain != nil:
		r.event(tc, corev1.EventTypeNormal, toruav1alpha1.ReasonScaledDown, "Scale",
			"Scaled nodes from %d to %d: %v hold no replica any more", old, size, s.drain.nodes)
	case size < old:
		r.event(tc, corev1.EventTypeNormal, toruav1alpha1.ReasonScaledDown, "Scale",
			"Scaled nodes from %d to %d: the nodes removed never joined the shard map", old, size)
	}
	return nil
}

// nodeCount decides the node StatefulSet's size: spec.replicas (want), except that it stays
// at one above the highest ordinal still in the map being scaled away (highest, -1 without
// any) until their drain is done, and never drops below its current size while the shard
// map is unknown. So a StatefulSet scaled down behind the operator's back grows back, and its
// pods come back on their volumes.
func nodeCount(want, current int32, highest int, drained, mapKnown bool) int32 {
	switch {
	case !mapKnown:
		return max(want, current)
	case highest >= 0 && !drained:
		return max(want, int32(highest)+1)
	default:
		return want
	}
}
