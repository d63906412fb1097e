package raftlog

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	. "github.com/onsi/gomega"
)

// recordOffsets returns the offsets at which a segment's intact records start.
func recordOffsets(t *testing.T, data []byte) []int {
	t.Helper()
	var offs []int
	for off := segmentHeaderSize; off < len(data) && !allZero(data[off:]); {
		_, size, ok := readFrame(data[off:])
		if !ok {
			t.Fatalf("no record at offset %d", off)
		}
		offs = append(offs, off)
		off += size
	}
	return offs
}

// dataEnd is where segment data's last record ends (preallocated zeros follow).
func dataEnd(t *testing.T, data []byte) int {
	t.Helper()
	offs := recordOffsets(t, data)
	_, size, _ := readFrame(data[offs[len(offs)-1]:])
	return offs[len(offs)-1] + size
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// expectCutAt checks that the file at path holds data up to cut and only zeros
// (preallocated space) after it.
func expectCutAt(g Gomega, path string, data []byte, cut int) {
	got, err := os.ReadFile(path)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(len(got)).To(BeNumerically(">=", cut))
	g.Expect(got[:cut]).To(Equal(data[:cut]))
	g.Expect(allZero(got[cut:])).To(BeTrue(), "only zeros after offset %d", cut)
}

func segPath(dir string, seq uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%016d.log", seq))
}

// entryData is the data of shard 1's entry i in the logs built below.
func entryData(i uint64) []byte { return []byte(fmt.Sprintf("%d-%050d", i, i)) }

// buildLog writes n entries to shard 1, one per Write with a stable value, after
// one entry of shard 0 that pins the first segment (so nothing is collected).
func buildLog(t *testing.T, dir string, opts Options, n int) {
	t.Helper()
	l := openLog(t, dir, opts)
	mustWrite(t, l, Write{Shard: 0, Entries: ents(1, 1, "pin")})
	for i := uint64(1); i <= uint64(n); i++ {
		mustWrite(t, l, Write{Shard: 1, Entries: []Entry{{Index: i, Data: entryData(i)}}, Stable: []StableValue{sv("hs", fmt.Sprint(i))}})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// expectShard1 checks that l recovered shard 1's first n entries and stable value.
func expectShard1(g *WithT, l *Log, n uint64) {
	st, ok := l.State(1)
	g.Expect(ok).To(BeTrue())
	var want []Entry
	for i := uint64(1); i <= n; i++ {
		want = append(want, Entry{Index: i, Data: entryData(i)})
	}
	g.Expect(st.Entries).To(Equal(want))
	g.Expect(st.Stable).To(Equal(map[string][]byte{"hs": []byte(fmt.Sprint(n))}))
}

// TestTornTailCutOff cuts the last segment at every byte of its last record:
// Open keeps every earlier record, drops the torn one and truncates the file
// where it started; the log then goes on.
func TestTornTailCutOff(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	opts := Options{NoSync: true, SegmentSize: 512}
	const n = 30
	buildLog(t, dir, opts, n)
	segs := segmentFiles(t, dir)
	g.Expect(len(segs)).To(BeNumerically(">=", 3))
	path := segPath(dir, segs[len(segs)-1])
	full, err := os.ReadFile(path)
	g.Expect(err).NotTo(HaveOccurred())
	full = full[:dataEnd(t, full)] // without the preallocated zeros
	offs := recordOffsets(t, full)
	g.Expect(len(offs)).To(BeNumerically(">=", 2), "a checkpoint and the last record")
	start := offs[len(offs)-1]

	check := func(content []byte, wantN uint64, wantSize int) {
		t.Helper()
		g.Expect(os.WriteFile(path, content, 0o644)).To(Succeed())
		l, err := Open(dir, opts)
		g.Expect(err).NotTo(HaveOccurred(), "file cut at %d", len(content))
		expectShard1(g, l, wantN)
		expectCutAt(g, path, content, wantSize)
		g.Expect(l.Close()).To(Succeed())
	}
	for cut := start; cut < len(full); cut++ {
		check(full[:cut], n-1, start)
		// A crash may also leave the file longer than what reached it, zero filled.
		check(append(full[:cut:cut], make([]byte, 100)...), n-1, start)
	}
	check(append(full[:len(full):len(full)], make([]byte, 4096)...), n, len(full))
	check(full, n, len(full))

	// After a cut the log goes on where the torn record was.
	g.Expect(os.WriteFile(path, full[:start+5], 0o644)).To(Succeed())
	l := openLog(t, dir, opts)
	mustWrite(t, l, Write{Shard: 1, Entries: []Entry{{Index: n, Data: entryData(n)}}, Stable: []StableValue{sv("hs", fmt.Sprint(n))}})
	l = reopen(t, l, opts)
	expectShard1(g, l, n)
}

// TestDamageRefused damages durable records and segment headers byte by byte:
// Open refuses with ErrCorrupt and leaves the files as they are.
func TestDamageRefused(t *testing.T) {
	dir := t.TempDir()
	opts := Options{NoSync: true, SegmentSize: 512}
	buildLog(t, dir, opts, 40)
	segs := segmentFiles(t, dir)
	NewWithT(t).Expect(len(segs)).To(BeNumerically(">=", 4))
	lastSeq, midSeq := segs[len(segs)-1], segs[1]

	// refused damages bytes lo..hi of segment seq one at a time.
	refused := func(t *testing.T, seq uint64, lo, hi int, damage func(b []byte, i int)) {
		g := NewWithT(t)
		path := segPath(dir, seq)
		orig, err := os.ReadFile(path)
		g.Expect(err).NotTo(HaveOccurred())
		defer func() { g.Expect(os.WriteFile(path, orig, 0o644)).To(Succeed()) }()
		for i := lo; i < hi; i++ {
			b := append([]byte(nil), orig...)
			damage(b, i)
			g.Expect(os.WriteFile(path, b, 0o644)).To(Succeed())
			l, err := Open(dir, opts)
			if err == nil {
				_ = l.Close()
			}
			g.Expect(err).To(MatchError(ErrCorrupt), "byte %d of segment %d", i, seq)
			after, err := os.ReadFile(path)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(after).To(Equal(b), "the file is left as it is")
		}
	}
	flip := func(b []byte, i int) { b[i] ^= 0x20 }
	offsets := func(seq uint64) ([]int, int) {
		data, err := os.ReadFile(segPath(dir, seq))
		if err != nil {
			t.Fatal(err)
		}
		return recordOffsets(t, data), len(data)
	}

	t.Run("middle record of the last segment", func(t *testing.T) {
		offs, _ := offsets(lastSeq)
		NewWithT(t).Expect(len(offs)).To(BeNumerically(">=", 3))
		refused(t, lastSeq, offs[len(offs)-2], offs[len(offs)-1], flip)
	})
	t.Run("checkpoint of the last segment", func(t *testing.T) {
		offs, _ := offsets(lastSeq)
		refused(t, lastSeq, offs[0], offs[1], flip)
	})
	t.Run("last record of an earlier segment", func(t *testing.T) {
		offs, size := offsets(midSeq)
		refused(t, midSeq, offs[len(offs)-1], size, flip)
	})
	t.Run("earlier segment cut short", func(t *testing.T) {
		g := NewWithT(t)
		path := segPath(dir, midSeq)
		orig, err := os.ReadFile(path)
		g.Expect(err).NotTo(HaveOccurred())
		defer func() { g.Expect(os.WriteFile(path, orig, 0o644)).To(Succeed()) }()
		g.Expect(os.WriteFile(path, orig[:len(orig)-3], 0o644)).To(Succeed())
		_, err = Open(dir, opts)
		g.Expect(err).To(MatchError(ErrCorrupt))
	})
	t.Run("segment headers", func(t *testing.T) {
		refused(t, midSeq, 0, segmentHeaderSize, flip)
		refused(t, lastSeq, 0, segmentHeaderSize, flip)
	})
	t.Run("missing segment", func(t *testing.T) {
		g := NewWithT(t)
		path := segPath(dir, midSeq)
		g.Expect(os.Rename(path, path+".aside")).To(Succeed())
		defer func() { g.Expect(os.Rename(path+".aside", path)).To(Succeed()) }()
		_, err := Open(dir, opts)
		g.Expect(err).To(MatchError(ErrCorrupt))
		g.Expect(err.Error()).To(ContainSubstring(fmt.Sprintf("segments %d to %d are missing", midSeq, midSeq)))
	})
	t.Run("last record of the last segment damaged is taken for a torn write", func(t *testing.T) {
		// NB: documented: it cannot be told from one.
		g := NewWithT(t)
		path := segPath(dir, lastSeq)
		orig, err := os.ReadFile(path)
		g.Expect(err).NotTo(HaveOccurred())
		defer func() { g.Expect(os.WriteFile(path, orig, 0o644)).To(Succeed()) }()
		offs := recordOffsets(t, orig)
		b := append([]byte(nil), orig...)
		flip(b, dataEnd(t, orig)-1)
		g.Expect(os.WriteFile(path, b, 0o644)).To(Succeed())
		l, err := Open(dir, opts)
		g.Expect(err).NotTo(HaveOccurred())
		defer l.Close()
		expectShard1(g, l, 39)
		expectCutAt(g, path, b, offs[len(offs)-1])
	})
	// Undamaged, the log opens with everything.
	g := NewWithT(t)
	l := openLog(t, dir, opts)
	expectShard1(g, l, 40)
}

func TestForeignFilesRefused(t *testing.T) {
	valid := t.TempDir()
	buildLog(t, valid, Options{NoSync: true}, 3)
	seg1, err := os.ReadFile(segPath(valid, 1))
	if err != nil {
		t.Fatal(err)
	}
	v2 := append([]byte(nil), seg1...)
	binary.LittleEndian.PutUint32(v2[8:], 2)
	binary.LittleEndian.PutUint32(v2[20:], checksum(v2[:20]))

	tests := []struct {
		name    string
		file    string
		content []byte
		want    string
	}{
		{"text", "0000000000000001.log", []byte("just some text that is long enough to be a header"), "not a raft log segment"},
		{"empty", "0000000000000001.log", nil, "not a raft log segment"},
		{"a segment under another number", "0000000000000007.log", seg1, "header says number 1"},
		{"an unknown version", "0000000000000001.log", v2, "unknown segment format version 2"},
		{"a segment name that is not a number", "00000000000000x1.log", seg1, "segment file name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			dir := t.TempDir()
			g.Expect(os.WriteFile(filepath.Join(dir, tt.file), tt.content, 0o644)).To(Succeed())
			_, err := Open(dir, Options{NoSync: true})
			g.Expect(err).To(MatchError(ErrCorrupt))
			g.Expect(err.Error()).To(ContainSubstring(tt.want))
		})
	}
}

// TestRunsAndEntriesMatchAModel applies random operations to a shard's runs
// and to recovered entries and compares both with a map from index to segment.
func TestRunsAndEntriesMatchAModel(t *testing.T) {
	g := NewWithT(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var rs []run
		var es []Entry
		model := map[uint64]uint64{}
		for step := range 50 {
			seq := uint64(step/5 + 1)
			switch op := rng.IntN(4); op {
			case 0, 1: // set lo..hi
				lo := uint64(rng.IntN(40) + 1)
				hi := lo + uint64(rng.IntN(8))
				rs = runsSet(rs, lo, hi, seq)
				var add []Entry
				for i := lo; i <= hi; i++ {
					model[i] = seq
					add = append(add, Entry{Index: i, Data: []byte{byte(seq)}})
				}
				es = entriesSet(es, add)
			case 2:
				from := uint64(rng.IntN(45) + 1)
				rs, es = runsCutFrom(rs, from), entriesCutFrom(es, from)
				for i := range model {
					if i >= from {
						delete(model, i)
					}
				}
			case 3:
				below := uint64(rng.IntN(45) + 1)
				rs, es = runsCutBelow(rs, below), entriesCutBelow(es, below)
				for i := range model {
					if i < below {
						delete(model, i)
					}
				}
			}
			fromRuns := map[uint64]uint64{}
			var last *run
			for k := range rs {
				r := rs[k]
				g.Expect(r.lo).To(BeNumerically("<=", r.hi), "round %d step %d: %v", round, step, rs)
				if last != nil {
					g.Expect(r.lo).To(BeNumerically(">", last.hi), "round %d step %d: %v", round, step, rs)
				}
				last = &rs[k]
				for i := r.lo; i <= r.hi; i++ {
					fromRuns[i] = r.seq
				}
			}
			g.Expect(fromRuns).To(Equal(model), "round %d step %d", round, step)
			fromEntries := map[uint64]uint64{}
			for k, e := range es {
				if k > 0 {
					g.Expect(e.Index).To(BeNumerically(">", es[k-1].Index))
				}
				fromEntries[e.Index] = uint64(e.Data[0])
			}
			g.Expect(fromEntries).To(Equal(model), "round %d step %d", round, step)
		}
	}
}

// The last segment is preallocated to the segment size (on Linux): its zeros are
// space never written, not a torn record. A segment stops being the last cut to
// its last record, so it opens as a whole segment even when the segment size
// shrank since it was preallocated.
func TestPreallocatedSegments(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	big := Options{NoSync: true, SegmentSize: 64 << 10}
	buildLog(t, dir, big, 5)
	segs := segmentFiles(t, dir)
	g.Expect(segs).To(HaveLen(1))
	fi, err := os.Stat(segPath(dir, segs[0]))
	g.Expect(err).NotTo(HaveOccurred())
	if runtime.GOOS == "linux" {
		g.Expect(fi.Size()).To(Equal(big.SegmentSize))
	}
	l := openLog(t, dir, big)
	expectShard1(g, l, 5)
	g.Expect(l.Close()).To(Succeed())

	// Smaller segments from now on: the first one is full and a second starts.
	small := Options{NoSync: true, SegmentSize: 512}
	l = openLog(t, dir, small)
	for i := uint64(6); i <= 30; i++ {
		mustWrite(t, l, Write{Shard: 1, Entries: []Entry{{Index: i, Data: entryData(i)}}, Stable: []StableValue{sv("hs", fmt.Sprint(i))}})
	}
	l = reopen(t, l, small)
	expectShard1(g, l, 30)
	g.Expect(l.Close()).To(Succeed())
	segs = segmentFiles(t, dir)
	g.Expect(len(segs)).To(BeNumerically(">=", 2))
	first, err := os.ReadFile(segPath(dir, segs[0]))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(first).To(HaveLen(dataEnd(t, first)), "no preallocated space left in a segment that is not the last")
}
