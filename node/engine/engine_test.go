package engine

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/internal/kv"
)

// openEngine opens an engine in dir (a fresh temp dir if empty) and closes it
// at the end of the test.
func openEngine(t testing.TB, dir string, noSync bool) *Engine {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	e, err := Open(dir, Options{NoSync: noSync})
	if err != nil {
		t.Fatalf("open engine: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("close engine: %v", err)
		}
	})
	return e
}

func put(key, value string) Op {
	return Op{Kind: OpPut, Key: []byte(key), Value: []byte(value)}
}

func del(key string) Op { return Op{Kind: OpDelete, Key: []byte(key)} }

func withCond(op Op, kind kv.CondKind, rev uint64) Op {
	op.Cond = kv.Precondition{Kind: kind, Revision: rev}
	return op
}

// apply1 applies one op synced and returns its result.
func apply1(t testing.TB, e *Engine, shard int, op Op) Result {
	t.Helper()
	res, err := e.Apply(shard, []Op{op}, ApplyOptions{Sync: true})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return res[0]
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	key1024 := make([]byte, 1024)
	for i := range key1024 {
		key1024[i] = byte(i)
	}
	tests := []struct {
		name       string
		key, value []byte
	}{
		{"ascii", []byte("a"), []byte("1")},
		{"empty value", []byte("empty"), []byte{}},
		{"binary key and value", []byte{0x00, 0xff, 0x00, '/', 0xfe}, []byte{0, 1, 2, 0xff, 0}},
		{"unicode, spaces, slashes, colons", []byte("ключ/🔑 with space:colon"), []byte("значение ✓")},
		{"all 0xff key", []byte{0xff, 0xff, 0xff}, []byte("ff")},
		{"1024-byte key", key1024, []byte("long key")},
		{"1 MiB value", []byte("big"), randomBytes(1, 1<<20)},
	}
	e := openEngine(t, "", false)
	var rev uint64
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			const shard = 7
			res := apply1(t, e, shard, Op{Kind: OpPut, Key: tt.key, Value: tt.value})
			g.Expect(res.Err).NotTo(HaveOccurred())
			g.Expect(res.Revision).To(Equal(rev + 1))
			rev = res.Revision

			v, err := e.Get(shard, tt.key)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(bytes.Equal(v.Data, tt.value)).To(BeTrue(), "value differs")
			g.Expect(v.Revision).To(Equal(rev))

			// The returned data is the caller's: scribbling on it changes nothing stored.
			if len(v.Data) > 0 {
				v.Data[0] ^= 0xff
				v2, err := e.Get(shard, tt.key)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(bytes.Equal(v2.Data, tt.value)).To(BeTrue(), "stored value changed through returned slice")
			}

			res = apply1(t, e, shard, Op{Kind: OpDelete, Key: tt.key})
			g.Expect(res.Err).NotTo(HaveOccurred())
			g.Expect(res.Revision).To(Equal(rev + 1))
			rev = res.Revision

			_, err = e.Get(shard, tt.key)
			g.Expect(err).To(MatchError(ErrNotFound))
			res = apply1(t, e, shard, Op{Kind: OpDelete, Key: tt.key})
			g.Expect(res.Err).To(MatchError(ErrNotFound))
			g.Expect(res.Revision).To(BeZero())
		})
	}
}

