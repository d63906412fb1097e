package raftlog

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// ents returns entries lo..hi whose data names tag and the index.
func ents(lo, hi uint64, tag string) []Entry {
	var es []Entry
	for i := lo; i <= hi; i++ {
		es = append(es, Entry{Index: i, Data: []byte(fmt.Sprintf("%s-%d", tag, i))})
	}
	return es
}

func sv(name, value string) StableValue {
	return StableValue{Name: []byte(name), Value: []byte(value)}
}

func openLog(t *testing.T, dir string, opts Options) *Log {
	t.Helper()
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func reopen(t *testing.T, l *Log, opts Options) *Log {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	return openLog(t, l.dir, opts)
}

// stateOf returns what l recovered of shard, which must be something.
func stateOf(t *testing.T, l *Log, shard int) ShardState {
	t.Helper()
	st, ok := l.State(shard)
	if !ok {
		t.Fatalf("no state recovered for shard %d", shard)
	}
	return st
}

func mustWrite(t *testing.T, l *Log, ws ...Write) {
	t.Helper()
	if err := l.Write(ws); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// segmentFiles lists dir's segment numbers.
func segmentFiles(t *testing.T, dir string) []uint64 {
	t.Helper()
	l := &Log{dir: dir}
	seqs, err := l.listSegments()
	if err != nil {
		t.Fatal(err)
	}
	return seqs
}

func TestRoundTripAcrossReopen(t *testing.T) {
	g := NewWithT(t)
	opts := Options{NoSync: true}
	l := openLog(t, t.TempDir(), opts)
	mustWrite(t, l,
		Write{Shard: 1, Entries: ents(1, 3, "a"), Stable: []StableValue{sv("hs", "h1")}},
		Write{Shard: MaxShard, Entries: ents(10, 12, "b")})
	mustWrite(t, l,
		Write{Shard: 1, Entries: ents(4, 5, "a")},
		Write{Shard: 0, Stable: []StableValue{sv("snap", "s0"), sv("members", "m")}})
	mustWrite(t, l, Write{Shard: 1, Stable: []StableValue{sv("hs", "h2")}})
	g.Expect(l.Stats()).To(And(
		HaveField("Records", uint64(3)), HaveField("Segments", 1), HaveField("SegmentsCreated", uint64(1))))

	l = reopen(t, l, opts)
	g.Expect(recoveredShards(l)).To(Equal([]int{0, 1, MaxShard}))
	g.Expect(stateOf(t, l, 1)).To(Equal(ShardState{Entries: ents(1, 5, "a"), Stable: map[string][]byte{"hs": []byte("h2")}}))
	g.Expect(stateOf(t, l, 0)).To(Equal(ShardState{Stable: map[string][]byte{"snap": []byte("s0"), "members": []byte("m")}}))
	g.Expect(stateOf(t, l, MaxShard)).To(Equal(ShardState{Entries: ents(10, 12, "b"), Stable: map[string][]byte{}}))
	_, ok := l.State(7)
	g.Expect(ok).To(BeFalse())

	g.Expect(l.Holds(1)).To(BeTrue())
	l.Release(1)
	_, ok = l.State(1)
	g.Expect(ok).To(BeFalse(), "released")
	g.Expect(l.Holds(1)).To(BeTrue(), "the log still holds the shard's state")
	g.Expect(l.Holds(7)).To(BeFalse())

	// Appends after a reopen continue the same segment and survive the next one.
	mustWrite(t, l, Write{Shard: 1, Entries: ents(6, 6, "a")})
	l = reopen(t, l, opts)
	g.Expect(stateOf(t, l, 1)).To(HaveField("Entries", ents(1, 6, "a")))
	g.Expect(segmentFiles(t, l.dir)).To(Equal([]uint64{1}))
}

func TestReplaceAndCompactSurviveReopen(t *testing.T) {
	cat := func(ess ...[]Entry) []Entry { return slices.Concat(ess...) }
	tests := []struct {
		name          string
		writes        []Write // one Write call each, all for shard 5
		wantEntries   []Entry
		wantCompacted uint64
	}{{
		name:        "suffix replaced by a new leader",
		writes:      []Write{{Entries: ents(1, 10, "a")}, {DeleteFrom: 6, Entries: ents(6, 8, "b")}},
		wantEntries: cat(ents(1, 5, "a"), ents(6, 8, "b")),
	}, {
		name:          "prefix compacted",
		writes:        []Write{{Entries: ents(1, 10, "a")}, {DeleteBelow: 4}},
		wantEntries:   ents(4, 10, "a"),
		wantCompacted: 4,
	}, {
		name:          "one write: DeleteFrom, DeleteBelow, Entries, Stable in that order",
		writes:        []Write{{Entries: ents(1, 10, "a")}, {DeleteFrom: 8, DeleteBelow: 3, Entries: ents(8, 9, "b")}},
		wantEntries:   cat(ents(3, 7, "a"), ents(8, 9, "b")),
		wantCompacted: 3,
	}, {
		name:          "entries below DeleteBelow in the same write are kept (Entries come after)",
		writes:        []Write{{Entries: ents(1, 3, "a"), DeleteBelow: 3}},
		wantEntries:   ents(1, 3, "a"),
		wantCompacted: 3,
	}, {
		name:        "entries rewritten without DeleteFrom replace only their indexes (as the engine)",
		writes:      []Write{{Entries: ents(1, 10, "a")}, {Entries: ents(3, 4, "b")}},
		wantEntries: cat(ents(1, 2, "a"), ents(3, 4, "b"), ents(5, 10, "a")),
	}, {
		name:          "compaction past the last entry, then a log restarting there (a snapshot)",
		writes:        []Write{{Entries: ents(1, 5, "a")}, {DeleteFrom: 1, DeleteBelow: 9}, {Entries: ents(9, 10, "b")}},
		wantEntries:   ents(9, 10, "b"),
		wantCompacted: 9,
	}, {
		name:          "a later, lower DeleteBelow does not lower the compaction point",
		writes:        []Write{{Entries: ents(1, 10, "a")}, {DeleteBelow: 6}, {DeleteBelow: 2}},
		wantEntries:   ents(6, 10, "a"),
		wantCompacted: 6,
	}}
	// SegmentSize 1 starts a segment at every Write: the same state must come
	// back through checkpoints and garbage collection.
	for _, segSize := range []int64{0, 1} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/segment size %d", tt.name, segSize), func(t *testing.T) {
				g := NewWithT(t)
				opts := Options{NoSync: true, SegmentSize: segSize}
				l := openLog(t, t.TempDir(), opts)
				for i, w := range tt.writes {
					w.Shard = 5
					w.Stable = []StableValue{sv("hs", fmt.Sprint(i))}
					mustWrite(t, l, w, Write{Shard: 6, Entries: ents(uint64(i+1), uint64(i+1), "other")})
				}
				l = reopen(t, l, opts)
				st, ok := l.State(5)
				g.Expect(ok).To(BeTrue())
				g.Expect(st.Entries).To(Equal(tt.wantEntries))
				g.Expect(st.Compacted).To(Equal(tt.wantCompacted))
				g.Expect(st.Stable).To(Equal(map[string][]byte{"hs": []byte(fmt.Sprint(len(tt.writes) - 1))}))
				g.Expect(stateOf(t, l, 6)).To(HaveField("Entries", ents(1, uint64(len(tt.writes)), "other")))
			})
		}
	}
}

