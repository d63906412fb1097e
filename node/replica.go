package node

import (
	"context"

	"github.com/torua/torua/node/engine"
	"github.com/torua/torua/node/replication"
	"github.com/torua/torua/shardmap"
)

// Replica is this node's replica of one shard as the key operations (keys.go) use it: a
// replication.Group. All methods are safe for concurrent use.
type Replica interface {
	// Get reads key. With stale false the read is linearizable; with stale true it may
	// return this replica's possibly older state. engine.ErrNotFound when absent.
	Get(ctx context.Context, key []byte, stale bool) (engine.Value, error)
	// Write applies op and returns only once it is durable and applied (never earlier).
	// A failed precondition or a delete of a missing key is in the Result, not the error.
	Write(ctx context.Context, op engine.Op) (engine.Result, error)
	// Txn applies ops in order, all of them or none (engine.Span's contract), and returns
	// only once the transaction is durable and applied. An aborted transaction is in the
	// Results (the failed op's error, engine.ErrAborted for the others), not the error.
	Txn(ctx context.Context, ops []engine.Op) ([]engine.Result, error)
	// Load replicates a sorted run of new keys (engine.ShardApply.Load) as one log entry,
	// ingested by every replica as one table, and returns once it is durable and applied.
	Load(ctx context.Context, pairs []engine.Pair) (engine.Result, error)
	// List returns up to limit keys with prefix, strictly after after, ascending.
	List(ctx context.Context, prefix, after []byte, limit int, stale bool) (keys [][]byte, more bool, err error)
	// Read calls fn with a consistent view of the replica's data, with Get's consistency.
	Read(ctx context.Context, stale bool, fn func(v *engine.View) error) error
	// Status describes the replica for /internal/status.
	Status() shardmap.ShardStatus
	// Close stops the replica after finishing the writes it has accepted. It keeps the data.
	Close() error
}

var _ Replica = (*replication.Group)(nil)
