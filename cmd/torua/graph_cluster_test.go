package main

import (
	"testing"

	"github.com/torua/torua/internal/local"
	"github.com/torua/torua/internal/local/localtest"
)

// startGraphCluster starts one node (replication factor 1) and a router in this process and
// returns the router's URL.
func startGraphCluster(t *testing.T) string {
	t.Helper()
	return localtest.Start(t, local.Config{Nodes: 1, ReplicationFactor: 1, Shards: 4}).RouterURL()
}
