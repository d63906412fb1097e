package replication

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"go.etcd.io/raft/v3"

	"github.com/torua/torua/node/engine"
)

type readBatch struct {
	index uint64 // 0 until Raft answered
	chans []chan error
}

// readLease is a period in which no other replica can become leader of term's successor.
type readLease struct {
	term  uint64
	until time.Time // monotonic
}

// Get reads key. With stale false the read is linearizable (see readBarrier); with stale
// true it reads this replica's applied state, which may lag.
func (g *Group) Get(ctx context.Context, key []byte, stale bool) (engine.Value, error) {
	if stale {
		return g.h.store.Get(g.shard, key)
	}
	var v engine.Value
	err := g.linearizable(ctx, func() (err error) {
		v, err = g.h.store.Get(g.shard, key)
		return err
	})
	return v, err
}

// List returns up to limit keys with prefix after after, with Get's consistency.
func (g *Group) List(ctx context.Context, prefix, after []byte, limit int, stale bool) ([][]byte, bool, error) {
	if stale {
		return g.h.store.List(g.shard, prefix, after, limit)
	}
	var keys [][]byte
	var more bool
	err := g.linearizable(ctx, func() (err error) {
		keys, more, err = g.h.store.List(g.shard, prefix, after, limit)
		return err
	})
	return keys, more, err
}

// Read calls fn with a consistent view of the shard's applied state, with Get's
// consistency: with stale false the view includes every write acknowledged before Read was
// called. fn must not keep the view.
func (g *Group) Read(ctx context.Context, stale bool, fn func(v *engine.View) error) error {
	view := func() error {
		v, err := g.h.store.View(g.shard)
		if err != nil {
			return err
		}
		defer v.Close()
		return fn(v)
	}
	if stale {
		return view()
	}
	return g.linearizable(ctx, view)
}

// linearizable runs read against the engine once readBarrier allows it, and fails it as
// not-leader if this replica stopped leading in the meantime: a replica that stepped down
// may already apply entries its successor has committed but not yet applied, and a read
// there must not see them before a read on the successor does.
func (g *Group) linearizable(ctx context.Context, read func() error) error {
	term, err := g.readBarrier(ctx)
	if err != nil {
		return err
	}
	if err := read(); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.leads() || g.term != term {
		return g.notLeaderLocked()
	}
	return nil
}

// readBarrier returns once a read of this replica's engine is linearizable, with the term
// it leads: every write acknowledged before the call is applied here.
//
// With a lease, at once. The lease: the quorum that committed an entry this leader
// proposed at t acknowledged it after t, and a follower that acknowledged an entry ignores
// other candidates (CheckQuorum, PreVote) until its election timeout has passed since, so
// until t + leaseDuration no other leader can have been elected, and nothing can have
// been committed elsewhere. The lease comes from applying the leader's own entries, so
// the leader has applied everything committed before its term. Writes renew it; reads
// renew it in the background once half of it has passed. What can seat another leader
// sooner revokes it first: a leadership transfer (its target is elected at once) and a
// membership change (a new voter promised nothing). A follower that restarts forgets whom
// it acknowledged, so a restarted node answers no Raft traffic for a while (Host's quiet
// period).
//
// Without a lease (or with NoReadLease), through Raft's ReadIndex: a heartbeat round
// confirms the leadership after the read arrived (concurrent reads of every group share
// rounds), and the read waits until the commit index of that moment is applied.
func (g *Group) readBarrier(ctx context.Context) (uint64, error) {
	g.mu.Lock()
	if err := g.leadingLocked(); err != nil {
		g.mu.Unlock()
		return 0, err
	}
	term := g.term
	if !g.h.cfg.NoReadLease {
		if left := time.Until(g.lease.until); g.lease.term == term && left > 0 {
			if left < g.h.cfg.leaseDuration()/2 {
				g.renewLease()
			}
			g.mu.Unlock()
			return term, nil
		}
		g.renewLease()
	}
	ch := make(chan error, 1)
	g.pending = append(g.pending, ch)
	g.mu.Unlock()
	g.h.signal()
	select {
	case err := <-ch:
		if err != nil {
			return 0, err
		}
		return term, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("read shard %d: %w: %w", g.shard, ErrNotProposed, ctx.Err())
	}
}

// renewLease, once at a time, proposes an empty entry; applying it grants a lease from the
// moment it was proposed. Under mu.
func (g *Group) renewLease() {
	if g.renewing || g.h.cfg.NoReadLease {
		return
	}
	if _, _, err := g.proposeLocked(nil, true); err == nil {
		g.renewing = true
	}
}

// revokeLease ends the read lease, and no proposal made before grants one. Under mu.
func (g *Group) revokeLease() {
	g.leaseGen++
	g.lease = readLease{}
}

// startReads sends the reads that arrived since the last round as one ReadIndex. Loop
// only, under mu.
func (g *Group) startReads() {
	if len(g.pending) == 0 {
		return
	}
	g.nextRd++
	g.reads[g.nextRd] = &readBatch{chans: g.pending}
	g.pending = nil
	g.rn.ReadIndex(binary.BigEndian.AppendUint64(nil, g.nextRd))
}

// readStates records the read index Raft answered for each batch of reads. Under mu.
func (g *Group) readStates(rss []raft.ReadState) {
	for _, rs := range rss {
		if len(rs.RequestCtx) == 8 {
			if b := g.reads[binary.BigEndian.Uint64(rs.RequestCtx)]; b != nil {
				b.index = rs.Index
			}
		}
	}
	g.releaseReads()
}

// releaseReads lets the reads whose index is applied go. Under mu.
func (g *Group) releaseReads() {
	now := g.applied.Load()
	for k, b := range g.reads {
		if b.index != 0 && b.index <= now {
			for _, ch := range b.chans {
				ch <- nil
			}
			delete(g.reads, k)
		}
	}
}
