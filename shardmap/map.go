package shardmap

import (
	"bytes"
	"fmt"
	"net"
	"slices"
	"strconv"

	"github.com/cespare/xxhash/v2"
)

// The key hash schemes a map may name in its hash field. A cluster keeps the scheme of its
// first map for its whole life (Place copies it; Holder refuses a change), so that no key ever
// moves because the scheme changed.
const (
	// HashXXHash64 hashes every key whole: shard(key) = xxhash64(key) mod S. Maps written
	// before hash tags existed name it, and their clusters keep it.
	HashXXHash64 = "xxhash64"
	// HashXXHash64Tag is HashXXHash64 with hash tags: a key that ends with "{tag}" hashes by
	// tag alone (see HashTag), so "user:{42}" and "cart:{42}" share a shard. A key with no tag
	// hashes whole, exactly as under HashXXHash64. New clusters get this scheme.
	HashXXHash64Tag = "xxhash64-tag"
)

// MaxShards is the largest shard count a cluster may have.
const MaxShards = 4096

// NodeState says whether a node may receive new replicas.
type NodeState string

const (
	// NodeActive nodes hold replicas and receive new ones.
	NodeActive NodeState = "active"
	// NodeDraining nodes receive no new replicas; placement moves theirs away.
	NodeDraining NodeState = "draining"
)

// Node is one storage node as the map names it.
type Node struct {
	// ID is the node's stable name (the pod name on Kubernetes), also its Raft server ID.
	ID string `json:"id"`
	// API is the host:port of the node's HTTP API.
	API string `json:"api"`
	// Raft is the host:port of the node's Raft transport.
	Raft string `json:"raft,omitempty"`
	// State is active or draining.
	State NodeState `json:"state"`
}

// Assignment lists the replicas of one shard, by node ID. The order is stable: placement keeps
// existing replicas where they are and appends new ones.
type Assignment struct {
	Shard    int      `json:"shard"`
	Replicas []string `json:"replicas"`
}

// Map is a versioned shard map. A Map returned by Decode, Place or Validate (without error) is
// treated as immutable: share it, never modify it.
type Map struct {
	Cluster           string       `json:"cluster"`
	Version           uint64       `json:"version"`
	Shards            int          `json:"shards"`
	ReplicationFactor int          `json:"replicationFactor"`
	Hash              string       `json:"hash"`
	Nodes             []Node       `json:"nodes"`
	Assignments       []Assignment `json:"assignments"`
}

// ShardOf returns the shard that key belongs to among shards shards when the key hashes whole
// (HashXXHash64, or a key with no tag under HashXXHash64Tag).
func ShardOf(key []byte, shards int) int {
	return int(xxhash.Sum64(key) % uint64(shards))
}

// HashTag returns the part of key that HashXXHash64Tag hashes: the text between the key's last
// '{' and its final '}' when the key ends with '}' and that text is non-empty and holds no '}';
// otherwise the whole key. The tag is found from the end, so that everything before it (graph
// keys put order-preserving values there) may hold any bytes.
func HashTag(key []byte) []byte {
	n := len(key)
	if n < 3 || key[n-1] != '}' {
		return key
	}
	i := bytes.LastIndexByte(key[:n-1], '{')
	if i < 0 || i == n-2 || bytes.IndexByte(key[i+1:n-1], '}') >= 0 {
		return key
	}
	return key[i+1 : n-1]
}

// ShardFor returns the shard of key under m's hash scheme.
func (m *Map) ShardFor(key []byte) int {
	if m.Hash == HashXXHash64Tag {
		key = HashTag(key)
	}
	return ShardOf(key, m.Shards)
}

// Replicas returns the node IDs that hold shard, or nil for a shard out of range.
// Assignments are indexed by shard after validation, so this is O(1).
func (m *Map) Replicas(shard int) []string {
	if shard < 0 || shard >= len(m.Assignments) {
		return nil
	}
	return m.Assignments[shard].Replicas
}

