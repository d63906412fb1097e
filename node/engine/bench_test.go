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
