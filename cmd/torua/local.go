package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/torua/torua/internal/wire"
	"github.com/torua/torua/node"
	"github.com/torua/torua/node/replication"
	"github.com/torua/torua/router"
	"github.com/torua/torua/shardmap"
)

func init() { register(newLocalCmd) }

type localOptions struct {
	nodes, shards, rf int
	raft              replication.Config
	dataDir           string
	listen            string
	nodeHost          string
	nodeBasePort      int
	unsafeNoFsync     bool
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
	f.IntVar(&o.shards, "shards", 16, "number of shards (fixed when the data directory is created)")
	f.IntVar(&o.rf, "replication-factor", 3, "replicas per shard (default 3, or --nodes if fewer; kept from the data directory unless set)")
	f.StringVar(&o.dataDir, "data-dir", ".torua-data", "data directory")
	f.StringVar(&o.listen, "listen", "127.0.0.1:8080", "router address")
	f.StringVar(&o.nodeHost, "node-host", "127.0.0.1", "address the nodes listen on")
	f.IntVar(&o.nodeBasePort, "node-base-port", 0, "first node port (node i listens on base+i); 0 picks free ports")
	addRaftFlags(f, &o.raft)
	addUnsafeNoFsyncFlag(f, &o.unsafeNoFsync)
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
	raftCfg := o.raft

	mapPath := filepath.Join(o.dataDir, "shardmap.json")
	prev, err := readLocalMap(mapPath)
	if err != nil {
		return err
	}
	rfSet := cmd.Flags().Changed("replication-factor")
	if prev != nil && slices.ContainsFunc(prev.Nodes, func(n shardmap.Node) bool { return n.Raft == "" }) {
		return fmt.Errorf("%s was written by a Torua version without replication (its shard map has no raft addresses); "+
			"this version cannot serve that data: move the directory away or use another --data-dir", o.dataDir)
	}
	if prev != nil {
		if cmd.Flags().Changed("shards") && o.shards != prev.Shards {
			return fmt.Errorf("%s holds a cluster with %d shards; the shard count cannot change (use another --data-dir)", o.dataDir, prev.Shards)
		}
		o.shards = prev.Shards
		if !rfSet {
			o.rf = prev.ReplicationFactor
		}
		fmt.Fprintf(out, "Recovering the cluster in %s (shard map version %d)\n", o.dataDir, prev.Version)
	} else if !rfSet {
		o.rf = min(o.rf, o.nodes)
	}
	if o.rf < 1 || o.rf > o.nodes {
		return fmt.Errorf("--replication-factor %d needs between 1 and --nodes (%d) replicas", o.rf, o.nodes)
	}
	// Nodes of the previous map beyond --nodes start too: their replicas move away before
	// they stop (a drain), or their data would be lost.
	total := o.nodes
	if prev != nil {
		for _, n := range prev.Nodes {
			if i, ok := localNodeIndex(n.ID); ok && i >= total {
				total = i + 1
			}
		}
	}
	if prev == nil {
		fmt.Fprintf(out, "Creating a cluster in %s: %d nodes, %d shards, replication factor %d\n", o.dataDir, o.nodes, o.shards, o.rf)
	}

	// Bind the router's address first: if it is taken, fail before touching anything else.
	// Hold it while the nodes bind their ports (:0 could otherwise pick it) and release it
	// just before the router binds it.
	probe, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("router address %s: %w", o.listen, err)
	}
	releaseProbe := sync.OnceFunc(func() { _ = probe.Close() })
	defer releaseProbe()

	var stops []shutdowner
	stopAll := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = stops[i].Shutdown(ctx)
			cancel()
		}
	}
	members := make([]shardmap.Node, total)
	nodes := make([]*node.Node, total)
	for i := range total {
		id := localNodeID(i)
		port := 0
		if o.nodeBasePort != 0 {
			port = o.nodeBasePort + i
		}
		fmt.Fprintf(out, "  starting %s ... ", id)
		n, err := node.New(node.Config{
			ID:         id,
			Listen:     net.JoinHostPort(o.nodeHost, strconv.Itoa(port)),
			RaftListen: net.JoinHostPort(o.nodeHost, "0"),
			Raft:       raftCfg,
			NoHandOff:  true,
			// Every node of the cluster runs in this process: none outlives a restart.
			NoRestartQuiet: true,
			DataDir:        filepath.Join(o.dataDir, id),
			UnsafeNoFsync:  o.unsafeNoFsync,
			Source:         shardmap.NewFile(mapPath, log),
			Logger:         log,
		})
		if err == nil {
			err = n.Start(context.Background())
		}
		if err != nil {
			fmt.Fprintln(out, "failed")
			stopAll()
			return fmt.Errorf("start %s: %w", id, err)
		}
		stops = append(stops, n)
		nodes[i] = n
		state := shardmap.NodeActive
		if i >= o.nodes {
			state = shardmap.NodeDraining
		}
		members[i] = shardmap.Node{ID: id, API: n.Addr(), Raft: n.RaftAddr(), State: state}
		fmt.Fprintf(out, "listening on %s (raft %s)%s\n", n.Addr(), n.RaftAddr(), map[bool]string{true: ", draining"}[i >= o.nodes])
	}

	cfg := shardmap.PlaceConfig{Cluster: "local", Shards: o.shards, ReplicationFactor: o.rf}
	m, err := placeLocal(out, mapPath, prev, members, cfg)
	if err != nil {
		stopAll()
		return err
	}
	fmt.Fprintf(out, "  waiting for the nodes to open their shards ... ")
	if err := waitReady(nodes, m.Version, 30*time.Second); err != nil {
		fmt.Fprintln(out, "failed")
		stopAll()
		return err
	}
	fmt.Fprintln(out, "ready")
	if err := waitPlaced(out, nodes, m, 10*time.Minute); err != nil {
		stopAll()
		return err
	}
	if total > o.nodes {
		// Every replica has left the draining nodes: drop them from the map and stop them.
		if _, err := placeLocal(out, mapPath, m, members[:o.nodes], cfg); err != nil {
			stopAll()
			return err
		}
		for i := total - 1; i >= o.nodes; i-- {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := nodes[i].Shutdown(ctx)
			cancel()
			if err != nil {
				stopAll()
				return fmt.Errorf("stop drained %s: %w", localNodeID(i), err)
			}
			if err := os.RemoveAll(filepath.Join(o.dataDir, localNodeID(i))); err != nil {
				stopAll()
				return fmt.Errorf("remove drained %s: %w", localNodeID(i), err)
			}
			fmt.Fprintf(out, "  %s drained, stopped and removed\n", localNodeID(i))
		}
		stops = stops[:o.nodes]
	}

	releaseProbe()
	// The router hands requests to the nodes of this process directly, not over loopback.
	local := make(map[string]*wire.Server, o.nodes)
	for _, n := range nodes[:o.nodes] {
		local[n.Addr()] = n.WireServer()
	}
	rt, err := router.New(router.Config{Listen: o.listen, Source: shardmap.NewFile(mapPath, log), Logger: log, Local: local})
	if err == nil {
		err = rt.Start(context.Background())
	}
	if err != nil {
		stopAll()
		return fmt.Errorf("start router: %w", err)
	}
	stops = append(stops, rt)
	url := "http://" + rt.Addr()
	if err := waitURL(url+"/readyz", 30*time.Second); err != nil {
		stopAll()
		return err
	}
	printWelcome(out, url, o.dataDir, o.logs.file)

	// Stop the router first, then the nodes: requests in flight finish, then writes commit.
	slices.Reverse(stops)
	if err := serveUntilSignal(log, 10*time.Second, stops...); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	fmt.Fprintf(out, "\nStopped cleanly; the data is in %s.\n", o.dataDir)
	return nil
}

