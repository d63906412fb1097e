package shardmap

import "slices"

// Role is a replica's part in its shard's Raft group, as /internal/status reports it.
type Role string

const (
	// RoleLeader is the group's leader: it serves linearizable reads and writes and changes
	// the membership.
	RoleLeader Role = "leader"
	// RoleFollower is a voter that follows the leader.
	RoleFollower Role = "follower"
	// RoleLearner receives the log without voting (a replica catching up before promotion).
	RoleLearner Role = "learner"
	// RoleCandidate is a voter campaigning for leadership (pre-vote included).
	RoleCandidate Role = "candidate"
	// RoleShutdown is a replica that is closing.
	RoleShutdown Role = "shutdown"
)

// NodeStatus is the body of a node's GET /internal/status. The operator reads it to gate
// drains and rolling restarts; the router aggregates it in GET /cluster.
type NodeStatus struct {
	// Node is the node's ID.
	Node string `json:"node"`
	// MapVersion is the version of the shard map the node holds (0: none yet).
	MapVersion uint64 `json:"mapVersion"`
	// Ready is what /readyz answers.
	Ready bool `json:"ready"`
	// Shards lists every shard replica the node hosts, in ascending shard order.
	Shards []ShardStatus `json:"shards"`
	// Compactions is the node's storage engine catching up after writes: compactions running,
	// and the bytes its LSM tree still has to compact to be stable (Pebble's estimate). A
	// bulk load leaves a debt that slows reads until it is paid.
	Compactions CompactionStatus `json:"compactions"`
}

// CompactionStatus is the compaction state of a node's engine.
type CompactionStatus struct {
	Running   int64  `json:"running"`
	DebtBytes uint64 `json:"debtBytes"`
}

// ShardStatus describes one replica of one shard on one node.
type ShardStatus struct {
	Shard int `json:"shard"`
	// Role is the replica's part in its group: leader, follower, learner or candidate
	// (shutdown while it closes).
	Role Role `json:"role"`
	// Leader is the node ID of the shard's leader as this replica knows it ("" if unknown).
	Leader string `json:"leader,omitempty"`
	// Term, CommitIndex and AppliedIndex are the replica's Raft progress.
	Term         uint64 `json:"term,omitempty"`
	CommitIndex  uint64 `json:"commitIndex,omitempty"`
	AppliedIndex uint64 `json:"appliedIndex,omitempty"`
	// Voters and Learners are the group's membership as this replica knows it, and
	// ConfigIndex the log index of that membership (committed once CommitIndex reaches it).
	Voters      []string `json:"voters,omitempty"`
	Learners    []string `json:"learners,omitempty"`
	ConfigIndex uint64   `json:"configIndex,omitempty"`
	// Revision is the shard's latest revision (it grows with every write).
	Revision uint64 `json:"revision"`
	// Keys and Bytes count the live keys and their key+value bytes.
	Keys  int64 `json:"keys"`
	Bytes int64 `json:"bytes"`
}

// IsMember reports whether the group, as this replica knows it, counts id as a voter or a
// learner.
func (s ShardStatus) IsMember(id string) bool {
	return slices.Contains(s.Voters, id) || slices.Contains(s.Learners, id)
}

// ConfigCommitted reports whether the membership this replica reports is committed, as far
// as it knows.
func (s ShardStatus) ConfigCommitted() bool { return s.ConfigIndex <= s.CommitIndex }

// InPlace reports whether the group, as this replica reports it, is exactly replicas: those
// as voters (in any order), no learners, and that membership committed. Only a leader's
// report says so with authority (a follower may lag behind a change).
func (s ShardStatus) InPlace(replicas []string) bool {
	return len(s.Learners) == 0 && s.ConfigCommitted() &&
		slices.Equal(slices.Sorted(slices.Values(s.Voters)), slices.Sorted(slices.Values(replicas)))
}
