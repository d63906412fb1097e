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
