package engine

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/torua/torua/internal/kv"
)

// OpKind is the kind of a write op.
type OpKind uint8

const (
	// OpPut stores Op.Value under Op.Key, creating or replacing it.
	OpPut OpKind = iota + 1
	// OpDelete removes Op.Key; deleting a missing key fails with ErrNotFound.
	OpDelete
)

// Op is one write in an Apply call.
type Op struct {
	// Kind is OpPut or OpDelete.
	Kind OpKind
	// Key is the user key (arbitrary bytes).
	Key []byte
	// Value is the data to store for OpPut; ignored for OpDelete.
	Value []byte
	// Cond is the op's precondition, evaluated against the key's state after the earlier
	// ops of the same Apply call.
	Cond kv.Precondition
}

// Result is the outcome of one op of an Apply call.
type Result struct {
	// Revision is the revision the op wrote; 0 if the op failed.
	Revision uint64
	// Err is nil, ErrConditionFailed if Cond did not hold (whatever the op
	// kind, also for kv.CondExists/kv.CondRevision on a missing key), or
	// ErrNotFound for an OpDelete of a missing key whose condition held.
	// A failed op writes nothing and takes no revision.
	Err error
}

// ApplyOptions tunes one Apply call.
type ApplyOptions struct {
	// Sync makes Apply return only after the batch is fsynced (ignored if
	// Options.NoSync). Concurrent synced calls share fsyncs (group commit).
	Sync bool
	// AppliedIndex, if non-zero, is stored in the shard's metadata in the
	// same batch, even if every op fails.
	AppliedIndex uint64
}

// keyState is what Apply knows of a key: from the store or an earlier op.
type keyState struct {
	exists  bool
	rev     uint64
	dataLen int // len(data)
	rawLen  int // len of the stored, encoded value
}

// Apply evaluates ops in order against shard, each seeing the effects of the
// earlier ones, and gives each successful op the shard's next revision (a
// delete takes one too). All successful ops and the shard's metadata
// (revision counter, live keys and bytes, applied index) are written in one
// Pebble batch, fsynced if opts.Sync and not Options.NoSync. If no op succeeds
// and opts.AppliedIndex is 0, nothing is written.
//
// Per-op outcomes are in the results, one per op. The returned error reports
// invalid arguments (ErrInvalidArgument) or an I/O failure; either way nothing
// is applied and the results are nil.
//
// NB: calls for one shard must be serialized by the caller (the revision
// counter is read, incremented and written back); calls for different shards
// may run concurrently.
func (e *Engine) Apply(shard int, ops []Op, opts ApplyOptions) ([]Result, error) {
	if err := e.acquire(); err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	defer e.mu.RUnlock()
	b := e.db.NewBatch()
	defer b.Close()
	results, done, err := e.applyTo(b, shard, ops, opts.AppliedIndex)
	if err != nil {
		return nil, err
	}
	if b.Empty() {
		done(true)
		return results, nil
	}
	if err := b.Commit(e.writeOptions(opts.Sync)); err != nil {
		done(false)
		return nil, fmt.Errorf("apply shard %d: commit: %w", shard, markCorrupt(err))
	}
	done(true)
	return results, nil
}

