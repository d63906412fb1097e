package replication

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
)

// Member is a member of a group: a node and the Raft ID it is a member with. A node that
// lost its disk comes back with a new Raft ID (identity.go) and is a new member.
type Member struct {
	Node string
	ID   uint64
}

// membersLocked returns the voters' and learners' node IDs. Under mu.
func (g *Group) membersLocked() (voters, learners []string) {
	for _, id := range g.conf.GetVoters() {
		voters = append(voters, g.memberName(id))
	}
	for _, id := range g.conf.GetLearners() {
		learners = append(learners, g.memberName(id))
	}
	return voters, learners
}

// memberName is the node ID of member id, or a name made of the Raft ID if it is unknown.
func (g *Group) memberName(id uint64) string {
	if n := g.h.name(id); n != "" {
		return n
	}
	return "raft-" + FormatRaftID(id)
}

// memberID returns the Raft ID node is a member with. Under mu.
func (g *Group) memberID(node string, voter bool) (uint64, bool) {
	ids := g.conf.GetVoters()
	if !voter {
		ids = slices.Concat(ids, g.conf.GetLearners())
	}
	for _, id := range ids {
		if g.h.name(id) == node {
			return id, true
		}
	}
	return 0, false
}

// Membership is a group's configuration as one replica knows it.
type Membership struct {
	// Voters and Learners are node IDs.
	Voters, Learners []string
	// IDs maps each member's node ID to the Raft ID it is a member with.
	IDs map[string]uint64
	// Inactive lists the members a leader has not heard from since its last quorum check
	// (about an election timeout): down, cut off, or a node that lost its disk and drops
	// what is sent to its old Raft ID. Empty on followers.
	Inactive []string
	// Index is the log index of the configuration. A configuration takes effect when it
	// is applied, so it is always committed.
	Index uint64
}

// Contains reports whether id is a voter or a learner.
func (m Membership) Contains(id string) bool {
	return slices.Contains(m.Voters, id) || slices.Contains(m.Learners, id)
}

// Membership returns the configuration this replica has applied.
func (g *Group) Membership() (Membership, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return Membership{}, ErrClosed
	}
	m := Membership{Index: g.confIndex, IDs: map[string]uint64{}}
	m.Voters, m.Learners = g.membersLocked()
	for _, id := range slices.Concat(g.conf.GetVoters(), g.conf.GetLearners()) {
		m.IDs[g.memberName(id)] = id
	}
	for _, id := range g.inactiveLocked() {
		m.Inactive = append(m.Inactive, g.memberName(id))
	}
	slices.Sort(m.Inactive)
	return m, nil
}

// MembershipIndex is the log index of the configuration this replica has applied.
func (g *Group) MembershipIndex() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.confIndex
}

// HasInactiveMember reports whether this replica leads the group and some member has
// not been heard from since the last quorum check (see Membership.Inactive).
func (g *Group) HasInactiveMember() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.inactiveLocked()) > 0
}

// inactiveLocked returns the members this replica, as leader, has not heard from since its
// last quorum check (Raft resets RecentActive once an election timeout); none on a
// follower or a closed group. Under mu.
func (g *Group) inactiveLocked() []uint64 {
	if g.closed || !g.leads() {
		return nil
	}
	var out []uint64
	g.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
		if id != g.h.id && !pr.RecentActive {
			out = append(out, id)
		}
	})
	return out
}

// namedMembers returns ids as members with their node IDs, leaving out those whose node ID
// is unknown.
func (h *Host) namedMembers(ids ...[]uint64) []Member {
	var out []Member
	for _, id := range slices.Concat(ids...) {
		if name := h.name(id); name != "" {
			out = append(out, Member{Node: name, ID: id})
		}
	}
	return out
}

// AddLearner adds node m.Node, with its current Raft ID m.ID, to the group as a learner,
// which receives the log (or a snapshot) but does not count in quorums. Leader only.
// Membership changes go one at a time; the caller adds, promotes or removes one server and
// waits for it. A node that is a member already, with another Raft ID (it lost its disk),
// must be removed first.
func (g *Group) AddLearner(ctx context.Context, m Member) error {
	what := "add learner " + m.Node
	return g.changeMembership(ctx, what, pb.ConfChangeAddLearnerNode, func() (Member, error) {
		if m.ID == 0 || m.Node == "" {
			return Member{}, fmt.Errorf("%s: a node ID and a Raft ID are required", what)
		}
		if id, ok := g.memberID(m.Node, false); ok && id != m.ID {
			return Member{}, fmt.Errorf("%s: it is a member with Raft ID %s already; remove that first", what, FormatRaftID(id))
		}
		return m, nil
	})
}

// Promote makes learner node a voter. Leader only. The caller promotes a learner once it
// has caught up (its Status().AppliedIndex close to the leader's CommitIndex), so the
// group's availability does not depend on a replica still copying the log.
func (g *Group) Promote(ctx context.Context, node string) error {
	return g.changeMembership(ctx, "promote "+node, pb.ConfChangeAddNode, g.member(node))
}

// RemoveServer removes node (voter or learner) from the group. Leader only. Removing the
// leader itself makes it step down once the change is applied.
func (g *Group) RemoveServer(ctx context.Context, node string) error {
	return g.changeMembership(ctx, "remove "+node, pb.ConfChangeRemoveNode, g.member(node))
}

// member returns a changeMembership target: node as the configuration knows it.
func (g *Group) member(node string) func() (Member, error) {
	return func() (Member, error) {
		id, ok := g.memberID(node, false)
		if !ok {
			return Member{}, fmt.Errorf("shard %d: %s is not a member", g.shard, node)
		}
		return Member{Node: node, ID: id}, nil
	}
}

