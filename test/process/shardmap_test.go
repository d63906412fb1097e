package process

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/router/client"
)

// TestShardMapFileUpdates moves node-2 to a new port and publishes map version 2 naming it:
// the router and the nodes take it up without a restart and node-2's keys are served again.
// Then a truncated map file is written over it: everyone refuses it, keeps version 2, keeps
// serving and counts the refusal.
func TestShardMapFileUpdates(t *testing.T) {
	g := NewWithT(t)
	c := newCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	want := map[string]string{}
	onMoved := 0
	moved := c.node("node-2")
	for i := range 64 {
		key := fmt.Sprintf("map/key-%02d", i)
		want[key] = fmt.Sprintf("value %d", i)
		_, err := c.c.Put(ctx, key, []byte(want[key]))
		g.Expect(err).NotTo(HaveOccurred())
		if c.owner(key) == moved.id {
			onMoved++
		}
	}
	g.Expect(onMoved).To(BeNumerically(">", 0), "keys on %s", moved.id)

	// Move node-2: stop it, start it on another port. Its shards are unreachable meanwhile.
	moved.p.stop(stopTimeout)
	g.Expect(moved.p.cmd.ProcessState.ExitCode()).To(Equal(0))
	oldAddr := moved.addr
	c.startNodeAnyPort(moved)
	g.Expect(moved.addr).NotTo(Equal(oldAddr))
	c.waitNodeReady(moved, 1)
	for key := range want {
		if c.owner(key) == moved.id {
			_, _, err := c.c.Get(ctx, key)
			g.Expect(err).To(MatchError(client.ErrUnavailable), "get %q before the new map", key)
			break
		}
	}

	c.writeMap(2)
	g.Eventually(func(g Gomega) {
		info, err := c.c.Cluster(ctx)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(info.Map).NotTo(BeNil())
		g.Expect(info.Map.Version).To(BeEquivalentTo(2))
		for _, n := range info.Nodes {
			g.Expect(n.Reachable).To(BeTrue(), "node %s reachable: %s", n.ID, n.Error)
			g.Expect(n.Status.MapVersion).To(BeEquivalentTo(2), "map version of %s", n.ID)
		}
	}).WithTimeout(15*time.Second).WithPolling(50*time.Millisecond).Should(Succeed(), "version 2 taken up")
	checkValues(ctx, g, c.c, want)

	// A truncated map file is refused by everyone; version 2 stays and is served.
	data, err := os.ReadFile(c.mapPath)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(os.WriteFile(c.mapPath, data[:len(data)/2], 0o644)).To(Succeed())
	const rejected = `torua_shardmap_rejected_total{reason="invalid"}`
	urls := []string{c.routerURL}
	for _, n := range c.nodes {
		urls = append(urls, "http://"+n.addr)
	}
	for _, u := range urls {
		g.Eventually(func() (float64, error) { return metric(u+"/metrics", rejected) }).
			WithTimeout(15*time.Second).WithPolling(50*time.Millisecond).
			Should(BeNumerically(">", 0), "%s at %s", rejected, u)
		v, err := metric(u+"/metrics", "torua_shardmap_version")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(v).To(BeEquivalentTo(2), "torua_shardmap_version at %s", u)
		g.Expect(getStatus(u+"/readyz")).To(Equal(200), "%s/readyz", u)
	}
	info, err := c.c.Cluster(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(info.Map.Version).To(BeEquivalentTo(2))
	for _, n := range c.nodes {
		st, err := nodeStatus(n)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(st.MapVersion).To(BeEquivalentTo(2), "map version of %s", n.id)
	}
	checkValues(ctx, g, c.c, want)
	_, err = c.c.Put(ctx, "map/after-corrupt", []byte("still writable"))
	g.Expect(err).NotTo(HaveOccurred())
	for _, n := range c.nodes {
		g.Expect(n.p.exited()).To(BeFalse(), "%s still running", n.id)
	}
	g.Expect(c.router.exited()).To(BeFalse(), "router still running")
}

// checkValues reads every key of want through cl and compares its value.
func checkValues(ctx context.Context, g *WithT, cl *client.Client, want map[string]string) {
	for key, value := range want {
		got, _, err := cl.Get(ctx, key)
		g.Expect(err).NotTo(HaveOccurred(), "get %q", key)
		g.Expect(string(got)).To(Equal(value), "key %q", key)
	}
}
