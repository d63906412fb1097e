package client

import "github.com/torua/torua/shardmap"

// ClusterInfo is the body of the router's GET /cluster: the shard map the router routes by
// and what it knows of each node of that map.
type ClusterInfo struct {
	// Map is the router's current shard map; nil when it has none yet.
	Map *shardmap.Map `json:"map"`
	// Nodes has one entry per node of Map, in the map's order.
	Nodes []NodeInfo `json:"nodes"`
}

// NodeInfo is the router's view of one storage node.
type NodeInfo struct {
	// ID is the node's ID in the shard map.
	ID string `json:"id"`
	// API is the host:port of the node's HTTP API.
	API string `json:"api"`
	// State is the node's state in the shard map (active or draining).
	State shardmap.NodeState `json:"state"`
	// Reachable says whether the router got the node's status in this request.
	Reachable bool `json:"reachable"`
	// Error says why the node is unreachable ("" when it is reachable).
	Error string `json:"error"`
	// Status is the node's GET /internal/status answer; nil when it is unreachable.
	Status *shardmap.NodeStatus `json:"status"`
}

// Keys returns the number of live keys over every shard replica the node reports hosting,
// or -1 when the router has no status for the node.
func (n *NodeInfo) Keys() int64 {
	if n.Status == nil {
		return -1
	}
	var keys int64
	for _, s := range n.Status.Shards {
		keys += s.Keys
	}
	return keys
}
