package controllers

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
)

// podTemplateHash hashes the node pod template. NB: the hashed form ([null, null, spec]) is
// the one earlier operators wrote: a different form would start a rolling update of every
// cluster when the operator is upgraded.
func podTemplateHash(tc *toruav1alpha1.ToruaCluster) string {
	h, _ := hashJSON([]any{nil, nil, appsv1.StatefulSetSpec{Template: nodePodTemplate(tc)}})
	return h
}

// rolloutPartition returns the StatefulSet partition: pods at ordinals >= partition run the
// new template. A template change starts at size (nothing restarts by itself); then, one pod
// at a time, highest ordinal first, the pod is asked to hand off its leaderships and the
// partition goes down by one, once every updated pod is ready and caught up and every shard
// keeps a quorum without the next pod. StatefulSet rolling updates ignore
// PodDisruptionBudgets, so this gating is the operator's job.
func (r *ToruaClusterReconciler) rolloutPartition(ctx context.Context, s *clusterState, size int32) int32 {
	sts := s.sts
	if sts == nil {
		return 0
	}
	tc := s.tc
	cur := int32(0)
	if v, err := strconv.ParseInt(sts.Annotations[partitionAnnotation], 10, 32); err == nil {
		cur = int32(v)
	} else if ru := sts.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		// A StatefulSet written before the annotation existed.
		cur = *ru.Partition
	}
	if sts.Annotations[podTemplateHashAnnotation] != podTemplateHash(tc) {
		s.rollout = &rolloutState{reason: toruav1alpha1.ReasonRollingUpdate,
			message: fmt.Sprintf("Rolling out a new pod template to %d nodes, one at a time", size)}
		r.event(tc, corev1.EventTypeNormal, toruav1alpha1.ReasonRollingUpdate, "RollingUpdate",
			"Started rolling out a new pod template to %d nodes, highest ordinal first", size)
		s.waiting = true
		return size
	}
	if !s.mapKnown() {
		// No map to check quorums against: nobody restarts.
		s.waiting = true
		return min(cur, size)
	}
	st := sts.Status
	if st.ObservedGeneration < sts.Generation {
		// The StatefulSet controller has not seen our last write: its revisions are stale.
		if cur > 0 {
			s.waiting = true
		}
		return min(cur, size)
	}
	if st.UpdateRevision == "" || st.UpdateRevision == st.CurrentRevision {
		return 0
	}
	s.waiting = true
	p := min(cur, size)
	pods := &corev1.PodList{}
	if err := r.List(ctx, pods, client.InNamespace(tc.Namespace), client.MatchingLabels(selectorLabels(tc, componentNode))); err != nil {
		s.rollout = &rolloutState{reason: toruav1alpha1.ReasonRollingUpdate, message: fmt.Sprintf("Cannot list node pods: %v", err)}
		return p
	}
	revision := map[string]string{}
	for _, pod := range pods.Items {
		revision[pod.Name] = pod.Labels[appsv1.ControllerRevisionHashLabelKey]
	}
	for i := p; i < size; i++ {
		name := podName(tc, int(i))
		if revision[name] != st.UpdateRevision || !s.endpoints[name].Ready {
			s.rollout = &rolloutState{reason: toruav1alpha1.ReasonRollingUpdate,
				message: fmt.Sprintf("Waiting for %s to restart with the new pod template and become ready", name)}
			return p
		}
		if s.current != nil {
			if _, inMap := s.current.Node(name); inMap {
				res := r.nodeStatuses(ctx, s, []string{name})[name]
				if res.err != nil || !res.status.Ready || res.status.MapVersion < s.current.Version {
					s.rollout = &rolloutState{reason: toruav1alpha1.ReasonWaitingForNodes,
						message: fmt.Sprintf("Waiting for %s to catch up after its restart", name)}
					return p
				}
			}
		}
	}
	if p == 0 {
		s.rollout = &rolloutState{reason: toruav1alpha1.ReasonRollingUpdate, message: "Every node runs the new pod template"}
		return 0
	}
	next := podName(tc, int(p-1))
	if s.current != nil {
		// Replicas still moving (a scale, a changed replication factor, a down node) mean the
		// groups' voters are not the map's replicas yet: the map cannot vouch for a quorum.
		var ready []string
		for _, n := range s.current.Nodes {
			if s.endpoints[n.ID].Ready {
				ready = append(ready, n.ID)
			}
		}
		if moving := movingShards(s.current, r.nodeStatuses(ctx, s, ready)); moving > 0 {
			s.rollout = &rolloutState{reason: toruav1alpha1.ReasonWaitingForNodes,
				message: fmt.Sprintf("Waiting for %d shards to finish moving replicas before restarting %s", moving, next)}
			return p
		}
		up := func(id string) bool { return s.endpoints[id].Ready }
		for _, a := range s.current.Assignments {
			if !slices.Contains(a.Replicas, next) {
				continue
			}
			if !a.KeepsQuorumWithout(next, up) && len(a.Replicas) > 1 {
				s.rollout = &rolloutState{reason: toruav1alpha1.ReasonWaitingForNodes,
					message: fmt.Sprintf("Waiting for shard %d to keep a quorum without %s", a.Shard, next)}
				return p
			}
		}
		if n, ok := s.current.Node(next); ok {
			if err := r.Nodes.TransferLeadership(ctx, n.API); err != nil {
				s.rollout = &rolloutState{reason: toruav1alpha1.ReasonLeadershipTransferPending,
					message: fmt.Sprintf("%s has not handed off its leaderships yet: %v", next, err)}
				r.event(tc, corev1.EventTypeWarning, toruav1alpha1.ReasonLeadershipTransferPending, "TransferLeadership",
					"Node %s has not handed off its leaderships yet: %v", next, err)
				return p
			}
		}
	}
	r.event(tc, corev1.EventTypeNormal, toruav1alpha1.ReasonNodeRestarted, "RollingUpdate",
		"Let %s restart with the new pod template", next)
	s.rollout = &rolloutState{reason: toruav1alpha1.ReasonRollingUpdate,
		message: fmt.Sprintf("Restarting %s with the new pod template", next)}
	return p - 1
}
