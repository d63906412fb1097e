package engine

import (
	"testing"

	"github.com/cockroachdb/pebble/v2"
	. "github.com/onsi/gomega"
)

// TestLegacyRaftState: Raft state that earlier versions kept in the engine is found, for the
// shard it belongs to only, whichever of the log and the stable values is left.
func TestLegacyRaftState(t *testing.T) {
	g := NewWithT(t)
	e := openEngine(t, "", false)
	_, err := e.Apply(1, []Op{put("k", "v")}, ApplyOptions{AppliedIndex: 3})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(e.db.Set(append(shardPrefix(prefixLegacyStable, 2, 0), "hs"...), []byte("x"), pebble.Sync)).To(Succeed())
	g.Expect(e.db.Set(append(shardPrefix(prefixLegacyLog, 4, 0), 0, 0, 0, 0, 0, 0, 0, 1), []byte("e"), pebble.Sync)).To(Succeed())
	for shard, want := range map[int]bool{1: false, 2: true, 3: false, 4: true} {
		got, err := e.LegacyRaftState(shard)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(got).To(Equal(want), "shard %d", shard)
	}
}
