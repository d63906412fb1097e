package node

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/torua/torua/node/engine"
	"github.com/torua/torua/shardmap"
)

// ErrReplicaClosed is returned by a Replica after Close.
var ErrReplicaClosed = errors.New("replica closed")

// Replica is this node's replica of one shard. The HTTP layer calls it; replication plugs in
// behind it. All methods are safe for concurrent use.
type Replica interface {
	// Get reads key. With stale false the read is linearizable; with stale true it may
	// return this replica's possibly older state. engine.ErrNotFound when absent.
	Get(ctx context.Context, key []byte, stale bool) (engine.Value, error)
	// Write applies op and returns only once it is durable and applied (never earlier).
	// A failed precondition or a delete of a missing key is in the Result, not the error.
	Write(ctx context.Context, op engine.Op) (engine.Result, error)
	// List returns up to limit keys with prefix, strictly after after, ascending.
	List(ctx context.Context, prefix, after []byte, limit int, stale bool) (keys [][]byte, more bool, err error)
	// Status describes the replica for /internal/status.
	Status() shardmap.ShardStatus
	// Close stops the replica after finishing the writes it has accepted. It keeps the data.
	Close() error
}

// maxGroup bounds the writes committed in one engine batch.
const maxGroup = 512

// localReplica is a shard's only replica. Writers queue their ops; one goroutine per shard
// takes every op queued since its last commit and applies them in one synced engine batch, so
// concurrent writes to a shard share one fsync (group commit) while each still sees the effect
// of the ones before it (preconditions are evaluated in queue order).
type localReplica struct {
	shard  int
	nodeID string
	eng    *engine.Engine

	queue chan *writeReq
	stop  chan struct{}
	done  chan struct{}

	// mu orders enqueues before Close: Write enqueues holding it shared and only while
	// closed is false, so every accepted write is in the queue before stop is closed.
	mu     sync.RWMutex
	closed bool
}

type writeReq struct {
	op   engine.Op
	res  engine.Result
	err  error
	done chan struct{}
}

func newLocalReplica(shard int, nodeID string, eng *engine.Engine) *localReplica {
	r := &localReplica{
		shard: shard, nodeID: nodeID, eng: eng,
		queue: make(chan *writeReq, maxGroup),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go r.commitLoop()
	return r
}

func (r *localReplica) commitLoop() {
	defer close(r.done)
	group := make([]*writeReq, 0, maxGroup)
	ops := make([]engine.Op, 0, maxGroup)
	for {
		var first *writeReq
		select {
		case first = <-r.queue:
		case <-r.stop:
			// Writes accepted before Close still commit; none can arrive after it.
			select {
			case first = <-r.queue:
			default:
				return
			}
		}
		group = append(group[:0], first)
	drain:
		for len(group) < maxGroup {
			select {
			case w := <-r.queue:
				group = append(group, w)
			default:
				break drain
			}
		}
		ops = ops[:0]
		for _, w := range group {
			ops = append(ops, w.op)
		}
		results, err := r.eng.Apply(r.shard, ops, engine.ApplyOptions{Sync: true})
		for i, w := range group {
			if err != nil {
				w.err = fmt.Errorf("commit shard %d: %w", r.shard, err)
			} else {
				w.res = results[i]
			}
			close(w.done)
		}
	}
}

func (r *localReplica) Write(ctx context.Context, op engine.Op) (engine.Result, error) {
	w := &writeReq{op: op, done: make(chan struct{})}
	r.mu.RLock()
	if r.closed {
		r.mu.RUnlock()
		return engine.Result{}, ErrReplicaClosed
	}
	select {
	case r.queue <- w:
		r.mu.RUnlock()
	case <-ctx.Done():
		r.mu.RUnlock()
		return engine.Result{}, ctx.Err()
	}
	// NB: once queued the write will commit even if ctx ends; the caller then learns nothing
	// about its outcome, as with any request whose answer is lost.
	select {
	case <-w.done:
		return w.res, w.err
	case <-ctx.Done():
		return engine.Result{}, ctx.Err()
	}
}

// Get reads the engine directly: with one replica, committed state is the latest state, so
// every read is linearizable.
func (r *localReplica) Get(_ context.Context, key []byte, _ bool) (engine.Value, error) {
	return r.eng.Get(r.shard, key)
}

func (r *localReplica) List(_ context.Context, prefix, after []byte, limit int, _ bool) ([][]byte, bool, error) {
	return r.eng.List(r.shard, prefix, after, limit)
}

func (r *localReplica) Status() shardmap.ShardStatus {
	st := shardmap.ShardStatus{Shard: r.shard, Role: "leader", Leader: r.nodeID, Voters: []string{r.nodeID}}
	if s, err := r.eng.ShardStats(r.shard); err == nil {
		st.Revision, st.Keys, st.Bytes = s.Revision, s.Keys, s.Bytes
	}
	return st
}

func (r *localReplica) Close() error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.stop)
	}
	r.mu.Unlock()
	<-r.done
	return nil
}
