package shardmap

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// ErrNotEnoughNodes is returned by Place when fewer active members exist than the replication factor.
var ErrNotEnoughNodes = errors.New("not enough active nodes for the replication factor")

// PlaceConfig is the fixed shape of a cluster's map.
type PlaceConfig struct {
	Cluster           string
	Shards            int
	ReplicationFactor int
}

// Place computes the shard map for members from prev (nil for a new cluster). It is a pure,
// deterministic function: the same inputs give the same map.
//
// Members are every node that belongs in the map, active or draining; draining nodes keep
// their entry (so their replicas can be moved away by replication) but hold no replica in the
// result. Every active member gets a target of total/n replicas (the remainder going to those
// already holding the most); the result keeps every replica of prev that is still on an active
// member and within its node's target, and places the missing ones within the targets by
// augmenting paths. So a replica moves only for a reason (a lost or draining node, a changed
// replication factor, a newcomer's share of the balance), and no more move than balance needs.
//
// Place returns prev itself when nothing changes; otherwise a new map whose version is
// prev.Version+1 (1 without prev). The hash scheme is prev's, or HashXXHash64Tag for a new
// cluster.
func Place(prev *Map, members []Node, cfg PlaceConfig) (*Map, error) {
	if cfg.Shards < 1 || cfg.Shards > MaxShards {
		return nil, fmt.Errorf("shards must be in 1..%d, got %d", MaxShards, cfg.Shards)
	}
	if cfg.ReplicationFactor < 1 {
		return nil, fmt.Errorf("replicationFactor must be at least 1, got %d", cfg.ReplicationFactor)
	}
	if prev != nil && prev.Shards != cfg.Shards {
		return nil, fmt.Errorf("the shard count is fixed at %d; cannot change it to %d", prev.Shards, cfg.Shards)
	}
	nodes := slices.Clone(members)
	slices.SortFunc(nodes, func(a, b Node) int { return cmp.Compare(a.ID, b.ID) })
	active := make(map[string]bool, len(nodes))
	var activeIDs []string
	for i, n := range nodes {
		if i > 0 && nodes[i-1].ID == n.ID {
			return nil, fmt.Errorf("member %q listed twice", n.ID)
		}
		if n.State == NodeActive {
			active[n.ID] = true
			activeIDs = append(activeIDs, n.ID)
		}
	}
	if len(activeIDs) < cfg.ReplicationFactor {
		return nil, fmt.Errorf("%w: %d active, replication factor %d", ErrNotEnoughNodes, len(activeIDs), cfg.ReplicationFactor)
	}

	// Keep the replicas of prev that are still allowed, in their order, up to RF.
	assign := make([][]string, cfg.Shards)
	fresh := make([]bool, cfg.Shards) // no replica of prev survived
	load := make(map[string]int, len(activeIDs))
	for s := range assign {
		var kept []string
		if prev != nil && s < len(prev.Assignments) {
			for _, r := range prev.Assignments[s].Replicas {
				if active[r] && !slices.Contains(kept, r) && len(kept) < cfg.ReplicationFactor {
					kept = append(kept, r)
				}
			}
		}
		assign[s] = kept
		fresh[s] = len(kept) == 0
		for _, r := range kept {
			load[r]++
		}
	}
	// Targets: every active node gets total/n replicas, and the remainder goes one each to the
	// nodes that already hold the most (ties by ID), so the fewest kept replicas must move.
	total := cfg.Shards * cfg.ReplicationFactor
	byLoad := slices.Clone(activeIDs)
	slices.SortStableFunc(byLoad, func(a, b string) int { return cmp.Compare(load[b], load[a]) })
	target := make(map[string]int, len(activeIDs))
	for i, id := range byLoad {
		target[id] = total / len(activeIDs)
		if i < total%len(activeIDs) {
			target[id]++
		}
	}
	// Shed what is over target, from the highest shards down, first from shards that still have
	// every replica (so no shard loses more than it must).
	for pass := 0; pass < 2; pass++ {
		for _, id := range activeIDs {
			for s := len(assign) - 1; s >= 0 && load[id] > target[id]; s-- {
				if i := slices.Index(assign[s], id); i >= 0 && (pass == 1 || len(assign[s]) == cfg.ReplicationFactor) {
					assign[s] = slices.Delete(assign[s], i, i+1)
					load[id]--
				}
			}
		}
	}
	// Place the missing replicas within the targets by augmenting paths (bipartite b-matching):
	// a node at its target may take a replica if one of the replicas placed on it in this round
	// can move on to another node. So kept replicas stay where they are whenever balance allows.
	p := newPlacer(assign, activeIDs)
	for _, id := range activeIDs {
		p.spare[id] = target[id] - load[id]
	}
	for s := range assign {
		for len(assign[s]) < cfg.ReplicationFactor {
			if !p.place(s, map[string]bool{}) {
				// No placement within the targets: take the least-loaded node and let the
				// balancing loop below even things out.
				best := ""
				for _, id := range activeIDs {
					if !slices.Contains(assign[s], id) && (best == "" || target[id]-p.spare[id] < target[best]-p.spare[best]) {
						best = id
					}
				}
				p.add(s, best, len(assign[s]))
				p.spare[best]--
			}
		}
	}
	for _, id := range activeIDs {
		load[id] = target[id] - p.spare[id]
	}
	// Safety net: move one replica at a time from the most- to the least-loaded node while they
	// differ by more than one. Each move lowers the sum of squared loads, so this ends; a shard
	// on the most-loaded node without the least-loaded one always exists because the former
	// holds more shards than the latter.
	for {
		maxID, minID := extremes(activeIDs, load)
		if load[maxID]-load[minID] <= 1 {
			break
		}
		// Prefer re-targeting a replica that is new in this placement: it moves anyway.
		s := -1
		for pass := 0; pass < 2 && s < 0; pass++ {
			for i, rs := range assign {
				if slices.Contains(rs, maxID) && !slices.Contains(rs, minID) && (pass == 1 || !held(prev, i, maxID)) {
					s = i
					break
				}
			}
		}
		assign[s][slices.Index(assign[s], maxID)] = minID
		load[maxID]--
		load[minID]++
	}

	// Shards placed from scratch put the node that leads (is first for) the fewest shards first,
	// so first replicas, the ones that serve or are preferred leaders, spread evenly too.
	// Shards that kept replicas keep their order: changing a shard's first replica is never free.
	leads := make(map[string]int, len(activeIDs))
	for s := range assign {
		if !fresh[s] {
			leads[assign[s][0]]++
		}
	}
	for s := range assign {
		if fresh[s] {
			best := 0
			for i, id := range assign[s] {
				if leads[id] < leads[assign[s][best]] {
					best = i
				}
			}
			assign[s][0], assign[s][best] = assign[s][best], assign[s][0]
			leads[assign[s][0]]++
		}
	}
	for {
		maxID, minID := extremes(activeIDs, leads)
		if leads[maxID]-leads[minID] <= 1 {
			break
		}
		// Find a chain max -> ... -> min where each step is a fresh shard led by one node that
		// holds the next as a replica, and hand each shard's lead one step along it: the
		// ends change by one, every node between keeps its count.
		type step struct {
			from  string
			shard int
		}
		parent := map[string]step{maxID: {}}
		for queue := []string{maxID}; len(queue) > 0; queue = queue[1:] {
			for s, rs := range assign {
				if fresh[s] && rs[0] == queue[0] {
					for _, b := range rs[1:] {
						if _, seen := parent[b]; !seen {
							parent[b] = step{queue[0], s}
							queue = append(queue, b)
						}
					}
				}
			}
		}
		if _, ok := parent[minID]; !ok {
			break
		}
		for b := minID; b != maxID; b = parent[b].from {
			rs := assign[parent[b].shard]
			i := slices.Index(rs, b)
			rs[0], rs[i] = rs[i], rs[0]
		}
		leads[maxID]--
		leads[minID]++
	}

	// A cluster keeps its first map's hash scheme: changing it would move keys.
	hash := HashXXHash64Tag
	if prev != nil {
		hash = prev.Hash
	}
	next := &Map{
		Cluster:           cfg.Cluster,
		Shards:            cfg.Shards,
		ReplicationFactor: cfg.ReplicationFactor,
		Hash:              hash,
		Nodes:             nodes,
		Assignments:       make([]Assignment, cfg.Shards),
	}
	for s := range assign {
		next.Assignments[s] = Assignment{Shard: s, Replicas: assign[s]}
	}
	if prev != nil && SameContent(prev, next) {
		return prev, nil
	}
	next.Version = 1
	if prev != nil {
		next.Version = prev.Version + 1
	}
	if err := next.Validate(); err != nil {
		// NB: a bug in this function, never bad input: inputs were checked above.
		return nil, fmt.Errorf("placement produced an invalid map: %w", err)
	}
	return next, nil
}

