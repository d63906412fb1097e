package engine

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// The engine also keeps each shard's Raft log and Raft stable state, in the same Pebble
// database as the data, under prefixes of their own:
//
//	'l' | shard (uint16) | index (uint64)   a log entry (its bytes are the caller's)
//	's' | shard (uint16) | name             a stable value (term, vote, ...)
//
// Data and Raft state share one WAL, which a crash leaves as a prefix: an applied entry's
// effects are never durable without the entries before them in the log, and a compaction
// of the log never without the applies before it. The node's Raft loop writes both
// unsynced (Batch, WriteRaft) and makes them durable with SyncWAL.
const (
	prefixLog    byte = 'l'
	prefixStable byte = 's'
)

// LogEntry is one Raft log entry as the engine stores it: an index and opaque bytes.
type LogEntry struct {
	Index uint64
	Data  []byte
}

func logKey(shard int, index uint64) []byte {
	return binary.BigEndian.AppendUint64(shardPrefix(prefixLog, shard, 8), index)
}

func stableKey(shard int, name []byte) []byte {
	return append(shardPrefix(prefixStable, shard, len(name)), name...)
}

// Stable returns a copy of shard's stable value name, or ErrNotFound.
func (e *Engine) Stable(shard int, name []byte) ([]byte, error) {
	release, err := e.use("read stable value", shard)
	if err != nil {
		return nil, err
	}
	defer release()
	v, closer, err := e.db.Get(stableKey(shard, name))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read stable value %q of shard %d: %w", name, shard, markCorrupt(err))
	}
	defer func() { _ = closer.Close() }()
	return append([]byte(nil), v...), nil
}

// DeleteRaftState removes shard's whole Raft log and stable state, durably (a replica
// that left its group).
func (e *Engine) DeleteRaftState(shard int) error {
	release, err := e.use("delete raft state", shard)
	if err != nil {
		return err
	}
	defer release()
	b := e.db.NewBatch()
	defer b.Close()
	for _, p := range []byte{prefixLog, prefixStable} {
		if err := b.DeleteRange(shardPrefix(p, shard, 0), shardPrefix(p, shard+1, 0), nil); err != nil {
			return fmt.Errorf("delete raft state of shard %d: %w", shard, err)
		}
	}
	if err := b.Commit(e.writeOptions(true)); err != nil {
		return fmt.Errorf("delete raft state of shard %d: %w", shard, err)
	}
	return nil
}

// RaftWrite is one shard's part of a WriteRaft: log entries to store and stable values
// to set.
type RaftWrite struct {
	Shard int
	// Entries are stored in index order, replacing entries at the same indexes.
	Entries []LogEntry
	// DeleteFrom, if not zero, removes every entry at or above it first (a log suffix
	// that a new leader's entries replace).
	DeleteFrom uint64
	// Stable values to set.
	Stable []StableValue
	// DeleteBelow, if not zero, removes every entry below it (a compacted log prefix).
	DeleteBelow uint64
}

// StableValue is a named stable value of a shard.
type StableValue struct {
	Name, Value []byte
}

// WriteRaft stores the Raft state of several shards in one batch, durably if sync: the
// appends of every group of a node share one commit and one WAL fsync.
func (e *Engine) WriteRaft(writes []RaftWrite, sync bool) error {
	if err := e.acquire(); err != nil {
		return fmt.Errorf("write raft state: %w", err)
	}
	defer e.mu.RUnlock()
	b := e.db.NewBatch()
	defer b.Close()
	for _, w := range writes {
		if err := writeRaftTo(b, w); err != nil {
			return err
		}
	}
	if err := b.Commit(e.writeOptions(sync)); err != nil {
		return fmt.Errorf("write raft state: %w", markCorrupt(err))
	}
	return nil
}

// writeRaftTo adds w to b.
func writeRaftTo(b *pebble.Batch, w RaftWrite) error {
	if err := checkShard(w.Shard); err != nil {
		return fmt.Errorf("write raft state: %w", err)
	}
	if w.DeleteFrom != 0 {
		if err := b.DeleteRange(logKey(w.Shard, w.DeleteFrom), shardPrefix(prefixLog, w.Shard+1, 0), nil); err != nil {
			return fmt.Errorf("write raft state of shard %d: %w", w.Shard, err)
		}
	}
	if w.DeleteBelow != 0 {
		if err := b.DeleteRange(shardPrefix(prefixLog, w.Shard, 0), logKey(w.Shard, w.DeleteBelow), nil); err != nil {
			return fmt.Errorf("write raft state of shard %d: %w", w.Shard, err)
		}
	}
	for _, en := range w.Entries {
		if err := b.Set(logKey(w.Shard, en.Index), en.Data, nil); err != nil {
			return fmt.Errorf("write raft state of shard %d: %w", w.Shard, err)
		}
	}
	for _, s := range w.Stable {
		if err := b.Set(stableKey(w.Shard, s.Name), s.Value, nil); err != nil {
			return fmt.Errorf("write raft state of shard %d: %w", w.Shard, err)
		}
	}
	return nil
}

// LogEntries calls fn with each of shard's log entries from index lo on, in index order,
// until fn returns false. The bytes passed to fn are valid only during the call.
func (e *Engine) LogEntries(shard int, lo uint64, fn func(index uint64, data []byte) bool) error {
	release, err := e.use("read log", shard)
	if err != nil {
		return err
	}
	defer release()
	it, err := e.db.NewIter(&pebble.IterOptions{
		LowerBound: logKey(shard, lo),
		UpperBound: shardPrefix(prefixLog, shard+1, 0),
	})
	if err != nil {
		return fmt.Errorf("read log of shard %d: %w", shard, err)
	}
	defer func() { _ = it.Close() }()
	for ok := it.First(); ok; ok = it.Next() {
		if !fn(binary.BigEndian.Uint64(it.Key()[shardPrefixLen:]), it.Value()) {
			break
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("read log of shard %d: %w", shard, markCorrupt(err))
	}
	return nil
}

// SyncWAL makes every write committed so far durable (one WAL fsync): the loop that
// drives a node's Raft groups writes their state unsynced and syncs in the background.
func (e *Engine) SyncWAL() error {
	if err := e.acquire(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	defer e.mu.RUnlock()
	if e.noSync {
		return nil
	}
	if err := e.db.LogData(nil, pebble.Sync); err != nil {
		return fmt.Errorf("sync: %w", markCorrupt(err))
	}
	return nil
}
