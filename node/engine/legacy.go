package engine

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Earlier versions of Torua kept each shard's Raft log and Raft stable state (term, vote,
// compaction point, ...) in the engine, next to the data, under prefixes of their own:
//
//	'l' | shard (uint16) | index (uint64)   a log entry
//	's' | shard (uint16) | name             a stable value
//
// Torua now keeps them in the node's Raft log (package raftlog), and the engine holds data
// only. It still looks under those prefixes, so that a node refuses such a data directory
// with an error that says why instead of starting without the Raft state it holds.
const (
	prefixLegacyLog    byte = 'l'
	prefixLegacyStable byte = 's'
)

// LegacyRaftState reports whether the engine holds Raft state of shard in the layout of
// earlier versions.
func (e *Engine) LegacyRaftState(shard int) (bool, error) {
	release, err := e.use("look for legacy raft state", shard)
	if err != nil {
		return false, err
	}
	defer release()
	for _, p := range []byte{prefixLegacyLog, prefixLegacyStable} {
		it, err := e.db.NewIter(&pebble.IterOptions{
			LowerBound: shardPrefix(p, shard, 0),
			UpperBound: shardPrefix(p, shard+1, 0),
		})
		if err != nil {
			return false, fmt.Errorf("look for legacy raft state of shard %d: %w", shard, err)
		}
		found := it.First()
		err = it.Error()
		_ = it.Close()
		if err != nil {
			return false, fmt.Errorf("look for legacy raft state of shard %d: %w", shard, markCorrupt(err))
		}
		if found {
			return true, nil
		}
	}
	return false, nil
}
