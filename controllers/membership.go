package controllers

import (
	"cmp"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/torua/torua/shardmap"
)

// endpoint is one node pod as the <cluster>-node Service's EndpointSlices list it.
type endpoint struct {
	IP    string
	Ready bool
}

// membershipInput is everything membership depends on; membership is a pure function of it.
type membershipInput struct {
	// prev is the published map (nil before the first).
	prev *shardmap.Map
	// endpoints maps pod name to its address and readiness.
	endpoints map[string]endpoint
	// podNames lists the StatefulSet's pods by ordinal (ordinal < the StatefulSet's size).
	podNames []string
	// keep is the number of ordinals that stay (spec.replicas); higher ordinals are draining.
	keep int
	// replicationFactor is the cluster's RF (for the bootstrap quorum of addressed pods, and
	// the ready nodes a down node's replicas need to move).
	replicationFactor int
	// drained says the scale-down of prev is complete: every remaining node hosts its replicas
	// and no group counts a leaving node (drainProgress). Only then is a node that left the
	// StatefulSet pruned.
	drained bool
	// notReadySince maps a node to the start of its current spell without a ready endpoint
	// (not ready, or no address); ready nodes are absent.
	notReadySince map[string]time.Time
	// now is the reconcile's clock reading; nodeDownTimeout is how long a node of the map may
	// be not ready before its replicas move to other nodes.
	now             time.Time
	nodeDownTimeout time.Duration
}

// membershipResult is what Place gets, and who is left waiting.
type membershipResult struct {
	members []shardmap.Node
	// joining are pods with an address that are not in the map yet (they join once ready).
	joining []string
	// pruned are nodes of prev dropped from the map: removed from the StatefulSet and drained.
	pruned []string
	// joined are nodes added to the map now.
	joined []string
	// down are nodes of prev not ready for longer than nodeDownTimeout that are draining in
	// the result, so placement moves their replicas to other nodes. They stay in the
	// StatefulSet with their volumes and become active again once ready.
	down []string
	// stuck are nodes not ready for longer than nodeDownTimeout that stay active: fewer than
	// replicationFactor other active nodes are ready to take their replicas.
	stuck []string
}

func nodeFor(id, ip string, state shardmap.NodeState) shardmap.Node {
	return shardmap.Node{
		ID:    id,
		API:   net.JoinHostPort(ip, strconv.Itoa(NodeAPIPort)),
		Raft:  net.JoinHostPort(ip, strconv.Itoa(NodeRaftPort)),
		State: state,
	}
}

