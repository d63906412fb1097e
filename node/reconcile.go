package node

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/torua/torua/internal/nodeapi"
	"github.com/torua/torua/node/replication"
	"github.com/torua/torua/shardmap"
)

// Timing of the reconciler that makes the groups follow the map.
const (
	// reconcileInterval is how often every group is looked at even if the map did not
	// change: membership changes, catch-up and removals progress on this tick.
	reconcileInterval = 200 * time.Millisecond
	// stepTimeout bounds one reconciliation step of one shard (one membership change,
	// one hand-off, one status query).
	stepTimeout = 10 * time.Second
	// caughtUpLag is how many entries a learner may trail the leader's commit index and
	// still count as caught up: writes keep arriving, so "exactly equal" may never hold.
	caughtUpLag = 64
	// preferredLeaderDelay is how long a leader waits, with a stable membership, before it
	// hands leadership to the shard's first replica (placement spreads first replicas
	// evenly, so leaders, and with them the load, end up spread too).
	preferredLeaderDelay = 5 * time.Second
)

// shardGroup is this node's replica of one shard with the reconciler's bookkeeping.
type shardGroup struct {
	*replication.Group
	shard int

	// busy is set while a reconciliation step of this shard runs; steps of one shard never
	// overlap, steps of different shards run concurrently.
	busy bool
	// stableSince is when this replica last saw a membership change or became leader.
	stableSince time.Time
	// lastMembership is the membership index seen at the last step.
	lastMembership uint64
	// settled is set when this replica, as leader, found the group exactly as the map
	// wants it (and itself the preferred leader): nothing can change while the map
	// version, the term and the membership stay the same and every member answers, so
	// the group is not stepped again until then.
	settled settledAt
}

type settledAt struct{ mapVersion, term, membership uint64 }

// openExisting opens a group for every shard the node's record on disk lists as hosted
// (hosted.go), so that the node answers /internal/raft-state truthfully from its first
// request and rejoins its groups before it has a map.
func (n *Node) openExisting() error {
	shards, err := n.hostedOnDisk()
	if err != nil {
		return err
	}
	for _, shard := range shards {
		if err := n.openGroup(shard); err != nil {
			return err
		}
	}
	return nil
}

// openGroup opens this node's replica of shard. The caller holds no lock.
func (n *Node) openGroup(shard int) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.groups[shard]; ok {
		return nil
	}
	// Recorded as hosted first: openExisting reopens what the record lists.
	if err := n.markHosted(shard); err != nil {
		return err
	}
	g, err := n.host.Open(shard, n.log)
	if err != nil {
		return err
	}
	n.groups[shard] = &shardGroup{Group: g, shard: shard, stableSince: time.Now()}
	return nil
}

// publish makes the open groups and m the state requests see.
func (n *Node) publish(m *shardmap.Map) {
	n.mu.Lock()
	defer n.mu.Unlock()
	h := &hosting{m: m, replicas: make(map[int]Replica, len(n.groups))}
	for s, g := range n.groups {
		h.replicas[s] = g.Group
	}
	n.hosting.Store(h)
}

