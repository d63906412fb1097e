package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
	"github.com/torua/torua/shardmap"
)

// podTemplateHashAnnotation on the StatefulSet records the pod template the operator last
// rolled out, so a template change is told apart from a change of size or partition.
const podTemplateHashAnnotation = "torua.io/pod-template-hash"

// partitionAnnotation on the StatefulSet records the rolling-update partition the operator
// last decided: the rollout's progress is read from it, not from spec, which anyone can edit.
const partitionAnnotation = "torua.io/partition"

// clusterState is what one reconcile knows about one cluster: what it read, what it decided
// and what it waits on. Phases fill it in; computeStatus turns it into the status.
type clusterState struct {
	tc *toruav1alpha1.ToruaCluster
	// original is tc as read, the base of the status patch.
	original *toruav1alpha1.ToruaCluster

	sts    *appsv1.StatefulSet
	router *appsv1.Deployment
	// current is the last good shard map, the one placement builds on: the published map
	// when the ConfigMap holds the operator's own (mapTrusted), else what resolveShardMap
	// found (nil before the first map, and while the map is lost).
	current *shardmap.Map
	// mapView is the ConfigMap as read; mapDecision what to do with it; mapFloor the highest
	// version seen (a published map must be newer); mapProblem what is wrong with an
	// untrusted ConfigMap and mapFrom where the last good map came from.
	mapView     configMapView
	mapDecision mapDecision
	mapFloor    uint64
	mapProblem  string
	mapFrom     string
	// mapForeign: the map adopted is newer than any the operator published.
	mapForeign bool
	// endpoints maps node pod name to its EndpointSlice address and readiness.
	endpoints map[string]endpoint
	// notReadySince maps a node to when its current spell without a ready endpoint began.
	notReadySince map[string]time.Time

	// joining are pods with an address waiting to join the map (they join once ready).
	joining []string
	// down are nodes of the map moved out of placement for being down too long; stuck are
	// nodes down too long whose replicas have nowhere to go.
	down, stuck []string
	// drain is set while nodes are being scaled away.
	drain *drainState
	// rollout is set while a new pod template rolls out.
	rollout *rolloutState

	// statuses caches the nodes' /internal/status for this reconcile, by node ID.
	mu       sync.Mutex
	statuses map[string]nodeStatusResult

	// waiting means the cluster waits on its nodes: look again after the poll interval.
	waiting bool
	// downCheck, when positive, is when the next not-ready node of the map will have been
	// down for nodeDownTimeout: look again then (time passing is no event).
	downCheck time.Duration
}

type nodeStatusResult struct {
	status *shardmap.NodeStatus
	err    error
}

type drainState struct {
	// mapVersion is the version of the map the progress was read against.
	mapVersion uint64
	// nodes are the nodes of the map being scaled away (ordinals >= spec.replicas).
	nodes []string
	// remaining counts distinct (shard, draining node) replicas the remaining nodes still
	// report; -1 when not every remaining node could tell.
	remaining int
	// blocker says why the drain is not done, for the condition message.
	blocker string
	// unreachable lists remaining nodes whose /internal/status could not be read.
	unreachable []string
	done        bool
}

type rolloutState struct {
	reason  string
	message string
}

// observe reads everything the phases decide from.
func (r *ToruaClusterReconciler) observe(ctx context.Context, tc *toruav1alpha1.ToruaCluster) (*clusterState, error) {
	s := &clusterState{tc: tc, original: tc.DeepCopy(), statuses: map[string]nodeStatusResult{}}
	key := func(name string) client.ObjectKey { return client.ObjectKey{Namespace: tc.Namespace, Name: name} }

	sts := &appsv1.StatefulSet{}
	switch err := r.Get(ctx, key(nodeStatefulSetName(tc)), sts); {
	case err == nil:
		s.sts = sts
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("get StatefulSet: %w", err)
	}
	dep := &appsv1.Deployment{}
	switch err := r.Get(ctx, key(routerName(tc)), dep); {
	case err == nil:
		s.router = dep
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("get router Deployment: %w", err)
	}
	cm := &corev1.ConfigMap{}
	switch err := r.Get(ctx, key(shardMapName(tc)), cm); {
	case apierrors.IsNotFound(err):
		cm = nil
	case err != nil:
		return nil, fmt.Errorf("get shard map ConfigMap: %w", err)
	}

	slices := &discoveryv1.EndpointSliceList{}
	if err := r.List(ctx, slices, client.InNamespace(tc.Namespace),
		client.MatchingLabels{discoveryv1.LabelServiceName: nodeServiceName(tc)}); err != nil {
		return nil, fmt.Errorf("list EndpointSlices: %w", err)
	}
	s.endpoints = endpointsFromSlices(tc, slices.Items)
	r.resolveShardMap(ctx, s, cm)

	// Track how long each node has been without a ready endpoint: every node of the map
	// and every pod listed, carried over from the status.
	prevSince := map[string]time.Time{}
	var ids []string
	for _, m := range tc.Status.Members {
		if m.NotReadySince != nil {
			prevSince[m.Name] = m.NotReadySince.Time
		}
	}
	if s.current != nil {
		for _, n := range s.current.Nodes {
			ids = append(ids, n.ID)
		}
	}
	for id := range s.endpoints {
		ids = append(ids, id)
	}
	s.notReadySince = notReadySince(prevSince, s.endpoints, ids, r.now())
	return s, nil
}

// keyOf is a cluster's namespace and name.
func keyOf(tc *toruav1alpha1.ToruaCluster) client.ObjectKey { return client.ObjectKeyFromObject(tc) }

// mapKnown reports whether the operator knows the last good map (or that there never was one).
func (s *clusterState) mapKnown() bool { return s.mapDecision != mapLost }

