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
// Appends are synced; Pebble's commit pipeline makes concurrent appends of every shard on
// the node share one WAL fsync, and the unsynced state-machine writes that precede an
// append in the WAL become durable with it.
const (
	prefixLog    byte = 'l'
	prefixStable byte = 's'
)

// ErrLogNotFound is returned by LogEntry for an index the log does not hold.
var ErrLogNotFound = errors.New("log entry not found")

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

// AppendLog stores entries in shard's log (replacing entries at the same indexes) and
// returns once they are durable.
func (e *Engine) AppendLog(shard int, entries []LogEntry) error {
	release, err := e.use("append log", shard)
	if err != nil {
		return err
	}
	defer release()
	b := e.db.NewBatch()
	defer b.Close()
	for _, en := range entries {
		if err := b.Set(logKey(shard, en.Index), en.Data, nil); err != nil {
			return fmt.Errorf("append log of shard %d: %w", shard, err)
		}
	}
	if err := b.Commit(e.writeOptions(true)); err != nil {
		return fmt.Errorf("append log of shard %d: %w", shard, markCorrupt(err))
	}
	return nil
}

// LogEntry returns the bytes of shard's log entry at index, or ErrLogNotFound.
func (e *Engine) LogEntry(shard int, index uint64) ([]byte, error) {
	return e.getCopy(shard, logKey(shard, index), ErrLogNotFound,
		fmt.Sprintf("log entry %d", index))
}

// getCopy returns a copy of the value under key, one of shard's keys, or notFound; what names
// the value in errors.
func (e *Engine) getCopy(shard int, key []byte, notFound error, what string) ([]byte, error) {
	release, err := e.use("read "+what, shard)
	if err != nil {
		return nil, err
	}
	defer release()
	v, closer, err := e.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, fmt.Errorf("read %s of shard %d: %w", what, shard, markCorrupt(err))
	}
	defer func() { _ = closer.Close() }()
	return append([]byte(nil), v...), nil
}

// LogBounds returns the first and last index in shard's log (0, 0 when it is empty).
func (e *Engine) LogBounds(shard int) (first, last uint64, err error) {
	release, err := e.use("log bounds", shard)
	if err != nil {
		return 0, 0, err
	}
	defer release()
	it, err := e.db.NewIter(&pebble.IterOptions{
		LowerBound: shardPrefix(prefixLog, shard, 0),
		UpperBound: shardPrefix(prefixLog, shard+1, 0),
	})
	if err != nil {
		return 0, 0, fmt.Errorf("log bounds of shard %d: %w", shard, err)
	}
	defer func() { _ = it.Close() }()
	if it.First() {
		first = binary.BigEndian.Uint64(it.Key()[shardPrefixLen:])
	}
	if it.Last() {
		last = binary.BigEndian.Uint64(it.Key()[shardPrefixLen:])
	}
	if err := it.Error(); err != nil {
		return 0, 0, fmt.Errorf("log bounds of shard %d: %w", shard, markCorrupt(err))
	}
	return first, last, nil
}

// DeleteLog removes shard's log entries lo..hi (inclusive), durably.
func (e *Engine) DeleteLog(shard int, lo, hi uint64) error {
	release, err := e.use("delete log", shard)
	if err != nil {
		return err
	}
	defer release()
	if lo > hi {
		return nil
	}
	end := shardPrefix(prefixLog, shard+1, 0)
	if hi < ^uint64(0) {
		end = logKey(shard, hi+1)
	}
	if err := e.db.DeleteRange(logKey(shard, lo), end, e.writeOptions(true)); err != nil {
		return fmt.Errorf("delete log entries %d..%d of shard %d: %w", lo, hi, shard, err)
	}
	return nil
}

// SetStable stores shard's stable value name durably.
func (e *Engine) SetStable(shard int, name, value []byte) error {
	release, err := e.use("set stable", shard)
	if err != nil {
		return err
	}
	defer release()
	if err := e.db.Set(stableKey(shard, name), value, e.writeOptions(true)); err != nil {
		return fmt.Errorf("set stable %q of shard %d: %w", name, shard, err)
	}
	return nil
}

// Stable returns shard's stable value name, or ErrNotFound.
func (e *Engine) Stable(shard int, name []byte) ([]byte, error) {
	return e.getCopy(shard, stableKey(shard, name), ErrNotFound,
		fmt.Sprintf("stable value %q", name))
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
