package controllers

import (
	"context"
	"fmt"
	"slices"

	"github.com/torua/torua/shardmap"
)

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
