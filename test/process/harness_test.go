package process

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/internal/testutil"
	"github.com/torua/torua/router/client"
	"github.com/torua/torua/shardmap"
)

const (
	clusterName = "process-test"
	shardCount  = 16
	// startTimeout bounds how long a process may take to become ready.
	startTimeout = 20 * time.Second
	// stopTimeout is how long a stop waits after SIGTERM before it sends SIGKILL.
	stopTimeout = 15 * time.Second
)

// httpc is for raw requests to routers and nodes. It does not follow redirects: neither
// server should send one.
var httpc = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// proc is one torua process, in its own process group, killed if the test binary dies.
type proc struct {
	name    string
	logFile string // --log-file, if any
	cmd     *exec.Cmd
	stdout  testutil.SyncBuffer
	stderr  testutil.SyncBuffer
	done    chan struct{}
	waitErr error
}

// startProc starts the torua binary with args. A cleanup stops it (SIGTERM, then SIGKILL) and,
// if the test failed, prints its output and the tail of its log file.
func startProc(t *testing.T, name, logFile string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, logFile: logFile, done: make(chan struct{})}
	p.cmd = exec.Command(toruaBin, args...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		start := time.Now()
		p.stop(stopTimeout)
		if d := time.Since(start); d > time.Second {
			t.Logf("stopping %s took %s", name, d)
		}
		if t.Failed() {
			p.dump(t)
		}
	})
	return p
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits up to timeout for the process to end and returns its exit code (-1: killed by a
// signal) and whether it ended.
func (p *proc) wait(timeout time.Duration) (code int, ok bool) {
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode(), true
	case <-time.After(timeout):
		return 0, false
	}
}

// signal sends sig to the process itself.
func (p *proc) signal(sig syscall.Signal) {
	if !p.exited() {
		_ = syscall.Kill(p.cmd.Process.Pid, sig)
	}
}

// kill sends SIGKILL to the process group and waits for the process to end.
func (p *proc) kill() {
	if !p.exited() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
	<-p.done
}

// stop sends SIGTERM and waits up to timeout, then kills the process group.
func (p *proc) stop(timeout time.Duration) {
	if p.exited() {
		return
	}
	p.signal(syscall.SIGTERM)
	if _, ok := p.wait(timeout); !ok {
		p.kill()
	}
}

