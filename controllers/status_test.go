package controllers

import (
	"errors"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/shardmap"
)

// TestMovingShards: a shard moves while its leader's voters differ from the map's replicas
// or learners catch up; a node with an older map means every shard may still move; an
// unreadable status or a shard without a reported leader counts as nothing.
func TestMovingShards(t *testing.T) {
	g := NewWithT(t)
	m := &shardmap.Map{Version: 5, Shards: 3, Assignments: []shardmap.Assignment{
		{Shard: 0, Replicas: []string{"a", "b"}},
		{Shard: 1, Replicas: []string{"b", "c"}},
		{Shard: 2, Replicas: []string{"c", "a"}},
	}}
	status := func(v uint64, shards ...shardmap.ShardStatus) nodeStatusResult {
		return nodeStatusResult{status: &shardmap.NodeStatus{MapVersion: v, Shards: shards}}
	}
	statuses := map[string]nodeStatusResult{
		"a": status(5, shardmap.ShardStatus{Shard: 0, Role: "leader", Voters: []string{"b", "a"}}),
		"b": status(5, shardmap.ShardStatus{Shard: 1, Role: "leader", Voters: []string{"b", "a"}, Learners: []string{"c"}}),
		"c": {err: errors.New("unreachable")},
	}
	g.Expect(movingShards(m, statuses)).To(Equal(1), "shard 1 is moving; shard 2 has no known leader")
	statuses["b"] = status(5, shardmap.ShardStatus{Shard: 1, Role: "leader", Voters: []string{"c", "b"}})
	g.Expect(movingShards(m, statuses)).To(BeZero())
	statuses["c"] = status(4)
	g.Expect(movingShards(m, statuses)).To(Equal(3), "a node has not seen the map yet")
	g.Expect(movingShards(nil, statuses)).To(BeZero())
}

// TestShardHealth: a shard is under-replicated while fewer of its replicas hold its data on
// ready nodes than the map gives it: its leader's voters on ready nodes when the leader is
// known (a rebuilt replica counts once promoted), else the map's replicas on ready nodes. A
// quorum is lost when fewer than a majority of the map's replicas are on ready nodes.
func TestShardHealth(t *testing.T) {
	g := NewWithT(t)
	m := &shardmap.Map{Version: 5, Shards: 3, Assignments: []shardmap.Assignment{
		{Shard: 0, Replicas: []string{"a", "b", "c"}},
		{Shard: 1, Replicas: []string{"b", "c", "a"}},
		{Shard: 2, Replicas: []string{"c", "a", "b"}},
	}}
	ready := map[string]endpoint{"a": {Ready: true}, "b": {Ready: true}, "c": {Ready: true}}
	leading := func(shard int, voters []string, learners ...string) nodeStatusResult {
		return nodeStatusResult{status: &shardmap.NodeStatus{MapVersion: 5, Shards: []shardmap.ShardStatus{
			{Shard: shard, Role: "leader", Term: 2, Voters: voters, Learners: learners}}}}
	}
	statuses := map[string]nodeStatusResult{
		"a": leading(0, []string{"a", "b", "c"}),
		// c lost its disk: its old member is gone, it is being rebuilt as a learner.
		"b": leading(1, []string{"b", "a"}, "c"),
		"c": {err: errors.New("unreachable")},
	}
	under, lost := shardHealth(m, ready, statuses)
	g.Expect(under).To(Equal(1), "shard 1 has two voters; shard 2's leader is unknown, its map replicas are ready")
	g.Expect(lost).To(BeZero())

	statuses["b"] = leading(1, []string{"b", "a", "c"})
	under, _ = shardHealth(m, ready, statuses)
	g.Expect(under).To(BeZero(), "promoted")

	ready["c"] = endpoint{}
	under, lost = shardHealth(m, ready, statuses)
	g.Expect(under).To(Equal(3), "c is not ready")
	g.Expect(lost).To(BeZero())
	ready["b"] = endpoint{}
	_, lost = shardHealth(m, ready, statuses)
	g.Expect(lost).To(Equal(3))
	under, lost = shardHealth(nil, ready, statuses)
	g.Expect([]int{under, lost}).To(Equal([]int{0, 0}))
}
