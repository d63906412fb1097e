package replication

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/torua/torua/node/engine"
)

// fsm is the state machine of one shard's group: it applies committed log commands to the
// shard in the node's engine.
//
// Durability comes from the Raft log, not from the engine: entries are applied without
// fsync, and the engine stores the index of the last applied entry in the same batch as
// the entry's effects. After a crash the engine holds a prefix of the applied entries, and
// Raft replays the log from its last snapshot; the FSM skips every entry at or below the
// engine's applied index, so replay is idempotent.
//
// NB: Raft calls Apply, ApplyBatch, Snapshot and Restore from one goroutine, which is what
// serializes the engine writes of the shard as engine.Apply requires.
type fsm struct {
	shard int
	eng   *engine.Engine
	log   *slog.Logger

	// applied is the index of the last entry whose effects are in the engine.
	applied atomic.Uint64
}

// applyResult is the FSM's response to one log command: one engine result per op.
type applyResult struct {
	results []engine.Result
}

var (
	_ raft.BatchingFSM = (*fsm)(nil)
	_ raft.FSM         = (*fsm)(nil)
)

func newFSM(shard int, eng *engine.Engine, log *slog.Logger) (*fsm, error) {
	st, err := eng.ShardStats(shard)
	if err != nil {
		return nil, fmt.Errorf("fsm shard %d: %w", shard, err)
	}
	f := &fsm{shard: shard, eng: eng, log: log}
	f.applied.Store(st.AppliedIndex)
	return f, nil
}

// Apply applies one committed entry.
func (f *fsm) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch applies committed entries (commands and configurations, in log order, no
// gaps) in one engine batch. It panics on an entry it cannot decode or an engine failure:
// Raft counts the entries as applied once this returns, so going on would let this replica
// diverge from the others. A restart replays the entries from the engine's applied index.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	resp := make([]any, len(logs))
	applied := f.applied.Load()
	var ops []engine.Op
	type span struct{ entry, first, n int }
	spans := make([]span, 0, len(logs))
	var last uint64
	for i, l := range logs {
		if l.Index <= applied {
			continue // replay of an entry whose effects the engine already has
		}
		last = l.Index
		switch l.Type {
		case raft.LogCommand:
			cmd, err := decodeCommand(l.Data)
			if err != nil {
				panic(fmt.Sprintf("replication: shard %d: log entry %d (term %d): %v; "+
					"refusing to apply it and diverge from the other replicas", f.shard, l.Index, l.Term, err))
			}
			spans = append(spans, span{entry: i, first: len(ops), n: len(cmd.ops)})
			ops = append(ops, cmd.ops...)
		case raft.LogConfiguration:
			// Nothing to apply; its index still becomes the applied index.
		default:
			panic(fmt.Sprintf("replication: shard %d: log entry %d has unexpected type %v", f.shard, l.Index, l.Type))
		}
	}
	if last == 0 {
		return resp
	}
	results, err := f.eng.Apply(f.shard, ops, engine.ApplyOptions{Sync: false, AppliedIndex: last})
	if err != nil {
		panic(fmt.Sprintf("replication: shard %d: apply entries up to %d: %v", f.shard, last, err))
	}
	for _, s := range spans {
		resp[s.entry] = applyResult{results: results[s.first : s.first+s.n : s.first+s.n]}
	}
	f.applied.Store(last)
	return resp
}

// Snapshot captures the shard as of the last applied entry. The engine's snapshot stream is
// produced lazily by Persist, but its Pebble snapshot is taken before Snapshot returns: the
// stream's first bytes are read here, and the engine takes its snapshot before it writes any.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	pr, pw := io.Pipe()
	s := &fsmSnapshot{pr: pr, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = pw.CloseWithError(f.eng.SnapshotShard(f.shard, pw))
	}()
	buf := make([]byte, 32<<10)
	n, err := io.ReadAtLeast(pr, buf, 1)
	if err != nil {
		_ = pr.CloseWithError(err)
		<-s.done
		return nil, fmt.Errorf("snapshot shard %d: %w", f.shard, err)
	}
	s.head = buf[:n]
	return s, nil
}

// Restore replaces the shard whole with a snapshot stream written by Persist.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := f.eng.RestoreShard(f.shard, rc); err != nil {
		return fmt.Errorf("restore shard %d: %w", f.shard, err)
	}
	st, err := f.eng.ShardStats(f.shard)
	if err != nil {
		return fmt.Errorf("restore shard %d: %w", f.shard, err)
	}
	f.applied.Store(st.AppliedIndex)
	f.log.Info("Restored shard from snapshot", "shard", f.shard, "appliedIndex", st.AppliedIndex, "keys", st.Keys)
	return nil
}

// fsmSnapshot streams one engine snapshot of the shard.
type fsmSnapshot struct {
	pr   *io.PipeReader
	head []byte // bytes already read from pr
	done chan struct{}
	once sync.Once
}

var errSnapshotReleased = errors.New("snapshot released")

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	_, err := sink.Write(s.head)
	if err == nil {
		_, err = io.Copy(sink, s.pr)
	}
	if err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {
	s.once.Do(func() {
		_ = s.pr.CloseWithError(errSnapshotReleased)
		<-s.done
	})
}
