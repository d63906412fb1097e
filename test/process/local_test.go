package process

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/router/client"
	"github.com/torua/torua/shardmap"
)

var routerURLLine = regexp.MustCompile(`Torua is running\. Router: (http://\S+)`)

// startLocal starts `torua local` on dataDir and returns it with the router URL it printed.
func startLocal(t *testing.T, dataDir string, extra ...string) (*proc, string) {
	t.Helper()
	log := filepath.Join(dataDir, "log")
	args := append([]string{"local", "--data-dir", dataDir, "--listen", freeAddr(t, "127.0.0.1"), "--log-file", log}, extra...)
	p := startProc(t, "local", log, args...)
	var url string
	NewWithT(t).Eventually(func(g Gomega) {
		if p.exited() {
			StopTrying(fmt.Sprintf("torua local exited: %v\n%s", p.waitErr, p.stderr.String())).Now()
		}
		m := routerURLLine.FindStringSubmatch(p.stdout.String())
		g.Expect(m).NotTo(BeNil(), "router URL on stdout")
		url = m[1]
	}).WithTimeout(startTimeout).WithPolling(20 * time.Millisecond).Should(Succeed())
	return p, url
}

// stopLocal sends SIGINT (Ctrl-C) and expects exit code 0.
func stopLocal(t *testing.T, p *proc) {
	t.Helper()
	p.signal(syscall.SIGINT)
	code, ok := p.wait(20 * time.Second)
	if !ok {
		t.Fatalf("torua local still running 20s after SIGINT")
	}
	if code != 0 {
		t.Fatalf("torua local exited %d after SIGINT\n%s", code, p.stderr.String())
	}
}

