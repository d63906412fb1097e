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
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/torua/torua/node"
	"github.com/torua/torua/router"
	"github.com/torua/torua/shardmap"
)

func init() { register(newLocalCmd) }

type localOptions struct {
	nodes, shards, rf int
	dataDir           string
	listen            string
	nodeHost          string
	nodeBasePort      int
	logs              logOptions
}

func newLocalCmd() *cobra.Command {
	o := &localOptions{}
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run a whole cluster (nodes and router) in this process on localhost",
		Long: `Run a whole Torua cluster in one process: N storage nodes and a router on localhost, with the
shard map in the data directory. The next start recovers every key from the data directory.
Ctrl-C shuts it down cleanly.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runLocal(cmd, o) },
	}
	f := cmd.Flags()
	f.IntVar(&o.nodes, "nodes", 3, "number of storage nodes")
	f.IntVar(&o.shards, "shards", 16, "number of shards (fixed when the data directory is created)")
	f.IntVar(&o.rf, "replication-factor", 1, "replicas per shard")
	f.StringVar(&o.dataDir, "data-dir", ".torua-data", "data directory")
	f.StringVar(&o.listen, "listen", "127.0.0.1:8080", "router address")
	f.StringVar(&o.nodeHost, "node-host", "127.0.0.1", "address the nodes listen on")
	f.IntVar(&o.nodeBasePort, "node-base-port", 0, "first node port (node i listens on base+i); 0 picks free ports")
	o.logs.addFlags(f, "")
	return cmd
}

func runLocal(cmd *cobra.Command, o *localOptions) error {
	out := cmd.OutOrStdout()
	if o.nodes < 1 {
		return fmt.Errorf("--nodes must be at least 1, got %d", o.nodes)
	}
	if o.rf != 1 {
		return fmt.Errorf("--replication-factor %d: only 1 is supported until shard replication lands", o.rf)
	}
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

	mapPath := filepath.Join(o.dataDir, "shardmap.json")
	prev, err := readLocalMap(mapPath)
	if err != nil {
		return err
	}
	if prev != nil {
		if cmd.Flags().Changed("shards") && o.shards != prev.Shards {
			return fmt.Errorf("%s holds a cluster with %d shards; the shard count cannot change (use another --data-dir)", o.dataDir, prev.Shards)
		}
		o.shards = prev.Shards
		if len(prev.Nodes) != o.nodes {
			return fmt.Errorf("%s holds a cluster of %d nodes; changing the node count moves shards between nodes, which needs replication (not available yet): run with --nodes %d",
				o.dataDir, len(prev.Nodes), len(prev.Nodes))
		}
		fmt.Fprintf(out, "Recovering the cluster in %s (shard map version %d)\n", o.dataDir, prev.Version)
	} else {
		fmt.Fprintf(out, "Creating a cluster in %s: %d nodes, %d shards\n", o.dataDir, o.nodes, o.shards)
	}

	// Bind the router's address first: if it is taken, fail before touching anything else.
	probe, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("router address %s: %w", o.listen, err)
	}
	_ = probe.Close()

	var stops []shutdowner
	stopAll := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = stops[i].Shutdown(ctx)
			cancel()
		}
	}
	members := make([]shardmap.Node, o.nodes)
	nodes := make([]*node.Node, o.nodes)
	for i := range o.nodes {
		id := "node-" + strconv.Itoa(i)
		port := 0
		if o.nodeBasePort != 0 {
			port = o.nodeBasePort + i
		}
		fmt.Fprintf(out, "  starting %s ... ", id)
		n, err := node.New(node.Config{
			ID:      id,
			Listen:  net.JoinHostPort(o.nodeHost, strconv.Itoa(port)),
			DataDir: filepath.Join(o.dataDir, id),
			Source:  shardmap.NewFile(mapPath, log),
			Logger:  log,
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
		members[i] = shardmap.Node{ID: id, API: n.Addr(), State: shardmap.NodeActive}
		fmt.Fprintf(out, "listening on %s\n", n.Addr())
	}

	m, err := shardmap.Place(prev, members, shardmap.PlaceConfig{Cluster: "local", Shards: o.shards, ReplicationFactor: o.rf})
	if err == nil && m != prev {
		err = shardmap.WriteFile(mapPath, m)
	}
	if err != nil {
		stopAll()
		return fmt.Errorf("shard map: %w", err)
	}
	fmt.Fprintf(out, "  shard map version %d: %d shards over %d nodes\n", m.Version, m.Shards, len(m.Nodes))

	fmt.Fprintf(out, "  waiting for the nodes to open their shards ... ")
	if err := waitReady(nodes, m.Version, 30*time.Second); err != nil {
		fmt.Fprintln(out, "failed")
		stopAll()
		return err
	}
	fmt.Fprintln(out, "ready")

	rt, err := router.New(router.Config{Listen: o.listen, Source: shardmap.NewFile(mapPath, log), Logger: log})
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
