package shardmap

import (
	"slices"
	"sort"
)

// This file answers, from a map and the nodes' statuses, where each shard stands: which node
// leads it, whether its group is the map's replicas yet (in place) or still changing
// (moving), whether it keeps a quorum without a node, and what a node still says about
// replicas on nodes that leave. The operator, `torua local` and `torua status` decide from
// these; every function here is pure.

// Quorum is how many of the shard's replicas make a majority: of the replicas its assignment
// lists, not of the cluster's replication factor (the two differ while the factor changes).
func (a Assignment) Quorum() int { return len(a.Replicas)/2 + 1 }

// HasQuorum reports whether a quorum of the shard's replicas are up.
func (a Assignment) HasQuorum(up func(id string) bool) bool {
	return a.KeepsQuorumWithout("", up)
}

// KeepsQuorumWithout reports whether a quorum of the shard's replicas other than id are up:
// whether the shard still serves when node id stops.
func (a Assignment) KeepsQuorumWithout(id string, up func(id string) bool) bool {
	n := 0
	for _, r := range a.Replicas {
		if r != id && up(r) {
			n++
		}
	}
	return n >= a.Quorum()
}

// ShardProgress is what the nodes' statuses say about one shard of a map.
type ShardProgress struct {
	// Shard is the shard, and Replicas its replicas in the map.
	Shard    int
	Replicas []string
	// Led is set when a status reports a leader of the shard; Leader is then the node that
	// does, in the highest term, and LeaderStatus its report.
	Led          bool
	Leader       string
	LeaderStatus ShardStatus
}

// InPlace reports whether the shard's leader reports the map's replicas as its voters, no
// learners, and that membership committed. A shard without a known leader is not in place.
func (p ShardProgress) InPlace() bool { return p.Led && p.LeaderStatus.InPlace(p.Replicas) }

// Moving reports whether the shard's leader reports a group other than the map's replicas
// (other voters, learners catching up, a change not committed yet). A shard without a known
// leader is not moving: nothing says it moves.
func (p ShardProgress) Moving() bool { return p.Led && !p.InPlace() }

// Progress is what a set of node statuses says about the shards of one map.
type Progress struct {
	// Map is the map the statuses were read against (nil: none yet).
	Map *Map
	// Stale lists, in order, the nodes whose status holds an older map than Map.
	Stale []string
	// Shards has one entry per shard of Map, by shard.
	Shards []ShardProgress
}

// NewProgress reads statuses, by node ID, against m. A nil status (a node that did not
// answer) is left out. When two statuses report a leader of one shard (an old leader that has
// not learnt of its successor yet) the one in the higher term counts; in the same term, the
// node first in ID order.
func NewProgress(m *Map, statuses map[string]*NodeStatus) *Progress {
	p := &Progress{Map: m}
	if m == nil {
		return p
	}
	ids := make([]string, 0, len(statuses))
	for id, st := range statuses {
		if st != nil {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	p.Shards = make([]ShardProgress, len(m.Assignments))
	for i, a := range m.Assignments {
		p.Shards[i] = ShardProgress{Shard: a.Shard, Replicas: a.Replicas}
	}
	for _, id := range ids {
		st := statuses[id]
		if st.MapVersion < m.Version {
			p.Stale = append(p.Stale, id)
		}
		for _, sh := range st.Shards {
			if sh.Role != RoleLeader || sh.Shard < 0 || sh.Shard >= len(p.Shards) {
				continue
			}
			sp := &p.Shards[sh.Shard]
			if !sp.Led || sh.Term > sp.LeaderStatus.Term {
				sp.Led, sp.Leader, sp.LeaderStatus = true, id, sh
			}
		}
	}
	return p
}

// Moving counts the shards whose replicas do not match the map yet: every shard while a node
// holds an older map, else the shards that are Moving.
func (p *Progress) Moving() int {
	if p.Map == nil {
		return 0
	}
	if len(p.Stale) > 0 {
		return p.Map.Shards
	}
	n := 0
	for _, sp := range p.Shards {
		if sp.Moving() {
			n++
		}
	}
	return n
}

// NotInPlace counts the shards that are not InPlace, those without a known leader included.
func (p *Progress) NotInPlace() int {
	n := 0
	for _, sp := range p.Shards {
		if !sp.InPlace() {
			n++
		}
	}
	return n
}

// Membership is one shard's group counting one node (as a voter or a learner).
type Membership struct {
	Shard int
	Node  string
}

// MembershipsOf returns, in shard order, every membership of one of nodes that the replicas
// st reports still count, whatever their role: what a node that stays still says about
// replicas on nodes that leave. A drain is done once no staying node reports any.
func (st *NodeStatus) MembershipsOf(nodes []string) []Membership {
	var out []Membership
	for _, sh := range st.Shards {
		for _, id := range slices.Concat(sh.Voters, sh.Learners) {
			if slices.Contains(nodes, id) {
				out = append(out, Membership{Shard: sh.Shard, Node: id})
			}
		}
	}
	return out
}

// Hosts reports whether the node hosts a replica of shard.
func (st *NodeStatus) Hosts(shard int) bool {
	return slices.ContainsFunc(st.Shards, func(s ShardStatus) bool { return s.Shard == shard })
}

// Unhosted returns, in ascending order, the shards m assigns to node id that st does not
// report hosting yet.
func (st *NodeStatus) Unhosted(m *Map, id string) []int {
	var out []int
	for _, shard := range m.ShardsOf(id) {
		if !st.Hosts(shard) {
			out = append(out, shard)
		}
	}
	return out
}
