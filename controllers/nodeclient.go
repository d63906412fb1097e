package controllers

import (
	"context"

	"github.com/torua/torua/internal/nodeapi"
	"github.com/torua/torua/shardmap"
)

// NodeClient is how the operator asks a storage node about itself. Implementations must be
// safe for concurrent use and bound every call by ctx. *nodeapi.Client is the one that
// speaks HTTP to the nodes' API port; tests may stand in others.
type NodeClient interface {
	// Status returns the node's GET /internal/status.
	Status(ctx context.Context, apiAddr string) (*shardmap.NodeStatus, error)
	// TransferLeadership asks the node to hand off every shard leadership it holds
	// (POST /internal/transfer-leadership). A nil error means the node answered 2xx: it leads
	// nothing now. Any other answer means "not yet" and is returned as an error.
	TransferLeadership(ctx context.Context, apiAddr string) error
	// ShardMap returns the shard map the node holds (GET /internal/shardmap), decoded and
	// validated; ErrNoShardMap when the node holds none yet.
	ShardMap(ctx context.Context, apiAddr string) (*shardmap.Map, error)
}

// ErrNoShardMap is a node's answer that it holds no shard map yet.
var ErrNoShardMap = nodeapi.ErrNoShardMap

var _ NodeClient = (*nodeapi.Client)(nil)
