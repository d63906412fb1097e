package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	. "github.com/onsi/gomega"
)

// shardContents is everything observable about one shard.
type shardContents struct {
	Stats  ShardStats
	Values map[string]Value
}

func dumpShard(t testing.TB, e *Engine, shard int) shardContents {
	t.Helper()
	st, err := e.ShardStats(shard)
	if err != nil {
		t.Fatal(err)
	}
	keys, more, err := e.List(shard, nil, nil, 1<<20)
	if err != nil || more {
		t.Fatalf("list shard %d: more %v, %v", shard, more, err)
	}
	c := shardContents{Stats: st, Values: make(map[string]Value, len(keys))}
	for _, k := range keys {
		v, err := e.Get(shard, k)
		if err != nil {
			t.Fatal(err)
		}
		c.Values[string(k)] = v
	}
	return c
}

// fillShard writes n keys (some with binary and large values, some deleted)
// and an applied index to shard.
func fillShard(t testing.TB, e *Engine, shard, n int, tag string) {
	t.Helper()
	var ops []Op
	for i := range n {
		v := fmt.Sprintf("%s-%d", tag, i)
		if i%17 == 0 {
			v = string(randomBytes(uint64(i), 100<<10))
		}
		ops = append(ops, put(fmt.Sprintf("key/%04d\xff", i), v))
	}
	for i := 0; i < n; i += 5 {
		ops = append(ops, del(fmt.Sprintf("key/%04d\xff", i)))
	}
	if _, err := e.Apply(shard, ops, ApplyOptions{Sync: true, AppliedIndex: uint64(1000 + n)}); err != nil {
		t.Fatal(err)
	}
}

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	g := NewWithT(t)
	src := openEngine(t, "", true)
	const shard = 5
	fillShard(t, src, shard-1, 30, "left")
	fillShard(t, src, shard, 200, "snap")
	fillShard(t, src, shard+1, 30, "right")
	want := dumpShard(t, src, shard)
	g.Expect(want.Stats.Keys).To(Equal(int64(160)))

	var buf bytes.Buffer
	g.Expect(src.SnapshotShard(shard, &buf)).To(Succeed())
	snap := buf.Bytes()

	t.Run("into a fresh engine", func(t *testing.T) {
		g := NewWithT(t)
		dst := openEngine(t, "", true)
		g.Expect(dst.RestoreShard(shard, bytes.NewReader(snap))).To(Succeed())
		g.Expect(dumpShard(t, dst, shard)).To(Equal(want))
		g.Expect(dst.Shards()).To(Equal([]int{shard}))
		// The revision counter continues from the snapshot's.
		g.Expect(apply1(t, dst, shard, put("new", "v")).Revision).To(Equal(want.Stats.Revision + 1))
	})

	t.Run("over newer data in place", func(t *testing.T) {
		g := NewWithT(t)
		left, right := dumpShard(t, src, shard-1), dumpShard(t, src, shard+1)
		fillShard(t, src, shard, 300, "later")
		apply1(t, src, shard, put("extra", "x"))
		g.Expect(src.RestoreShard(shard, bytes.NewReader(snap))).To(Succeed())
		g.Expect(dumpShard(t, src, shard)).To(Equal(want))
		g.Expect(dumpShard(t, src, shard-1)).To(Equal(left))
		g.Expect(dumpShard(t, src, shard+1)).To(Equal(right))
		// The revision counter goes back to the snapshot's too (Apply caches the metadata).
		g.Expect(apply1(t, src, shard, put("after", "v")).Revision).To(Equal(want.Stats.Revision + 1))
	})

	t.Run("empty shard", func(t *testing.T) {
		g := NewWithT(t)
		var empty bytes.Buffer
		g.Expect(src.SnapshotShard(77, &empty)).To(Succeed())
		dst := openEngine(t, "", true)
		fillShard(t, dst, 77, 10, "old")
		g.Expect(dst.RestoreShard(77, &empty)).To(Succeed())
		g.Expect(dumpShard(t, dst, 77)).To(Equal(shardContents{Values: map[string]Value{}}))
	})
}

func TestSnapshotIsPointInTime(t *testing.T) {
	g := NewWithT(t)
	e := openEngine(t, "", true)
	fillShard(t, e, 1, 50, "a")
	want := dumpShard(t, e, 1)
	// A writer that blocks the snapshot stream midway lets us write to the
	// shard while the snapshot is being taken.
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- e.SnapshotShard(1, pw); pw.Close() }()
	head := make([]byte, 16)
	_, err := io.ReadFull(pr, head)
	g.Expect(err).NotTo(HaveOccurred())
	fillShard(t, e, 1, 80, "b")
	rest, err := io.ReadAll(pr)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(<-done).To(Succeed())

	dst := openEngine(t, "", true)
	g.Expect(dst.RestoreShard(1, bytes.NewReader(append(head, rest...)))).To(Succeed())
	g.Expect(dumpShard(t, dst, 1)).To(Equal(want))
}

