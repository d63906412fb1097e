package controllers

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
	"github.com/torua/torua/shardmap"
)

// computeStatus turns what the reconcile saw and decided into the status: counts, members,
// drain progress and the four conditions. reconcileErr is the phases' error, if any.
func (r *ToruaClusterReconciler) computeStatus(ctx context.Context, s *clusterState, reconcileErr error) {
	tc := s.tc
	st := &tc.Status
	st.ObservedGeneration = tc.Generation
	size := s.statefulSetSize()
	st.Replicas = size
	st.Selector = labels.SelectorFromSet(selectorLabels(tc, componentNode)).String()
	st.RouterEndpoint = fmt.Sprintf("http://%s.%s.svc:%d", routerServiceName(tc), tc.Namespace, RouterPort)
	if s.sts != nil {
		st.UpdatedNodes = s.sts.Status.UpdatedReplicas
	}

	// Members: every pod of the StatefulSet with an address, and every node of the map.
	counts := replicaCounts(s.current)
	names := map[string]bool{}
	if s.current != nil {
		for _, n := range s.current.Nodes {
			names[n.ID] = true
		}
	}
	for name := range s.endpoints {
		if ord, _ := podOrdinal(tc, name); ord < int(size) {
			names[name] = true
		}
	}
	var ids []string
	for name := range names {
		ids = append(ids, name)
	}
	sort.Strings(ids)
	var readyIDs []string
	for _, id := range ids {
		if s.endpoints[id].Ready {
			readyIDs = append(readyIDs, id)
		}
	}
	statuses := r.nodeStatuses(ctx, s, readyIDs)
	st.Members = nil
	st.ReadyNodes = 0
	for _, id := range ids {
		ep, addressed := s.endpoints[id]
		m := toruav1alpha1.MemberStatus{Name: id, Ready: ep.Ready, State: toruav1alpha1.MemberJoining, Replicas: int32(counts[id])}
		if addressed {
			m.Address = fmt.Sprintf("%s:%d", ep.IP, NodeAPIPort)
			if strings.Contains(ep.IP, ":") {
				m.Address = fmt.Sprintf("[%s]:%d", ep.IP, NodeAPIPort)
			}
		}
		if s.current != nil {
			if n, ok := s.current.Node(id); ok {
				m.State = toruav1alpha1.MemberState(n.State)
				m.Address = n.API
			}
		}
		if res, ok := statuses[id]; ok && res.err == nil {
			leaders := int32(0)
			for _, sh := range res.status.Shards {
				if sh.Role == shardmap.RoleLeader {
					leaders++
				}
			}
			m.Leaders = &leaders
		}
		if t, ok := s.notReadySince[id]; ok {
			m.NotReadySince = &metav1.Time{Time: t}
		}
		if ep.Ready {
			st.ReadyNodes++
		}
		st.Members = append(st.Members, m)
	}

	underReplicated, quorumLost := shardHealth(s.current, s.endpoints, statuses)
	if s.current != nil {
		st.ShardMapVersion = int64(s.current.Version)
	}
	st.UnderReplicatedShards = int32(underReplicated)

	r.computeDrainStatus(s)
	r.computeConditions(ctx, s, reconcileErr, quorumLost, movingShards(s.current, statuses))
}

// shardHealth counts the shards of m that have fewer replicas holding their data on ready
// nodes than the map gives them (under-replicated), and those with fewer than a quorum of
// their map replicas on ready nodes (quorum lost). A replica holds the shard's data once it
// is a voter: when the shard's leader is known from a readable status, only its voters on
// ready nodes count, so a replica being rebuilt (a node that lost its disk, re-added as a
// learner) is missing until it is promoted; otherwise the map's replicas on ready nodes count.
func shardHealth(m *shardmap.Map, endpoints map[string]endpoint, statuses map[string]nodeStatusResult) (underReplicated, quorumLost int) {
	if m == nil {
		return 0, 0
	}
	ready := func(id string) bool { return endpoints[id].Ready }
	progress := shardmap.NewProgress(m, readable(statuses))
	for i, a := range m.Assignments {
		holders := a.Replicas
		if sp := progress.Shards[i]; sp.Led {
			holders = sp.LeaderStatus.Voters
		}
		up := 0
		for _, id := range holders {
			if ready(id) {
				up++
			}
		}
		if up < len(a.Replicas) {
			underReplicated++
		}
		if !a.HasQuorum(ready) {
			quorumLost++
		}
	}
	return underReplicated, quorumLost
}

