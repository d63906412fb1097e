package replication

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/torua/torua/node/engine"
)

type waiter struct {
	term  uint64 // the term of its entry once handed to Raft (until then the proposal's)
	gen   uint64
	start time.Time
	renew bool // a lease renewal: nobody waits on ch
	ch    chan proposal
}

type proposal struct {
	results []engine.Result
	err     error
}

// Write replicates op and returns once it is committed and applied on this (leader)
// replica, with the engine's result. A failed precondition is in the Result, not the
// error. Concurrent writes of every group share rounds, messages and fsyncs.
func (g *Group) Write(ctx context.Context, op engine.Op) (engine.Result, error) {
	res, err := g.WriteBatch(ctx, []engine.Op{op})
	if err != nil {
		return engine.Result{}, err
	}
	return res[0], nil
}

// WriteBatch is Write for several ops in one log entry, applied in order in one engine
// batch; each op's condition is evaluated after the earlier ops, and its outcome is in its
// own Result.
func (g *Group) WriteBatch(ctx context.Context, ops []engine.Op) ([]engine.Result, error) {
	cmd, err := encodeOps(ops)
	if err != nil {
		return nil, err
	}
	return g.propose(ctx, cmd)
}

// Txn replicates ops as one transaction and returns once it is committed and applied on
// this (leader) replica, with the engine's results: ops (puts, deletes and checks) are
// applied in order in one log entry, all of them or, if one fails, none, on every replica
// alike (engine.Span's contract: the failed op's Result has the reason, the others
// engine.ErrAborted). An aborted transaction is a committed entry like any other: it is
// in the results, not the error.
func (g *Group) Txn(ctx context.Context, ops []engine.Op) ([]engine.Result, error) {
	cmd, err := encodeTxn(ops)
	if err != nil {
		return nil, err
	}
	return g.propose(ctx, cmd)
}

// Load replicates a bulk load of the group's shard (engine.ShardApply.Load: new keys,
// sorted, strictly ascending) and returns once it is committed and applied on this (leader)
// replica: every replica builds the same table from the log entry and ingests it. Its one
// Result holds the last revision the keys took. The pairs' bytes must stay well below the
// group's uncommitted limit (64 MiB): a caller splits a large run into consecutive loads.
func (g *Group) Load(ctx context.Context, pairs []engine.Pair) (engine.Result, error) {
	cmd, err := encodeLoad(pairs)
	if err != nil {
		return engine.Result{}, err
	}
	res, err := g.propose(ctx, cmd)
	if err != nil {
		return engine.Result{}, err
	}
	return res[0], nil
}

// propose proposes cmd and waits until it is applied, for its results.
func (g *Group) propose(ctx context.Context, cmd []byte) ([]engine.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	g.mu.Lock()
	w, id, err := g.proposeLocked(cmd, false)
	g.mu.Unlock()
	if err != nil {
		return nil, err
	}
	g.h.signal()
	p, err := g.await(ctx, id, w)
	if err != nil {
		return nil, fmt.Errorf("write shard %d: %w", g.shard, err)
	}
	return p.results, nil
}

// await waits for proposal id's answer; if ctx ends first, the proposal is given up, its
// outcome unknown.
func (g *Group) await(ctx context.Context, id uint64, w *waiter) (proposal, error) {
	select {
	case p := <-w.ch:
		return p, p.err
	case <-ctx.Done():
		g.mu.Lock()
		delete(g.waiters, id)
		g.mu.Unlock()
		return proposal{}, fmt.Errorf("%w: %w", ErrUnknownOutcome, ctx.Err())
	}
}

// proposeLocked queues an entry of an 8-byte proposal id and cmd for the loop, which
// hands every proposal of a round to Raft at once (flushProposals). Under mu.
func (g *Group) proposeLocked(cmd []byte, renew bool) (*waiter, uint64, error) {
	if err := g.leadingLocked(); err != nil {
		return nil, 0, err
	}
	id, w := g.newWaiter(renew)
	data := make([]byte, 8+len(cmd))
	binary.BigEndian.PutUint64(data, id)
	copy(data[8:], cmd)
	g.queue = append(g.queue, queued{id: id, w: w, entry: &pb.Entry{Data: data}})
	return w, id, nil
}

// newWaiter registers a waiter for a new proposal of this term. Under mu.
func (g *Group) newWaiter(renew bool) (uint64, *waiter) {
	g.nextID++
	w := &waiter{term: g.term, gen: g.leaseGen, start: time.Now(), renew: renew, ch: make(chan proposal, 1)}
	g.waiters[g.nextID] = w
	return g.nextID, w
}

// resolve answers proposal id's waiter w. Under mu.
func (g *Group) resolve(id uint64, w *waiter, p proposal) {
	delete(g.waiters, id)
	if w.renew {
		g.renewing = false
	}
	w.ch <- p
}

// queued is a proposal waiting for the loop to hand it to Raft.
type queued struct {
	id    uint64
	w     *waiter
	entry *pb.Entry
}

// flushProposals hands the queued proposals to Raft in one message; if Raft refuses them
// (not leader, a transfer under way, too much uncommitted) they fail, with nothing
// proposed. Loop only, under mu.
func (g *Group) flushProposals() {
	if len(g.queue) == 0 {
		return
	}
	q := g.queue
	g.queue = nil
	ents := make([]*pb.Entry, 0, len(q))
	for _, p := range q {
		if g.waiters[p.id] == p.w { // not given up or failed meanwhile
			ents = append(ents, p.entry)
		}
	}
	if len(ents) == 0 {
		return
	}
	var err error = g.notLeaderLocked()
	if g.leads() {
		stepErr := g.rn.Step(&pb.Message{Type: pb.MsgProp.Enum(), From: new(g.h.id), Entries: ents})
		if stepErr == nil {
			// Raft appended the entries in its current term: the term they commit in, if
			// they do, and what settleOrphans compares.
			term := g.rn.BasicStatus().GetTerm()
			for _, p := range q {
				p.w.term = term
			}
			return
		}
		err = g.proposeError(stepErr)
	}
	for _, p := range q {
		if g.waiters[p.id] == p.w {
			g.resolve(p.id, p.w, proposal{err: err})
		}
	}
}

// proposeError maps a proposal Raft refused at once. Nothing was proposed. Under mu.
//
// NB: Raft's own state, not the last Ready's (g.leads): a message of a later term may have
// made it a follower since, and a follower drops proposals too.
func (g *Group) proposeError(err error) error {
	if st := g.rn.BasicStatus(); errors.Is(err, raft.ErrProposalDropped) && st.RaftState == raft.StateLeader && st.LeadTransferee == 0 {
		return fmt.Errorf("shard %d: %w: too many writes in flight", g.shard, ErrNotProposed)
	}
	return g.notLeaderLocked() // stepping down or handing leadership over
}