// held reports whether prev had a replica of shard on node.
func held(prev *Map, shard int, node string) bool {
	return prev != nil && slices.Contains(prev.Replicas(shard), node)
}

// placer assigns missing replicas to nodes with spare capacity, re-routing replicas it placed
// earlier when that frees room (Kuhn's augmenting paths, with a capacity per node). Among nodes
// with room it takes the one that shares the fewest shards with the shard's other replicas, so
// replica pairs spread evenly and a lost node's replicas can be rebuilt on all the others.
type placer struct {
	assign [][]string
	ids    []string         // active node IDs, sorted: the search order, for determinism
	spare  map[string]int   // replicas each node may still take
	newOn  map[string][]int // shards whose new replica this round sits on the node
	pairs  map[[2]string]int
}

func newPlacer(assign [][]string, ids []string) *placer {
	p := &placer{assign: assign, ids: ids, spare: map[string]int{}, newOn: map[string][]int{}, pairs: map[[2]string]int{}}
	for _, rs := range assign {
		for _, a := range rs {
			for _, b := range rs {
				if a != b {
					p.pairs[[2]string{a, b}]++
				}
			}
		}
	}
	return p
}

func (p *placer) add(s int, id string, at int) {
	for _, r := range p.assign[s] {
		p.pairs[[2]string{id, r}]++
		p.pairs[[2]string{r, id}]++
	}
	p.assign[s] = slices.Insert(p.assign[s], at, id)
}