// reconcile opens the groups the map assigns here and starts one step for every group
// that is not in the middle of one.
func (n *Node) reconcile(ctx context.Context, m *shardmap.Map) {
	opened := 0
	for _, s := range m.ShardsOf(n.cfg.ID) {
		n.mu.Lock()
		_, ok := n.groups[s]
		refused := n.refused[s]
		n.mu.Unlock()
		if ok || refused {
			continue
		}
		if err := n.openGroup(s); err != nil {
			if errors.Is(err, replication.ErrStaleData) {
				// Data without Raft state: written by a version without replication or
				// left by an interrupted removal that deleted the wrong half. Never
				// delete it unasked.
				n.log.Error("Refusing to host shard: its data has no Raft state; move the data directory away to start the replica afresh",
					"shard", s, "err", err)
				n.mu.Lock()
				n.refused[s] = true
				n.mu.Unlock()
				continue
			}
			n.log.Error("Failed to open shard replica", "shard", s, "err", err)
			continue
		}
		opened++
	}
	if opened > 0 || n.hosting.Load().m != m {
		n.publish(m)
		if opened > 0 {
			n.log.Info("Opened shard replicas", "mapVersion", m.Version, "opened", opened)
		}
	}

	assigned := make(map[int]bool)
	for _, s := range m.ShardsOf(n.cfg.ID) {
		assigned[s] = true
	}
	var founding []*shardGroup
	n.mu.Lock()
	for _, g := range n.groups {
		if g.busy {
			continue
		}
		if !g.HasState() && assigned[g.shard] {
			if m.Replicas(g.shard)[0] == n.cfg.ID {
				g.busy = true
				founding = append(founding, g)
			}
			continue // a replica waiting for its leader
		}
		leader := g.IsLeader()
		settled := g.settled == settledAt{m.Version, g.Term(), g.MembershipIndex()} && !g.HasInactiveMember()
		if assigned[g.shard] && (!leader || settled) {
			continue // a follower has nothing to do; a settled leader neither
		}
		g.busy = true
		n.startStep(ctx, []*shardGroup{g}, func(ctx context.Context) { n.step(ctx, m, g) })
	}
	n.mu.Unlock()
	if len(founding) > 0 {
		n.startStep(ctx, founding, func(ctx context.Context) { n.found(ctx, m, founding) })
	}
}

// startStep runs fn for groups, which the caller marked busy, in a goroutine bounded by
// stepTimeout, and clears their busy marks when it returns.
func (n *Node) startStep(ctx context.Context, groups []*shardGroup, fn func(context.Context)) {
	n.steps.Add(1)
	go func() {
		defer n.steps.Done()
		sctx, cancel := context.WithTimeout(ctx, stepTimeout)
		defer cancel()
		fn(sctx)
		n.mu.Lock()
		for _, g := range groups {
			g.busy = false
		}
		n.mu.Unlock()
	}()
}

// found bootstraps the groups of shards that have never existed. This node is each one's
// first replica and holds no state for it; the shard is new only if no node of the map
// holds state for it either: a shard that exists anywhere must reach this node through
// its leader (AddLearner), or the node would found a second, empty group. Every node must
// answer; one that does not (still starting, unreachable) postpones the founding.
//
// NB: this relies on a map keeping every node that may hold a shard's data until the node
// holds none (drain before removal), which the operator and `torua local` guarantee.
func (n *Node) found(ctx context.Context, m *shardmap.Map, groups []*shardGroup) {
	held := map[int]bool{}
	raftIDs := map[string]uint64{n.cfg.ID: n.host.ID()}
	for _, peer := range m.Nodes {
		if peer.ID == n.cfg.ID {
			continue
		}
		st, id, err := n.ids.raftState(ctx, peer.ID, peer.API)
		raftIDs[peer.ID] = id
		if err != nil {
			n.log.Info("Waiting for every node to answer before founding shards", "peer", peer.ID, "err", err)
			return
		}
		for _, s := range st.Shards {
			held[s] = true
		}
	}
	for _, g := range groups {
		if held[g.shard] {
			continue // it exists elsewhere; its leader will add this replica
		}
		var voters []replication.Member
		for _, id := range m.Replicas(g.shard) {
			voters = append(voters, replication.Member{Node: id, ID: raftIDs[id]})
		}
		if err := g.Bootstrap(voters); err != nil {
			n.log.Error("Failed to found shard group", "shard", g.shard, "err", err)
			continue
		}
		n.log.Info("Founded shard group", "shard", g.shard, "voters", m.Replicas(g.shard), "mapVersion", m.Version)
	}
}

