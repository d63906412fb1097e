package engine

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/internal/kv"
)

// modelShard is what a shard should hold: the reference the write cache is checked against.
type modelShard struct {
	rev  uint64
	keys map[string]modelKey
}

type modelKey struct {
	rev uint64
	val string
}

func (m *modelShard) clone() *modelShard {
	c := &modelShard{rev: m.rev, keys: make(map[string]modelKey, len(m.keys))}
	for k, v := range m.keys {
		c.keys[k] = v
	}
	return c
}

// apply is Apply's specification for one op outside an atomic unit.
func (m *modelShard) apply(op Op) Result {
	cur, exists := m.keys[string(op.Key)]
	holds := true
	switch op.Cond.Kind {
	case kv.CondRevision:
		holds = exists && cur.rev == op.Cond.Revision
	case kv.CondExists:
		holds = exists
	case kv.CondAbsent:
		holds = !exists
	}
	if !holds {
		return Result{Err: ErrConditionFailed}
	}
	if op.Kind == OpCheck {
		return Result{Revision: cur.rev}
	}
	if op.Kind == OpDelete {
		if !exists {
			return Result{Err: ErrNotFound}
		}
		m.rev++
		delete(m.keys, string(op.Key))
		return Result{Revision: m.rev}
	}
	m.rev++
	m.keys[string(op.Key)] = modelKey{rev: m.rev, val: string(op.Value)}
	return Result{Revision: m.rev}
}

func (m *modelShard) stats() (keys, size int64) {
	for k, v := range m.keys {
		keys++
		size += int64(len(k) + len(v.val))
	}
	return keys, size
}

// Random batches of conditional and unconditional puts and deletes, with snapshots
// restored over newer data, whole-shard deletes, restarts, and a write cache far smaller
// than the key set or larger than it (complete for long stretches), give exactly the
// results, values and statistics of a plain model: the cache never answers for a key with
// a state Pebble does not hold. Keys are read with Get, or all through a call's iterator
// (which large calls use), with keys that are prefixes of others ("k1", "k10").
func TestApplyMatchesModelThroughCacheResets(t *testing.T) {
	oddKeys := func(key []byte) bool { return key[len(key)-1]%2 == 1 }
	for _, size := range []int{8, 64} {
		for _, remember := range []func([]byte) bool{nil, oddKeys} {
			for _, iterate := range []bool{false, true} {
				name := fmt.Sprintf("cache of %d keys", size)
				if remember != nil {
					name += ", odd keys only"
				}
				if iterate {
					name += ", reads through an iterator"
				}
				t.Run(name, func(t *testing.T) {
					defer func(n, from int) { maxCachedKeys, iterFrom = n, from }(maxCachedKeys, iterFrom)
					maxCachedKeys = size
					if iterate {
						iterFrom = 0
					}
					testApplyMatchesModel(t, Options{NoSync: true, Remember: remember})
				})
			}
		}
	}
}

