package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/internal/kv"
)

// pairs returns n pairs "<prefix>00000".."<prefix>n-1" with values "v<i>".
func pairs(prefix string, from, n int) []Pair {
	ps := make([]Pair, n)
	for i := range ps {
		ps[i] = Pair{Key: fmt.Appendf(nil, "%s%05d", prefix, from+i), Value: fmt.Appendf(nil, "v%d", from+i)}
	}
	return ps
}

// load applies a load to shard at appliedIndex in a batch of its own and returns its result.
func load(t testing.TB, e *Engine, shard int, ps []Pair, appliedIndex uint64) Result {
	t.Helper()
	res, err := e.ApplyShards([]ShardApply{{Shard: shard, Load: ps, AppliedIndex: appliedIndex}})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return res[0][0]
}

// recordLoads makes the test see each load's statistics.
func recordLoads(t *testing.T) *[]LoadStats {
	var seen []LoadStats
	loadHook = func(_ int, st LoadStats) { seen = append(seen, st) }
	t.Cleanup(func() { loadHook = nil })
	return &seen
}

// TestLoadWritesKeysAsPuts: a load's keys read back as puts would have written them (each its
// own revision, in order), the shard's statistics and applied index count them, a load that
// overlaps nothing goes below level 0, and it all survives a reopen.
func TestLoadWritesKeysAsPuts(t *testing.T) {
	g := NewWithT(t)
	seen := recordLoads(t)
	dir := t.TempDir()
	e := openEngine(t, dir, false)
	_, err := e.Apply(3, []Op{put("a", "1"), put("z", "2")}, ApplyOptions{AppliedIndex: 4})
	g.Expect(err).NotTo(HaveOccurred())

	ps := pairs("k", 0, 1000)
	g.Expect(load(t, e, 3, ps, 5)).To(Equal(Result{Revision: 1002}))
	g.Expect(*seen).To(HaveLen(1))
	g.Expect((*seen)[0]).To(And(
		HaveField("Keys", 1000), HaveField("New", 1000), HaveField("L0Bytes", uint64(0))),
		"the run overlaps no key the shard holds ('a' and 'z' in the memtable are outside it)")
	g.Expect((*seen)[0].Bytes).To(BeNumerically(">", 0))

	check := func(e *Engine) {
		for i, p := range ps {
			v, err := e.Get(3, p.Key)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(v).To(Equal(Value{Data: p.Value, Revision: uint64(3 + i)}))
		}
		st, err := e.ShardStats(3)
		g.Expect(err).NotTo(HaveOccurred())
		bytes := int64(2 + 2)
		for _, p := range ps {
			bytes += int64(len(p.Key) + len(p.Value))
		}
		g.Expect(st).To(Equal(ShardStats{Keys: 1002, Bytes: bytes, Revision: 1002, AppliedIndex: 5}))
		keys, more, err := e.List(3, nil, nil, 2000)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(more).To(BeFalse())
		g.Expect(keys).To(HaveLen(1002))
	}
	check(e)
	// The next write sees the loaded keys (the write cache forgot them as absent).
	res, err := e.Apply(3, []Op{withCond(put("k00007", "x"), kv.CondAbsent, 0)}, ApplyOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res[0].Err).To(MatchError(ErrConditionFailed))

	g.Expect(e.Close()).To(Succeed())
	e = openEngine(t, dir, false)
	check(e)
	entries, err := os.ReadDir(filepath.Join(dir, loadDir))
	if !errors.Is(err, os.ErrNotExist) {
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(entries).To(BeEmpty(), "the load's table was linked in and its name removed")
	}
}

// TestLoadOverKeysCountsThemOnce: a load whose keys the shard partly holds replaces them and
// counts only the new ones; Apply's statistics and a load's agree.
func TestLoadOverKeysCountsThemOnce(t *testing.T) {
	g := NewWithT(t)
	e, ref := openEngine(t, "", false), openEngine(t, "", false)
	var ops []Op
	for _, p := range pairs("k", 0, 50) {
		ops = append(ops, Op{Kind: OpPut, Key: p.Key, Value: []byte("old value")})
	}
	for _, x := range []*Engine{e, ref} {
		_, err := x.Apply(1, ops, ApplyOptions{AppliedIndex: 1})
		g.Expect(err).NotTo(HaveOccurred())
	}
	ps := pairs("k", 25, 100) // 25 held, 75 new
	load(t, e, 1, ps, 2)
	ops = ops[:0]
	for _, p := range ps {
		ops = append(ops, Op{Kind: OpPut, Key: p.Key, Value: p.Value})
	}
	_, err := ref.Apply(1, ops, ApplyOptions{AppliedIndex: 2})
	g.Expect(err).NotTo(HaveOccurred())

	st, err := e.ShardStats(1)
	g.Expect(err).NotTo(HaveOccurred())
	want, err := ref.ShardStats(1)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st).To(Equal(want))
	g.Expect(st.Keys).To(Equal(int64(125)))
	for _, p := range ps {
		v, err := e.Get(1, p.Key)
		g.Expect(err).NotTo(HaveOccurred())
		w, err := ref.Get(1, p.Key)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(v).To(Equal(w))
	}
}

