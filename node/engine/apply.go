package engine

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/torua/torua/internal/kv"
)

// OpKind is the kind of an op. Its values are in the Raft log (a command's kind byte):
// never renumber.
type OpKind uint8

const (
	// OpPut stores Op.Value under Op.Key, creating or replacing it.
	OpPut OpKind = iota + 1
	// OpDelete removes Op.Key; deleting a missing key fails with ErrNotFound.
	OpDelete
	// OpCheck asserts Op.Cond against Op.Key's state and writes nothing: the guard of an
	// atomic unit on a key it does not otherwise change ("the vertex is still at revision R").
	OpCheck
)

// Op is one op in an Apply call.
type Op struct {
	// Kind is OpPut, OpDelete or OpCheck.
	Kind OpKind
	// Key is the user key (arbitrary bytes).
	Key []byte
	// Value is the data to store for OpPut; ignored otherwise.
	Value []byte
	// Cond is the op's precondition, evaluated against the key's state after the earlier
	// ops of the same Apply call.
	Cond kv.Precondition
}

// Result is the outcome of one op of an Apply call.
type Result struct {
	// Revision is the revision a put or delete wrote, or the revision of the key an
	// OpCheck found (0: the key is absent); 0 if the op failed.
	Revision uint64
	// Err is nil, or:
	//   - ErrConditionFailed: Cond did not hold (whatever the op kind, also for
	//     kv.CondExists/kv.CondRevision on a missing key);
	//   - ErrNotFound: an OpDelete of a missing key whose condition held;
	//   - ErrAborted: the op belongs to an atomic unit (Span) another op of which failed
	//     with one of the errors above.
	// A failed op writes nothing and takes no revision.
	Err error
}

// Span is an atomic unit of an Apply call: ops[Start:End], applied all-or-nothing.
//
// Its ops are evaluated in order like any others, each seeing the effects of the earlier
// ones, until one fails. Then the unit is aborted: that op's Result has its error and
// every other op of the unit (those before it, which held, and those after it, which are
// not evaluated) has ErrAborted and revision 0; the unit writes nothing, takes no
// revision and leaves the shard's statistics and the engine's write cache as they were,
// and the ops after the unit see the state from before it. A unit in which no op fails
// applies exactly as the same ops outside a unit would.
type Span struct {
	Start, End int
}

// ApplyOptions tunes one Apply call.
type ApplyOptions struct {
	// Sync makes Apply return only after the batch is fsynced (ignored if
	// Options.NoSync). Concurrent synced calls share fsyncs (group commit).
	Sync bool
	// AppliedIndex, if non-zero, is stored in the shard's metadata in the
	// same batch, even if every op fails.
	AppliedIndex uint64
	// Atomic makes the call's ops one atomic unit (Span): all of them apply, or none.
	Atomic bool
}

// keyState is what Apply knows of a key: from the store or an earlier op.
type keyState struct {
	exists  bool
	rev     uint64
	dataLen int // len(data)
	rawLen  int // len of the stored, encoded value
}

// Apply evaluates ops in order against shard, each seeing the effects of the
// earlier ones, and gives each successful put or delete the shard's next revision (a
// delete takes one too). Ops apply independently (a failed op fails alone) unless
// opts.Atomic makes them one atomic unit (Span). All writes of successful ops and the
// shard's metadata (revision counter, live keys and bytes, applied index) are written in
// one Pebble batch, fsynced if opts.Sync and not Options.NoSync. If no op writes and
// opts.AppliedIndex is 0, nothing is written.
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
	var atomic []Span
	if opts.Atomic && len(ops) > 0 {
		atomic = []Span{{Start: 0, End: len(ops)}}
	}
	b := e.db.NewBatch()
	defer b.Close()
	results, done, err := e.applyTo(b, shard, ops, atomic, opts.AppliedIndex)
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

