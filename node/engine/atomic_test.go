package engine

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/internal/kv"
)

func check(key string, kind kv.CondKind, rev uint64) Op {
	return withCond(Op{Kind: OpCheck, Key: []byte(key)}, kind, rev)
}

// applyUnit is Span's specification: ops applied in order to a copy of m, kept only if
// none failed; else the failed op's error and ErrAborted for every other op.
func (m *modelShard) applyUnit(ops []Op) []Result {
	c := m.clone()
	res := make([]Result, len(ops))
	for i, op := range ops {
		res[i] = c.apply(op)
		if res[i].Err != nil {
			for j := range res {
				if j != i {
					res[j] = Result{Err: ErrAborted}
				}
			}
			return res
		}
	}
	*m = *c
	return res
}

// shardState is everything a shard shows: its statistics and every key's value.
type shardState struct {
	stats ShardStats
	keys  map[string]Value
}

func stateOf(g *WithT, e *Engine, shard int) shardState {
	st, err := e.ShardStats(shard)
	g.Expect(err).NotTo(HaveOccurred())
	keys, _, err := e.List(shard, nil, nil, 1000)
	g.Expect(err).NotTo(HaveOccurred())
	s := shardState{stats: st, keys: map[string]Value{}}
	for _, k := range keys {
		v, err := e.Get(shard, k)
		g.Expect(err).NotTo(HaveOccurred())
		s.keys[string(k)] = v
	}
	return s
}

// cacheState is what the shard's write cache holds.
type cacheState struct {
	meta     meta
	metaOK   bool
	keys     map[string]keyState
	complete bool
}

func cacheOf(e *Engine, shard int) cacheState {
	c := e.cache(shard)
	c.mu.Lock()
	defer c.mu.Unlock()
	return cacheState{meta: c.meta, metaOK: c.metaOK, keys: maps.Clone(c.keys), complete: c.complete}
}

// TestAtomicApply: an atomic call over a shard holding a (revision 1) and b (revision 2)
// applies all its ops or none; an aborted one names the op that failed, marks the others
// ErrAborted, and leaves values, revisions, statistics and the write cache exactly as they
// were; checks see the earlier ops of the call.
func TestAtomicApply(t *testing.T) {
	tests := []struct {
		name string
		ops  []Op
		want []Result
		// after is the shard's keys once the call committed (nil: aborted, unchanged).
		after map[string]Value
	}{
		{"puts, a delete and checks commit together",
			[]Op{put("c", "3"), del("b"), check("a", kv.CondRevision, 1), check("b", kv.CondAbsent, 0)},
			[]Result{{Revision: 3}, {Revision: 4}, {Revision: 1}, {}},
			map[string]Value{"a": {Data: []byte("1"), Revision: 1}, "c": {Data: []byte("3"), Revision: 3}}},
		{"a check without condition reports the revision",
			[]Op{check("b", kv.CondNone, 0), check("nope", kv.CondNone, 0)},
			[]Result{{Revision: 2}, {}},
			map[string]Value{"a": {Data: []byte("1"), Revision: 1}, "b": {Data: []byte("2"), Revision: 2}}},
		{"a check sees an earlier put of the call",
			[]Op{put("a", "x"), check("a", kv.CondRevision, 3), withCond(put("d", "4"), kv.CondAbsent, 0)},
			[]Result{{Revision: 3}, {Revision: 3}, {Revision: 4}},
			map[string]Value{"a": {Data: []byte("x"), Revision: 3}, "b": {Data: []byte("2"), Revision: 2},
				"d": {Data: []byte("4"), Revision: 4}}},
		{"a failed check aborts the writes before and after it",
			[]Op{put("c", "3"), del("a"), check("b", kv.CondRevision, 1), put("d", "4")},
			[]Result{{Err: ErrAborted}, {Err: ErrAborted}, {Err: ErrConditionFailed}, {Err: ErrAborted}}, nil},
		{"a check fails on an earlier delete of the call",
			[]Op{del("a"), check("a", kv.CondExists, 0)},
			[]Result{{Err: ErrAborted}, {Err: ErrConditionFailed}}, nil},
		{"a delete of a missing key aborts",
			[]Op{put("a", "x"), del("missing"), put("b", "y")},
			[]Result{{Err: ErrAborted}, {Err: ErrNotFound}, {Err: ErrAborted}}, nil},
		{"a failed put condition aborts",
			[]Op{put("c", "3"), withCond(put("a", "x"), kv.CondAbsent, 0)},
			[]Result{{Err: ErrAborted}, {Err: ErrConditionFailed}}, nil},
		{"the first failure is the reason",
			[]Op{check("a", kv.CondAbsent, 0), del("missing")},
			[]Result{{Err: ErrConditionFailed}, {Err: ErrAborted}}, nil},
		{"a put replaced in the call then checked by its first revision fails",
			[]Op{put("c", "1"), put("c", "2"), check("c", kv.CondRevision, 3)},
			[]Result{{Err: ErrAborted}, {Err: ErrAborted}, {Err: ErrConditionFailed}}, nil},
	}
	e := openEngine(t, "", false)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			shard := 100 + i
			_, err := e.Apply(shard, []Op{put("a", "1"), put("b", "2")}, ApplyOptions{})
			g.Expect(err).NotTo(HaveOccurred())
			before, cached := stateOf(g, e, shard), cacheOf(e, shard)

			got, err := e.Apply(shard, tt.ops, ApplyOptions{Atomic: true, Sync: true})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tt.want))
			after := stateOf(g, e, shard)
			if tt.after == nil {
				g.Expect(after).To(Equal(before), "an aborted call leaves no trace in the store")
				g.Expect(cacheOf(e, shard)).To(Equal(cached), "nor in the write cache")
				return
			}
			g.Expect(after.keys).To(Equal(tt.after))
			keys, size := int64(0), int64(0)
			for k, v := range tt.after {
				keys, size = keys+1, size+int64(len(k)+len(v.Data))
			}
			g.Expect(after.stats).To(Equal(ShardStats{Keys: keys, Bytes: size, Revision: before.stats.Revision + uint64(writes(tt.ops))}))
		})
	}
}