func TestDeleteShard(t *testing.T) {
	g := NewWithT(t)
	opts := Options{NoSync: true}
	l := openLog(t, t.TempDir(), opts)
	mustWrite(t, l,
		Write{Shard: 1, Entries: ents(1, 5, "a"), Stable: []StableValue{sv("hs", "1")}},
		Write{Shard: 2, Entries: ents(1, 2, "b"), Stable: []StableValue{sv("hs", "2")}})
	syncs := l.Stats().Syncs
	g.Expect(l.DeleteShard(1)).To(Succeed())
	g.Expect(l.Stats().Syncs).To(Equal(syncs+1), "DeleteShard syncs")
	g.Expect(l.DeleteShard(MetaShard + 1)).To(MatchError(ErrInvalidArgument))
	g.Expect(l.DeleteShard(MetaShard)).To(MatchError(ErrInvalidArgument), "the log's own values cannot be deleted")

	l = reopen(t, l, opts)
	g.Expect(recoveredShards(l)).To(Equal([]int{2}))
	_, ok := l.State(1)
	g.Expect(ok).To(BeFalse())

	// A replica of the shard that comes back starts from nothing.
	mustWrite(t, l, Write{Shard: 1, Entries: ents(7, 8, "c")})
	l = reopen(t, l, opts)
	g.Expect(stateOf(t, l, 1)).To(Equal(ShardState{Entries: ents(7, 8, "c"), Stable: map[string][]byte{}}))
	g.Expect(stateOf(t, l, 2)).To(HaveField("Entries", ents(1, 2, "b")))

	// Deleted after a reopen: what Open recovered is gone too, not only the log's state.
	g.Expect(l.DeleteShard(2)).To(Succeed())
	_, ok = l.State(2)
	g.Expect(ok).To(BeFalse())
	g.Expect(l.Holds(2)).To(BeFalse())
}