// TestLocalBenchOverWire runs `torua bench` over the wire protocol against `torua local`:
// the router and the nodes answer a mixed load on one shared connection, and every
// operation succeeds.
func TestLocalBenchOverWire(t *testing.T) {
	g := NewWithT(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	p, url := startLocal(t, dataDir)
	defer stopLocal(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, toruaBin, "bench", "--url", url, "--protocol", "wire", "--mode", "mixed",
		"--preload", "--keys", "200", "--count", "2000", "--concurrency", "16", "--json").Output()
	g.Expect(err).NotTo(HaveOccurred(), "torua bench: %s", out)
	var res struct {
		Protocol string           `json:"protocol"`
		Ops      int64            `json:"ops"`
		Misses   int64            `json:"misses"`
		Errors   map[string]int64 `json:"errors"`
	}
	g.Expect(json.Unmarshal(out, &res)).To(Succeed(), string(out))
	g.Expect(res.Protocol).To(Equal("wire"))
	g.Expect(res.Ops).To(Equal(int64(2000)))
	g.Expect(res.Errors).To(BeEmpty())
	g.Expect(res.Misses).To(BeZero(), "every key was preloaded")
	// The router counted them as wire requests.
	resp, err := httpc.Get(url + "/metrics")
	g.Expect(err).NotTo(HaveOccurred())
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	g.Expect(string(body)).To(MatchRegexp(`torua_router_wire_requests_total\{code="200",op="get"\} [1-9]`))
}

// TestLocalRestart runs `torua local`, writes keys, stops it with SIGINT, starts it again on
// the same data directory and reads every key back, then grows it to five nodes and shrinks it
// back to three (keys intact throughout); fewer nodes than replicas are refused.
func TestLocalRestart(t *testing.T) {
	g := NewWithT(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	p, url := startLocal(t, dataDir)
	g.Expect(p.stdout.String()).To(ContainSubstring("Creating a cluster in " + dataDir + ": 3 nodes, 16 shards"))
	cl, err := client.New(url, client.WithTimeout(10*time.Second))
	g.Expect(err).NotTo(HaveOccurred())
	want := map[string]string{}
	for i := range 50 {
		key := fmt.Sprintf("local/%02d/ü:%d", i%7, i)
		want[key] = fmt.Sprintf("value %d", i)
		_, err := cl.Put(ctx, key, []byte(want[key]))
		g.Expect(err).NotTo(HaveOccurred(), "put %q", key)
	}
	cl.Close()
	stopLocal(t, p)

	p, url = startLocal(t, dataDir)
	g.Expect(p.stdout.String()).To(ContainSubstring("Recovering the cluster in " + dataDir))
	cl, err = client.New(url, client.WithTimeout(10*time.Second))
	g.Expect(err).NotTo(HaveOccurred())
	defer cl.Close()
	checkValues(ctx, g, cl, want)
	var listed []string
	for k, err := range cl.ListAll(ctx, "", 0) {
		g.Expect(err).NotTo(HaveOccurred())
		listed = append(listed, k)
	}
	g.Expect(listed).To(HaveLen(len(want)))
	stopLocal(t, p)

	// Five nodes on the same data directory: replicas move onto the two new nodes.
	p, url = startLocal(t, dataDir, "--nodes", "5")
	g.Expect(p.stdout.String()).To(ContainSubstring("shard map version 3: 16 shards over 5 nodes, replication factor 3"))
	cl5, err := client.New(url, client.WithTimeout(10*time.Second))
	g.Expect(err).NotTo(HaveOccurred())
	defer cl5.Close()
	checkValues(ctx, g, cl5, want)
	info, err := cl5.Cluster(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(info.Map.Nodes).To(HaveLen(5))
	for _, n := range info.Nodes {
		g.Expect(n.Status).NotTo(BeNil(), n.ID)
		g.Expect(len(n.Status.Shards)).To(BeNumerically(">=", 9), "%s holds its share of the 48 replicas", n.ID)
	}
	stopLocal(t, p)

	// Back to three: node-3 and node-4 are drained (their replicas move away) before they go.
	p, url = startLocal(t, dataDir, "--nodes", "3")
	g.Expect(p.stdout.String()).To(ContainSubstring("node-3 drained, stopped and removed"))
	g.Expect(p.stdout.String()).To(ContainSubstring("node-4 drained, stopped and removed"))
	cl3, err := client.New(url, client.WithTimeout(10*time.Second))
	g.Expect(err).NotTo(HaveOccurred())
	defer cl3.Close()
	checkValues(ctx, g, cl3, want)
	info, err = cl3.Cluster(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(info.Map.Nodes).To(HaveLen(3))
	g.Expect(filepath.Join(dataDir, "node-4")).NotTo(BeADirectory())
	stopLocal(t, p)

	// Fewer nodes than replicas: a clear message, exit code 1, and nothing changed.
	log := filepath.Join(dataDir, "log")
	p = startProc(t, "local --nodes 2", log, "local", "--data-dir", dataDir, "--nodes", "2",
		"--listen", freeAddr(t, "127.0.0.1"), "--log-file", log)
	code, ok := p.wait(20 * time.Second)
	g.Expect(ok).To(BeTrue(), "torua local --nodes 2 still running")
	g.Expect(code).To(Equal(1))
	g.Expect(p.stderr.String()).To(ContainSubstring("--replication-factor 3 needs between 1 and --nodes (2) replicas"))

	p, url = startLocal(t, dataDir)
	cl2, err := client.New(url, client.WithTimeout(10*time.Second))
	g.Expect(err).NotTo(HaveOccurred())
	defer cl2.Close()
	checkValues(ctx, g, cl2, want)
	stopLocal(t, p)
}

// TestLocalRefusesDataWithoutReplication: a data directory written before replication (its
// map names no Raft addresses) is refused with a clear message, and left as it was.
func TestLocalRefusesDataWithoutReplication(t *testing.T) {
	g := NewWithT(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	g.Expect(os.MkdirAll(dataDir, 0o755)).To(Succeed())
	m, err := shardmap.Place(nil, []shardmap.Node{{ID: "node-0", API: "127.0.0.1:1", State: shardmap.NodeActive}},
		shardmap.PlaceConfig{Cluster: "local", Shards: 4, ReplicationFactor: 1})
	g.Expect(err).NotTo(HaveOccurred())
	mapPath := filepath.Join(dataDir, "shardmap.json")
	g.Expect(shardmap.WriteFile(mapPath, m)).To(Succeed())
	before, err := os.ReadFile(mapPath)
	g.Expect(err).NotTo(HaveOccurred())

	log := filepath.Join(dataDir, "log")
	p := startProc(t, "local", log, "local", "--data-dir", dataDir, "--listen", freeAddr(t, "127.0.0.1"), "--log-file", log)
	code, ok := p.wait(20 * time.Second)
	g.Expect(ok).To(BeTrue(), "torua local still running")
	g.Expect(code).To(Equal(1))
	g.Expect(p.stderr.String()).To(ContainSubstring("written by a Torua version without replication"))
	g.Expect(os.ReadFile(mapPath)).To(Equal(before))
}
