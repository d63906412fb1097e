package replication

import (
	"errors"
	"fmt"

	"github.com/hashicorp/raft"

	"github.com/torua/torua/node/engine"
)

// engineStore is a shard's raft.LogStore and raft.StableStore kept in the node's engine
// (one Pebble database for every shard's data and log). Appends of all the node's groups
// share Pebble's WAL fsyncs, where a bbolt file per group fsyncs each group on its own;
// docs/benchmarks.md has the measurements behind this choice.
type engineStore struct {
	eng   *engine.Engine
	shard int
}

var (
	_ raft.LogStore    = (*engineStore)(nil)
	_ raft.StableStore = (*engineStore)(nil)
)

func (s *engineStore) FirstIndex() (uint64, error) {
	first, _, err := s.eng.LogBounds(s.shard)
	return first, err
}

func (s *engineStore) LastIndex() (uint64, error) {
	_, last, err := s.eng.LogBounds(s.shard)
	return last, err
}

func (s *engineStore) GetLog(index uint64, out *raft.Log) error {
	v, err := s.eng.LogEntry(s.shard, index)
	if errors.Is(err, engine.ErrLogNotFound) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return err
	}
	if err := decodeLog(v, out); err != nil {
		return fmt.Errorf("raft log entry %d of shard %d: %w", index, s.shard, err)
	}
	return nil
}

func (s *engineStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

func (s *engineStore) StoreLogs(logs []*raft.Log) error {
	entries := make([]engine.LogEntry, len(logs))
	for i, l := range logs {
		entries[i] = engine.LogEntry{Index: l.Index, Data: encodeLog(l)}
	}
	return s.eng.AppendLog(s.shard, entries)
}

func (s *engineStore) DeleteRange(lo, hi uint64) error { return s.eng.DeleteLog(s.shard, lo, hi) }

func (s *engineStore) Set(key, val []byte) error { return s.eng.SetStable(s.shard, key, val) }

func (s *engineStore) Get(key []byte) ([]byte, error) {
	v, err := s.eng.Stable(s.shard, key)
	if errors.Is(err, engine.ErrNotFound) {
		return nil, errKeyNotFound
	}
	return v, err
}

func (s *engineStore) SetUint64(key []byte, val uint64) error { return setUint64(s, key, val) }

func (s *engineStore) GetUint64(key []byte) (uint64, error) { return getUint64(s, key) }

func (s *engineStore) Close() error { return nil }
