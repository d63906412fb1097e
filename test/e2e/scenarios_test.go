//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/torua/torua/shardmap"
)

// allStatuses reads /internal/status of every node of m at once; nodes that do not answer are
// left out.
func allStatuses(ctx context.Context, m *shardmap.Map) map[string]*shardmap.NodeStatus {
	var mu sync.Mutex
	var wg sync.WaitGroup
	out := map[string]*shardmap.NodeStatus{}
	for _, n := range m.Nodes {
		wg.Go(func() {
			st, err := nodeStatus(ctx, n.API)
			if err != nil {
				return
			}
			mu.Lock()
			out[n.ID] = st
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// replicaMoving looks, in the nodes' statuses, for a shard whose leader counts node as a
// learner (learnerOnly) or as any member of the group. It describes the first it finds.
func replicaMoving(ctx context.Context, m *shardmap.Map, node string, learnerOnly bool) (string, bool) {
	sts := allStatuses(ctx, m)
	ids := make([]string, 0, len(sts))
	for id := range sts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		for _, s := range sts[id].Shards {
			if s.Role != "leader" {
				continue
			}
			learner := slices.Contains(s.Learners, node)
			if learner || (!learnerOnly && slices.Contains(s.Voters, node)) {
				return fmt.Sprintf("shard %d's leader %s counts %s as a %s (voters %v, learners %v; map v%d)",
					s.Shard, id, node, map[bool]string{true: "learner", false: "voter"}[learner], s.Voters, s.Learners, m.Version), true
			}
		}
	}
	return "", false
}

// forceDeletePod deletes a pod with grace period 0: its processes are killed at once
// (SIGKILL), as a node crash would.
func forceDeletePod(ctx context.Context, podName string) *corev1.Pod {
	p := &corev1.Pod{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: podName}, p)).To(Succeed())
	Expect(k8s.Delete(ctx, p, client.GracePeriodSeconds(0), client.Preconditions{UID: &p.UID})).To(Succeed())
	return p
}

// partitionHistory lists the distinct successive rolling-update partitions of the
// StatefulSets in events, e.g. [0 3 2 1 0].
func partitionHistory(events []observed) []int32 {
	var out []int32
	for _, ev := range events {
		s, ok := ev.obj.(*appsv1.StatefulSet)
		if !ok {
			continue
		}
		p := int32(0)
		if ru := s.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
			p = *ru.Partition
		}
		if len(out) == 0 || out[len(out)-1] != p {
			out = append(out, p)
		}
	}
	return out
}

// sizeHistory lists the distinct successive spec.replicas of the StatefulSets in events.
func sizeHistory(events []observed) []int32 {
	var out []int32
	for _, ev := range events {
		s, ok := ev.obj.(*appsv1.StatefulSet)
		if !ok {
			continue
		}
		if r := ptr.Deref(s.Spec.Replicas, 1); len(out) == 0 || out[len(out)-1] != r {
			out = append(out, r)
		}
	}
	return out
}

// podIncarnations lists, per pod name, the UIDs the pods of that name had in events, in order.
func podIncarnations(events []observed) map[string][]types.UID {
	out := map[string][]types.UID{}
	for _, ev := range events {
		p, ok := ev.obj.(*corev1.Pod)
		if !ok || ev.typ == watch.Error {
			continue
		}
		if uids := out[p.Name]; !slices.Contains(uids, p.UID) {
			out[p.Name] = append(uids, p.UID)
		}
	}
	return out
}

// shardMaps decodes the shard maps of ConfigMap events, in order, skipping repeats.
func shardMaps(events []observed) []*shardmap.Map {
	var out []*shardmap.Map
	for _, ev := range events {
		cm, ok := ev.obj.(*corev1.ConfigMap)
		if !ok || ev.typ == watch.Deleted {
			continue
		}
		m, err := shardMapOf(cm)
		if err != nil {
			continue
		}
		if len(out) == 0 || out[len(out)-1].Version != m.Version {
			out = append(out, m)
		}
	}
	return out
}

// rollout is what a watch of the node pods saw of a rolling update.
type rollout struct {
	// order lists the initial pods in the order they were seen stopping, stopped when.
	order   []string
	stopped map[string]time.Time
	// maxDown is the most node pods unavailable (absent, terminating or not ready) at once
	// after the first initial pod stopped, and when and which.
	maxDown int
	downAt  string
}

// observeRollout reads a rolling update of the pods nodes (of cluster name) from a watch of
// them: initial are the pods before the update.
func observeRollout(events []observed, name string, nodes []string, initial map[string]*corev1.Pod) rollout {
	r := rollout{stopped: map[string]time.Time{}}
	state := map[string]*corev1.Pod{}
	for _, ev := range events {
		p := ev.obj.(*corev1.Pod)
		if p.Labels["app.kubernetes.io/instance"] != name {
			continue
		}
		if ev.typ == watch.Deleted {
			delete(state, p.Name)
		} else {
			state[p.Name] = p
		}
		if initialPod, ok := initial[p.Name]; ok && p.UID == initialPod.UID && (p.DeletionTimestamp != nil || ev.typ == watch.Deleted) {
			if _, seen := r.stopped[p.Name]; !seen {
				r.stopped[p.Name] = ev.at
				r.order = append(r.order, p.Name)
			}
		}
		if len(r.stopped) == 0 {
			continue // still the watch's initial listing
		}
		down := 0
		var which []string
		for _, id := range nodes {
			if q := state[id]; q == nil || q.DeletionTimestamp != nil || !isPodReady(q) {
				down++
				which = append(which, id)
			}
		}
		if down > r.maxDown {
			r.maxDown, r.downAt = down, fmt.Sprintf("%s: %v", ev.at.Format("15:04:05.000"), which)
		}
	}
	return r
}
