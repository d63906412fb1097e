package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

const benchValueSize = 128

func benchEngine(b *testing.B, noSync bool) *Engine {
	b.Helper()
	e, err := Open(b.TempDir(), Options{NoSync: noSync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Close() })
	return e
}

func reportOps(b *testing.B, ops int) {
	b.ReportMetric(float64(ops)/b.Elapsed().Seconds(), "ops/s")
}

func BenchmarkGet(b *testing.B) {
	e := benchEngine(b, true)
	const keys = 10000
	value := randomBytes(1, benchValueSize)
	for i := 0; i < keys; i += 100 {
		ops := make([]Op, 0, 100)
		for j := i; j < i+100; j++ {
			ops = append(ops, Op{Kind: OpPut, Key: []byte(fmt.Sprintf("key-%08d", j)), Value: value})
		}
		if _, err := e.Apply(1, ops, ApplyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := e.Get(1, []byte(fmt.Sprintf("key-%08d", (i*7919)%keys))); err != nil {
			b.Fatal(err)
		}
	}
	reportOps(b, b.N)
}

// benchPuts runs b.N single-put Applies spread over goroutines writers, each
// on its own shard.
func benchPuts(b *testing.B, writers int, noSync bool) {
	e := benchEngine(b, noSync)
	value := randomBytes(2, benchValueSize)
	var next atomic.Int64
	var shardIDs atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	done := make(chan error, writers)
	for range writers {
		shard := int(shardIDs.Add(1))
		go func() {
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					done <- nil
					return
				}
				op := Op{Kind: OpPut, Key: []byte(fmt.Sprintf("key-%08d", i%10000)), Value: value}
				if _, err := e.Apply(shard, []Op{op}, ApplyOptions{Sync: true}); err != nil {
					done <- err
					return
				}
			}
		}()
	}
	for range writers {
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	reportOps(b, b.N)
}

// BenchmarkApplyPutSync: durable single-key writes; with 32 writers Pebble's
// commit pipeline shares each WAL fsync among the writes waiting for it.
func BenchmarkApplyPutSync(b *testing.B) {
	for _, writers := range []int{1, 32} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) { benchPuts(b, writers, false) })
	}
}

// BenchmarkApplyPutNoSync: single-key writes without fsync.
func BenchmarkApplyPutNoSync(b *testing.B) {
	for _, writers := range []int{1, 32} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) { benchPuts(b, writers, true) })
	}
}

// BenchmarkApplyBatch64Sync: one synced Apply of 64 puts; ops/s counts puts.
func BenchmarkApplyBatch64Sync(b *testing.B) {
	e := benchEngine(b, false)
	value := randomBytes(3, benchValueSize)
	ops := make([]Op, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		for j := range ops {
			ops[j] = Op{Kind: OpPut, Key: []byte(fmt.Sprintf("key-%08d", (i*64+j)%100000)), Value: value}
		}
		if _, err := e.Apply(1, ops, ApplyOptions{Sync: true}); err != nil {
			b.Fatal(err)
		}
	}
	reportOps(b, b.N*len(ops))
}

// BenchmarkFsyncLoop is the "one fsync per write" baseline: append 128 bytes
// to a file and fsync it, on the same disk as the engine benchmarks' stores.
func BenchmarkFsyncLoop(b *testing.B) {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "fsync"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := randomBytes(4, benchValueSize)
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	reportOps(b, b.N)
}

// BenchmarkViewReads reads n random keys of 100,000 in tables through a new View, as a
// node answers one shard's part of a graph read round: with Get per key, and with GetEach.
func BenchmarkViewReads(b *testing.B) {
	e := benchEngine(b, true)
	const keys = 100000
	value := randomBytes(3, benchValueSize)
	for i := 0; i < keys; i += 1000 {
		ops := make([]Op, 0, 1000)
		for j := i; j < i+1000; j++ {
			ops = append(ops, Op{Kind: OpPut, Key: []byte(fmt.Sprintf("key-%08d", j)), Value: value})
		}
		if _, err := e.Apply(1, ops, ApplyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	if err := e.db.Flush(); err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 2, 4, 16, 128} {
		batch := func(i int) [][]byte {
			ks := make([][]byte, n)
			for j := range ks {
				ks[j] = []byte(fmt.Sprintf("key-%08d", ((i*n+j)*7919)%keys))
			}
			return ks
		}
		run := func(b *testing.B, read func(v *View, ks [][]byte) error) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				ks := batch(i)
				v, err := e.View(1)
				if err != nil {
					b.Fatal(err)
				}
				if err := read(v, ks); err != nil {
					b.Fatal(err)
				}
				_ = v.Close()
			}
		}
		b.Run(fmt.Sprintf("get/%d", n), func(b *testing.B) {
			run(b, func(v *View, ks [][]byte) error {
				for _, k := range ks {
					if _, err := v.Get(k); err != nil {
						return err
					}
				}
				return nil
			})
		})
		b.Run(fmt.Sprintf("each/%d", n), func(b *testing.B) {
			run(b, func(v *View, ks [][]byte) error {
				return v.GetEach(ks, func(int, Value) error { return nil })
			})
		})
	}
}