// step moves one group one step towards the map: the leader changes the membership by at
// most one server, a replica the map no longer lists retires once the group has let it go.
func (n *Node) step(ctx context.Context, m *shardmap.Map, g *shardGroup) {
	assigned := slices.Contains(m.Replicas(g.shard), n.cfg.ID)
	switch {
	case !g.HasState() && !assigned:
		// Never joined: nothing to keep.
		n.retire(g, "never joined the group")
	case g.IsLeader():
		if err := n.lead(ctx, m, g); err != nil && ctx.Err() == nil {
			n.log.Info("Membership step failed; retrying", "shard", g.shard, "err", err)
		}
	case !assigned:
		if n.removedFromGroup(ctx, m, g) {
			n.retire(g, "removed from the group")
		}
	}
}

// lead is the leader's step: add the replicas the map lists, promote them once caught
// up, hand leadership away if this node is leaving, remove the replicas the map no longer
// lists, and finally hand leadership to the shard's first replica. One change per step;
// a change starts only once the previous one is committed.
func (n *Node) lead(ctx context.Context, m *shardmap.Map, g *shardGroup) error {
	want := m.Replicas(g.shard)
	mem, err := g.Membership()
	if err != nil {
		return err
	}
	if mem.Index != g.lastMembership {
		g.lastMembership, g.stableSince = mem.Index, time.Now()
	}
	if mem.Index > g.CommitIndex() {
		return nil // the previous change is not committed yet
	}
	for _, id := range mem.Inactive {
		// A member that went quiet may be a node that lost its disk: it came back with
		// another Raft ID and drops what is sent to the old one. The old member promised
		// things (votes, acknowledged entries) the node no longer has, so it goes first;
		// the node is then added again below, as a learner that catches up by snapshot.
		peer, ok := m.Node(id)
		if !ok {
			continue
		}
		n.ids.refresh(id, peer.API)
		if now, known := n.ids.get(id); known && now != mem.IDs[id] {
			n.log.Warn("Replacing a replica whose node lost its Raft state", "shard", g.shard, "node", id,
				"oldRaftID", replication.FormatRaftID(mem.IDs[id]), "raftID", replication.FormatRaftID(now))
			return g.RemoveServer(ctx, id)
		}
	}
	for _, id := range want {
		if !mem.Contains(id) {
			peer, ok := m.Node(id)
			if !ok {
				return fmt.Errorf("node %s is not in map version %d", id, m.Version)
			}
			raftID, err := n.ids.fetch(ctx, id, peer.API)
			if err != nil {
				return fmt.Errorf("add %s to shard %d: %w", id, g.shard, err)
			}
			return g.AddLearner(ctx, replication.Member{Node: id, ID: raftID})
		}
	}
	for _, id := range mem.Learners {
		if !slices.Contains(want, id) {
			return g.RemoveServer(ctx, id)
		}
	}
	for _, id := range mem.Learners {
		ok, err := n.caughtUp(ctx, m, g, id)
		if err != nil {
			return err
		}
		if ok {
			return g.Promote(ctx, id)
		}
	}
	if len(mem.Learners) > 0 {
		return nil // wait for the learners; removing voters now would weaken the group
	}
	if !slices.Contains(want, n.cfg.ID) {
		return n.handOff(ctx, m, g, want)
	}
	for _, id := range mem.Voters {
		if !slices.Contains(want, id) {
			return g.RemoveServer(ctx, id)
		}
	}
	if first := want[0]; first != n.cfg.ID {
		if time.Since(g.stableSince) < preferredLeaderDelay {
			return nil
		}
		ok, err := n.caughtUp(ctx, m, g, first)
		if err != nil || !ok {
			return err
		}
		g.stableSince = time.Now()
		n.log.Info("Handing leadership to the shard's first replica", "shard", g.shard, "to", first)
		return g.TransferLeadershipTo(ctx, first)
	}
	g.settled = settledAt{m.Version, g.Term(), mem.Index}
	return nil
}

// handOff gives leadership of a group this node is leaving to a caught-up replica that stays.
func (n *Node) handOff(ctx context.Context, m *shardmap.Map, g *shardGroup, want []string) error {
	for _, id := range want {
		ok, err := n.caughtUp(ctx, m, g, id)
		if err != nil {
			continue
		}
		if ok {
			n.log.Info("Handing leadership away before leaving the group", "shard", g.shard, "to", id)
			return g.TransferLeadershipTo(ctx, id)
		}
	}
	return fmt.Errorf("no replica of shard %d that stays is caught up yet", g.shard)
}