// applyTo evaluates ops as Apply does, the spans of atomic (ascending, disjoint) each an
// atomic unit, and adds their writes to b (nothing if no op writes and appliedIndex is 0).
// The caller holds the engine's shared lock, commits b, and then calls done with whether
// the commit succeeded: the shard's cache learns what b wrote, or forgets what it knew.
func (e *Engine) applyTo(b *pebble.Batch, shard int, ops []Op, atomic []Span, appliedIndex uint64) (results []Result, done func(committed bool), err error) {
	if err := checkShard(shard); err != nil {
		return nil, nil, fmt.Errorf("apply: %w", err)
	}
	if err := checkOps(ops, atomic); err != nil {
		return nil, nil, fmt.Errorf("apply shard %d %w", shard, err)
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
	a := &applier{e: e, shard: shard, wc: wc, m: m,
		learned: make([]cachedKey, 0, len(ops)), results: make([]Result, len(ops))}
	defer a.close()
	for i := 0; i < len(ops); {
		end, isAtomic := i+1, false
		if len(atomic) > 0 && atomic[0].Start == i {
			end, isAtomic = atomic[0].End, true
			atomic = atomic[1:]
		}
		if err := a.unit(b, ops, i, end, isAtomic); err != nil {
			return nil, nil, err
		}
		i = end
	}
	if appliedIndex != 0 {
		a.m.AppliedIndex = appliedIndex
		a.wrote = true
	}
	if a.wrote {
		if err := b.Set(metaKey(shard), encodeMeta(a.m), nil); err != nil {
			return nil, nil, fmt.Errorf("apply shard %d: batch: %w", shard, err)
		}
	}
	return a.results, func(committed bool) {
		if !a.wrote || committed {
			wc.remember(a.m, a.learned)
		} else {
			wc.reset(meta{}, false) // the outcome is unknown: read it back next time
		}
	}, nil
}

// checkOps refuses an op of unknown kind or condition kind, and spans that are empty,
// overlap, are out of order or reach beyond ops. Its errors name the op or span.
func checkOps(ops []Op, atomic []Span) error {
	for i, op := range ops {
		if op.Kind < OpPut || op.Kind > OpCheck {
			return fmt.Errorf("op %d: op kind %d: %w", i, op.Kind, ErrInvalidArgument)
		}
		if op.Cond.Kind > kv.CondAbsent {
			return fmt.Errorf("op %d: condition kind %d: %w", i, op.Cond.Kind, ErrInvalidArgument)
		}
	}
	from := 0
	for i, s := range atomic {
		if s.Start < from || s.End <= s.Start || s.End > len(ops) {
			return fmt.Errorf("atomic span %d [%d, %d) of %d ops: %w", i, s.Start, s.End, len(ops), ErrInvalidArgument)
		}
		from = s.End
	}
	return nil
}

// applier is one applyTo call's evaluation state.
type applier struct {
	e     *Engine
	shard int
	wc    *writeCache
	// m is the shard's metadata after the ops evaluated so far.
	m meta
	// learned is what this call read or wrote of each key, in order: the state earlier ops
	// of the call left, and for the cache once the batch has committed.
	learned []cachedKey
	// index is where each key's latest state is in learned, once learned is long enough
	// for a linear search to cost more than a map (nil until then, and after an undo).
	index   map[string]int
	results []Result
	// pending holds the writes of the unit being evaluated, added to the batch once it is
	// known not to abort.
	pending []pendingWrite
	// wrote reports that the batch holds a write of an op.
	wrote bool
	// iter reads keys the call needs the state of (lookup), once it has read a few.
	iter    *pebble.Iterator
	lookups int
}

// pendingWrite is a put (value set) or a delete (del) of the data key k.
type pendingWrite struct {
	k, value []byte
	del      bool
	size     uint32 // a delete's size hint
}

// unit evaluates ops[first:end] and adds their writes to b. An atomic unit in which an op
// fails is undone (Span's contract): its writes never reach b, and the metadata and what
// it learned are as before it.
func (a *applier) unit(b *pebble.Batch, ops []Op, first, end int, atomic bool) error {
	m, learned := a.m, len(a.learned)
	a.pending = a.pending[:0]
	for i := first; i < end; i++ {
		ok, err := a.eval(i, ops[i])
		if err != nil {
			return err
		}
		if !ok && atomic {
			a.m, a.learned, a.index = m, a.learned[:learned], nil
			for j := first; j < end; j++ {
				if j != i {
					a.results[j] = Result{Err: ErrAborted}
				}
			}
			return nil
		}
	}
	for _, w := range a.pending {
		var err error
		if w.del {
			err = b.DeleteSized(w.k, w.size, nil)
		} else {
			err = b.Set(w.k, w.value, nil)
		}
		if err != nil {
			return fmt.Errorf("apply shard %d: batch: %w", a.shard, err)
		}
		a.wrote = true
	}
	return nil
}

// eval evaluates op i against the state the earlier ops left, records its result, and
// queues its write; ok reports that it did not fail.
func (a *applier) eval(i int, op Op) (ok bool, err error) {
	cur, known := a.last(op.Key)
	// A key the cache does not keep (Options.Remember) is not looked for in it.
	skip := a.e.remember != nil && !a.e.remember(op.Key)
	if !known {
		var complete bool
		cur, known, complete = a.wc.key(op.Key, skip)
		// A complete cache not holding the key: it does not exist. Only a PUT without
		// a condition trusts that (its counts depend on it, nothing else does).
		known = known || (complete && op.Kind == OpPut && op.Cond.Kind == kv.CondNone)
	}
	k := dataKey(a.shard, op.Key)
	if !known {
		if cur, err = a.lookup(k); err != nil {
			return false, fmt.Errorf("apply shard %d op %d: %w", a.shard, i, err)
		}
		a.learn(op.Key, cur, skip)
	}
	if !condHolds(op.Cond, cur) {
		a.results[i].Err = ErrConditionFailed
		return false, nil
	}
	var next keyState
	switch op.Kind {
	case OpCheck:
		a.results[i].Revision = cur.rev
		return true, nil
	case OpPut:
		a.m.Revision++
		v := encodeValue(a.m.Revision, op.Value)
		next = keyState{exists: true, rev: a.m.Revision, dataLen: len(op.Value), rawLen: len(v)}
		a.pending = append(a.pending, pendingWrite{k: k, value: v})
		if cur.exists {
			a.m.Bytes += int64(len(op.Value) - cur.dataLen)
		} else {
			a.m.Keys++
			a.m.Bytes += int64(len(op.Key) + len(op.Value))
		}
	case OpDelete:
		if !cur.exists {
			a.results[i].Err = ErrNotFound
			return false, nil
		}
		a.m.Revision++
		// The size hint helps Pebble's compaction heuristics only.
		a.pending = append(a.pending, pendingWrite{k: k, del: true, size: uint32(min(cur.rawLen, 1<<31))})
		a.m.Keys--
		a.m.Bytes -= int64(len(op.Key) + cur.dataLen)
	}
	a.results[i].Revision = a.m.Revision
	a.learn(op.Key, next, skip)
	return true, nil
}

// indexFrom is the length of learned from which last looks keys up in a map: a KV write
// holds a few ops, a graph write thousands.
const indexFrom = 32

// learn records key's state after the ops so far; skip keeps it out of the cache.
func (a *applier) learn(key []byte, st keyState, skip bool) {
	a.learned = append(a.learned, cachedKey{key: string(key), state: st, skip: skip})
	if a.index != nil {
		a.index[string(key)] = len(a.learned) - 1
	}
}

// last returns the latest state learned records for key.
func (a *applier) last(key []byte) (keyState, bool) {
	if a.index == nil && len(a.learned) >= indexFrom {
		a.index = make(map[string]int, 2*len(a.learned))
		for i, c := range a.learned {
			a.index[c.key] = i
		}
	}
	if a.index != nil {
		i, ok := a.index[string(key)]
		if !ok {
			return keyState{}, false
		}
		return a.learned[i].state, true
	}
	for i := len(a.learned) - 1; i >= 0; i-- {
		if a.learned[i].key == string(key) {
			return a.learned[i].state, true
		}
	}
	return keyState{}, false
}

// iterFrom is the number of lookups of one call after which it reads through an iterator.
var iterFrom = 4 // a variable for tests

// lookup reads the state of the data key k from the store: with Get for the first few keys
// of the call, then through one iterator that consults the bloom filters of every level
// (Pebble skips them in the last level by default): most keys a large write reads are new
// (the halves of edges being made), and without the filter each costs a data block read.
func (a *applier) lookup(k []byte) (keyState, error) {
	a.lookups++
	if a.lookups <= iterFrom {
		return a.e.lookup(k)
	}
	if lookupHook != nil {
		lookupHook()
	}
	if a.iter == nil {
		var err error
		if a.iter, err = a.e.db.NewIter(&pebble.IterOptions{UseL6Filters: true}); err != nil {
			return keyState{}, fmt.Errorf("read key: %w", markCorrupt(err))
		}
	}
	if !a.iter.SeekPrefixGE(k) {
		if err := a.iter.Error(); err != nil {
			return keyState{}, fmt.Errorf("read key: %w", markCorrupt(err))
		}
		return keyState{}, nil
	}
	raw, err := a.iter.ValueAndErr()
	if err != nil {
		return keyState{}, fmt.Errorf("read key: %w", markCorrupt(err))
	}
	return storedState(raw)
}

// close releases the call's iterator.
func (a *applier) close() {
	if a.iter != nil {
		_ = a.iter.Close()
		a.iter = nil
	}
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
	return storedState(raw)
}

// storedState is the state of a key whose stored value is raw.
func storedState(raw []byte) (keyState, error) {
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