// changeMembership proposes one change of the member target returns (called under mu) and
// waits until it is applied.
func (g *Group) changeMembership(ctx context.Context, what string, typ pb.ConfChangeType, target func() (Member, error)) error {
	ctx, cancel := context.WithTimeout(ctx, g.h.cfg.ApplyTimeout)
	defer cancel()
	g.mu.Lock()
	if err := g.leadingLocked(); err != nil {
		g.mu.Unlock()
		return fmt.Errorf("%s: %w", what, err)
	}
	if g.pendingConf || g.appliedTerm != g.term {
		g.mu.Unlock()
		return fmt.Errorf("%s shard %d: %w: an earlier membership change is still being applied", what, g.shard, ErrNotProposed)
	}
	m, err := target()
	if err != nil {
		g.mu.Unlock()
		return err
	}
	// A new voter promised this leader nothing: quorums that include it are not bound by
	// the lease.
	g.revokeLease()
	id, w := g.newWaiter(false)
	cc := &pb.ConfChangeV2{
		Changes: []*pb.ConfChangeSingle{{Type: typ.Enum(), NodeId: new(m.ID)}},
		Context: append(binary.BigEndian.AppendUint64(nil, id), m.Node...),
	}
	if err := g.rn.ProposeConfChange(cc); err != nil {
		delete(g.waiters, id)
		err = g.proposeError(err)
		g.mu.Unlock()
		return fmt.Errorf("%s: %w", what, err)
	}
	w.term = g.rn.BasicStatus().GetTerm() // the entry's, as in flushProposals
	g.pendingConf = true
	g.mu.Unlock()
	g.h.signal()
	if _, err := g.await(ctx, id, w); err != nil {
		return fmt.Errorf("%s shard %d: %w", what, g.shard, err)
	}
	g.log.Info("Changed group membership", "change", what, "raftID", FormatRaftID(m.ID))
	return nil
}

// TransferLeadership hands leadership to the most up-to-date voter and returns once a
// new leader has taken over (or the attempt failed). Leader only.
func (g *Group) TransferLeadership(ctx context.Context) error {
	g.mu.Lock()
	if err := g.leadingLocked(); err != nil {
		g.mu.Unlock()
		return err
	}
	var best uint64
	var match uint64
	st := g.rn.Status()
	for _, id := range g.conf.GetVoters() {
		if pr, ok := st.Progress[id]; ok && id != g.h.id && (best == 0 || pr.Match > match) {
			best, match = id, pr.Match
		}
	}
	g.mu.Unlock()
	if best == 0 {
		return fmt.Errorf("transfer leadership of shard %d: no other voter", g.shard)
	}
	return g.transfer(ctx, best)
}

// TransferLeadershipTo hands leadership to voter node. Leader only.
func (g *Group) TransferLeadershipTo(ctx context.Context, node string) error {
	g.mu.Lock()
	id, ok := g.memberID(node, true)
	g.mu.Unlock()
	if !ok {
		return fmt.Errorf("transfer leadership of shard %d: %s is not a voter", g.shard, node)
	}
	return g.transfer(ctx, id)
}

func (g *Group) transfer(ctx context.Context, to uint64) error {
	ctx, cancel := context.WithTimeout(ctx, g.h.cfg.ApplyTimeout)
	defer cancel()
	g.mu.Lock()
	if err := g.leadingLocked(); err != nil {
		g.mu.Unlock()
		return err
	}
	if !slices.Contains(g.conf.GetVoters(), to) || to == g.h.id {
		g.mu.Unlock()
		return fmt.Errorf("transfer leadership of shard %d: %s is not another voter", g.shard, g.h.name(to))
	}
	g.revokeLease() // the target is elected at once, with the votes the lease counts on
	g.rn.TransferLeader(to)
	g.mu.Unlock()
	g.h.signal()
	for {
		g.mu.Lock()
		leader := g.leads()
		transferring := leader && g.rn.BasicStatus().LeadTransferee != 0
		changed := g.changed
		g.mu.Unlock()
		switch {
		case !leader:
			return nil
		case !transferring:
			// Raft gave up: the target did not catch up within an election timeout.
			return fmt.Errorf("transfer leadership of shard %d to %s: the target did not take over", g.shard, g.h.name(to))
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("transfer leadership of shard %d to %s: %w", g.shard, g.h.name(to), ctx.Err())
		case <-time.After(g.h.cfg.tick()): // Raft may give up without a change of leader
		}
	}
}

// joinMembers encodes the members' list of a snapshot point: "<raft ID> <node ID>\n" each.
func joinMembers(members []Member) []byte {
	var b []byte
	for _, m := range members {
		b = append(b, FormatRaftID(m.ID)...)
		b = append(append(append(b, ' '), m.Node...), '\n')
	}
	return b
}

// splitMembers decodes what joinMembers wrote. A line of a bare node ID, as versions before
// node identities wrote, is RaftID(node ID).
func splitMembers(b []byte) []Member {
	var out []Member
	for line := range bytes.Lines(b) {
		line = bytes.TrimSuffix(line, []byte("\n"))
		if len(line) == 0 {
			continue
		}
		if i := bytes.IndexByte(line, ' '); i == 16 {
			if id, err := ParseRaftID(string(line[:i])); err == nil {
				out = append(out, Member{Node: string(line[i+1:]), ID: id})
				continue
			}
		}
		out = append(out, Member{Node: string(line), ID: RaftID(string(line))})
	}
	return slices.Clip(out)
}
