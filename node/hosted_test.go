package node

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/internal/nodeapi"
	"github.com/torua/torua/shardmap"
)

// TestOpensADataDirectoryOfTheCurrentLayout builds a data directory as the current code
// writes it (data in every shard; raft/<shard>/ records the hosted shards, raft-log/ holds
// their Raft state; plus a record of a replica that never got Raft state, as a node leaves
// behind when it stops while a replica waits for its leader) and starts a node on it: before
// any map it rejoins every shard with Raft state, then serves all the data, and the replica
// that held nothing retires and leaves no record.
func TestOpensADataDirectoryOfTheCurrentLayout(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	want := map[string]string{}
	for i := range 64 {
		want[fmt.Sprintf("key-%d", i)] = fmt.Sprintf("value-%d", i)
	}
	m := writeOneNode(t, dir, want)

	for s := range m.Shards {
		g.Expect(filepath.Join(dir, "raft", fmt.Sprint(s))).To(BeADirectory(), "the record of hosted shard %d", s)
	}
	g.Expect(filepath.Join(dir, "raft-log")).To(BeADirectory())
	// A replica that waited for its leader when the node stopped: recorded, no Raft state.
	g.Expect(os.MkdirAll(filepath.Join(dir, "raft", "9"), 0o750)).To(Succeed())
	// No map at the next start: only the record on disk opens shards.
	g.Expect(os.Remove(filepath.Join(dir, lastMapFile))).To(Succeed())

	nowhere := shardmap.NewFile(filepath.Join(t.TempDir(), "missing.json"), nil)
	n, err := New(testConfig("n0", dir, nowhere))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(n.Start(context.Background())).To(Succeed())
	var st nodeapi.RaftState
	g.Expect(json.Unmarshal([]byte(do(t, "GET", "http://"+n.Addr()+"/internal/raft-state", "", nil).body), &st)).To(Succeed())
	g.Expect(st.Shards).To(Equal([]int{0, 1, 2, 3, 4, 5, 6, 7}), "every shard with Raft state, before any map")
	n.mu.Lock()
	g.Expect(n.groups).To(HaveLen(9), "every recorded shard opened, the one without state too")
	n.mu.Unlock()
	g.Expect(n.Shutdown(context.Background())).To(Succeed())

	n, err = New(testConfig("n0", dir, shardmap.NewStatic(m)))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(n.Start(context.Background())).To(Succeed())
	defer func() { _ = n.Shutdown(context.Background()) }()
	base := "http://" + n.Addr()
	g.Eventually(func() int { return status(t, "GET", base+"/readyz", "", nil) }).WithTimeout(20 * time.Second).Should(Equal(200))
	for k, v := range want {
		g.Eventually(func() string { return do(t, "GET", keyURL(base, k), "", nil).body }).WithTimeout(20*time.Second).Should(Equal(v), "key %s", k)
	}
	g.Eventually(func() string { return filepath.Join(dir, "raft", "9") }).WithTimeout(20*time.Second).ShouldNot(BeADirectory(),
		"the replica the map does not assign retired")
}