// leavingNodes returns the nodes of the current map being scaled away (ordinals >= spec.replicas)
// and the highest such ordinal (-1 without any).
func (s *clusterState) leavingNodes() ([]string, int) {
	var out []string
	highest := -1
	if s.current == nil {
		return nil, highest
	}
	for _, n := range s.current.Nodes {
		if ord, ok := podOrdinal(s.tc, n.ID); ok && ord >= int(s.tc.Spec.Replicas) {
			out = append(out, n.ID)
			highest = max(highest, ord)
		}
	}
	return out, highest
}

// endpointsFromSlices collects the node pods' addresses and readiness. A pod listed twice
// (slices are eventually consistent) counts as ready if any listing says so.
func endpointsFromSlices(tc *toruav1alpha1.ToruaCluster, items []discoveryv1.EndpointSlice) map[string]endpoint {
	out := map[string]endpoint{}
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	for _, sl := range items {
		if sl.AddressType != discoveryv1.AddressTypeIPv4 && sl.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		for _, ep := range sl.Endpoints {
			if ep.TargetRef == nil || ep.TargetRef.Kind != "Pod" || len(ep.Addresses) == 0 {
				continue
			}
			if _, ok := podOrdinal(tc, ep.TargetRef.Name); !ok {
				continue
			}
			// A nil ready condition means unknown, which the API says to read as ready;
			// a terminating endpoint is never ready.
			ready := (ep.Conditions.Ready == nil || *ep.Conditions.Ready) &&
				(ep.Conditions.Terminating == nil || !*ep.Conditions.Terminating)
			prev, seen := out[ep.TargetRef.Name]
			if seen && prev.Ready && !ready {
				continue
			}
			out[ep.TargetRef.Name] = endpoint{IP: ep.Addresses[0], Ready: ready}
		}
	}
	return out
}

// statefulSetSize is the node StatefulSet's current size (0 before it exists).
func (s *clusterState) statefulSetSize() int32 {
	if s.sts == nil || s.sts.Spec.Replicas == nil {
		return 0
	}
	return *s.sts.Spec.Replicas
}

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

// podTemplateHash hashes the node pod template. NB: the hashed form ([null, null, spec]) is
// the one earlier operators wrote: a different form would start a rolling update of every
// cluster when the operator is upgraded.
func podTemplateHash(tc *toruav1alpha1.ToruaCluster) string {
	h, _ := hashJSON([]any{nil, nil, appsv1.StatefulSetSpec{Template: nodePodTemplate(tc)}})
	return h
}

// nodeStatuses reads /internal/status of the given nodes of the current map concurrently,
// once per reconcile.
func (r *ToruaClusterReconciler) nodeStatuses(ctx context.Context, s *clusterState, ids []string) map[string]nodeStatusResult {
	var wg sync.WaitGroup
	for _, id := range ids {
		s.mu.Lock()
		_, done := s.statuses[id]
		s.mu.Unlock()
		if done || s.current == nil {
			continue
		}
		n, ok := s.current.Node(id)
		if !ok {
			continue
		}
		wg.Go(func() {
			st, err := r.Nodes.Status(ctx, n.API)
			if err == nil && st.Node != "" && st.Node != id {
				err = fmt.Errorf("%s answered as node %q", n.API, st.Node)
			}
			s.mu.Lock()
			s.statuses[id] = nodeStatusResult{status: st, err: err}
			s.mu.Unlock()
		})
	}
	wg.Wait()
	out := make(map[string]nodeStatusResult, len(ids))
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if res, ok := s.statuses[id]; ok {
			out[id] = res
		}
	}
	return out
}

// drainProgress fills s.drain for the nodes of the map being scaled away (leaving): whether
// every active node has the map, hosts every replica the map gives it and counts no leaving
// node among any shard's voters or learners. A node drained for being down is not leaving:
// it stays, and nobody waits for it.
func (r *ToruaClusterReconciler) drainProgress(ctx context.Context, s *clusterState, leaving []string) {
	if s.drain != nil && s.current != nil && s.drain.mapVersion == s.current.Version && slices.Equal(s.drain.nodes, leaving) {
		return // read already in this reconcile, against this map
	}
	d := &drainState{nodes: leaving}
	s.drain = d
	if s.current == nil || len(leaving) == 0 {
		d.done = true
		return
	}
	d.mapVersion = s.current.Version
	var active []string
	for _, n := range s.current.Nodes {
		if n.State == shardmap.NodeActive {
			active = append(active, n.ID)
		}
	}
	remaining := map[shardmap.Membership]bool{}
	known := true
	for _, id := range active {
		res := r.nodeStatuses(ctx, s, []string{id})[id]
		switch {
		case res.err != nil:
			known = false
			d.unreachable = append(d.unreachable, id)
			d.blocker = fmt.Sprintf("cannot read /internal/status of %s: %v", id, res.err)
			continue
		case res.status.MapVersion < s.current.Version:
			known = false
			d.blocker = fmt.Sprintf("%s has shard map version %d, not %d yet", id, res.status.MapVersion, s.current.Version)
			continue
		}
		for _, mb := range res.status.MembershipsOf(d.nodes) {
			remaining[mb] = true
		}
		if missing := res.status.Unhosted(s.current, id); len(missing) > 0 && d.blocker == "" {
			d.blocker = fmt.Sprintf("%s does not host its replica of shard %d yet", id, missing[0])
		}
	}
	d.remaining = len(remaining)
	if !known {
		d.remaining = -1
	}
	if known && len(remaining) > 0 && d.blocker == "" {
		d.blocker = fmt.Sprintf("%d replicas remain on %v", len(remaining), d.nodes)
	}
	d.done = known && len(remaining) == 0 && d.blocker == ""
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