// Node returns the node with the given ID.
func (m *Map) Node(id string) (Node, bool) {
	for _, n := range m.Nodes {
		if n.ID == id {
			return n, true
		}
	}
	return Node{}, false
}

// ShardsOf returns, in ascending order, the shards that list nodeID among their replicas.
func (m *Map) ShardsOf(nodeID string) []int {
	var out []int
	for _, a := range m.Assignments {
		if slices.Contains(a.Replicas, nodeID) {
			out = append(out, a.Shard)
		}
	}
	return out
}

// Validate checks every invariant a consumer relies on. Assignments must be sorted by shard
// (Decode and Place produce them so).
func (m *Map) Validate() error {
	if m.Version == 0 {
		return fmt.Errorf("version must be greater than 0")
	}
	if m.Hash != HashXXHash64 && m.Hash != HashXXHash64Tag {
		return fmt.Errorf("hash %q is not supported (want %q or %q)", m.Hash, HashXXHash64Tag, HashXXHash64)
	}
	if m.Shards < 1 || m.Shards > MaxShards {
		return fmt.Errorf("shards must be in 1..%d, got %d", MaxShards, m.Shards)
	}
	if m.ReplicationFactor < 1 {
		return fmt.Errorf("replicationFactor must be at least 1, got %d", m.ReplicationFactor)
	}
	ids := make(map[string]bool, len(m.Nodes))
	for i, n := range m.Nodes {
		if n.ID == "" {
			return fmt.Errorf("nodes[%d]: empty id", i)
		}
		if ids[n.ID] {
			return fmt.Errorf("nodes[%d]: duplicate id %q", i, n.ID)
		}
		ids[n.ID] = true
		if err := checkHostPort(n.API); err != nil {
			return fmt.Errorf("node %q: api address: %w", n.ID, err)
		}
		if n.Raft != "" {
			if err := checkHostPort(n.Raft); err != nil {
				return fmt.Errorf("node %q: raft address: %w", n.ID, err)
			}
		}
		if n.State != NodeActive && n.State != NodeDraining {
			return fmt.Errorf("node %q: state %q is neither %q nor %q", n.ID, n.State, NodeActive, NodeDraining)
		}
	}
	if len(m.Assignments) != m.Shards {
		return fmt.Errorf("%d assignments for %d shards", len(m.Assignments), m.Shards)
	}
	for i, a := range m.Assignments {
		if a.Shard != i {
			return fmt.Errorf("assignments[%d] is for shard %d: want every shard 0..%d once, in order", i, a.Shard, m.Shards-1)
		}
		if len(a.Replicas) != m.ReplicationFactor {
			return fmt.Errorf("shard %d has %d replicas, want %d", i, len(a.Replicas), m.ReplicationFactor)
		}
		for j, r := range a.Replicas {
			if !ids[r] {
				return fmt.Errorf("shard %d: replica %q is not a node of the map", i, r)
			}
			if slices.Contains(a.Replicas[:j], r) {
				return fmt.Errorf("shard %d: node %q holds two replicas", i, r)
			}
		}
	}
	return nil
}

func checkHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "" {
		return fmt.Errorf("%q has no host", addr)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%q: port must be 1..65535", addr)
	}
	return nil
}

// SameContent reports whether a and b describe the same cluster layout, ignoring Version.
func SameContent(a, b *Map) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Cluster != b.Cluster || a.Shards != b.Shards || a.ReplicationFactor != b.ReplicationFactor ||
		a.Hash != b.Hash || !slices.Equal(a.Nodes, b.Nodes) || len(a.Assignments) != len(b.Assignments) {
		return false
	}
	for i := range a.Assignments {
		if a.Assignments[i].Shard != b.Assignments[i].Shard ||
			!slices.Equal(a.Assignments[i].Replicas, b.Assignments[i].Replicas) {
			return false
		}
	}
	return true
}