func TestRevisionsPerShardSurviveReopen(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	e, err := Open(dir, Options{})
	g.Expect(err).NotTo(HaveOccurred())

	steps := []struct {
		shard   int
		op      Op
		wantRev uint64
		wantErr error
	}{
		{1, put("a", "1"), 1, nil},
		{1, put("b", "2"), 2, nil},
		{2, put("a", "x"), 1, nil},
		{1, put("a", "3"), 3, nil},
		{1, del("b"), 4, nil},
		{1, del("b"), 0, ErrNotFound}, // takes no revision
		{1, withCond(put("a", "4"), kv.CondAbsent, 0), 0, ErrConditionFailed}, // takes no revision
		{2, del("a"), 2, nil},
		{1, put("c", "5"), 5, nil},
	}
	for i, s := range steps {
		res := apply1(t, e, s.shard, s.op)
		g.Expect(res.Revision).To(Equal(s.wantRev), "step %d", i)
		if s.wantErr == nil {
			g.Expect(res.Err).NotTo(HaveOccurred(), "step %d", i)
		} else {
			g.Expect(res.Err).To(MatchError(s.wantErr), "step %d", i)
		}
	}
	g.Expect(e.Close()).To(Succeed())

	e, err = Open(dir, Options{})
	g.Expect(err).NotTo(HaveOccurred())
	defer e.Close()
	st, err := e.ShardStats(1)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st).To(Equal(ShardStats{Keys: 2, Bytes: 4, Revision: 5}))
	st, err = e.ShardStats(2)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st).To(Equal(ShardStats{Keys: 0, Bytes: 0, Revision: 2}))

	g.Expect(apply1(t, e, 1, put("d", "6")).Revision).To(Equal(uint64(6)))
	g.Expect(apply1(t, e, 2, put("a", "7")).Revision).To(Equal(uint64(3)))
	v, err := e.Get(1, []byte("a"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(v).To(Equal(Value{Data: []byte("3"), Revision: 3}))
}

func TestShardIsolation(t *testing.T) {
	g := NewWithT(t)
	e := openEngine(t, "", true)
	for _, shard := range []int{0, 2, 3, MaxShard} {
		g.Expect(apply1(t, e, shard, put("k", fmt.Sprint("v", shard))).Err).NotTo(HaveOccurred())
	}
	g.Expect(apply1(t, e, 2, del("k")).Err).NotTo(HaveOccurred())

	_, err := e.Get(2, []byte("k"))
	g.Expect(err).To(MatchError(ErrNotFound))
	for _, shard := range []int{0, 3, MaxShard} {
		v, err := e.Get(shard, []byte("k"))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(string(v.Data)).To(Equal(fmt.Sprint("v", shard)))
		g.Expect(v.Revision).To(Equal(uint64(1)))
	}
	_, err = e.Get(1, []byte("k"))
	g.Expect(err).To(MatchError(ErrNotFound))
}

func TestConditions(t *testing.T) {
	// Each case runs on a fresh shard where key "k" exists at revision 1
	// (exists) or has never existed.
	tests := []struct {
		name    string
		exists  bool
		op      Op
		wantErr error
	}{
		{"put none on absent", false, put("k", "v"), nil},
		{"put none on existing", true, put("k", "v"), nil},
		{"put revision match", true, withCond(put("k", "v"), kv.CondRevision, 1), nil},
		{"put revision mismatch", true, withCond(put("k", "v"), kv.CondRevision, 2), ErrConditionFailed},
		{"put revision on absent", false, withCond(put("k", "v"), kv.CondRevision, 1), ErrConditionFailed},
		{"put revision 0 on absent", false, withCond(put("k", "v"), kv.CondRevision, 0), ErrConditionFailed},
		{"put exists on existing", true, withCond(put("k", "v"), kv.CondExists, 0), nil},
		{"put exists on absent", false, withCond(put("k", "v"), kv.CondExists, 0), ErrConditionFailed},
		{"put absent on absent", false, withCond(put("k", "v"), kv.CondAbsent, 0), nil},
		{"put absent on existing", true, withCond(put("k", "v"), kv.CondAbsent, 0), ErrConditionFailed},
		{"delete none on absent", false, del("k"), ErrNotFound},
		{"delete revision match", true, withCond(del("k"), kv.CondRevision, 1), nil},
		{"delete revision mismatch", true, withCond(del("k"), kv.CondRevision, 7), ErrConditionFailed},
		{"delete revision on absent", false, withCond(del("k"), kv.CondRevision, 1), ErrConditionFailed},
		{"delete exists on existing", true, withCond(del("k"), kv.CondExists, 0), nil},
		{"delete exists on absent", false, withCond(del("k"), kv.CondExists, 0), ErrConditionFailed},
		{"delete absent on existing", true, withCond(del("k"), kv.CondAbsent, 0), ErrConditionFailed},
		{"delete absent on absent", false, withCond(del("k"), kv.CondAbsent, 0), ErrNotFound},
	}
	e := openEngine(t, "", true)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			shard := 100 + i
			if tt.exists {
				g.Expect(apply1(t, e, shard, put("k", "old")).Revision).To(Equal(uint64(1)))
			}
			before, err := e.ShardStats(shard)
			g.Expect(err).NotTo(HaveOccurred())
			res := apply1(t, e, shard, tt.op)
			after, err := e.ShardStats(shard)
			g.Expect(err).NotTo(HaveOccurred())
			if tt.wantErr != nil {
				g.Expect(res.Err).To(MatchError(tt.wantErr))
				g.Expect(res.Revision).To(BeZero())
				g.Expect(after).To(Equal(before), "a failed op changed the shard")
				return
			}
			g.Expect(res.Err).NotTo(HaveOccurred())
			g.Expect(res.Revision).To(Equal(before.Revision + 1))
			v, err := e.Get(shard, []byte("k"))
			if tt.op.Kind == OpDelete {
				g.Expect(err).To(MatchError(ErrNotFound))
			} else {
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(v).To(Equal(Value{Data: []byte("v"), Revision: res.Revision}))
			}
		})
	}
}

