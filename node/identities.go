package node

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/torua/torua/internal/nodeapi"
	"github.com/torua/torua/node/replication"
)

// identityRefresh is how often a peer's Raft ID is asked again while it is needed.
const identityRefresh = time.Second

// identities knows the Raft ID each peer has now, as its GET /internal/raft-state says. A
// node that lost its disk comes back with a new Raft ID (replication's identity.go); the
// leaders of its groups compare its member's Raft ID with the one it has now and replace
// the member (Node.lead). Lookups never wait: refresh asks in the background.
type identities struct {
	peers *nodeapi.Client
	// ctx bounds the background requests; close ends it.
	ctx    context.Context
	cancel context.CancelFunc

	mu    sync.Mutex
	known map[string]uint64
	// asked is when each node was last asked in the background; asking those being asked.
	asked  map[string]time.Time
	asking map[string]bool
	wg     sync.WaitGroup
}

func newIdentities(peers *nodeapi.Client) *identities {
	ctx, cancel := context.WithCancel(context.Background())
	return &identities{peers: peers, ctx: ctx, cancel: cancel,
		known: map[string]uint64{}, asked: map[string]time.Time{}, asking: map[string]bool{}}
}

// get returns the Raft ID node last reported, if any.
func (ids *identities) get(node string) (uint64, bool) {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	id, ok := ids.known[node]
	return id, ok
}

// refresh asks node (at api) for its Raft ID in the background, unless it was asked within
// identityRefresh or is being asked.
func (ids *identities) refresh(node, api string) {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	if ids.asking[node] || time.Since(ids.asked[node]) < identityRefresh {
		return
	}
	ids.asking[node], ids.asked[node] = true, time.Now()
	ids.wg.Go(func() {
		_, _ = ids.fetch(ids.ctx, node, api)
		ids.mu.Lock()
		delete(ids.asking, node)
		ids.mu.Unlock()
	})
}

// fetch asks node (at api) for its Raft ID now and records the answer.
func (ids *identities) fetch(ctx context.Context, node, api string) (uint64, error) {
	_, id, err := ids.raftState(ctx, node, api)
	return id, err
}

// raftState asks node (at api) for its GET /internal/raft-state, and records the Raft ID it
// reports.
func (ids *identities) raftState(ctx context.Context, node, api string) (*nodeapi.RaftState, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	st, err := ids.peers.RaftState(ctx, api)
	if err != nil {
		return nil, 0, err
	}
	if st.Node != node {
		return st, 0, fmt.Errorf("%s answered as node %q, not %q", api, st.Node, node)
	}
	id, err := raftIDOf(st)
	if err != nil {
		return st, 0, fmt.Errorf("node %s: %w", node, err)
	}
	ids.mu.Lock()
	ids.known[node] = id
	ids.mu.Unlock()
	return st, id, nil
}

// close ends the background requests and waits for them.
func (ids *identities) close() {
	ids.cancel()
	ids.wg.Wait()
}

// raftIDOf is the Raft ID st reports; nodes of versions before node identities report none
// and have replication.RaftID of their name.
func raftIDOf(st *nodeapi.RaftState) (uint64, error) {
	if st.RaftID == "" {
		return replication.RaftID(st.Node), nil
	}
	return replication.ParseRaftID(st.RaftID)
}
