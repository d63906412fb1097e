package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/torua/torua/graph/exec"
	"github.com/torua/torua/internal/local"
	"github.com/torua/torua/node/replication"
)

func init() { register(newLocalCmd) }

type localOptions struct {
	nodes, shards, rf int
	raft              replication.Config
	dataDir           string
	listen            string
	nodeHost          string
	nodeBasePort      int
	graphTimeout      time.Duration
	graphMaxRows      int
	unsafeNoFsync     bool
	graphCacheHalves  int
	blockCache        int64
	pprof             bool
	logs              logOptions
}

func newLocalCmd() *cobra.Command {
	o := &localOptions{}
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run a whole cluster (nodes and router) in this process on localhost",
		Long: `Run a whole Torua cluster in one process: N storage nodes and a router on localhost, with the
shard map in the data directory. Each shard is a Raft group of --replication-factor replicas.
The next start recovers every key from the data directory; a different --nodes moves replicas
onto the new nodes, or off the nodes that go (drained before they stop). Ctrl-C shuts it down
cleanly.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runLocal(cmd, o) },
	}
	f := cmd.Flags()
	f.IntVar(&o.nodes, "nodes", 3, "number of storage nodes")
	f.IntVar(&o.shards, "shards", local.DefaultShards, "number of shards (fixed when the data directory is created)")
	f.IntVar(&o.rf, "replication-factor", local.DefaultReplicationFactor, "replicas per shard (default 3, or --nodes if fewer; kept from the data directory unless set)")
	f.StringVar(&o.dataDir, "data-dir", ".torua-data", "data directory")
	f.StringVar(&o.listen, "listen", "127.0.0.1:8080", "router address")
	f.StringVar(&o.nodeHost, "node-host", "127.0.0.1", "address the nodes listen on")
	f.IntVar(&o.nodeBasePort, "node-base-port", 0, "first node port (node i listens on base+i); 0 picks free ports")
	f.DurationVar(&o.graphTimeout, "graph-timeout", exec.DefaultTimeout, "time limit of a graph query (a query may ask for less)")
	f.IntVar(&o.graphMaxRows, "graph-max-rows", exec.DefaultMaxRows, "largest intermediate result of a graph query, in rows (413 beyond)")
	addRaftFlags(f, &o.raft)
	addUnsafeNoFsyncFlag(f, &o.unsafeNoFsync)
	addGraphCacheFlag(f, &o.graphCacheHalves)
	addBlockCacheFlag(f, &o.blockCache)
	addPprofFlag(f, &o.pprof)
	o.logs.addFlags(f, "")
	return cmd
}

// localProcs raises GOMAXPROCS to two per node unless the environment sets it. Every node
// runs its own storage engine in this one process, each with a goroutine that spends most
// of a write-heavy load in fsync; on a 2-core machine GOMAXPROCS=2 left the Raft and network
// goroutines of the others waiting (measured, 3 nodes, 32 writers: 1.3-1.4k PUT/s at 2,
// 2.4-2.5k at 6; reads gained too). A single `torua node` keeps Go's default.
func localProcs(nodes int) {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	if want := 2 * nodes; runtime.GOMAXPROCS(0) < want {
		runtime.GOMAXPROCS(want)
	}
}

func runLocal(cmd *cobra.Command, o *localOptions) error {
	out := cmd.OutOrStdout()
	if o.nodes < 1 {
		return fmt.Errorf("--nodes must be at least 1, got %d", o.nodes)
	}
	// The shard count and replication factor of the data directory stay unless given.
	shards, rf := 0, 0
	if cmd.Flags().Changed("shards") {
		if o.shards < 1 {
			return fmt.Errorf("--shards must be at least 1, got %d", o.shards)
		}
		shards = o.shards
	}
	if cmd.Flags().Changed("replication-factor") {
		if o.rf < 1 {
			return fmt.Errorf("--replication-factor %d needs between 1 and --nodes (%d) replicas", o.rf, o.nodes)
		}
		rf = o.rf
	}
	localProcs(o.nodes)
	if err := os.MkdirAll(o.dataDir, 0o755); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if o.logs.file == "" {
		o.logs.file = filepath.Join(o.dataDir, "torua.log")
	}
	log, closeLog, err := o.logs.logger()
	if err != nil {
		return err
	}
	defer closeLog()
	tuneGC(log)

	c, err := local.Start(context.Background(), local.Config{
		DataDir:           o.dataDir,
		Nodes:             o.nodes,
		Shards:            shards,
		ReplicationFactor: rf,
		Listen:            o.listen,
		NodeHost:          o.nodeHost,
		NodeBasePort:      o.nodeBasePort,
		Raft:              o.raft,
		UnsafeNoFsync:     o.unsafeNoFsync,
		GraphCacheHalves:  o.graphCacheHalves,
		BlockCacheBytes:   o.blockCache,
		Pprof:             o.pprof,
		GraphTimeout:      o.graphTimeout,
		GraphMaxRows:      o.graphMaxRows,
		Logger:            log,
		Progress:          out,
	})
	if err != nil {
		return err
	}
	printWelcome(out, c.RouterURL(), o.dataDir, o.logs.file)

	if err := serveUntilSignal(log, 10*time.Second, c); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	fmt.Fprintf(out, "\nStopped cleanly; the data is in %s.\n", o.dataDir)
	return nil
}

// self is how to run this binary from the current directory, for the example commands.
func self() string {
	exe := os.Args[0]
	if wd, err := os.Getwd(); err == nil && filepath.IsAbs(exe) {
		if rel, err := filepath.Rel(wd, exe); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return exe
}

func printWelcome(out io.Writer, url, dataDir, logFile string) {
	fmt.Fprintf(out, `
Torua is running. Router: %[1]s
Data: %[2]s   Logs: %[3]s   Ctrl-C stops it.

Try:
  curl -X PUT --data-binary 'hello' %[1]s/data/greeting
  curl %[1]s/data/greeting
  %[4]s ls --url %[1]s        (also: status, bench)
  %[4]s shell --url %[1]s     (openCypher on a graph; also: query, import)
`, url, dataDir, logFile, self())
}
