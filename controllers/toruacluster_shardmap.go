package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
	"github.com/torua/torua/shardmap"
)

// reconcileShardMap computes the next map from membership and publishes it when its content
// changed, or when the ConfigMap does not hold the operator's newest map (a restore, above
// every version seen). It runs before the StatefulSet phase: nodes are marked draining before
// anything shrinks, and pruned only after they are drained and the StatefulSet no longer has
// them.
func (r *ToruaClusterReconciler) reconcileShardMap(ctx context.Context, s *clusterState) error {
	tc := s.tc
	if !s.mapKnown() {
		// Nothing is published over a map nobody can name; the status says why.
		s.waiting = true
		return nil
	}
	// The StatefulSet's pods as the operator means it to be: never below spec.replicas,
	// whatever size someone else gave it.
	size := max(int(tc.Spec.Replicas), int(s.statefulSetSize()))
	podNames := make([]string, size)
	for i := range podNames {
		podNames[i] = podName(tc, i)
	}
	drained := true
	if leaving, _ := s.leavingNodes(); len(leaving) > 0 {
		r.drainProgress(ctx, s, leaving)
		drained = s.drain.done
	}
	res := membership(membershipInput{
		prev:              s.current,
		endpoints:         s.endpoints,
		podNames:          podNames,
		keep:              int(tc.Spec.Replicas),
		replicationFactor: int(tc.Spec.ReplicationFactor),
		drained:           drained,
		notReadySince:     s.notReadySince,
		now:               r.now(),
		nodeDownTimeout:   nodeDownTimeout(tc),
	})
	s.joining, s.down, s.stuck = res.joining, res.down, res.stuck
	if len(res.joining) > 0 {
		s.waiting = true
	}
	s.downCheck = nextDownCheck(s.current, s.notReadySince, r.now(), nodeDownTimeout(tc))

	if s.current == nil && len(res.members) == 0 {
		// No map yet: publish the ConfigMap without one so nodes and routers find it.
		return r.ensureEmptyShardMap(ctx, s)
	}

	next, err := shardmap.Place(s.current, res.members, shardmap.PlaceConfig{
		Cluster:           tc.Name,
		Shards:            int(tc.Spec.Shards),
		ReplicationFactor: int(tc.Spec.ReplicationFactor),
	})
	if err == nil {
		err = next.Validate()
	}
	if err != nil {
		if s.current == nil && errors.Is(err, shardmap.ErrNotEnoughNodes) {
			s.waiting = true
			return nil
		}
		r.event(tc, corev1.EventTypeWarning, toruav1alpha1.ReasonShardMapRefused, "Place",
			"Refused to publish a shard map: %v", err)
		return fmt.Errorf("place shards: %w", err)
	}
	if next == s.current {
		switch s.mapDecision {
		case mapRestore:
			v, err := nextVersion(0, s.mapFloor)
			if err != nil {
				return err
			}
			next = withVersion(next, v)
		case mapAdopt:
			return r.adoptShardMap(ctx, s)
		default:
			// Unchanged: keep the ConfigMap's metadata as the operator sets it.
			if s.current == nil {
				return nil
			}
			_, err := r.ensure(ctx, tc, desiredShardMapConfigMap(tc, s.mapView.doc, true))
			return err
		}
	} else {
		v, err := nextVersion(next.Version, s.mapFloor)
		if err != nil {
			return err
		}
		next = withVersion(next, v)
	}
	if err := r.publishShardMap(ctx, s, next); err != nil {
		return err
	}
	switch s.mapDecision {
	case mapRestore:
		r.restoredShardMapEvent(ctx, s, next)
	case mapAdopt:
		r.adoptedShardMapEvent(ctx, s)
	}
	r.shardMapEvents(ctx, s, next, res)
	s.current, s.mapDecision, s.mapFloor = next, mapTrusted, next.Version
	// The nodes' statuses read so far answered for the previous map: ask again.
	s.mu.Lock()
	s.statuses = map[string]nodeStatusResult{}
	s.mu.Unlock()
	return nil
}

// adoptShardMap marks the map in the ConfigMap as the operator's, as it is: the nodes hold
// exactly it. A map newer than any the operator published was written by someone else.
func (r *ToruaClusterReconciler) adoptShardMap(ctx context.Context, s *clusterState) error {
	if _, err := r.ensure(ctx, s.tc, desiredShardMapConfigMap(s.tc, s.mapView.doc, true)); err != nil {
		return err
	}
	r.adoptedShardMapEvent(ctx, s)
	r.remembered.put(keyOf(s.tc), s.current)
	return nil
}

