package replication

import (
	"errors"

	"go.etcd.io/raft/v3"
)

// softStateChanged notes a change of leader or role; proposals and reads of a lost
// leadership fail. Under mu.
func (g *Group) softStateChanged(ss *raft.SoftState) {
	wasLeader, oldTerm := g.leads(), g.term
	g.lead = ss.Lead
	g.role = ss.RaftState
	g.term = g.rn.BasicStatus().GetTerm()
	if wasLeader && (!g.leads() || g.term != oldTerm) {
		g.leadershipLost()
	}
	close(g.changed)
	g.changed = make(chan struct{})
}

// leadershipLost ends what needed this replica to lead: the lease, the reads, and the
// proposals not yet handed to Raft (nothing was proposed: they fail as not-leader, which
// is safe to retry). A proposal Raft took keeps waiting, as etcd's do: if it commits, this
// replica applies it too and answers it then; if a later term's entry is applied first,
// it never will, and settleOrphans answers it not-leader. So a planned hand-off (a drain,
// a rebalance, a rolling restart) leaves no write with an unknown outcome. Under mu.
func (g *Group) leadershipLost() {
	g.revokeLease()
	g.renewing = false
	g.pendingConf = false
	notLeader := g.notLeaderLocked()
	for _, p := range g.queue {
		if g.waiters[p.id] == p.w {
			g.resolve(p.id, p.w, proposal{err: notLeader})
		}
	}
	g.queue = nil
	g.failReads(notLeader)
	g.orphans = len(g.waiters) > 0
}

// settleOrphans answers not-leader the proposals of terms older than the last applied
// entry's that are still waiting: their entries were never committed (a log's terms only
// grow, and it is applied in order), so nothing was done. (A snapshot, which applies
// entries unseen, fails the waiting ones first: restore.) Under mu.
func (g *Group) settleOrphans() {
	g.orphans = false
	for id, w := range g.waiters {
		switch {
		case w.term < g.appliedTerm:
			g.resolve(id, w, proposal{err: g.notLeaderLocked()})
		case w.term < g.term:
			g.orphans = true // still in the log; it may yet commit
		}
	}
}

// failAll fails every waiting proposal and read, and ends the lease. Under mu.
func (g *Group) failAll(err error) {
	g.revokeLease()
	g.renewing = false
	g.pendingConf = false
	g.queue = nil
	for id, w := range g.waiters {
		g.resolve(id, w, proposal{err: err})
	}
	readErr := error(g.notLeaderLocked())
	if errors.Is(err, ErrClosed) {
		readErr = ErrClosed
	}
	g.failReads(readErr)
}

// failReads fails every waiting read with err. Under mu.
func (g *Group) failReads(readErr error) {
	for k, b := range g.reads {
		for _, ch := range b.chans {
			ch <- readErr
		}
		delete(g.reads, k)
	}
	for _, ch := range g.pending {
		ch <- readErr
	}
	g.pending = nil
}
