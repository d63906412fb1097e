package controllers

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
	"github.com/torua/torua/shardmap"
)

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