// applyTo evaluates ops as Apply does and adds their writes to b (nothing if no op
// succeeds and appliedIndex is 0). The caller holds the engine's shared lock, commits b,
// and then calls done with whether the commit succeeded: the shard's cache learns what b
// wrote, or forgets what it knew.
func (e *Engine) applyTo(b *pebble.Batch, shard int, ops []Op, appliedIndex uint64) (results []Result, done func(committed bool), err error) {
	if err := checkShard(shard); err != nil {
		return nil, nil, fmt.Errorf("apply: %w", err)
	}
	for i, op := range ops {
		if op.Kind != OpPut && op.Kind != OpDelete {
			return nil, nil, fmt.Errorf("apply shard %d op %d: op kind %d: %w", shard, i, op.Kind, ErrInvalidArgument)
		}
		if op.Cond.Kind > kv.CondAbsent {
			return nil, nil, fmt.Errorf("apply shard %d op %d: condition kind %d: %w", shard, i, op.Cond.Kind, ErrInvalidArgument)
		}
	}
	wc := e.cache(shard)
	m, ok := wc.committedMeta()
	if !ok {
		var err error
		if m, err = readMeta(e.db, shard); err != nil {
			return nil, nil, fmt.Errorf("apply: %w", err)
		}
		wc.learnMeta(m)
	}
	// learned is what this call read or wrote of each key, in order: the state earlier ops
	// of the call left, and for the cache once the batch has committed.
	learned := make([]cachedKey, 0, len(ops))
	results = make([]Result, len(ops))
	wrote := false
	for i, op := range ops {
		k := dataKey(shard, op.Key)
		cur, ok := lastLearned(learned, op.Key)
		if !ok {
			var complete bool
			cur, ok, complete = wc.key(op.Key)
			// A complete cache not holding the key: it does not exist. Only a PUT without
			// a condition trusts that (its counts depend on it, nothing else does).
			ok = ok || (complete && op.Kind == OpPut && op.Cond.Kind == kv.CondNone)
		}
		if !ok {
			var err error
			if cur, err = e.lookup(k); err != nil {
				return nil, nil, fmt.Errorf("apply shard %d op %d: %w", shard, i, err)
			}
			learned = append(learned, cachedKey{key: string(op.Key), state: cur})
		}
		if !condHolds(op.Cond, cur) {
			results[i].Err = ErrConditionFailed
			continue
		}
		var next keyState
		var err error
		switch op.Kind {
		case OpPut:
			m.Revision++
			v := encodeValue(m.Revision, op.Value)
			next = keyState{exists: true, rev: m.Revision, dataLen: len(op.Value), rawLen: len(v)}
			err = b.Set(k, v, nil)
			if cur.exists {
				m.Bytes += int64(len(op.Value) - cur.dataLen)
			} else {
				m.Keys++
				m.Bytes += int64(len(op.Key) + len(op.Value))
			}
		case OpDelete:
			if !cur.exists {
				results[i].Err = ErrNotFound
				continue
			}
			m.Revision++
			// The size hint helps Pebble's compaction heuristics only.
			err = b.DeleteSized(k, uint32(min(cur.rawLen, 1<<31)), nil)
			m.Keys--
			m.Bytes -= int64(len(op.Key) + cur.dataLen)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("apply shard %d op %d: batch: %w", shard, i, err)
		}
		results[i].Revision = m.Revision
		learned = append(learned, cachedKey{key: string(op.Key), state: next})
		wrote = true
	}
	if appliedIndex != 0 {
		m.AppliedIndex = appliedIndex
		wrote = true
	}
	if wrote {
		if err := b.Set(metaKey(shard), encodeMeta(m), nil); err != nil {
			return nil, nil, fmt.Errorf("apply shard %d: batch: %w", shard, err)
		}
	}
	return results, func(committed bool) {
		if !wrote || committed {
			wc.remember(m, learned)
		} else {
			wc.reset(meta{}, false) // the outcome is unknown: read it back next time
		}
	}, nil
}

// lastLearned returns the latest state learned records for key (a batch holds a few ops).
func lastLearned(learned []cachedKey, key []byte) (keyState, bool) {
	for i := len(learned) - 1; i >= 0; i-- {
		if learned[i].key == string(key) {
			return learned[i].state, true
		}
	}
	return keyState{}, false
}

// lookupHook, if set (tests only), is called by each lookup.
var lookupHook func()

// lookup reads the state of the data key k from the store.
func (e *Engine) lookup(k []byte) (keyState, error) {
	if lookupHook != nil {
		lookupHook()
	}
	raw, closer, err := e.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return keyState{}, nil
	}
	if err != nil {
		return keyState{}, fmt.Errorf("read key: %w", markCorrupt(err))
	}
	defer closer.Close()
	rev, data, err := decodeValue(raw)
	if err != nil {
		return keyState{}, fmt.Errorf("read key: %w", err)
	}
	return keyState{exists: true, rev: rev, dataLen: len(data), rawLen: len(raw)}, nil
}

func condHolds(c kv.Precondition, cur keyState) bool {
	switch c.Kind {
	case kv.CondRevision:
		return cur.exists && cur.rev == c.Revision
	case kv.CondExists:
		return cur.exists
	case kv.CondAbsent:
		return !cur.exists
	default:
		return true
	}
}