// writes counts the puts and deletes among ops.
func writes(ops []Op) int {
	n := 0
	for _, op := range ops {
		if op.Kind != OpCheck {
			n++
		}
	}
	return n
}

// TestAbortedCallStillRecordsItsAppliedIndex: the applied index moves with an aborted call
// (its log entry is applied, as an aborted transaction), nothing else does; what a later
// call reads of the keys the aborted one touched is the store's state, not the aborted one's.
func TestAbortedCallStillRecordsItsAppliedIndex(t *testing.T) {
	g := NewWithT(t)
	e := openEngine(t, "", true)
	const shard = 3
	_, err := e.Apply(shard, []Op{put("a", "1")}, ApplyOptions{AppliedIndex: 1})
	g.Expect(err).NotTo(HaveOccurred())
	res, err := e.Apply(shard, []Op{put("new", "x"), put("a", "2"), check("a", kv.CondRevision, 1)},
		ApplyOptions{Atomic: true, AppliedIndex: 2})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res).To(Equal([]Result{{Err: ErrAborted}, {Err: ErrAborted}, {Err: ErrConditionFailed}}))
	st, err := e.ShardStats(shard)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st).To(Equal(ShardStats{Keys: 1, Bytes: 2, Revision: 1, AppliedIndex: 2}))

	res, err = e.Apply(shard, []Op{withCond(put("new", "y"), kv.CondAbsent, 0), withCond(put("a", "3"), kv.CondRevision, 1)}, ApplyOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res).To(Equal([]Result{{Revision: 2}, {Revision: 3}}))
}

// TestApplyShardsWithAtomicUnits: in one ApplyShards call, each shard's spans apply
// all-or-nothing while the ops outside them apply one by one, and ops after an aborted
// span see the state from before it.
func TestApplyShardsWithAtomicUnits(t *testing.T) {
	g := NewWithT(t)
	e := openEngine(t, "", false)
	res, err := e.ApplyShards([]ShardApply{
		{Shard: 1, AppliedIndex: 5, Ops: []Op{
			put("a", "1"),
			put("b", "1"), check("a", kv.CondAbsent, 0), // aborted
			withCond(put("b", "2"), kv.CondAbsent, 0), // sees b absent: the span wrote nothing
			put("c", "1"), check("b", kv.CondRevision, 2), // committed
			del("missing"),
		}, Atomic: []Span{{1, 3}, {4, 6}}},
		{Shard: 2, AppliedIndex: 7, Ops: []Op{del("x"), put("y", "1")}, Atomic: []Span{{0, 2}}},
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res).To(Equal([][]Result{
		{{Revision: 1}, {Err: ErrAborted}, {Err: ErrConditionFailed}, {Revision: 2}, {Revision: 3}, {Revision: 2}, {Err: ErrNotFound}},
		{{Err: ErrNotFound}, {Err: ErrAborted}},
	}))
	g.Expect(stateOf(g, e, 1)).To(Equal(shardState{
		stats: ShardStats{Keys: 3, Bytes: 6, Revision: 3, AppliedIndex: 5},
		keys: map[string]Value{"a": {Data: []byte("1"), Revision: 1}, "b": {Data: []byte("2"), Revision: 2},
			"c": {Data: []byte("1"), Revision: 3}},
	}))
	g.Expect(stateOf(g, e, 2)).To(Equal(shardState{stats: ShardStats{AppliedIndex: 7}, keys: map[string]Value{}}))
}

// TestApplyRefusesBadOpsAndSpans: an unknown op kind or a span that is empty, overlaps,
// is out of order or out of range fails the call with ErrInvalidArgument, writing nothing.
func TestApplyRefusesBadOpsAndSpans(t *testing.T) {
	three := []Op{put("a", "1"), put("b", "1"), put("c", "1")}
	tests := []struct {
		name  string
		ops   []Op
		spans []Span
	}{
		{"unknown op kind", []Op{{Kind: OpCheck + 1, Key: []byte("a")}}, nil},
		{"empty span", three, []Span{{1, 1}}},
		{"reversed span", three, []Span{{2, 1}}},
		{"span past the ops", three, []Span{{1, 4}}},
		{"negative start", three, []Span{{-1, 1}}},
		{"overlapping spans", three, []Span{{0, 2}, {1, 3}}},
		{"spans out of order", three, []Span{{2, 3}, {0, 1}}},
	}
	e := openEngine(t, "", true)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			_, err := e.ApplyShards([]ShardApply{{Shard: 1, Ops: tt.ops, Atomic: tt.spans, AppliedIndex: 1}})
			g.Expect(errors.Is(err, ErrInvalidArgument)).To(BeTrue(), "err = %v", err)
			g.Expect(stateOf(g, e, 1)).To(Equal(shardState{keys: map[string]Value{}}))
		})
	}
}