func TestRotationAndGarbageCollection(t *testing.T) {
	g := NewWithT(t)
	opts := Options{NoSync: true, SegmentSize: 1024}
	l := openLog(t, t.TempDir(), opts)
	data := func(i uint64) []byte { return []byte(fmt.Sprintf("%03d-%0100d", i, i)) }
	next := uint64(1)
	// writeActive appends n entries to shard 1 and keeps only its last 5.
	writeActive := func(n int) {
		for range n {
			w := Write{Shard: 1, Entries: []Entry{{Index: next, Data: data(next)}}, Stable: []StableValue{sv("hs", fmt.Sprint(next))}}
			if next > 5 {
				w.DeleteBelow = next - 4
			}
			mustWrite(t, l, w)
			next++
		}
	}

	// One active shard keeping a short log: rotation deletes what it left behind.
	writeActive(100)
	st := l.Stats()
	g.Expect(st.SegmentsCreated).To(BeNumerically(">", 8))
	g.Expect(st.Segments).To(BeNumerically("<=", 3))
	g.Expect(st.SegmentsRemoved).To(Equal(st.SegmentsCreated - uint64(st.Segments)))
	g.Expect(segmentFiles(t, l.dir)).To(HaveLen(st.Segments))
	g.Expect(l.Pinning(1)).To(BeEmpty())

	// An idle shard with entries, and one with a stable value set once.
	mustWrite(t, l, Write{Shard: 3, Entries: ents(1, 2, "idle"), Stable: []StableValue{sv("hs", "idle")}},
		Write{Shard: 9, Stable: []StableValue{sv("only", "once")}})
	pinned := l.Stats().SegmentsCreated // the number of the segment shard 3's entries are in
	writeActive(100)
	st = l.Stats()
	files := segmentFiles(t, l.dir)
	g.Expect(files[0]).To(Equal(pinned), "the idle shard's segment stays, those before it go")
	g.Expect(files[len(files)-1]).To(Equal(st.SegmentsCreated))
	g.Expect(st.Segments).To(BeNumerically(">", 8))
	g.Expect(l.Pinning(2)).To(Equal([]int{3}))
	g.Expect(l.Pinning(st.Segments)).To(BeEmpty())
	g.Expect(l.Purge()).To(Equal(0), "nothing to purge while shard 3 pins")

	// Compacting the idle shard releases its segment.
	mustWrite(t, l, Write{Shard: 3, DeleteBelow: 3})
	g.Expect(l.Pinning(1)).To(BeEmpty())
	removed, err := l.Purge()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(removed).To(BeNumerically(">=", st.Segments-2))
	g.Expect(l.Stats().Segments).To(BeNumerically("<=", 2))
	g.Expect(segmentFiles(t, l.dir)).To(HaveLen(l.Stats().Segments))

	// Everything still needed is there, including stable values set only in
	// segments now gone (carried by checkpoints).
	l = reopen(t, l, opts)
	g.Expect(recoveredShards(l)).To(Equal([]int{1, 3, 9}))
	want := ents(next-5, next-1, "")
	for i := range want {
		want[i].Data = data(want[i].Index)
	}
	g.Expect(stateOf(t, l, 1)).To(Equal(ShardState{Entries: want, Compacted: next - 5,
		Stable: map[string][]byte{"hs": []byte(fmt.Sprint(next - 1))}}))
	g.Expect(stateOf(t, l, 3)).To(Equal(ShardState{Compacted: 3, Stable: map[string][]byte{"hs": []byte("idle")}}))
	g.Expect(stateOf(t, l, 9)).To(Equal(ShardState{Stable: map[string][]byte{"only": []byte("once")}}))

	// Deleting a shard releases what it pinned, at the next rotation.
	mustWrite(t, l, Write{Shard: 4, Entries: ents(1, 1, "gone")})
	writeActive(30)
	g.Expect(l.Pinning(1)).To(Equal([]int{4}))
	g.Expect(l.DeleteShard(4)).To(Succeed())
	writeActive(30)
	g.Expect(l.Stats().Segments).To(BeNumerically("<=", 3))
	l = reopen(t, l, opts)
	g.Expect(recoveredShards(l)).To(Equal([]int{1, 3, 9}))
}