func localNodeID(i int) string { return "node-" + strconv.Itoa(i) }

// localNodeIndex parses a local node ID.
func localNodeIndex(id string) (int, bool) {
	i, err := strconv.Atoi(strings.TrimPrefix(id, "node-"))
	return i, err == nil && i >= 0 && localNodeID(i) == id
}

// placeLocal places the shards over members and writes the map if it changed.
func placeLocal(out io.Writer, mapPath string, prev *shardmap.Map, members []shardmap.Node, cfg shardmap.PlaceConfig) (*shardmap.Map, error) {
	m, err := shardmap.Place(prev, members, cfg)
	if err == nil && m != prev {
		err = shardmap.WriteFile(mapPath, m)
	}
	if err != nil {
		return nil, fmt.Errorf("shard map: %w", err)
	}
	fmt.Fprintf(out, "  shard map version %d: %d shards over %d nodes, replication factor %d\n", m.Version, m.Shards, len(m.Nodes), m.ReplicationFactor)
	return m, nil
}

// waitPlaced waits until every shard has a leader and its group's voters are the map's
// replicas, printing the progress while replicas move.
func waitPlaced(out io.Writer, nodes []*node.Node, m *shardmap.Map, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := -1
	start := time.Now()
	for {
		pending := unplaced(nodes, m)
		if pending == 0 {
			if last > 0 {
				fmt.Fprintf(out, "  every replica is in place (%s)\n", time.Since(start).Round(time.Millisecond))
			}
			return nil
		}
		if pending != last {
			fmt.Fprintf(out, "  waiting for leaders and replica moves: %d of %d shards not in place yet\n", pending, m.Shards)
			last = pending
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d shards not in place after %s (see the log)", pending, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// unplaced counts the shards whose leader (among nodes) does not yet report exactly the
// map's replicas as voters.
func unplaced(nodes []*node.Node, m *shardmap.Map) int {
	placed := map[int]bool{}
	for _, n := range nodes {
		for _, sh := range n.Status().Shards {
			if sh.Role == "leader" && len(sh.Learners) == 0 &&
				slices.Equal(slices.Sorted(slices.Values(sh.Voters)), slices.Sorted(slices.Values(m.Replicas(sh.Shard)))) {
				placed[sh.Shard] = true
			}
		}
	}
	return m.Shards - len(placed)
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

func readLocalMap(path string) (*shardmap.Map, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read shard map: %w", err)
	}
	m, err := shardmap.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (fix or remove it; the data directories are untouched)", path, err)
	}
	return m, nil
}

// waitReady polls the nodes until each has opened the shards of map version v.
func waitReady(nodes []*node.Node, v uint64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, n := range nodes {
		for {
			st := n.Status()
			if st.Ready && st.MapVersion >= v {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("node %s not ready after %s (map version %d)", st.Node, timeout, st.MapVersion)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

func waitURL(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s", url, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func printWelcome(out io.Writer, url, dataDir, logFile string) {
	fmt.Fprintf(out, `
Torua is running. Router: %[1]s
Data: %[2]s   Logs: %[3]s   Ctrl-C stops it.

Try:
  curl -X PUT --data-binary 'hello' %[1]s/data/greeting
  curl %[1]s/data/greeting
  %[4]s ls --url %[1]s        (also: status, bench)
`, url, dataDir, logFile, self())
}