// dump prints the process's stdout, stderr and the tail of its log file.
func (p *proc) dump(t *testing.T) {
	t.Logf("==== %s (%s): exit %v", p.name, strings.Join(p.cmd.Args[1:], " "), p.waitErr)
	if s := p.stdout.String(); s != "" {
		t.Logf("---- %s stdout:\n%s", p.name, tail(s, 40))
	}
	if s := p.stderr.String(); s != "" {
		t.Logf("---- %s stderr:\n%s", p.name, tail(s, 40))
	}
	if p.logFile != "" {
		b, err := os.ReadFile(p.logFile)
		if err != nil {
			t.Logf("---- %s log: %v", p.name, err)
			return
		}
		t.Logf("---- %s log %s (tail):\n%s", p.name, p.logFile, tail(string(b), 60))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freeAddr returns host:port with a port that was free on host a moment ago.
func freeAddr(t *testing.T, host string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("find a free port on %s: %v", host, err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// node is one storage node of a cluster.
type node struct {
	id, host, addr string
	raftAddr       string
	dataDir, log   string
	extra          []string
	p              *proc
}

// cluster is three `torua node` processes and one `torua router` sharing a map file.
type cluster struct {
	t         *testing.T
	dir       string
	mapPath   string
	nodes     []*node
	router    *proc
	routerURL string
	m         *shardmap.Map
	c         *client.Client
}

// newCluster starts node-1..node-3 on 127.0.0.1..3 and a router on 127.0.0.1, writes map
// version 1 (16 shards, RF 1), and waits until every process is ready. nodeArgs are added to
// every node's command line.
func newCluster(t *testing.T, nodeArgs ...string) *cluster {
	t.Helper()
	c := &cluster{t: t, dir: t.TempDir()}
	c.mapPath = filepath.Join(c.dir, "shardmap.json")
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("node-%d", i)
		n := &node{
			id:      id,
			host:    fmt.Sprintf("127.0.0.%d", i),
			dataDir: filepath.Join(c.dir, id),
			extra:   nodeArgs,
		}
		if err := os.MkdirAll(n.dataDir, 0o755); err != nil {
			t.Fatal(err)
		}
		n.log = filepath.Join(n.dataDir, "node.log")
		c.nodes = append(c.nodes, n)
		c.startNodeAnyPort(n)
	}
	c.writeMap(1)
	c.startRouter()
	for _, n := range c.nodes {
		c.waitNodeReady(n, 1)
	}
	cl, err := client.New(c.routerURL, client.WithMaxConnsPerHost(64), client.WithTimeout(15*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	c.c = cl
	return c
}

// startNodeAnyPort starts n on a free port of its host, trying another port if the one
// picked was taken in between.
func (c *cluster) startNodeAnyPort(n *node) {
	c.t.Helper()
	for range 3 {
		n.addr, n.raftAddr = freeAddr(c.t, n.host), freeAddr(c.t, n.host)
		if c.startNode(n) {
			return
		}
	}
	c.t.Fatalf("%s found no free port on %s in 3 attempts", n.id, n.host)
}

// startNode starts n on n.addr and waits until it answers /healthz. It returns false if the
// process exited because its address was taken; any other failure fails the test.
func (c *cluster) startNode(n *node) bool {
	c.t.Helper()
	args := append([]string{"node", "--id", n.id, "--listen", n.addr, "--raft-listen", n.raftAddr, "--data-dir", n.dataDir,
		"--shardmap-file", c.mapPath, "--log-file", n.log}, n.extra...)
	n.p = startProc(c.t, n.id, n.log, args...)
	// Stop the router before the node (cleanups run last in, first out), so that its pooled
	// connections do not hold up the node's shutdown.
	c.t.Cleanup(func() {
		if c.router != nil {
			c.router.stop(stopTimeout)
		}
	})
	return c.waitUp(n.p, "http://"+n.addr+"/healthz")
}

func (c *cluster) startRouter() {
	c.t.Helper()
	for range 3 {
		addr := freeAddr(c.t, "127.0.0.1")
		log := filepath.Join(c.dir, "router.log")
		c.router = startProc(c.t, "router", log, "router", "--listen", addr, "--shardmap-file", c.mapPath, "--log-file", log)
		c.routerURL = "http://" + addr
		if c.waitUp(c.router, c.routerURL+"/readyz") {
			return
		}
	}
	c.t.Fatal("the router found no free port on 127.0.0.1 in 3 attempts")
}

// waitUp polls url until it answers 200. It returns false if the process exited with a bind
// error, and fails the test on any other exit or on timeout.
func (c *cluster) waitUp(p *proc, url string) bool {
	c.t.Helper()
	NewWithT(c.t).Eventually(func(g Gomega) {
		if p.exited() {
			return
		}
		g.Expect(getStatus(url)).To(Equal(http.StatusOK))
	}).WithTimeout(startTimeout).WithPolling(20*time.Millisecond).Should(Succeed(), "%s at %s", p.name, url)
	if !p.exited() {
		return true
	}
	if strings.Contains(p.stderr.String(), "address already in use") {
		c.t.Logf("%s could not bind its address; trying another", p.name)
		return false
	}
	c.t.Fatalf("%s exited: %v\n%s", p.name, p.waitErr, p.stderr.String())
	return false
}

// getStatus returns url's status code, or 0 when the request fails.
func getStatus(url string) int {
	resp, err := httpc.Get(url)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// waitNodeReady waits until n is ready with a map of at least version v.
func (c *cluster) waitNodeReady(n *node, v uint64) {
	c.t.Helper()
	NewWithT(c.t).Eventually(func(g Gomega) {
		if n.p.exited() {
			StopTrying(fmt.Sprintf("%s exited: %v", n.id, n.p.waitErr)).Now()
		}
		st, err := nodeStatus(n)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(st.Ready).To(BeTrue())
		g.Expect(st.MapVersion).To(BeNumerically(">=", v))
	}).WithTimeout(startTimeout).WithPolling(20*time.Millisecond).Should(Succeed(), "%s ready with map version %d", n.id, v)
}

func nodeStatus(n *node) (shardmap.NodeStatus, error) {
	var st shardmap.NodeStatus
	resp, err := httpc.Get("http://" + n.addr + "/internal/status")
	if err != nil {
		return st, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("status %d", resp.StatusCode)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// writeMap places the shards over the nodes at their current addresses and writes the map
// file; the result must have version want.
func (c *cluster) writeMap(want uint64) {
	c.t.Helper()
	members := make([]shardmap.Node, len(c.nodes))
	for i, n := range c.nodes {
		members[i] = shardmap.Node{ID: n.id, API: n.addr, Raft: n.raftAddr, State: shardmap.NodeActive}
	}
	m, err := shardmap.Place(c.m, members, shardmap.PlaceConfig{Cluster: clusterName, Shards: shardCount, ReplicationFactor: 1})
	if err != nil {
		c.t.Fatalf("place shards: %v", err)
	}
	if m.Version != want {
		c.t.Fatalf("placed map version %d, want %d", m.Version, want)
	}
	if err := shardmap.WriteFile(c.mapPath, m); err != nil {
		c.t.Fatalf("write shard map: %v", err)
	}
	c.m = m
}

// owner returns the ID of the node that holds key's shard under the current map.
func (c *cluster) owner(key string) string {
	return c.m.Replicas(c.m.ShardFor([]byte(key)))[0]
}

func (c *cluster) node(id string) *node {
	for _, n := range c.nodes {
		if n.id == id {
			return n
		}
	}
	c.t.Fatalf("no node %s", id)
	return nil
}

// metric returns the value of the sample named exactly series (name with labels) from url's
// Prometheus text, or an error if it is missing.
func metric(url, series string) (float64, error) {
	resp, err := httpc.Get(url)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s has no sample %s", url, series)
}

// entry is a key's value and revision.
type entry struct {
	Value string
	Rev   uint64
}

// snapshot lists every key through the router (pages of 7) and reads each one: every key with
// its value and revision.
func snapshot(t *testing.T, cl *client.Client) map[string]entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := map[string]entry{}
	for k, err := range cl.ListAll(ctx, "", 7) {
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		v, rev, err := cl.Get(ctx, k)
		if err != nil {
			t.Fatalf("get %q: %v", k, err)
		}
		out[k] = entry{string(v), rev}
	}
	return out
}

// ledger records, per key, the value of its last acknowledged write and the values of the
// writes attempted after it that were not acknowledged (any of which may have been applied).
// Each key is written by one goroutine at a time, so a key's writes are ordered.
type ledger struct {
	mu   sync.Mutex
	keys map[string]*history
}

type history struct {
	acked   bool
	value   string
	pending []string
}

func newLedger() *ledger { return &ledger{keys: map[string]*history{}} }

func (l *ledger) attempt(key, value string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.keys[key]
	if h == nil {
		h = &history{}
		l.keys[key] = h
	}
	h.pending = append(h.pending, value)
}

func (l *ledger) ack(key, value string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.keys[key]
	h.acked, h.value, h.pending = true, value, nil
}

// verify reads every key of the ledger and reports the ones whose value is neither the last
// acknowledged one nor a later attempted one. It returns the number of acknowledged keys.
func (l *ledger) verify(t *testing.T, cl *client.Client) int {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	acked, bad := 0, 0
	for key, h := range l.keys {
		v, _, err := cl.Get(ctx, key)
		got, found := string(v), err == nil
		if err != nil && !errors.Is(err, client.ErrNotFound) {
			t.Errorf("get %q: %v", key, err)
			continue
		}
		ok := found && got == h.value && h.acked
		for _, p := range h.pending {
			ok = ok || (found && got == p)
		}
		if !h.acked && !found {
			ok = true // never acknowledged, never applied
		}
		if h.acked {
			acked++
		}
		if !ok {
			bad++
			if bad <= 10 {
				t.Errorf("key %q = %q (found %v); last acknowledged %q (acked %v), later attempts %q", key, got, found, h.value, h.acked, h.pending)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d keys lost an acknowledged write", bad, len(l.keys))
	}
	return acked
}

// writers is a pool of goroutines writing keys through the router into a ledger until stopped.
type writers struct {
	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	acks    int
	errs    int
	lastErr error
}

// startWriters starts n goroutines; writer w cycles over keys prefix/wNN/kMMM (keysPer of them),
// each write's value naming the key and the attempt.
func startWriters(cl *client.Client, l *ledger, n, keysPer int, prefix string) *writers {
	w := &writers{stop: make(chan struct{})}
	for i := range n {
		w.wg.Go(func() {
			for j := 0; ; j++ {
				select {
				case <-w.stop:
					return
				default:
				}
				key := fmt.Sprintf("%s/w%02d/k%03d", prefix, i, j%keysPer)
				value := fmt.Sprintf("%s#%d;%s", key, j, strings.Repeat("v", j%200))
				l.attempt(key, value)
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				_, err := cl.Put(ctx, key, []byte(value))
				cancel()
				w.mu.Lock()
				if err == nil {
					l.ack(key, value)
					w.acks++
				} else {
					w.errs++
					w.lastErr = err
				}
				w.mu.Unlock()
				if err != nil {
					// Back off a little so that a dead node is not hammered in a tight loop.
					select {
					case <-w.stop:
						return
					case <-time.After(5 * time.Millisecond):
					}
				}
			}
		})
	}
	return w
}

func (w *writers) counts() (acks, errs int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.acks, w.errs
}

func (w *writers) halt() {
	close(w.stop)
	w.wg.Wait()
}

// doRaw sends a request and returns the status, headers and body.
func doRaw(t *testing.T, method, url string, header http.Header, body io.Reader) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := httpc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, b
}

// restartNode starts n again on its address and data directory and waits until it is ready
// with a map of at least version v.
func (c *cluster) restartNode(n *node, v uint64) {
	c.t.Helper()
	if !c.startNode(n) {
		c.t.Fatalf("restart %s: its address %s is taken", n.id, n.addr)
	}
	c.waitNodeReady(n, v)
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	NewWithT(t).Eventually(cond).WithTimeout(timeout).WithPolling(10*time.Millisecond).Should(BeTrue(), what)
}