// movingShards counts the shards whose replicas do not match the map: a node still holds an
// older map, or the shard's leader reports a group other than the map's replicas
// (shardmap.Progress.Moving).
func movingShards(m *shardmap.Map, statuses map[string]nodeStatusResult) int {
	return shardmap.NewProgress(m, readable(statuses)).Moving()
}

// readable returns the statuses that could be read, by node ID.
func readable(statuses map[string]nodeStatusResult) map[string]*shardmap.NodeStatus {
	out := make(map[string]*shardmap.NodeStatus, len(statuses))
	for id, res := range statuses {
		if res.err == nil {
			out[id] = res.status
		}
	}
	return out
}

// computeDrainStatus keeps status.drain: its lastProgressTime moves only when fewer replicas
// remain, so a drain that stops moving is reported as stalled after spec.drainTimeout.
func (r *ToruaClusterReconciler) computeDrainStatus(s *clusterState) {
	st := &s.tc.Status
	if s.tc.Spec.Paused && s.drain == nil {
		return
	}
	if s.drain == nil || s.drain.done {
		st.Drain = nil
		return
	}
	prev := st.Drain
	next := &toruav1alpha1.DrainStatus{Nodes: s.drain.nodes, RemainingReplicas: int32(s.drain.remaining)}
	switch {
	case prev == nil || !slices.Equal(prev.Nodes, next.Nodes):
		next.LastProgressTime = metav1.NewTime(r.now().Truncate(time.Second))
	case next.RemainingReplicas >= 0 && (prev.RemainingReplicas < 0 || next.RemainingReplicas < prev.RemainingReplicas):
		next.LastProgressTime = metav1.NewTime(r.now().Truncate(time.Second))
	default:
		next.LastProgressTime = prev.LastProgressTime
		if next.RemainingReplicas < 0 && prev.RemainingReplicas >= 0 {
			// Not knowing is no progress, and no reason to forget what was known.
			next.RemainingReplicas = prev.RemainingReplicas
		}
	}
	st.Drain = next
}