// caughtUp asks node id how far its replica of g's shard has applied the log.
func (n *Node) caughtUp(ctx context.Context, m *shardmap.Map, g *shardGroup, id string) (bool, error) {
	peer, ok := m.Node(id)
	if !ok {
		return false, fmt.Errorf("node %s is not in map version %d", id, m.Version)
	}
	commit := g.CommitIndex()
	st, err := n.peers.Status(ctx, peer.API)
	if err != nil {
		return false, err
	}
	for _, sh := range st.Shards {
		if sh.Shard == g.shard {
			return sh.AppliedIndex+caughtUpLag >= commit, nil
		}
	}
	return false, nil
}

// removedFromGroup reports whether a leader of g's shard has committed a membership
// without this node. Only then may the replica delete its data: until the removal
// commits, a new leader could still count this replica's log in a quorum.
func (n *Node) removedFromGroup(ctx context.Context, m *shardmap.Map, g *shardGroup) bool {
	for _, id := range m.Replicas(g.shard) {
		peer, ok := m.Node(id)
		if !ok {
			continue
		}
		st, err := n.peers.Status(ctx, peer.API)
		if err != nil {
			continue
		}
		for _, sh := range st.Shards {
			if sh.Shard != g.shard || sh.Role != shardmap.RoleLeader {
				continue
			}
			return !sh.IsMember(n.cfg.ID) && sh.ConfigCommitted()
		}
	}
	return false
}

// retire closes g and deletes its data: the engine's copy of the shard first, then the
// Raft state (log, stable state, snapshots). A crash in between leaves Raft state over an
// empty shard, which the next start replays or restores from a snapshot; never data
// without Raft state.
func (n *Node) retire(g *shardGroup, why string) {
	n.mu.Lock()
	delete(n.groups, g.shard)
	n.mu.Unlock()
	n.publish(n.hosting.Load().m)
	err := errors.Join(g.Close(), n.eng.DeleteShard(g.shard))
	if err == nil {
		err = n.host.DeleteRaftState(g.shard)
	}
	if err == nil {
		err = n.unmarkHosted(g.shard)
	}
	if err != nil {
		n.log.Error("Failed to delete a retired replica's data", "shard", g.shard, "err", err)
		return
	}
	n.log.Info("Retired shard replica and deleted its data", "shard", g.shard, "reason", why)
}

// raftState is this node's answer to GET /internal/raft-state.
func (n *Node) raftState() nodeapi.RaftState {
	n.mu.Lock()
	defer n.mu.Unlock()
	st := nodeapi.RaftState{Node: n.cfg.ID, RaftID: replication.FormatRaftID(n.host.ID()), Shards: []int{}}
	for _, s := range slices.Sorted(maps.Keys(n.groups)) {
		if n.groups[s].HasState() {
			st.Shards = append(st.Shards, s)
		}
	}
	for s := range n.refused {
		st.Shards = append(st.Shards, s)
	}
	slices.Sort(st.Shards)
	return st
}

// transferLeaderships hands every leadership this node holds to another voter, in
// parallel, and returns the shards it still leads.
func (n *Node) transferLeaderships(ctx context.Context) (handedOff int, kept []int) {
	n.mu.Lock()
	var led []*shardGroup
	for _, g := range n.groups {
		if g.IsLeader() {
			led = append(led, g)
		}
	}
	n.mu.Unlock()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, g := range led {
		wg.Go(func() {
			err := g.TransferLeadership(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				n.log.Info("Kept leadership", "shard", g.shard, "err", err)
				kept = append(kept, g.shard)
				return
			}
			handedOff++
		})
	}
	wg.Wait()
	slices.Sort(kept)
	return handedOff, kept
}