func TestInvalidWritesWriteNothing(t *testing.T) {
	g := NewWithT(t)
	l := openLog(t, t.TempDir(), Options{NoSync: true})
	for _, ws := range [][]Write{
		{{Shard: -1, Entries: ents(1, 1, "a")}},
		{{Shard: 1, Entries: ents(1, 1, "a")}, {Shard: MetaShard + 1}},
		{{Shard: 1, Entries: append(ents(1, 2, "a"), ents(4, 4, "a")...)}},
		{{Shard: 1, Entries: []Entry{{Index: 2}, {Index: 1}}}},
	} {
		g.Expect(l.Write(ws)).To(MatchError(ErrInvalidArgument))
	}
	g.Expect(l.Stats().Records).To(BeZero())
	g.Expect(l.Write(nil)).To(Succeed())
	g.Expect(l.Stats().Records).To(BeZero())
}

func TestClosed(t *testing.T) {
	g := NewWithT(t)
	l := openLog(t, t.TempDir(), Options{})
	mustWrite(t, l, Write{Shard: 1, Entries: ents(1, 1, "a")})
	g.Expect(l.Close()).To(Succeed())
	g.Expect(l.Write([]Write{{Shard: 1}})).To(MatchError(ErrClosed))
	g.Expect(l.Sync()).To(MatchError(ErrClosed))
	g.Expect(l.DeleteShard(1)).To(MatchError(ErrClosed))
	_, err := l.Purge()
	g.Expect(err).To(MatchError(ErrClosed))
	g.Expect(l.Close()).To(MatchError(ErrClosed))
}

// TestWriteDoesNotWaitForSync holds a Sync inside its fdatasync and shows that
// Write goes on meanwhile, and that what it wrote is left for the next Sync.
func TestWriteDoesNotWaitForSync(t *testing.T) {
	g := NewWithT(t)
	l := openLog(t, t.TempDir(), Options{})
	entered, release := make(chan struct{}), make(chan struct{})
	syncHook = func() { entered <- struct{}{}; <-release }
	defer func() { syncHook = nil }()

	mustWrite(t, l, Write{Shard: 1, Entries: ents(1, 1, "a")})
	syncErr := make(chan error, 1)
	go func() { syncErr <- l.Sync() }()
	<-entered
	wrote := make(chan error, 1)
	go func() { wrote <- l.Write([]Write{{Shard: 1, Entries: ents(2, 2, "a")}}) }()
	select {
	case err := <-wrote:
		g.Expect(err).NotTo(HaveOccurred())
	case <-time.After(10 * time.Second):
		t.Fatal("Write waited for the Sync in flight")
	}
	close(release)
	g.Expect(<-syncErr).To(Succeed())
	g.Expect(l.Stats().Syncs).To(Equal(uint64(1)))

	syncHook = func() {}
	g.Expect(l.Sync()).To(Succeed())
	g.Expect(l.Stats().Syncs).To(Equal(uint64(2)), "the second Write was left for this Sync")
	g.Expect(l.Sync()).To(Succeed())
	g.Expect(l.Stats().Syncs).To(Equal(uint64(2)), "nothing new to sync")
}