// Random calls of conditional puts, deletes and checks, cut into random atomic spans and
// single ops, over restarts and a write cache smaller or larger than the key set, give
// exactly the results, values and statistics of the model (applyUnit for spans).
func TestAtomicUnitsMatchModel(t *testing.T) {
	for _, size := range []int{8, 64} {
		t.Run(fmt.Sprintf("cache of %d keys", size), func(t *testing.T) {
			defer func(n int) { maxCachedKeys = n }(maxCachedKeys)
			maxCachedKeys = size
			testAtomicUnitsMatchModel(t)
		})
	}
}

func testAtomicUnitsMatchModel(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	e, err := Open(dir, Options{NoSync: true})
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { g.Expect(e.Close()).To(Succeed()) }()
	const shard = 6
	r := rand.New(rand.NewPCG(3, 4))
	model := &modelShard{keys: map[string]modelKey{}}

	randomOp := func() Op {
		key := fmt.Sprintf("k%d", r.IntN(16))
		var op Op
		switch r.IntN(6) {
		case 0:
			op = del(key)
		case 1, 2:
			op = Op{Kind: OpCheck, Key: []byte(key)}
		default:
			op = put(key, fmt.Sprint(r.IntN(1000)))
		}
		switch r.IntN(4) {
		case 0:
			op.Cond = kv.Precondition{Kind: kv.CondExists}
		case 1:
			op.Cond = kv.Precondition{Kind: kv.CondAbsent}
		case 2:
			rev := model.keys[key].rev
			if r.IntN(4) == 0 {
				rev = uint64(r.IntN(int(model.rev) + 2))
			}
			op.Cond = kv.Precondition{Kind: kv.CondRevision, Revision: rev}
		}
		return op
	}
	var index uint64
	outcomes := map[bool]int{} // spans by whether they aborted
	for step := range 2000 {
		if r.IntN(100) == 0 {
			g.Expect(e.Close()).To(Succeed())
			e, err = Open(dir, Options{NoSync: true})
			g.Expect(err).NotTo(HaveOccurred())
		}
		n := 1 + r.IntN(8)
		if r.IntN(10) == 0 {
			n = 40 + r.IntN(80) // a call long enough to look its keys up in a map (indexFrom)
		}
		ops := make([]Op, n)
		for i := range ops {
			ops[i] = randomOp()
		}
		// Cut ops into units: each a span of 1..3 ops or a single op outside any span.
		var spans []Span
		var want []Result
		for i := 0; i < len(ops); {
			n := min(1+r.IntN(3), len(ops)-i)
			if r.IntN(2) == 0 {
				spans = append(spans, Span{i, i + n})
				res := model.applyUnit(ops[i : i+n])
				want = append(want, res...)
				outcomes[slices.ContainsFunc(res, func(r Result) bool { return r.Err != nil })]++
			} else {
				n = 1
				want = append(want, model.apply(ops[i]))
			}
			i += n
		}
		index++
		res, err := e.ApplyShards([]ShardApply{{Shard: shard, Ops: ops, Atomic: spans, AppliedIndex: index}})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(res[0]).To(Equal(want), "step %d ops %+v spans %v", step, ops, spans)
		st, err := e.ShardStats(shard)
		g.Expect(err).NotTo(HaveOccurred())
		keys, size := model.stats()
		g.Expect(st).To(Equal(ShardStats{Keys: keys, Bytes: size, Revision: model.rev, AppliedIndex: index}), "step %d", step)
	}
	g.Expect(outcomes[false]).To(BeNumerically(">", 200), "spans that committed")
	g.Expect(outcomes[true]).To(BeNumerically(">", 200), "spans that aborted")
	got := stateOf(g, e, shard)
	g.Expect(got.keys).To(HaveLen(len(model.keys)))
	for k, v := range model.keys {
		g.Expect(got.keys[k]).To(Equal(Value{Data: []byte(v.val), Revision: v.rev}), "key %s", k)
	}
}
