package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
	"github.com/torua/torua/shardmap"
)

// volumeClaim is one node volume claim (data-<cluster>-node-<ordinal>).
type volumeClaim struct {
	name    string
	ordinal int
}

// volumesInput is everything claimsToDelete depends on; it is pure.
type volumesInput struct {
	claims []volumeClaim
	// size is the StatefulSet's size; want is spec.replicas.
	size, want int
	// current is the published shard map (the map is known: never call it while it is lost).
	current *shardmap.Map
	// pods are the ordinals that have a pod, running or terminating.
	pods map[int]bool
	// nodeID names the node of an ordinal.
	nodeID func(ordinal int) string
}

// claimsToDelete decides which node volume claims the operator deletes: the claim of ordinal
// i only when i >= the StatefulSet's size and i >= spec.replicas (scaled away, not just
// scaled down by someone else), node i is not in the shard map (drained and pruned), and no
// pod of ordinal i exists (nothing uses the volume). The StatefulSet retains claims on
// scale-down (whenScaled: Retain), so this is the only way a node volume is deleted while
// its cluster lives. wait lists the claims that only wait for their pod to go.
func claimsToDelete(in volumesInput) (del, wait []string) {
	for _, c := range in.claims {
		if c.ordinal < in.size || c.ordinal < in.want {
			continue
		}
		if in.current == nil {
			continue
		}
		if _, inMap := in.current.Node(in.nodeID(c.ordinal)); inMap {
			continue
		}
		if in.pods[c.ordinal] {
			wait = append(wait, c.name)
			continue
		}
		del = append(del, c.name)
	}
	slices.Sort(del)
	slices.Sort(wait)
	return del, wait
}

// claimOrdinal parses the ordinal of one of the cluster's node volume claims.
func claimOrdinal(tc *toruav1alpha1.ToruaCluster, name string) (int, bool) {
	pod, ok := strings.CutPrefix(name, dataVolume+"-")
	if !ok {
		return 0, false
	}
	return podOrdinal(tc, pod)
}

// reconcileVolumes deletes the volume claims of nodes that were drained, removed from the
// shard map and scaled away (claimsToDelete), one event each. It does nothing while the
// shard map is unknown: a node missing from a map nobody can name may still hold data.
func (r *ToruaClusterReconciler) reconcileVolumes(ctx context.Context, s *clusterState) error {
	tc := s.tc
	if !s.mapKnown() || s.current == nil || s.sts == nil {
		return nil
	}
	claims := &corev1.PersistentVolumeClaimList{}
	if err := r.List(ctx, claims, client.InNamespace(tc.Namespace), client.MatchingLabels(selectorLabels(tc, componentNode))); err != nil {
		return fmt.Errorf("list volume claims: %w", err)
	}
	pods := &corev1.PodList{}
	if err := r.List(ctx, pods, client.InNamespace(tc.Namespace), client.MatchingLabels(selectorLabels(tc, componentNode))); err != nil {
		return fmt.Errorf("list node pods: %w", err)
	}
	in := volumesInput{
		size: int(s.statefulSetSize()), want: int(tc.Spec.Replicas), current: s.current,
		pods: map[int]bool{}, nodeID: func(i int) string { return podName(tc, i) },
	}
	byName := map[string]corev1.PersistentVolumeClaim{}
	for _, c := range claims.Items {
		if ord, ok := claimOrdinal(tc, c.Name); ok && c.DeletionTimestamp.IsZero() {
			in.claims = append(in.claims, volumeClaim{name: c.Name, ordinal: ord})
			byName[c.Name] = c
		}
	}
	for _, p := range pods.Items {
		if ord, ok := podOrdinal(tc, p.Name); ok {
			in.pods[ord] = true
		}
	}
	del, wait := claimsToDelete(in)
	if len(wait) > 0 {
		// Pods are not watched: look again until they are gone.
		s.waiting = true
	}
	for _, name := range del {
		c := byName[name]
		err := r.Delete(ctx, &c, client.Preconditions{UID: &c.UID, ResourceVersion: &c.ResourceVersion})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("delete volume claim %s: %w", name, err)
		}
		logf.FromContext(ctx).Info("Deleted volume claim", "claim", name)
		r.relatedEvent(tc, &c, corev1.EventTypeNormal, toruav1alpha1.ReasonVolumeDeleted, "DeleteVolume",
			"Deleted volume claim %s: its node was drained, removed from the shard map and scaled away", name)
	}
	return nil
}