func TestApplyBatchSeesEarlierOps(t *testing.T) {
	g := NewWithT(t)
	e := openEngine(t, "", true)
	const shard = 9
	g.Expect(apply1(t, e, shard, put("x", "0")).Revision).To(Equal(uint64(1)))

	ops := []Op{
		withCond(put("k", "1"), kv.CondAbsent, 0),   // rev 2
		withCond(put("k", "2"), kv.CondRevision, 2), // sees the put above: rev 3
		withCond(put("k", "3"), kv.CondRevision, 2), // stale: fails
		withCond(del("k"), kv.CondRevision, 3),      // rev 4
		withCond(put("k", "4"), kv.CondExists, 0),   // deleted above: fails
		del("k"), // deleted above: not found
		withCond(put("k", "5"), kv.CondAbsent, 0),   // rev 5
		withCond(put("x", "6"), kv.CondRevision, 1), // rev 6
		{Kind: OpPut, Key: []byte("y"), Value: nil}, // rev 7
	}
	res, err := e.Apply(shard, ops, ApplyOptions{Sync: true, AppliedIndex: 42})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res).To(Equal([]Result{
		{Revision: 2}, {Revision: 3}, {Err: ErrConditionFailed}, {Revision: 4},
		{Err: ErrConditionFailed}, {Err: ErrNotFound}, {Revision: 5}, {Revision: 6}, {Revision: 7},
	}))
	v, err := e.Get(shard, []byte("k"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(v).To(Equal(Value{Data: []byte("5"), Revision: 5}))
	st, err := e.ShardStats(shard)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st).To(Equal(ShardStats{Keys: 3, Bytes: 2 + 2 + 1, Revision: 7, AppliedIndex: 42}))

	// An all-failing call still records its applied index, and takes no revision.
	res, err = e.Apply(shard, []Op{del("nope")}, ApplyOptions{AppliedIndex: 43})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res[0].Err).To(MatchError(ErrNotFound))
	st, err = e.ShardStats(shard)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st).To(Equal(ShardStats{Keys: 3, Bytes: 5, Revision: 7, AppliedIndex: 43}))

	// An empty call writes nothing.
	res, err = e.Apply(shard, nil, ApplyOptions{Sync: true})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res).To(BeEmpty())
}

func TestStatsExact(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	e, err := Open(dir, Options{NoSync: true})
	g.Expect(err).NotTo(HaveOccurred())
	const shard = 3
	big := string(randomBytes(2, 1<<20))
	steps := []struct {
		op        Op
		wantKeys  int64
		wantBytes int64
	}{
		{put("a", "12345"), 1, 6},
		{put("bb", "xyz"), 2, 11},
		{put("a", "1"), 2, 7}, // overwrite shrinks
		{put("bb", ""), 2, 4}, // empty value
		{put("big", big), 3, 4 + 3 + 1<<20},
		{del("big"), 2, 4},
		{del("missing"), 2, 4}, // fails: no change
		{put("ключ", "ü"), 3, 4 + int64(len("ключ")) + 2},
		{del("a"), 2, 2 + int64(len("ключ")) + 2},
	}
	for i, s := range steps {
		apply1(t, e, shard, s.op)
		st, err := e.ShardStats(shard)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(st.Keys).To(Equal(s.wantKeys), "step %d keys", i)
		g.Expect(st.Bytes).To(Equal(s.wantBytes), "step %d bytes", i)
	}
	want, err := e.ShardStats(shard)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(e.Close()).To(Succeed())

	e, err = Open(dir, Options{})
	g.Expect(err).NotTo(HaveOccurred())
	defer e.Close()
	got, err := e.ShardStats(shard)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(Equal(want))
	got, err = e.ShardStats(shard + 1)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(BeZero())
}