// adoptedShardMapEvent reports building on a map in the ConfigMap that the operator did not
// publish (one newer than any it did) but the nodes follow.
func (r *ToruaClusterReconciler) adoptedShardMapEvent(ctx context.Context, s *clusterState) {
	tc := s.tc
	logf.FromContext(ctx).Info("Adopted shard map", "configMap", shardMapName(tc), "version", s.current.Version, "from", s.mapFrom)
	if s.mapForeign {
		r.event(tc, corev1.EventTypeWarning, toruav1alpha1.ReasonShardMapAdopted, "Adopt",
			"ConfigMap %s %s, and %s follow it: kept it as the last good map", shardMapName(tc), s.mapProblem, s.mapFrom)
	}
}

// shardMapEvents logs a published map and records the decisions it carries.
func (r *ToruaClusterReconciler) shardMapEvents(ctx context.Context, s *clusterState, next *shardmap.Map, res membershipResult) {
	tc := s.tc
	moved := movedReplicas(s.current, next)
	prevVersion := uint64(0)
	if s.current != nil {
		prevVersion = s.current.Version
	}
	draining := 0
	for _, n := range next.Nodes {
		if n.State == shardmap.NodeDraining {
			draining++
		}
	}
	logf.FromContext(ctx).Info("Published shard map", "version", next.Version, "previousVersion", prevVersion,
		"nodes", len(next.Nodes), "draining", draining, "movedReplicas", moved)
	r.event(tc, corev1.EventTypeNormal, toruav1alpha1.ReasonShardMapUpdated, "Publish",
		"Published shard map version %d: %d nodes (%d draining), %d replicas moved", next.Version, len(next.Nodes), draining, moved)
	for _, id := range res.joined {
		r.relatedEvent(tc, nodePod(tc, id), corev1.EventTypeNormal, toruav1alpha1.ReasonNodeJoined, "Join", "Node %s joined the shard map", id)
	}
	for _, id := range res.pruned {
		r.relatedEvent(tc, nodePod(tc, id), corev1.EventTypeNormal, toruav1alpha1.ReasonNodeRemoved, "Prune", "Node %s was drained and removed from the shard map", id)
	}
	if s.current == nil {
		return
	}
	timeout := nodeDownTimeout(tc)
	for _, id := range res.down {
		if n, ok := s.current.Node(id); ok && n.State == shardmap.NodeActive {
			logf.FromContext(ctx).Info("Moved replicas off a down node", "node", id, "nodeDownTimeout", timeout)
			r.relatedEvent(tc, nodePod(tc, id), corev1.EventTypeWarning, toruav1alpha1.ReasonNodeDown, "Drain",
				"Node %s has been down for %s: moving its replicas to other nodes", id, timeout)
		}
	}
	for _, n := range next.Nodes {
		prev, ok := s.current.Node(n.ID)
		if !ok || prev.State != shardmap.NodeDraining || n.State != shardmap.NodeActive || !wasDown(s.original, n.ID) {
			continue
		}
		logf.FromContext(ctx).Info("Gave replicas back to a recovered node", "node", n.ID)
		r.relatedEvent(tc, nodePod(tc, n.ID), corev1.EventTypeNormal, toruav1alpha1.ReasonNodeRecovered, "Activate",
			"Node %s is ready again: it takes replicas again", n.ID)
	}
}

// wasDown reports whether the last status recorded the node as not ready.
func wasDown(tc *toruav1alpha1.ToruaCluster, id string) bool {
	for _, m := range tc.Status.Members {
		if m.Name == id {
			return m.NotReadySince != nil
		}
	}
	return false
}

// nodeDownTimeout is spec.nodeDownTimeout, or its default when unset.
func nodeDownTimeout(tc *toruav1alpha1.ToruaCluster) time.Duration {
	if d := tc.Spec.NodeDownTimeout; d != nil {
		return d.Duration
	}
	return DefaultNodeDownTimeout
}

// ensureEmptyShardMap creates the map ConfigMap without a map if it does not exist; it never
// overwrites one (a published map is never taken back).
func (r *ToruaClusterReconciler) ensureEmptyShardMap(ctx context.Context, s *clusterState) error {
	if s.mapView.exists {
		return nil
	}
	_, err := r.ensure(ctx, s.tc, desiredShardMapConfigMap(s.tc, "", false))
	return err
}
