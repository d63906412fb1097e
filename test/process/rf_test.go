package process

import (
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// TestReplicatedFactorChange raises the replication factor of a 5-node cluster from 3 to 5
// and lowers it back to 3 under continuous writes: each shard's leader adds the new replicas
// as learners, promotes them once caught up, and later removes the extra voters, one change
// at a time. No acknowledged write is lost and the history stays linearizable.
func TestReplicatedFactorChange(t *testing.T) {
	g := NewWithT(t)
	c, h, w, keys := startFaultTest(t, rconfig{nodes: 5, shards: faultShards})
	for _, rf := range []int{5, 3} {
		start := time.Now()
		c.rf = rf
		c.publish()
		for s := range c.shards {
			g.Expect(c.m.Replicas(s)).To(HaveLen(rf), "shard %d", s)
		}
		c.waitPlacement(convergeTimeout)
		t.Logf("replication factor %d carried out in %s", rf, time.Since(start).Round(time.Millisecond))
		waitAcked(t, h, 30, anyKey, progressTimeout, fmt.Sprint("with replication factor ", rf))
	}
	c.finish(w, h, keys)
}