func TestList(t *testing.T) {
	e := openEngine(t, "", true)
	keys := []string{"", "a", "a/1", "a/2", "a/3", "ab", "b", "\xff", "\xff\xff", "\xff\xff\x00", "\xff\xff\xff"}
	// Neighboring shards hold keys that sort around shard 3's.
	for _, shard := range []int{0, 2, 3, 4, MaxShard} {
		ops := make([]Op, 0, len(keys))
		for _, k := range keys {
			ops = append(ops, put(k, fmt.Sprint(shard)))
		}
		if shard != 3 {
			ops = append(ops, put(fmt.Sprintf("only-%d", shard), "x"), put("\x00", "x"), put("\xff\xff\xff\xff", "x"))
		}
		if _, err := e.Apply(shard, ops, ApplyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	strs := func(ks ...string) []string { return ks }
	tests := []struct {
		name          string
		shard         int
		prefix, after string
		limit         int
		want          []string
		more          bool
	}{
		{"all", 3, "", "", 100, keys, false},
		{"limit exact", 3, "", "", len(keys), keys, false},
		{"limit", 3, "", "", 3, strs("", "a", "a/1"), true},
		{"after", 3, "", "a/1", 2, strs("a/2", "a/3"), true},
		{"after last", 3, "", "\xff\xff\xff", 10, nil, false},
		{"after beyond", 3, "", "\xff\xff\xff\xff", 10, nil, false},
		{"prefix", 3, "a/", "", 10, strs("a/1", "a/2", "a/3"), false},
		{"prefix limit more", 3, "a/", "", 2, strs("a/1", "a/2"), true},
		{"prefix after", 3, "a/", "a/1", 10, strs("a/2", "a/3"), false},
		{"prefix after below prefix", 3, "a/", "0", 10, strs("a/1", "a/2", "a/3"), false},
		{"prefix after above prefix", 3, "a/", "b", 10, nil, false},
		{"prefix matches key itself", 3, "a", "", 10, strs("a", "a/1", "a/2", "a/3", "ab"), false},
		{"prefix ff", 3, "\xff", "", 10, strs("\xff", "\xff\xff", "\xff\xff\x00", "\xff\xff\xff"), false},
		{"prefix ffff", 3, "\xff\xff", "", 10, strs("\xff\xff", "\xff\xff\x00", "\xff\xff\xff"), false},
		{"prefix ffffff", 3, "\xff\xff\xff", "", 10, strs("\xff\xff\xff"), false},
		{"prefix ffffffff", 3, "\xff\xff\xff\xff", "", 10, nil, false},
		{"prefix ff after", 3, "\xff", "\xff\xff", 1, strs("\xff\xff\x00"), true},
		{"no match", 3, "zzz", "", 10, nil, false},
		{"empty shard", 1, "", "", 10, nil, false},
		{"max shard ff", MaxShard, "\xff\xff\xff", "", 10, strs("\xff\xff\xff", "\xff\xff\xff\xff"), false},
		{"shard 0 prefix 00", 0, "\x00", "", 10, strs("\x00"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			got, more, err := e.List(tt.shard, []byte(tt.prefix), []byte(tt.after), tt.limit)
			g.Expect(err).NotTo(HaveOccurred())
			gotStrs := make([]string, 0, len(got))
			for _, k := range got {
				gotStrs = append(gotStrs, string(k))
			}
			if tt.want == nil {
				tt.want = []string{}
			}
			g.Expect(gotStrs).To(Equal(tt.want))
			g.Expect(more).To(Equal(tt.more))
		})
	}

	t.Run("paging visits every key once", func(t *testing.T) {
		g := NewWithT(t)
		var all []string
		var after []byte
		for page := 0; ; page++ {
			g.Expect(page).To(BeNumerically("<", 100))
			got, more, err := e.List(3, nil, after, 2)
			g.Expect(err).NotTo(HaveOccurred())
			for _, k := range got {
				all = append(all, string(k))
			}
			if !more {
				break
			}
			after = got[len(got)-1]
		}
		// The empty key is reachable only from the start (after empty = from the first key).
		g.Expect(all).To(Equal(keys))
	})
}

func TestShardsAndDeleteShard(t *testing.T) {
	g := NewWithT(t)
	e := openEngine(t, "", true)
	shards, err := e.Shards()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(shards).To(BeEmpty())

	for _, shard := range []int{MaxShard, 5, 0, 6, 7} {
		for i := range 10 {
			apply1(t, e, shard, put(fmt.Sprint("k", i), "v"))
		}
	}
	// A shard with only metadata (an applied index) counts too.
	_, err = e.Apply(9, []Op{del("x")}, ApplyOptions{AppliedIndex: 3})
	g.Expect(err).NotTo(HaveOccurred())
	shards, err = e.Shards()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(shards).To(Equal([]int{0, 5, 6, 7, 9, MaxShard}))

	g.Expect(e.DeleteShard(6)).To(Succeed())
	g.Expect(e.DeleteShard(MaxShard)).To(Succeed())
	g.Expect(e.DeleteShard(1)).To(Succeed()) // no data: fine
	shards, err = e.Shards()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(shards).To(Equal([]int{0, 5, 7, 9}))

	for _, shard := range []int{6, MaxShard} {
		_, err = e.Get(shard, []byte("k1"))
		g.Expect(err).To(MatchError(ErrNotFound))
		keys, _, err := e.List(shard, nil, nil, 10)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(keys).To(BeEmpty())
		st, err := e.ShardStats(shard)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(st).To(BeZero())
	}
	for _, shard := range []int{5, 7} {
		keys, _, err := e.List(shard, nil, nil, 100)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(keys).To(HaveLen(10))
		st, err := e.ShardStats(shard)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(st).To(Equal(ShardStats{Keys: 10, Bytes: 30, Revision: 10}))
	}
	// A deleted shard starts again from revision 1.
	g.Expect(apply1(t, e, 6, put("k", "v")).Revision).To(Equal(uint64(1)))
}

func TestInvalidArguments(t *testing.T) {
	e := openEngine(t, "", true)
	tests := []struct {
		name string
		call func() error
	}{
		{"get negative shard", func() error { _, err := e.Get(-1, []byte("k")); return err }},
		{"get shard too large", func() error { _, err := e.Get(MaxShard+1, []byte("k")); return err }},
		{"apply bad shard", func() error { _, err := e.Apply(MaxShard+1, []Op{put("k", "v")}, ApplyOptions{}); return err }},
		{"apply zero op kind", func() error {
			_, err := e.Apply(1, []Op{put("k", "v"), {Key: []byte("k")}}, ApplyOptions{})
			return err
		}},
		{"apply bad cond kind", func() error {
			_, err := e.Apply(1, []Op{withCond(put("k", "v"), kv.CondAbsent+1, 0)}, ApplyOptions{})
			return err
		}},
		{"list zero limit", func() error { _, _, err := e.List(1, nil, nil, 0); return err }},
		{"list bad shard", func() error { _, _, err := e.List(-1, nil, nil, 1); return err }},
		{"stats bad shard", func() error { _, err := e.ShardStats(5000); return err }},
		{"delete bad shard", func() error { return e.DeleteShard(5000) }},
		{"snapshot bad shard", func() error { return e.SnapshotShard(5000, &bytes.Buffer{}) }},
		{"restore bad shard", func() error { return e.RestoreShard(5000, &bytes.Buffer{}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			NewWithT(t).Expect(tt.call()).To(MatchError(ErrInvalidArgument))
		})
	}
	// Nothing was applied by the refused calls.
	NewWithT(t).Expect(e.Shards()).To(BeEmpty())
}

func TestClosed(t *testing.T) {
	g := NewWithT(t)
	e, err := Open(t.TempDir(), Options{})
	g.Expect(err).NotTo(HaveOccurred())
	apply1(t, e, 1, put("k", "v"))
	g.Expect(e.Close()).To(Succeed())
	g.Expect(e.Close()).To(Succeed())

	_, err = e.Get(1, []byte("k"))
	g.Expect(err).To(MatchError(ErrClosed))
	_, err = e.Apply(1, []Op{put("k", "v")}, ApplyOptions{})
	g.Expect(err).To(MatchError(ErrClosed))
	_, _, err = e.List(1, nil, nil, 1)
	g.Expect(err).To(MatchError(ErrClosed))
	_, err = e.ShardStats(1)
	g.Expect(err).To(MatchError(ErrClosed))
	_, err = e.Shards()
	g.Expect(err).To(MatchError(ErrClosed))
	g.Expect(e.DeleteShard(1)).To(MatchError(ErrClosed))
	g.Expect(e.SnapshotShard(1, &bytes.Buffer{})).To(MatchError(ErrClosed))
	g.Expect(e.RestoreShard(1, &bytes.Buffer{})).To(MatchError(ErrClosed))
}

func TestConcurrentShards(t *testing.T) {
	g := NewWithT(t)
	e := openEngine(t, "", false)
	const shards, perShard = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, shards)
	for s := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perShard {
				res, err := e.Apply(s, []Op{put(fmt.Sprint("k", i%10), strings.Repeat("v", i))}, ApplyOptions{Sync: true})
				if err == nil && res[0].Revision != uint64(i+1) {
					err = fmt.Errorf("shard %d op %d: revision %d", s, i, res[0].Revision)
				}
				if err != nil {
					errs <- err
					return
				}
				// Readers run alongside the writers.
				if _, err := e.Get(s, []byte(fmt.Sprint("k", i%10))); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for s := range shards {
		st, err := e.ShardStats(s)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(st.Revision).To(Equal(uint64(perShard)))
		g.Expect(st.Keys).To(Equal(int64(10)))
	}
}

func TestGetErrorsWrapNotFound(t *testing.T) {
	e := openEngine(t, "", true)
	_, err := e.Get(0, []byte("missing"))
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
}
