// Package localtest starts a local cluster (internal/local: nodes and a router in the test's
// process, on loopback) for tests, and stops it when the test ends. Fsync is off: the tests
// that use it check answers, not durability (test/process does that, with SIGKILL).
//
// It imports internal/local and node/replication (Raft timing).
package localtest

import (
	"context"
	"testing"
	"time"

	"github.com/torua/torua/internal/local"
	"github.com/torua/torua/node/replication"
)

// Start starts a cluster of cfg in a temporary directory, with a router on a free port and
// Raft timing fit for tests unless cfg says otherwise, and stops it at the end of the test.
func Start(t testing.TB, cfg local.Config) *local.Cluster {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Raft.HeartbeatTimeout == 0 {
		cfg.Raft = replication.Config{HeartbeatTimeout: 200 * time.Millisecond, RaftLogLevel: "off"}
	}
	cfg.UnsafeNoFsync = true
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := local.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = c.Shutdown(ctx)
	})
	return c
}
