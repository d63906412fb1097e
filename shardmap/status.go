package shardmap

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
}

// ShardStatus describes one replica of one shard on one node.
type ShardStatus struct {
	Shard int `json:"shard"`
	// Role is "leader", "follower", "learner" or "candidate". Without replication every
	// hosted replica is its shard's leader.
	Role string `json:"role"`
	// Leader is the node ID of the shard's leader as this replica knows it ("" if unknown).
	Leader string `json:"leader,omitempty"`
	// Term, CommitIndex and AppliedIndex are the replica's Raft progress (0 without replication).
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
