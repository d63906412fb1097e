package node

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"

	"github.com/torua/torua/shardmap"
)

// A shard hosted on this node is recorded on disk three times, once by each layer, and each
// layer reads only its own record:
//
//	<data>/raft/<shard>/   the node's: a replica of shard is open here, from the moment it
//	                       opens (also while it waits for its leader and holds no Raft
//	                       state) until it retires; a restart reopens every shard listed
//	                       (openExisting). An empty directory per shard, nothing else.
//	<data>/raft-log/       replication's (through node/raftlog): the replica's Raft state
//	                       (entries, hard state, compaction point, members).
//	engine metadata        the engine's: the shard's data, revision counter and applied
//	                       index ('m' | shard in the Pebble store).
//
// In memory the same holds: the node's groups (and the hosting view published from them for
// requests), the Host's open groups, the Raft log's per-shard index, the engine's metadata.
// A replica is recorded here before its group opens and unrecorded after its Raft state and
// data are deleted (retire), so a crash in between leaves a record that reopens it.
//
// NB: the record's directory is named raft/ for the data directories that exist: it was
// named when it held Raft state, which has since moved to raft-log/. It holds none now.
const hostedDirName = "raft"

// hostedDir is the directory of the node's record of the shards it hosts.
func (n *Node) hostedDir() string { return filepath.Join(n.cfg.DataDir, hostedDirName) }

// markHosted records shard as hosted here.
func (n *Node) markHosted(shard int) error {
	return os.MkdirAll(filepath.Join(n.hostedDir(), strconv.Itoa(shard)), 0o750)
}

// unmarkHosted removes shard from the record.
func (n *Node) unmarkHosted(shard int) error {
	return os.RemoveAll(filepath.Join(n.hostedDir(), strconv.Itoa(shard)))
}

// hostedOnDisk returns the shards the record lists; an entry that is no shard's is logged
// and skipped.
func (n *Node) hostedOnDisk() ([]int, error) {
	entries, err := os.ReadDir(n.hostedDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var shards []int
	for _, e := range entries {
		shard, err := strconv.Atoi(e.Name())
		if err != nil || !e.IsDir() || shard < 0 || shard >= shardmap.MaxShards {
			n.log.Warn("Ignoring unexpected entry in the raft directory", "name", e.Name())
			continue
		}
		shards = append(shards, shard)
	}
	return shards, nil
}

// hostedBefore reports whether the record holds anything: the node hosted replicas before
// this start (a restart, not a new node).
func (n *Node) hostedBefore() bool {
	entries, err := os.ReadDir(n.hostedDir())
	return err == nil && len(entries) > 0
}
