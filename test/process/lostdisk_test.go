package process

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/shardmap"
)

// TestReplicatedLostDisk loses a disk while a quorum depends on it. One replica is paused
// (it misses writes), the other two acknowledge writes; one of those two is killed and
// restarted on an empty data directory, the last holder of the writes is killed, and the
// paused one resumes. The wiped node must not count as the replica it was: no shard may
// elect a leader from the paused node and the wiped one, and no read may return a missing
// or older value (the history stays linearizable). Once the holder is back, every
// acknowledged write is readable and the wiped node becomes a full replica holding the data,
// with no manual step: the groups' leaders replace its old member with its new Raft ID.
func TestReplicatedLostDisk(t *testing.T) {
	g := NewWithT(t)
	c, h, w, keys := startFaultTest(t, rconfig{nodes: 3, shards: faultShards})
	behind, wiped, holder := c.node("node-1"), c.node("node-2"), c.node("node-3")
	oldID := raftIDOf(t, wiped)

	t.Logf("pausing %s; %s and %s acknowledge writes", behind.id, wiped.id, holder.id)
	pause(behind)
	t.Cleanup(func() { resume(behind) })
	c.waitLeaders([]*node{wiped, holder}, failoverTimeout)
	waitAcked(t, h, 50, anyKey, progressTimeout, "while "+behind.id+" is paused")

	t.Logf("killing %s and restarting it on an empty data directory", wiped.id)
	wiped.p.kill()
	wipeDataDir(t, wiped)
	if !c.startNode(wiped) {
		t.Fatalf("restart %s: its address %s is taken", wiped.id, wiped.addr)
	}
	c.waitNodeReady(wiped, c.m.Version)
	newID := raftIDOf(t, wiped)
	g.Expect(newID).NotTo(Equal(oldID), "a node that lost its disk has a new Raft ID")

	t.Logf("killing %s, the last holder, and resuming %s", holder.id, behind.id)
	holder.p.kill()
	resume(behind)
	// The paused node asks the wiped node's old Raft ID for votes; the wiped node drops them.
	g.Eventually(func() (float64, error) {
		return metric("http://"+wiped.addr+"/metrics", "torua_raft_messages_misaddressed_total")
	}).WithTimeout(failoverTimeout).WithPolling(50 * time.Millisecond).Should(BeNumerically(">", 0))
	g.Consistently(func(g Gomega) {
		sts, err := statuses([]*node{behind, wiped})
		g.Expect(err).NotTo(HaveOccurred())
		for id, st := range sts {
			for _, s := range st.Shards {
				g.Expect(s.Role).NotTo(Equal(shardmap.RoleLeader), "shard %d on %s: a leader without the holder would miss acknowledged writes", s.Shard, id)
			}
		}
	}).WithTimeout(3 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())

	t.Logf("restarting %s", holder.id)
	c.restartNode(holder, c.m.Version)
	start := time.Now()
	c.waitPlacement(convergeTimeout)
	t.Logf("%s is a voter of every shard again %s after %s came back", wiped.id, time.Since(start).Round(time.Millisecond), holder.id)
	g.Expect(raftIDOf(t, wiped)).To(Equal(newID))
	waitAcked(t, h, 30, anyKey, progressTimeout, "after the holder came back")
	c.finish(w, h, keys)
}

// TestReplicatedDiskReplaced loses the disk of a node while the others keep leading: the
// leaders, settled with the group as the map wants it, must notice the old member went quiet,
// replace it, and add the node back, with no election or map change to wake them.
func TestReplicatedDiskReplaced(t *testing.T) {
	g := NewWithT(t)
	c, h, w, keys := startFaultTest(t, rconfig{nodes: 3, shards: faultShards})
	wiped := c.node("node-2")
	oldID := raftIDOf(t, wiped)
	before := c.waitLeaders(c.nodes, failoverTimeout)
	wiped.p.kill()
	wipeDataDir(t, wiped)
	if !c.startNode(wiped) {
		t.Fatalf("restart %s: its address %s is taken", wiped.id, wiped.addr)
	}
	start := time.Now()
	// NB: a bound of its own, below convergeTimeout: the leaders that never stopped leading
	// must act on the quiet member, not wait for an election or a new map to wake them.
	c.waitPlacement(failoverTimeout)
	t.Logf("%s, restarted on an empty data directory, is a voter of every shard again after %s", wiped.id, time.Since(start).Round(time.Millisecond))
	g.Expect(raftIDOf(t, wiped)).NotTo(Equal(oldID))
	after := c.waitLeaders(c.nodes, failoverTimeout)
	for s, l := range before {
		if l.id != wiped.id && after[s] != l {
			t.Logf("shard %d changed leader (%v -> %v): the stable-leader case was not exercised for it", s, l, after[s])
		}
	}
	waitAcked(t, h, 30, anyKey, progressTimeout, "after the replacement")
	c.finish(w, h, keys)
}

// raftIDOf returns the Raft ID n reports in /internal/raft-state.
func raftIDOf(t *testing.T, n *node) string {
	t.Helper()
	resp, err := httpc.Get("http://" + n.addr + "/internal/raft-state")
	if err != nil {
		t.Fatalf("raft state of %s: %v", n.id, err)
	}
	defer func() { _ = resp.Body.Close() }()
	var st struct {
		RaftID string `json:"raftID"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || st.RaftID == "" {
		t.Fatalf("raft state of %s: %v (raftID %q)", n.id, err, st.RaftID)
	}
	return st.RaftID
}

// wipeDataDir deletes everything in n's data directory but its log file, as a lost volume.
func wipeDataDir(t *testing.T, n *node) {
	t.Helper()
	entries, err := os.ReadDir(n.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if p := filepath.Join(n.dataDir, e.Name()); p != n.log {
			if err := os.RemoveAll(p); err != nil {
				t.Fatal(err)
			}
		}
	}
}
