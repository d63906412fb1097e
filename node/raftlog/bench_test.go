package raftlog

import (
	"fmt"
	"testing"
)

// BenchmarkWrite appends 16 shards × 4 entries of 200 bytes per Write (one Raft
// loop round), compacting each shard to its last 1000 entries so that segments
// are collected; "synced" adds a Sync after each Write.
func BenchmarkWrite(b *testing.B) {
	const shards, perWrite, size = 16, 4, 200
	for _, synced := range []bool{false, true} {
		b.Run(fmt.Sprintf("synced=%v", synced), func(b *testing.B) {
			l, err := Open(b.TempDir(), Options{SegmentSize: 8 << 20})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			data := make([]byte, size)
			ws := make([]Write, shards)
			b.SetBytes(shards * perWrite * size)
			next := uint64(1)
			for b.Loop() {
				for s := range ws {
					es := make([]Entry, perWrite)
					for k := range es {
						es[k] = Entry{Index: next + uint64(k), Data: data}
					}
					ws[s] = Write{Shard: s, Entries: es, Stable: []StableValue{{Name: []byte("hs"), Value: data[:16]}}}
					if next > 1000 {
						ws[s].DeleteBelow = next - 1000
					}
				}
				next += perWrite
				if err := l.Write(ws); err != nil {
					b.Fatal(err)
				}
				if synced {
					if err := l.Sync(); err != nil {
						b.Fatal(err)
					}
				}
			}
			st := l.Stats()
			b.ReportMetric(float64(st.SegmentsRemoved), "segments-removed")
		})
	}
}