// membership decides which nodes belong in the next shard map:
//   - A pod already in the map stays, ready or not: a briefly unready pod keeps its replicas
//     (Raft tolerates a minority down; moving data on every restart would be wrong). Its
//     addresses follow the EndpointSlice (pod IPs change when pods move); a pod without an
//     address keeps the last known ones.
//   - A node of the map not ready for longer than nodeDownTimeout is down: it becomes draining,
//     so placement moves its replicas to the others, but only while at least
//     replicationFactor other active nodes are ready to hold them (else it is stuck, and
//     stays). A down node stays draining until it is ready again, then it is active and
//     placement gives it replicas again. It is never pruned for being down.
//   - A pod joins the map the first time it is ready. The very first map is the exception:
//     nodes report ready only once they hold a map, so it takes every pod with an address.
//   - Pods at ordinals >= keep (being scaled away) are draining: placement moves their
//     replicas off them.
//   - A node of the map that is no longer a pod of the StatefulSet is pruned once it holds no
//     replica and the drain is complete (drained); until then it stays, draining: a
//     StatefulSet shrunk behind the operator's back removes nobody from the map.
func membership(in membershipInput) membershipResult {
	var res membershipResult
	var candidates []int // indexes in res.members of active nodes down for too long
	inSet := make(map[string]bool, len(in.podNames))
	for i, name := range in.podNames {
		inSet[name] = true
		state := shardmap.NodeActive
		if i >= in.keep {
			state = shardmap.NodeDraining
		}
		ep, addressed := in.endpoints[name]
		var prevNode shardmap.Node
		inPrev := false
		if in.prev != nil {
			prevNode, inPrev = in.prev.Node(name)
		}
		switch {
		case inPrev:
			n := prevNode
			if addressed {
				fresh := nodeFor(name, ep.IP, state)
				n.API, n.Raft = fresh.API, fresh.Raft
			}
			if state == shardmap.NodeActive && in.isDown(name, ep) {
				if prevNode.State == shardmap.NodeDraining {
					// Drained while down and still down: its replicas stay away.
					state = shardmap.NodeDraining
					res.down = append(res.down, name)
				} else {
					candidates = append(candidates, len(res.members))
				}
			}
			n.State = state
			res.members = append(res.members, n)
		case !addressed:
			// Not running yet; nothing to do.
		case state == shardmap.NodeDraining:
			// Leaving before it ever joined: it holds nothing.
		case ep.Ready || in.prev == nil:
			res.members = append(res.members, nodeFor(name, ep.IP, state))
			res.joined = append(res.joined, name)
		default:
			res.joining = append(res.joining, name)
		}
	}
	if len(candidates) > 0 {
		ready := 0
		for _, m := range res.members {
			if m.State == shardmap.NodeActive && in.endpoints[m.ID].Ready {
				ready++
			}
		}
		for _, i := range candidates {
			if ready >= in.replicationFactor {
				res.members[i].State = shardmap.NodeDraining
				res.down = append(res.down, res.members[i].ID)
			} else {
				res.stuck = append(res.stuck, res.members[i].ID)
			}
		}
	}
	if in.prev != nil {
		for _, n := range in.prev.Nodes {
			if inSet[n.ID] {
				continue
			}
			if len(in.prev.ShardsOf(n.ID)) > 0 || !in.drained {
				n.State = shardmap.NodeDraining
				res.members = append(res.members, n)
				continue
			}
			res.pruned = append(res.pruned, n.ID)
		}
	}
	if in.prev == nil {
		// Bootstrap: wait until at least replicationFactor active pods have an address.
		active := 0
		for _, m := range res.members {
			if m.State == shardmap.NodeActive {
				active++
			}
		}
		if active < in.replicationFactor {
			res.joining = append(res.joining, res.joined...)
			res.members, res.joined = nil, nil
		}
	}
	slices.SortFunc(res.members, func(a, b shardmap.Node) int { return cmp.Compare(a.ID, b.ID) })
	return res
}

// isDown reports whether a node of the map, whose endpoint is ep, has been without a ready
// endpoint for longer than nodeDownTimeout.
func (in membershipInput) isDown(id string, ep endpoint) bool {
	since, ok := in.notReadySince[id]
	return !ep.Ready && ok && in.now.Sub(since) >= in.nodeDownTimeout
}

// notReadySince carries forward when each node's current spell without a ready endpoint began:
// the earlier start (prev) while it lasts, now for a node that just lost its ready endpoint,
// nothing for a ready node. ids are the nodes to track; now is truncated to whole seconds so
// that the status round trip keeps it.
func notReadySince(prev map[string]time.Time, endpoints map[string]endpoint, ids []string, now time.Time) map[string]time.Time {
	out := map[string]time.Time{}
	for _, id := range ids {
		if endpoints[id].Ready {
			continue
		}
		if t, ok := prev[id]; ok {
			out[id] = t
			continue
		}
		out[id] = now.Truncate(time.Second)
	}
	return out
}

// nextDownCheck returns how long until the first node of m that is not ready, and not yet
// down, will have been so for timeout (0: none).
func nextDownCheck(m *shardmap.Map, since map[string]time.Time, now time.Time, timeout time.Duration) time.Duration {
	if m == nil {
		return 0
	}
	var next time.Duration
	for _, n := range m.Nodes {
		t, ok := since[n.ID]
		if !ok {
			continue
		}
		if left := t.Add(timeout).Sub(now); left > 0 && (next == 0 || left < next) {
			next = left
		}
	}
	return next
}

// replicaCounts returns how many replicas m places on each node.
func replicaCounts(m *shardmap.Map) map[string]int {
	out := map[string]int{}
	if m == nil {
		return out
	}
	for _, a := range m.Assignments {
		for _, r := range a.Replicas {
			out[r]++
		}
	}
	return out
}

// movedReplicas counts replicas of next that are not where prev had them.
func movedReplicas(prev, next *shardmap.Map) int {
	if prev == nil || next == nil {
		return 0
	}
	moved := 0
	for i, a := range next.Assignments {
		if i >= len(prev.Assignments) {
			break
		}
		for _, r := range a.Replicas {
			if !slices.Contains(prev.Assignments[i].Replicas, r) {
				moved++
			}
		}
	}
	return moved
}
