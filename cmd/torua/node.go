package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/node"
	"github.com/torua/torua/node/engine"
	"github.com/torua/torua/node/replication"
	"github.com/torua/torua/shardmap"
)

func init() { register(newNodeCmd) }

func newNodeCmd() *cobra.Command {
	var (
		cfg   node.Config
		maps  mapSourceOptions
		logs  logOptions
		grace time.Duration
	)
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Run a storage node",
		Long: `Run a storage node: it hosts the shards the shard map assigns to it and serves the node API
(/store, /internal/status, /healthz, /readyz, /metrics). Each shard is a Raft group over its replicas;
the groups follow the map (replicas are added, caught up, promoted and removed one at a time).`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if cfg.ID == "" {
				cfg.ID = os.Getenv("POD_NAME")
			}
			if cfg.ID == "" {
				return errors.New("--id is required (or the POD_NAME environment variable)")
			}
			return serve(&logs, &maps, grace, func(log *slog.Logger, src shardmap.Source) (server, error) {
				tuneGC(log)
				cfg.Logger, cfg.Source = log, src
				return node.New(cfg)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.ID, "id", "", "node ID as the shard map names it (default: $POD_NAME)")
	f.StringVar(&cfg.Listen, "listen", ":7070", "HTTP API address")
	f.StringVar(&cfg.RaftListen, "raft-listen", ":7071", "Raft address (one port for every shard's group); peers dial the map's raft address of this node")
	f.StringVar(&cfg.DataDir, "data-dir", "/var/lib/torua", "data directory")
	f.Int64Var(&cfg.MaxValueSize, "max-value-size", httpx.DefaultMaxValueSize, "largest value accepted, in bytes")
	f.IntVar(&cfg.MaxInFlight, "max-in-flight", 4096, "concurrent key requests served before answering 429")
	addRaftFlags(f, &cfg.Raft)
	addUnsafeNoFsyncFlag(f, &cfg.UnsafeNoFsync)
	addGraphCacheFlag(f, &cfg.GraphCacheHalves)
	addBlockCacheFlag(f, &cfg.BlockCacheBytes)
	f.DurationVar(&grace, "shutdown-grace", 20*time.Second, "how long SIGTERM waits for in-flight requests")
	maps.addFlags(f)
	logs.addFlags(f, "-")
	return cmd
}

// addUnsafeNoFsyncFlag adds --unsafe-no-fsync, named and meant as etcd's: for benchmarks
// that separate what the disk costs from what the software costs.
func addUnsafeNoFsyncFlag(f *pflag.FlagSet, v *bool) {
	f.BoolVar(v, "unsafe-no-fsync", false, "never fsync (UNSAFE: acknowledged writes can be lost to a crash; for measuring what the disk costs only)")
}

// addGraphCacheFlag adds --graph-cache-halves, the budget of a node's adjacency cache.
func addGraphCacheFlag(f *pflag.FlagSet, v *int) {
	f.IntVar(v, "graph-cache-halves", node.DefaultGraphCacheHalves, "graph: edge halves of busy vertices a node keeps decoded in memory (about 100 bytes each; -1: none)")
}

// addBlockCacheFlag adds --block-cache, the storage engine's block cache per node.
func addBlockCacheFlag(f *pflag.FlagSet, v *int64) {
	*v = engine.DefaultCacheSize
	f.Var((*byteSize)(v), "block-cache", "storage engine block cache per node, as a Kubernetes quantity (256Mi, 1Gi); the operator sets a quarter of the node container's memory limit")
}

// byteSize is a flag value in bytes written as a Kubernetes quantity ("256Mi", "1G").
type byteSize int64

func (b *byteSize) String() string {
	return resource.NewQuantity(int64(*b), resource.BinarySI).String()
}

func (b *byteSize) Set(s string) error {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return fmt.Errorf("want a size such as 256Mi or 1Gi: %w", err)
	}
	if q.Value() < 1<<20 {
		return fmt.Errorf("%s is below the smallest block cache, 1Mi", s)
	}
	*b = byteSize(q.Value())
	return nil
}

func (b *byteSize) Type() string { return "quantity" }

// addPprofFlag adds --pprof: Go's profiles on the router's port.
func addPprofFlag(f *pflag.FlagSet, v *bool) {
	f.BoolVar(v, "pprof", false, "serve Go's profiles (net/http/pprof) under /debug/pprof/ on the router's port")
}

// addRaftFlags adds the Raft tuning flags shared by node and local.
func addRaftFlags(f *pflag.FlagSet, c *replication.Config) {
	d := replication.DefaultConfig()
	f.DurationVar(&c.HeartbeatTimeout, "raft-heartbeat-timeout", d.HeartbeatTimeout, "Raft election timeout: a follower stands for election after this long without hearing from a leader; leaders send heartbeats twenty times as often")
	f.BoolVar(&c.NoReadLease, "raft-no-read-lease", false, "confirm leadership with a heartbeat round on every linearizable read instead of holding a read lease (correct under any clock drift, slower)")
	f.StringVar(&c.RaftLogLevel, "raft-log-level", d.RaftLogLevel, "lowest level of the Raft library's own log lines that are kept, in the node's log (debug, info, warn, error, off)")
}