func testApplyMatchesModel(t *testing.T, opts Options) {
	g := NewWithT(t)
	dir := t.TempDir()
	e, err := Open(dir, opts)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { g.Expect(e.Close()).To(Succeed()) }()
	const shard = 4
	r := rand.New(rand.NewPCG(1, 2))
	model := &modelShard{keys: map[string]modelKey{}}
	var snap []byte
	var snapModel *modelShard

	randomOp := func() Op {
		key := fmt.Sprintf("k%d", r.IntN(24))
		op := put(key, fmt.Sprint(r.IntN(1000)))
		if r.IntN(4) == 0 {
			op = del(key)
		}
		switch r.IntN(5) {
		case 0:
			op.Cond = kv.Precondition{Kind: kv.CondExists}
		case 1:
			op.Cond = kv.Precondition{Kind: kv.CondAbsent}
		case 2:
			// Mostly the key's current revision, sometimes a stale or future one.
			rev := model.keys[key].rev
			if r.IntN(3) == 0 {
				rev = uint64(r.IntN(int(model.rev) + 2))
			}
			op.Cond = kv.Precondition{Kind: kv.CondRevision, Revision: rev}
		}
		return op
	}
	for step := range 3000 {
		switch r.IntN(100) {
		case 0:
			var buf bytes.Buffer
			g.Expect(e.SnapshotShard(shard, &buf)).To(Succeed())
			snap, snapModel = buf.Bytes(), model.clone()
		case 1:
			if snap != nil {
				g.Expect(e.RestoreShard(shard, bytes.NewReader(snap))).To(Succeed())
				model = snapModel.clone()
			}
		case 2:
			g.Expect(e.DeleteShard(shard)).To(Succeed())
			model = &modelShard{keys: map[string]modelKey{}}
		case 3:
			g.Expect(e.Close()).To(Succeed())
			e, err = Open(dir, opts)
			g.Expect(err).NotTo(HaveOccurred())
		}
		ops := make([]Op, 1+r.IntN(4))
		want := make([]Result, len(ops))
		for i := range ops {
			ops[i] = randomOp()
			want[i] = model.apply(ops[i])
		}
		got, err := e.Apply(shard, ops, ApplyOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		for i := range ops {
			g.Expect(got[i].Revision).To(Equal(want[i].Revision), "step %d op %d %+v", step, i, ops[i])
			g.Expect(errors.Is(got[i].Err, want[i].Err) || got[i].Err == want[i].Err).To(BeTrue(),
				"step %d op %d %+v: error %v, want %v", step, i, ops[i], got[i].Err, want[i].Err)
		}
		st, err := e.ShardStats(shard)
		g.Expect(err).NotTo(HaveOccurred())
		keys, size := model.stats()
		g.Expect(st.Keys).To(Equal(keys), "step %d", step)
		g.Expect(st.Bytes).To(Equal(size), "step %d", step)
		g.Expect(st.Revision).To(Equal(model.rev), "step %d", step)
	}
	for k, v := range model.keys {
		got, err := e.Get(shard, []byte(k))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(string(got.Data)).To(Equal(v.val))
		g.Expect(got.Revision).To(Equal(v.rev))
	}
}

// A shard the cache saw empty is written without reading Pebble for new keys (the cache is
// complete), until the cache starts over; conditions and deletes of keys it does not hold
// still read Pebble; a restart with data, or a restore of a shard with keys, starts
// incomplete, and a whole-shard delete makes it complete again.
func TestCompleteCacheSkipsReadsOfNewKeys(t *testing.T) {
	g := NewWithT(t)
	reads := countLookups(t)
	dir := t.TempDir()
	e, err := Open(dir, Options{NoSync: true})
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = e.Close() }()
	const shard = 2
	apply := func(ops ...Op) []Result {
		res, err := e.Apply(shard, ops, ApplyOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		return res
	}
	putKeys := func(from, to int) {
		for i := from; i < to; i++ {
			apply(put(fmt.Sprintf("k%03d", i), "v"))
		}
	}
	expectStats := func(keys int) {
		st, err := e.ShardStats(shard)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(st.Keys).To(Equal(int64(keys)))
		g.Expect(st.Bytes).To(Equal(int64(keys * len("k000v"))))
	}

	putKeys(0, 60)
	g.Expect(*reads).To(Equal(0), "new keys of an empty shard")
	putKeys(0, 60)
	g.Expect(*reads).To(Equal(0), "overwrites of cached keys")
	expectStats(60)

	res := apply(del("gone"), Op{Kind: OpPut, Key: []byte("new"), Value: []byte("v"), Cond: kv.Precondition{Kind: kv.CondAbsent}})
	g.Expect(res[0].Err).To(MatchError(ErrNotFound))
	g.Expect(res[1].Err).NotTo(HaveOccurred())
	g.Expect(*reads).To(Equal(2), "a delete and a condition read Pebble for keys the cache does not hold")
	apply(del("new"))

	putKeys(60, 120) // the cache starts over past 100 keys
	before := *reads
	putKeys(120, 130)
	g.Expect(*reads-before).To(Equal(10), "an incomplete cache reads each new key")
	expectStats(130)

	// A restart with data: incomplete.
	g.Expect(e.Close()).To(Succeed())
	e, err = Open(dir, Options{NoSync: true})
	g.Expect(err).NotTo(HaveOccurred())
	before = *reads
	putKeys(0, 10)
	g.Expect(*reads - before).To(Equal(10))
	expectStats(130)

	// A restore of a shard with keys: incomplete; a whole-shard delete: complete again.
	var snap bytes.Buffer
	g.Expect(e.SnapshotShard(shard, &snap)).To(Succeed())
	g.Expect(e.RestoreShard(shard, &snap)).To(Succeed())
	before = *reads
	putKeys(200, 205)
	g.Expect(*reads - before).To(Equal(5))
	g.Expect(e.DeleteShard(shard)).To(Succeed())
	before = *reads
	putKeys(0, 50)
	g.Expect(*reads - before).To(Equal(0))
	expectStats(50)
}

// With Options.Remember, the cache holds only the keys it accepts: writes of many other keys
// neither crowd them out nor are remembered (a condition on one reads Pebble), and a shard
// the cache saw empty stays complete only until a key it skipped exists.
func TestCacheRemembersOnlyRecurringKeys(t *testing.T) {
	g := NewWithT(t)
	reads := countLookups(t)
	hot := func(key []byte) bool { return bytes.HasPrefix(key, []byte("hot")) }
	e, err := Open(t.TempDir(), Options{NoSync: true, Remember: hot})
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = e.Close() }()
	const shard = 3
	apply := func(ops ...Op) []Result {
		res, err := e.Apply(shard, ops, ApplyOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		for _, r := range res {
			g.Expect(r.Err).NotTo(HaveOccurred())
		}
		return res
	}
	ifAt := func(op Op, rev uint64) Op {
		op.Cond = kv.Precondition{Kind: kv.CondRevision, Revision: rev}
		return op
	}

	apply(put("hot1", "v"), put("hot2", "v"))
	g.Expect(*reads).To(Equal(0), "new keys of an empty shard")
	apply(put("cold0", "v"))
	g.Expect(*reads).To(Equal(0), "a new key of a complete cache, not kept")
	apply(put("cold1", "v"))
	g.Expect(*reads).To(Equal(1), "the cache is no longer complete: cold0 exists and it does not hold it")

	// Far more cold writes than the cache holds, each in a unit of its own and all in one call.
	var cold []Op
	for i := range 3 * maxCachedKeys {
		cold = append(cold, Op{Kind: OpPut, Key: fmt.Appendf(nil, "cold-%d", i), Value: []byte("v"),
			Cond: kv.Precondition{Kind: kv.CondAbsent}})
	}
	apply(cold...)
	before := *reads
	res := apply(ifAt(put("hot1", "w"), 1), ifAt(put("hot2", "w"), 2))
	g.Expect(*reads-before).To(Equal(0), "the hot keys are still cached")
	g.Expect(res[1].Revision).To(Equal(uint64(6 + 3*maxCachedKeys)))
	before = *reads
	apply(ifAt(put("cold1", "w"), 4))
	g.Expect(*reads-before).To(Equal(1), "a cold key is read from Pebble")
	st, err := e.ShardStats(shard)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st.Keys).To(Equal(int64(4 + 3*maxCachedKeys)))
}

// countLookups makes the write cache hold at most 100 keys and counts the engine's reads of a
// key's state from Pebble, until the test ends.
func countLookups(t *testing.T) *int {
	keys := maxCachedKeys
	maxCachedKeys = 100
	reads := new(int)
	lookupHook = func() { *reads++ }
	t.Cleanup(func() { maxCachedKeys, lookupHook = keys, nil })
	return reads
}