// TestConcurrentWriteAndSync runs the Raft loop's pattern: one goroutine
// appends, another syncs, across rotations (a Sync may hold a segment that a
// rotation retires). Nothing is lost.
func TestConcurrentWriteAndSync(t *testing.T) {
	g := NewWithT(t)
	const shards, writes = 16, 1500
	opts := Options{SegmentSize: 64 << 10}
	l := openLog(t, t.TempDir(), opts)
	var written, synced atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			w := written.Load()
			if err := l.Sync(); err != nil {
				t.Errorf("sync: %v", err)
				return
			}
			synced.Store(w)
			select {
			case <-done:
				return
			default:
			}
		}
	}()
	for i := uint64(1); i <= writes; i++ {
		ws := make([]Write, shards)
		for s := range ws {
			ws[s] = Write{Shard: s, Entries: ents(i, i, fmt.Sprint(s)), Stable: []StableValue{sv("hs", fmt.Sprint(i))}}
			if i > 50 {
				ws[s].DeleteBelow = i - 49
			}
		}
		if err := l.Write(ws); err != nil {
			t.Fatal(err)
		}
		written.Store(i)
	}
	close(done)
	wg.Wait()
	g.Expect(synced.Load()).To(BeNumerically(">", 0))
	g.Expect(l.Stats().SegmentsRemoved).To(BeNumerically(">", 0))
	l = reopen(t, l, opts)
	for s := range shards {
		g.Expect(stateOf(t, l, s)).To(Equal(ShardState{Entries: ents(writes-49, writes, fmt.Sprint(s)), Compacted: writes - 49,
			Stable: map[string][]byte{"hs": []byte(fmt.Sprint(writes))}}), "shard %d", s)
	}
}

func TestLeftoverTemporarySegmentRemoved(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	l := openLog(t, dir, Options{NoSync: true})
	mustWrite(t, l, Write{Shard: 1, Entries: ents(1, 1, "a")})
	g.Expect(l.Close()).To(Succeed())
	tmp := filepath.Join(dir, "0000000000000002.log.tmp")
	g.Expect(os.WriteFile(tmp, []byte("half a segment"), 0o644)).To(Succeed())
	g.Expect(os.WriteFile(filepath.Join(dir, "README"), []byte("not ours"), 0o644)).To(Succeed())
	l = openLog(t, dir, Options{NoSync: true})
	_, err := os.Stat(tmp)
	g.Expect(errors.Is(err, os.ErrNotExist)).To(BeTrue())
	g.Expect(stateOf(t, l, 1)).To(HaveField("Entries", ents(1, 1, "a")))
}

// recoveredShards returns, ascending, the shards whose state Open recovered and no one
// released.
func recoveredShards(l *Log) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Sorted(maps.Keys(l.recovered))
}

// TestMetaShard checks the log's own stable values: kept across rotations that remove
// the segment they were written in, recovered on reopen, never deleted, and not counted
// as a shard's state.
func TestMetaShard(t *testing.T) {
	g := NewWithT(t)
	opts := Options{NoSync: true, SegmentSize: 1024}
	l := openLog(t, t.TempDir(), opts)
	g.Expect(l.HoldsShards()).To(BeFalse())
	mustWrite(t, l, Write{Shard: MetaShard, Stable: []StableValue{sv("identity", "n1/42")}})
	g.Expect(l.HoldsShards()).To(BeFalse(), "the log's own values are no shard's state")
	for i := uint64(1); i <= 100; i++ {
		mustWrite(t, l, Write{Shard: 1, Entries: []Entry{{Index: i, Data: []byte(fmt.Sprintf("%0100d", i))}}, DeleteBelow: i})
	}
	g.Expect(l.HoldsShards()).To(BeTrue())
	g.Expect(segmentFiles(t, l.dir)[0]).To(BeNumerically(">", 1), "the segment the value was written in is gone")
	g.Expect(l.DeleteShard(MetaShard)).To(MatchError(ErrInvalidArgument))

	l = reopen(t, l, opts)
	g.Expect(stateOf(t, l, MetaShard).Stable).To(Equal(map[string][]byte{"identity": []byte("n1/42")}))
	g.Expect(l.DeleteShard(1)).To(Succeed())
	g.Expect(l.HoldsShards()).To(BeFalse())
	l = reopen(t, l, opts)
	g.Expect(stateOf(t, l, MetaShard).Stable).To(Equal(map[string][]byte{"identity": []byte("n1/42")}))
}
