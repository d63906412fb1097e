package process

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/router/client"
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

// TestLocalRestart runs `torua local`, writes keys, stops it with SIGINT, starts it again on
// the same data directory and reads every key back; a different node count is refused.
func TestLocalRestart(t *testing.T) {
	g := NewWithT(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
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

	// Another node count on the same data directory: a clear message and exit code 1.
	log := filepath.Join(dataDir, "log")
	p = startProc(t, "local --nodes 2", log, "local", "--data-dir", dataDir, "--nodes", "2",
		"--listen", freeAddr(t, "127.0.0.1"), "--log-file", log)
	code, ok := p.wait(20 * time.Second)
	g.Expect(ok).To(BeTrue(), "torua local --nodes 2 still running")
	g.Expect(code).To(Equal(1))
	g.Expect(p.stderr.String()).To(ContainSubstring("holds a cluster of 3 nodes"))
	g.Expect(p.stderr.String()).To(ContainSubstring("run with --nodes 3"))

	// The refused start changed nothing: a normal start still has every key.
	p, url = startLocal(t, dataDir)
	cl2, err := client.New(url, client.WithTimeout(10*time.Second))
	g.Expect(err).NotTo(HaveOccurred())
	defer cl2.Close()
	checkValues(ctx, g, cl2, want)
	stopLocal(t, p)
}