func TestRestoreRefusesBadStreams(t *testing.T) {
	src := openEngine(t, "", true)
	const shard = 12
	fillShard(t, src, shard, 40, "snap")
	var buf bytes.Buffer
	if err := src.SnapshotShard(shard, &buf); err != nil {
		t.Fatal(err)
	}
	snap := buf.Bytes()
	flip := func(i int) []byte {
		b := bytes.Clone(snap)
		b[i] ^= 0x01
		return b
	}
	type tc struct {
		name   string
		stream []byte
		shard  int
	}
	tests := []tc{
		{"empty", nil, shard},
		{"wrong shard", snap, shard + 1},
		{"bad magic", flip(0), shard},
		{"bad version", flip(8), shard},
		{"flipped header revision", flip(11), shard},
		{"flipped first key byte", flip(20), shard},
		{"flipped byte in the middle", flip(len(snap) / 2), shard},
		{"flipped trailer count", flip(len(snap) - 6), shard},
		{"flipped checksum", flip(len(snap) - 1), shard},
		{"trailing garbage", append(bytes.Clone(snap), 0), shard},
		{"doubled", append(bytes.Clone(snap), snap...), shard},
	}
	// Truncation at every record boundary and inside records.
	for _, n := range []int{1, 8, 11, 12, 13, 20, 100, len(snap) / 3, len(snap) / 2, len(snap) - 5, len(snap) - 4, len(snap) - 1} {
		tests = append(tests, tc{fmt.Sprintf("truncated to %d", n), snap[:n], shard})
	}

	dst := openEngine(t, "", true)
	for _, s := range []int{shard, shard + 1} {
		fillShard(t, dst, s, 25, "old")
	}
	before := []shardContents{dumpShard(t, dst, shard), dumpShard(t, dst, shard+1)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			err := dst.RestoreShard(tt.shard, bytes.NewReader(tt.stream))
			g.Expect(err).To(MatchError(ErrCorrupt))
			g.Expect(dumpShard(t, dst, shard)).To(Equal(before[0]), "old data not kept")
			g.Expect(dumpShard(t, dst, shard+1)).To(Equal(before[1]), "old data not kept")
		})
	}

	t.Run("reader error is an I/O error and keeps old data", func(t *testing.T) {
		g := NewWithT(t)
		boom := errors.New("connection reset")
		r := io.MultiReader(bytes.NewReader(snap[:len(snap)/2]), &failingReader{boom})
		err := dst.RestoreShard(shard, r)
		g.Expect(err).To(MatchError(boom))
		g.Expect(errors.Is(err, ErrCorrupt)).To(BeFalse())
		g.Expect(dumpShard(t, dst, shard)).To(Equal(before[0]))
	})

	t.Run("every single-byte flip and truncation is caught", func(t *testing.T) {
		// A small snapshot (16 keys, 3 of them deleted), so that trying every byte is cheap.
		const small = 13
		fillShard(t, src, small, 16, "small")
		var buf bytes.Buffer
		if err := src.SnapshotShard(small, &buf); err != nil {
			t.Fatal(err)
		}
		snap := buf.Bytes()
		fillShard(t, dst, small, 10, "old")
		old := dumpShard(t, dst, small)
		for i := range snap {
			b := bytes.Clone(snap)
			b[i] ^= 0x80
			if err := dst.RestoreShard(small, bytes.NewReader(b)); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("flip at %d of %d: got %v, want ErrCorrupt", i, len(snap), err)
			}
			if err := dst.RestoreShard(small, bytes.NewReader(snap[:i])); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("truncated to %d of %d: got %v, want ErrCorrupt", i, len(snap), err)
			}
		}
		NewWithT(t).Expect(dumpShard(t, dst, small)).To(Equal(old))
		NewWithT(t).Expect(dst.RestoreShard(small, bytes.NewReader(snap))).To(Succeed())
		NewWithT(t).Expect(dumpShard(t, dst, small)).To(Equal(dumpShard(t, src, small)))
	})
}

type failingReader struct{ err error }

func (r *failingReader) Read([]byte) (int, error) { return 0, r.err }

// FuzzRestoreShard feeds arbitrary streams to RestoreShard: it must never
// panic, and a refused stream must leave the shard as it was.
func FuzzRestoreShard(f *testing.F) {
	src := openEngine(f, "", true)
	fillShard(f, src, 2, 12, "seed")
	var buf bytes.Buffer
	if err := src.SnapshotShard(2, &buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:len(buf.Bytes())/2])
	f.Add([]byte(snapshotMagic))
	f.Add([]byte{})

	dst := openEngine(f, "", true)
	fillShard(f, dst, 2, 5, "old")
	f.Fuzz(func(t *testing.T, stream []byte) {
		before := dumpShard(t, dst, 2)
		if err := dst.RestoreShard(2, bytes.NewReader(stream)); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
			if after := dumpShard(t, dst, 2); !equalContents(before, after) {
				t.Fatal("refused restore changed the shard")
			}
			return
		}
		// Accepted: the stats agree with the data.
		after := dumpShard(t, dst, 2)
		var size int64
		for k, v := range after.Values {
			size += int64(len(k) + len(v.Data))
		}
		if after.Stats.Keys != int64(len(after.Values)) || after.Stats.Bytes != size {
			t.Fatalf("stats %+v disagree with %d keys of %d bytes", after.Stats, len(after.Values), size)
		}
	})
}

func equalContents(a, b shardContents) bool {
	if a.Stats != b.Stats || len(a.Values) != len(b.Values) {
		return false
	}
	for k, v := range a.Values {
		w, ok := b.Values[k]
		if !ok || v.Revision != w.Revision || !bytes.Equal(v.Data, w.Data) {
			return false
		}
	}
	return true
}
