package main

import (
	"context"
	"testing"
	"time"

	"github.com/torua/torua/internal/local"
	"github.com/torua/torua/node/replication"
)

// startGraphCluster starts one node (replication factor 1) and a router in this process and
// returns the router's URL. Fsync is off: durability is not what the command tests check.
func startGraphCluster(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := local.Start(ctx, local.Config{DataDir: t.TempDir(), Nodes: 1, ReplicationFactor: 1, Shards: 4,
		Listen: "127.0.0.1:0", UnsafeNoFsync: true, Raft: replication.Config{HeartbeatTimeout: 200 * time.Millisecond, RaftLogLevel: "off"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = c.Shutdown(ctx)
	})
	return c.RouterURL()
}