func (r *ToruaClusterReconciler) computeConditions(ctx context.Context, s *clusterState, reconcileErr error, quorumLost, moving int) {
	tc := s.tc
	st := &tc.Status
	set := func(t string, status metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: t, Status: status, Reason: reason, Message: msg, ObservedGeneration: tc.Generation,
		})
	}

	// Available.
	routerUp := s.router != nil && s.router.Status.AvailableReplicas > 0
	switch {
	case !s.mapKnown():
		set(toruav1alpha1.ConditionAvailable, metav1.ConditionFalse, toruav1alpha1.ReasonShardMapLost,
			fmt.Sprintf("ConfigMap %s %s, and no node reports the shard map it holds", shardMapName(tc), s.mapProblem))
	case s.current == nil:
		set(toruav1alpha1.ConditionAvailable, metav1.ConditionFalse, toruav1alpha1.ReasonShardMapPending,
			fmt.Sprintf("Waiting for at least %d nodes to get an address before the first shard map", tc.Spec.ReplicationFactor))
	case quorumLost > 0:
		set(toruav1alpha1.ConditionAvailable, metav1.ConditionFalse, toruav1alpha1.ReasonQuorumLost,
			fmt.Sprintf("%d shards have no quorum of replicas on ready nodes", quorumLost))
	case !routerUp:
		set(toruav1alpha1.ConditionAvailable, metav1.ConditionFalse, toruav1alpha1.ReasonRouterUnavailable,
			fmt.Sprintf("Deployment %s has no available router", routerName(tc)))
	default:
		set(toruav1alpha1.ConditionAvailable, metav1.ConditionTrue, toruav1alpha1.ReasonAvailable,
			fmt.Sprintf("Every shard has a quorum on ready nodes; router at %s", st.RouterEndpoint))
	}

	// Progressing.
	size := s.statefulSetSize()
	switch {
	case tc.Spec.Paused:
		set(toruav1alpha1.ConditionProgressing, metav1.ConditionFalse, toruav1alpha1.ReasonPaused,
			"spec.paused is set: the operator changes nothing")
	case s.current == nil:
		set(toruav1alpha1.ConditionProgressing, metav1.ConditionTrue, toruav1alpha1.ReasonCreating,
			fmt.Sprintf("Starting %d nodes", tc.Spec.Replicas))
	case s.drain != nil && !s.drain.done:
		set(toruav1alpha1.ConditionProgressing, metav1.ConditionTrue, toruav1alpha1.ReasonDraining,
			fmt.Sprintf("Draining %v before scaling from %d to %d nodes: %s", s.drain.nodes, size, tc.Spec.Replicas, s.drain.blocker))
	case s.rollout != nil:
		set(toruav1alpha1.ConditionProgressing, metav1.ConditionTrue, s.rollout.reason, s.rollout.message)
	case len(s.joining) > 0:
		set(toruav1alpha1.ConditionProgressing, metav1.ConditionTrue, toruav1alpha1.ReasonScalingUp,
			fmt.Sprintf("Waiting for %v to become ready and join the shard map", s.joining))
	case int(st.ReadyNodes) < int(size) || len(s.current.Nodes) != int(tc.Spec.Replicas):
		set(toruav1alpha1.ConditionProgressing, metav1.ConditionTrue, toruav1alpha1.ReasonWaitingForNodes,
			fmt.Sprintf("%d of %d nodes ready", st.ReadyNodes, size))
	default:
		set(toruav1alpha1.ConditionProgressing, metav1.ConditionFalse, toruav1alpha1.ReasonConverged,
			fmt.Sprintf("%d nodes, shard map version %d", size, s.current.Version))
	}

	// Degraded.
	stalled, blocker := false, "waiting for the nodes' status"
	if s.drain != nil && s.drain.blocker != "" {
		blocker = s.drain.blocker
	}
	if st.Drain != nil && tc.Spec.DrainTimeout != nil {
		stalled = r.now().Sub(st.Drain.LastProgressTime.Time) > tc.Spec.DrainTimeout.Duration
	}
	switch {
	case reconcileErr != nil:
		set(toruav1alpha1.ConditionDegraded, metav1.ConditionTrue, toruav1alpha1.ReasonReconcileError, reconcileErr.Error())
	case !s.mapKnown():
		set(toruav1alpha1.ConditionDegraded, metav1.ConditionTrue, toruav1alpha1.ReasonShardMapLost,
			fmt.Sprintf("ConfigMap %s %s, and no node reports the shard map it holds (GET /internal/shardmap): "+
				"the operator changes nothing until a node answers", shardMapName(tc), s.mapProblem))
	case len(s.down) > 0 || len(s.stuck) > 0:
		set(toruav1alpha1.ConditionDegraded, metav1.ConditionTrue, toruav1alpha1.ReasonNodeDown, nodeDownMessage(s, nodeDownTimeout(tc)))
	case stalled:
		set(toruav1alpha1.ConditionDegraded, metav1.ConditionTrue, toruav1alpha1.ReasonDrainStalled,
			fmt.Sprintf("Draining %v made no progress for %s: %s. The nodes stay until they hold no replica",
				st.Drain.Nodes, tc.Spec.DrainTimeout.Duration, blocker))
	case s.drain != nil && len(s.drain.unreachable) > 0:
		set(toruav1alpha1.ConditionDegraded, metav1.ConditionTrue, toruav1alpha1.ReasonNodeStatusUnavailable,
			fmt.Sprintf("Cannot read /internal/status of %v, so the drain cannot tell whether replicas have moved", s.drain.unreachable))
	case st.UnderReplicatedShards > 0:
		set(toruav1alpha1.ConditionDegraded, metav1.ConditionTrue, toruav1alpha1.ReasonUnderReplicated,
			fmt.Sprintf("%d shards have fewer replicas on ready nodes than the shard map gives them", st.UnderReplicatedShards))
	default:
		set(toruav1alpha1.ConditionDegraded, metav1.ConditionFalse, toruav1alpha1.ReasonAsExpected, "Nothing is degraded")
	}
	prevDegraded := meta.FindStatusCondition(s.original.Status.Conditions, toruav1alpha1.ConditionDegraded)
	if d := meta.FindStatusCondition(st.Conditions, toruav1alpha1.ConditionDegraded); d != nil && d.Status == metav1.ConditionTrue &&
		(prevDegraded == nil || prevDegraded.Reason != d.Reason) {
		switch d.Reason {
		case toruav1alpha1.ReasonShardMapLost:
			r.event(tc, corev1.EventTypeWarning, toruav1alpha1.ReasonShardMapLost, "Restore", "%s", d.Message)
			logf.FromContext(ctx).Info("Shard map lost", "configMap", shardMapName(tc), "problem", s.mapProblem)
		case toruav1alpha1.ReasonNodeDown:
			if len(s.stuck) > 0 {
				r.event(tc, corev1.EventTypeWarning, toruav1alpha1.ReasonNodeDown, "Hold", "%s", d.Message)
				logf.FromContext(ctx).Info("Nodes down with nowhere to move their replicas", "nodes", s.stuck)
			}
		}
	}
	if stalled && s.drain != nil {
		prev := meta.FindStatusCondition(s.original.Status.Conditions, toruav1alpha1.ConditionDegraded)
		if prev == nil || prev.Reason != toruav1alpha1.ReasonDrainStalled {
			r.event(tc, corev1.EventTypeWarning, toruav1alpha1.ReasonDrainStalled, "Drain", "Draining %v made no progress for %s: %s",
				st.Drain.Nodes, tc.Spec.DrainTimeout.Duration, blocker)
			logf.FromContext(ctx).Info("Drain stalled", "nodes", st.Drain.Nodes, "blocker", blocker)
		}
	}

	// Rebalancing.
	switch {
	case st.Drain != nil:
		set(toruav1alpha1.ConditionRebalancing, metav1.ConditionTrue, toruav1alpha1.ReasonDraining,
			fmt.Sprintf("Moving replicas off %v", st.Drain.Nodes))
	case moving > 0:
		set(toruav1alpha1.ConditionRebalancing, metav1.ConditionTrue, toruav1alpha1.ReasonMovingReplicas,
			fmt.Sprintf("%d shards are moving replicas to match shard map version %d", moving, s.current.Version))
	default:
		set(toruav1alpha1.ConditionRebalancing, metav1.ConditionFalse, toruav1alpha1.ReasonBalanced, "No replicas are moving")
	}
}

// patchStatus writes the status when it changed, as a merge patch against what was read.
func (r *ToruaClusterReconciler) patchStatus(ctx context.Context, s *clusterState) error {
	if equality.Semantic.DeepEqual(s.original.Status, s.tc.Status) {
		return nil
	}
	if err := r.Status().Patch(ctx, s.tc, client.MergeFrom(s.original)); err != nil {
		return fmt.Errorf("patch status: %w", client.IgnoreNotFound(err))
	}
	return nil
}

// nodeDownMessage names the nodes down for longer than the timeout and what happens to
// their replicas.
func nodeDownMessage(s *clusterState, timeout time.Duration) string {
	var parts []string
	if len(s.down) > 0 {
		parts = append(parts, fmt.Sprintf("%v have been down for more than %s: their replicas move to other nodes; "+
			"they keep their volumes and take replicas again once ready", s.down, timeout))
	}
	if len(s.stuck) > 0 {
		parts = append(parts, fmt.Sprintf("%v have been down for more than %s, but fewer than %d other nodes are ready to take "+
			"their replicas, which stay", s.stuck, timeout, s.tc.Spec.ReplicationFactor))
	}
	return strings.Join(parts, "; ")
}
