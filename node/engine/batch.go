package engine

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Batch collects the writes of Apply calls for several shards into one Pebble commit: a
// node's Raft loop writes every group's applied entries of a round at once. Not safe for
// concurrent use.
type Batch struct {
	e       *Engine
	b       *pebble.Batch
	done    []func(committed bool)
	applied map[int]bool
}

// NewBatch returns an empty batch. The caller commits or closes it.
func (e *Engine) NewBatch() (*Batch, error) {
	if err := e.acquire(); err != nil {
		return nil, fmt.Errorf("new batch: %w", err)
	}
	defer e.mu.RUnlock()
	return &Batch{e: e, b: e.db.NewBatch(), applied: map[int]bool{}}, nil
}

// Apply is Engine.Apply into the batch: ops are evaluated now, against the shard's
// committed state, and written when the batch commits. The results hold only if Commit
// succeeds. A shard may be applied to once per batch (its state would not show the
// batch's earlier writes).
func (b *Batch) Apply(shard int, ops []Op, appliedIndex uint64) ([]Result, error) {
	return b.apply(ShardApply{Shard: shard, Ops: ops, AppliedIndex: appliedIndex})
}

// apply is Apply with s's atomic units.
func (b *Batch) apply(s ShardApply) ([]Result, error) {
	if b.applied[s.Shard] {
		return nil, fmt.Errorf("apply shard %d: already applied to in this batch: %w", s.Shard, ErrInvalidArgument)
	}
	if err := b.e.acquire(); err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	defer b.e.mu.RUnlock()
	var results []Result
	var done func(bool)
	var err error
	if s.Load != nil {
		if len(s.Ops) > 0 {
			return nil, fmt.Errorf("apply shard %d: a load and ops together: %w", s.Shard, ErrInvalidArgument)
		}
		results, done, err = b.e.loadTo(b.b, s.Shard, s.Load, s.AppliedIndex)
	} else {
		results, done, err = b.e.applyTo(b.b, s.Shard, s.Ops, s.Atomic, s.AppliedIndex)
	}
	if err != nil {
		return nil, err
	}
	b.applied[s.Shard] = true
	b.done = append(b.done, done)
	return results, nil
}

// Empty reports whether the batch holds no write.
func (b *Batch) Empty() bool { return b.b.Empty() }

// Commit writes the batch, durably if sync, and closes it.
func (b *Batch) Commit(sync bool) error {
	defer b.Close()
	err := b.e.acquire()
	if err == nil {
		err = b.b.Commit(b.e.writeOptions(sync))
		b.e.mu.RUnlock()
		err = markCorrupt(err)
	}
	for _, done := range b.done {
		done(err == nil)
	}
	b.done = nil
	if err != nil {
		return fmt.Errorf("commit batch: %w", err)
	}
	return nil
}

// Close releases the batch without committing it.
func (b *Batch) Close() {
	if b.b != nil {
		for _, done := range b.done {
			done(false)
		}
		b.done = nil
		_ = b.b.Close()
		b.b = nil
	}
}

// ShardApply is one shard's part of ApplyShards: ops applied at a Raft log index.
type ShardApply struct {
	Shard        int
	Ops          []Op
	AppliedIndex uint64
	// Atomic are the atomic units among Ops (Span), ascending and disjoint; ops outside
	// them apply independently.
	Atomic []Span
	// Load, when not nil, is a bulk load of new keys (load.go), sorted by key, strictly
	// ascending, with no Ops: each pair is a put without a condition. Its table is ingested
	// before the batch commits (a crash between them is replayed alike) and its one result
	// holds the last revision it took.
	Load []Pair
}

// ApplyShards applies every shard's ops, each recording its AppliedIndex, in one atomic
// write that is not synced (SyncWAL makes it durable). results[i] are shards[i]'s, and
// hold only if the error is nil. A shard may appear once.
func (e *Engine) ApplyShards(shards []ShardApply) (results [][]Result, err error) {
	b, err := e.NewBatch()
	if err != nil {
		return nil, err
	}
	defer b.Close()
	results = make([][]Result, len(shards))
	for i, s := range shards {
		if results[i], err = b.apply(s); err != nil {
			return nil, fmt.Errorf("shard %d up to index %d: %w", s.Shard, s.AppliedIndex, err)
		}
	}
	if err := b.Commit(false); err != nil {
		return nil, err
	}
	return results, nil
}