func (p *placer) remove(s int, id string) int {
	i := slices.Index(p.assign[s], id)
	p.assign[s] = slices.Delete(p.assign[s], i, i+1)
	for _, r := range p.assign[s] {
		p.pairs[[2]string{id, r}]--
		p.pairs[[2]string{r, id}]--
	}
	return i
}

// shared counts the shards id already shares with the replicas of s.
func (p *placer) shared(s int, id string) int {
	n := 0
	for _, r := range p.assign[s] {
		n += p.pairs[[2]string{id, r}]
	}
	return n
}

// place adds one replica to shard s, returning false if no augmenting path exists.
func (p *placer) place(s int, seen map[string]bool) bool {
	best := ""
	for _, id := range p.ids {
		if p.spare[id] > 0 && !slices.Contains(p.assign[s], id) &&
			(best == "" || p.shared(s, id) < p.shared(s, best) ||
				p.shared(s, id) == p.shared(s, best) && p.spare[id] > p.spare[best]) {
			best = id
		}
	}
	if best != "" {
		p.add(s, best, len(p.assign[s]))
		p.spare[best]--
		p.newOn[best] = append(p.newOn[best], s)
		return true
	}
	for _, id := range p.ids {
		if seen[id] || slices.Contains(p.assign[s], id) {
			continue
		}
		seen[id] = true
		for k, s2 := range p.newOn[id] {
			i := p.remove(s2, id)
			if p.place(s2, seen) {
				p.newOn[id][k] = s
				p.add(s, id, len(p.assign[s]))
				return true
			}
			p.add(s2, id, i)
		}
	}
	return false
}

// extremes returns the first of ids with the highest count and the first with the lowest.
func extremes(ids []string, count map[string]int) (maxID, minID string) {
	maxID, minID = ids[0], ids[0]
	for _, id := range ids {
		if count[id] > count[maxID] {
			maxID = id
		}
		if count[id] < count[minID] {
			minID = id
		}
	}
	return maxID, minID
}
