package node

import (
	"time"

	"github.com/torua/torua/internal/nodeapi"
)

// peerTimeout bounds each request to a peer's internal API.
const peerTimeout = 5 * time.Second

// newPeerClient returns the client the reconciler asks other nodes' internal API with
// (status, Raft state).
func newPeerClient() *nodeapi.Client {
	return nodeapi.New(nodeapi.Config{Timeout: peerTimeout})
}
