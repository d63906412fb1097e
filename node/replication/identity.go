package replication

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"strconv"

	"github.com/torua/torua/node/raftlog"
)

// A node's identity is created with its Raft log and kept in it (raftlog.MetaShard):
//
//	"node"     the node ID the log belongs to
//	"raft-id"  the node's Raft ID, 8 bytes big-endian
//
// Raft counts on what a member has promised (its votes, the entries it acknowledged)
// being on its disk. A node that lost its disk has promised nothing, so it must not take
// part in its groups as the member it was: it comes back with a new log and so with a new,
// random Raft ID, and drops every message addressed to the old one (Host.step). Its groups'
// leaders see the old member inactive, learn the new Raft ID from the node, remove the old
// member and add the node again as a learner that catches up by snapshot, like a moving
// replica. The identity lives in the log rather than in a file beside it so that the two
// cannot be lost apart: a log without its identity would be the old member's votes under
// a new name, an identity without its log the old member without its votes.
var (
	identityNode   = []byte("node")
	identityRaftID = []byte("raft-id")
)

// RaftID is the Raft ID that nodes created by earlier versions of Torua, whose Raft log
// holds no identity, keep: a 64-bit hash of the node ID (never 0, Raft's "none").
func RaftID(name string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	if id := h.Sum64(); id != 0 {
		return id
	}
	return 1
}

// FormatRaftID formats a Raft ID as Torua shows it: 16 hexadecimal digits.
func FormatRaftID(id uint64) string { return fmt.Sprintf("%016x", id) }

// ParseRaftID parses what FormatRaftID wrote.
func ParseRaftID(s string) (uint64, error) {
	id, err := strconv.ParseUint(s, 16, 64)
	if err != nil || id == 0 || len(s) != 16 {
		return 0, fmt.Errorf("raft ID %q: want 16 hexadecimal digits, not all zero", s)
	}
	return id, nil
}

// loadIdentity returns the Raft ID of node from the log, creating the identity (durably)
// when the log has none: a random ID for a new log, RaftID(node) for a log that earlier
// versions wrote (it holds shards but no identity). A log that belongs to another node is
// refused.
func loadIdentity(rl *raftlog.Log, node string) (id uint64, created bool, err error) {
	if st, ok := rl.State(raftlog.MetaShard); ok {
		rl.Release(raftlog.MetaShard)
		owner, raw := st.Stable[string(identityNode)], st.Stable[string(identityRaftID)]
		if len(raw) != 8 || binary.BigEndian.Uint64(raw) == 0 {
			return 0, false, fmt.Errorf("the raft log's identity is damaged (%s %x): %w", identityRaftID, raw, raftlog.ErrCorrupt)
		}
		if string(owner) != node {
			return 0, false, fmt.Errorf("the raft log belongs to node %q, not %q: a data directory serves the node that created it", owner, node)
		}
		return binary.BigEndian.Uint64(raw), false, nil
	}
	id = RaftID(node)
	if !rl.HoldsShards() {
		var b [8]byte
		for id = 0; id == 0; id = binary.BigEndian.Uint64(b[:]) {
			if _, err := rand.Read(b[:]); err != nil {
				return 0, false, fmt.Errorf("new raft ID: %w", err)
			}
		}
	}
	w := raftlog.Write{Shard: raftlog.MetaShard, Stable: []raftlog.StableValue{
		{Name: identityNode, Value: []byte(node)},
		{Name: identityRaftID, Value: binary.BigEndian.AppendUint64(nil, id)},
	}}
	if err := rl.Write([]raftlog.Write{w}); err != nil {
		return 0, false, fmt.Errorf("write the node's identity: %w", err)
	}
	if err := rl.Sync(); err != nil {
		return 0, false, fmt.Errorf("write the node's identity: %w", err)
	}
	return id, true, nil
}