// TestLoadReplayAfterLostMetadata: a load whose table went in but whose batch (the metadata)
// never committed, as after a crash between the two, applied again writes exactly what one
// load writes, counting the key the first try's table replaced once.
func TestLoadReplayAfterLostMetadata(t *testing.T) {
	g := NewWithT(t)
	e := openEngine(t, "", false)
	_, err := e.Apply(2, []Op{put("k00003", "before")}, ApplyOptions{AppliedIndex: 7})
	g.Expect(err).NotTo(HaveOccurred())
	ps := pairs("k", 0, 10)

	b, err := e.NewBatch()
	g.Expect(err).NotTo(HaveOccurred())
	_, err = b.apply(ShardApply{Shard: 2, Load: ps, AppliedIndex: 8})
	g.Expect(err).NotTo(HaveOccurred())
	b.Close() // the crash: the table is in, the metadata is not
	st, err := e.ShardStats(2)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st).To(Equal(ShardStats{Keys: 1, Bytes: 12, Revision: 1, AppliedIndex: 7}))
	v, err := e.Get(2, []byte("k00003"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(v.Data)).To(Equal("v3"), "the first try's table is in")

	g.Expect(load(t, e, 2, ps, 8)).To(Equal(Result{Revision: 11}))
	st, err = e.ShardStats(2)
	g.Expect(err).NotTo(HaveOccurred())
	bytes := int64(0)
	for _, p := range ps {
		bytes += int64(len(p.Key) + len(p.Value))
	}
	g.Expect(st).To(Equal(ShardStats{Keys: 10, Bytes: bytes, Revision: 11, AppliedIndex: 8}))
	for i, p := range ps {
		v, err := e.Get(2, p.Key)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(v).To(Equal(Value{Data: p.Value, Revision: uint64(2 + i)}))
	}
}

// TestLoadRefusesBadRuns: keys out of order, repeated, none, or a load with ops are refused
// and write nothing.
func TestLoadRefusesBadRuns(t *testing.T) {
	g := NewWithT(t)
	e := openEngine(t, "", false)
	for name, s := range map[string]ShardApply{
		"out of order":     {Shard: 1, AppliedIndex: 1, Load: []Pair{{Key: []byte("b")}, {Key: []byte("a")}}},
		"repeated":         {Shard: 1, AppliedIndex: 1, Load: []Pair{{Key: []byte("a")}, {Key: []byte("a")}}},
		"empty":            {Shard: 1, AppliedIndex: 1, Load: []Pair{}},
		"with ops":         {Shard: 1, AppliedIndex: 1, Load: []Pair{{Key: []byte("a")}}, Ops: []Op{put("x", "1")}},
		"bad shard":        {Shard: MaxShard + 1, AppliedIndex: 1, Load: []Pair{{Key: []byte("a")}}},
		"no applied index": {Shard: 1, Load: []Pair{{Key: []byte("a")}}},
	} {
		_, err := e.ApplyShards([]ShardApply{s})
		g.Expect(errors.Is(err, ErrInvalidArgument)).To(BeTrue(), "%s: %v", name, err)
	}
	st, err := e.ShardStats(1)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st).To(Equal(ShardStats{}))
	keys, _, err := e.List(1, nil, nil, 10)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(keys).To(BeEmpty())
}

// TestLoadIsInSnapshots: a shard's snapshot holds its loaded keys.
func TestLoadIsInSnapshots(t *testing.T) {
	g := NewWithT(t)
	e, other := openEngine(t, "", false), openEngine(t, "", false)
	ps := pairs("k", 0, 300)
	load(t, e, 4, ps, 9)
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(e.SnapshotShard(4, pw)) }()
	g.Expect(other.RestoreShard(4, pr)).To(Succeed())
	for _, p := range ps {
		v, err := other.Get(4, p.Key)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(v.Data).To(Equal(p.Value))
	}
	st, err := other.ShardStats(4)
	g.Expect(err).NotTo(HaveOccurred())
	want, err := e.ShardStats(4)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st).To(Equal(want))
}
