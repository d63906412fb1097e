package node

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/torua/torua/shardmap"
)

// lastMapFile, in the data directory, holds the last shard map the node accepted. A node
// starts with it: it serves its replicas, and answers GET /internal/shardmap, before its
// source delivers a map, or without one (an API server that is down; a shard map ConfigMap
// that was lost or overwritten while every node restarted, which the operator restores from
// what the nodes hold). A newer map from the source replaces it as usual; a file that does not
// decode or validate is refused (logged) and the node waits for its source.
const lastMapFile = "last-shardmap.json"

func (n *Node) lastMapPath() string { return filepath.Join(n.cfg.DataDir, lastMapFile) }

// loadLastMap offers the map the node last accepted to its holder.
func (n *Node) loadLastMap() {
	data, err := os.ReadFile(n.lastMapPath())
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err == nil {
		err = n.holder.OfferBytes(data, n.lastMapPath())
	}
	if err != nil {
		n.log.Warn("Ignored the last shard map this node kept; waiting for its source", "path", n.lastMapPath(), "err", err)
	}
}

// saveMap keeps m as the last map the node accepted (written whole and synced, then renamed
// over the previous one).
func (n *Node) saveMap(m *shardmap.Map) {
	if err := shardmap.WriteFile(n.lastMapPath(), m); err != nil {
		n.log.Error("Failed to keep the shard map in the data directory", "version", m.Version, "err", err)
	}
}
