package engine

import (
	"bytes"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	. "github.com/onsi/gomega"
)

// TestPebbleEventsReachTheLog: what Pebble reports of its background work, its disk and
// its write stalls is logged at a level that fits, and stalls are counted (the
// torua_engine_write_stalls_total metric); what Pebble logs itself goes to slog, and its
// Fatalf panics rather than let the engine go on.
func TestPebbleEventsReachTheLog(t *testing.T) {
	g := NewWithT(t)
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var stalls atomic.Int64
	el := eventListener(log, &stalls)
	el.BackgroundError(errors.New("compaction failed"))
	el.DataCorruption(pebble.DataCorruptionInfo{Path: "000007.sst", Details: errors.New("checksum mismatch")})
	el.DiskSlow(pebble.DiskSlowInfo{Path: "000002.log", Duration: 3 * time.Second})
	el.WriteStallBegin(pebble.WriteStallBeginInfo{Reason: "memtable count limit reached"})
	el.WriteStallEnd()
	g.Expect(stalls.Load()).To(Equal(int64(1)))
	out := buf.String()
	for _, want := range []string{
		`level=ERROR msg="Pebble background operation failed" err="compaction failed"`,
		`level=ERROR msg="Pebble detected data corruption"`, "000007.sst",
		`level=WARN msg="Disk operation was slow"`, "000002.log",
		`level=WARN msg="Writes stalled" reason="memtable count limit reached"`,
		`level=INFO msg="Writes resumed"`,
	} {
		g.Expect(out).To(ContainSubstring(want))
	}

	buf.Reset()
	l := slogLogger{log: log}
	l.Infof("opened %d tables", 3)
	l.Errorf("cannot delete %s", "000001.sst")
	g.Expect(func() { l.Fatalf("manifest %s is corrupt", "MANIFEST-000001") }).To(PanicWith("pebble: manifest MANIFEST-000001 is corrupt"))
	g.Expect(buf.String()).To(And(
		ContainSubstring(`level=INFO msg="opened 3 tables" source=pebble`),
		ContainSubstring(`level=ERROR msg="cannot delete 000001.sst" source=pebble`),
		ContainSubstring(`level=ERROR msg="manifest MANIFEST-000001 is corrupt" source=pebble fatal=true`)))
}

// TestShardOfRefusesShortKeys: a key shorter than the shard prefix names no shard.
func TestShardOfRefusesShortKeys(t *testing.T) {
	g := NewWithT(t)
	_, ok := shardOf([]byte{prefixData})
	g.Expect(ok).To(BeFalse())
	shard, ok := shardOf(dataKey(513, []byte("k")))
	g.Expect(ok).To(BeTrue())
	g.Expect(shard).To(Equal(513))
}
