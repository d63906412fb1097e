package layout

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/shardmap"
)

func TestCheckGraphName(t *testing.T) {
	for _, ok := range []string{"g", "social", "_x", "A-1_b", strings.Repeat("n", MaxGraphName)} {
		if err := CheckGraphName(ok); err != nil {
			t.Errorf("CheckGraphName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "1abc", "-a", "a/b", "a{b", "a}b", "a b", "é", "a\x00", strings.Repeat("n", MaxGraphName+1)} {
		if err := CheckGraphName(bad); err == nil {
			t.Errorf("CheckGraphName(%q) accepted it", bad)
		}
	}
}

// Every key of a vertex ends with its tag, so that the shard map places it with the vertex.
func TestEveryVertexKeyCarriesTheVertexTag(t *testing.T) {
	g := NewWithT(t)
	const graph = "social"
	v, w, e := ID(7), ID(1<<62+3), ID(99)
	idx, err := IndexKey(graph, "Person", "name", "Ada {Lovelace}", v)
	g.Expect(err).NotTo(HaveOccurred())
	for _, tc := range []struct {
		key   []byte
		owner ID
	}{
		{VertexKey(graph, v), v},
		{LabelKey(graph, "Person", v), v},
		{LabelKey(graph, "a}{b", v), v},
		{EdgeKey(graph, Out, v, "KNOWS", w, e), v},
		{EdgeKey(graph, In, w, "KNOWS", v, e), w},
		{EdgeKey(graph, Out, v, "{odd}", w, e), v},
		{idx, v},
		{OutboxKey(graph, e, In, v), v},
		{BundleKey(graph, e, v), v},
	} {
		g.Expect(string(shardmap.HashTag(tc.key))).To(Equal(Tag(graph, tc.owner)), "%q", tc.key)
		g.Expect(tc.key).To(HavePrefix(string(GraphPrefix(graph))))
	}
	g.Expect(Tag(graph, v)).To(Equal("social/0000000000000007"))
}

func TestKeysParseBack(t *testing.T) {
	g := NewWithT(t)
	const graph = "g1"
	rng := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		v, w, e := ID(rng.Int64N(int64(MaxID))+1), ID(rng.Int64N(int64(MaxID))+1), ID(rng.Int64N(int64(MaxID))+1)
		typ := []string{"KNOWS", "a/b", "{", "}", "é", "x\x00y"}[rng.IntN(6)]
		dir := []Direction{Out, In}[rng.IntN(2)]

		id, err := ParseVertexKey(graph, VertexKey(graph, v))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(id).To(Equal(v))

		half := EdgeHalf{Dir: dir, Vertex: v, Other: w, Type: typ, Edge: e}
		got, err := ParseEdgeKey(graph, half.Key(graph))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(got).To(Equal(half))
		g.Expect(half.Key(graph)).To(HavePrefix(string(AdjacencyPrefix(graph, dir, v, typ))))
		g.Expect(half.Key(graph)).To(HavePrefix(string(AdjacencyPrefix(graph, dir, v, ""))))

		id, err = ParseLabelKey(graph, typ, LabelKey(graph, typ, v))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(id).To(Equal(v))

		val := []any{int64(rng.Int64()), rng.Float64(), "s" + typ, true}[rng.IntN(4)]
		k, err := IndexKey(graph, "L", "p", val, v)
		g.Expect(err).NotTo(HaveOccurred())
		gotVal, id, err := ParseIndexKey(graph, "L", "p", k)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(gotVal).To(Equal(val))
		g.Expect(id).To(Equal(v))

		ge, side, owner, err := ParseOutboxKey(graph, OutboxKey(graph, e, dir, v))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect([]any{ge, side, owner}).To(Equal([]any{e, dir, v}))
	}
	for _, bad := range [][]byte{
		nil, []byte("g1/v/0000000000000001{g1/0000000000000001}"),
		VertexKey("other", 1), append(VertexKey(graph, 1), 'x'), EdgeKey(graph, Out, 1, "T", 2, 3)[:30],
		[]byte(string(GraphPrefix(graph)) + "v/0000000000000000{g1/0000000000000000}"), // id 0
	} {
		_, err := ParseVertexKey(graph, bad)
		g.Expect(err).To(HaveOccurred(), "%q", bad)
		_, err = ParseEdgeKey(graph, bad)
		g.Expect(err).To(HaveOccurred(), "%q", bad)
	}
}

// A vertex's halves sort by type, then the other end, then the edge: a typed expansion is one
// prefix scan, and one vertex's adjacency never mixes with another's.
func TestAdjacencyOrder(t *testing.T) {
	g := NewWithT(t)
	var keys [][]byte
	for _, v := range []ID{1, 2, 0x10} {
		for _, typ := range []string{"B", "A", "AB"} {
			for _, w := range []ID{3, 1} {
				keys = append(keys, EdgeKey("g", Out, v, typ, w, 5))
			}
		}
	}
	slices.SortFunc(keys, bytes.Compare)
	var got []string
	for _, k := range keys {
		h, err := ParseEdgeKey("g", k)
		g.Expect(err).NotTo(HaveOccurred())
		got = append(got, h.Vertex.hex()+h.Type+h.Other.hex())
	}
	g.Expect(got[:6]).To(Equal([]string{
		"1A1", "1A3", "1AB1", "1AB3", "1B1", "1B3",
	}))
	p := AdjacencyPrefix("g", Out, 1, "A")
	n := 0
	for _, k := range keys {
		if bytes.HasPrefix(k, p) {
			n++
		}
	}
	g.Expect(n).To(Equal(2), "type A's prefix does not take in type AB")
}

func (id ID) hex() string { return strings.TrimLeft(string(appendID(nil, id)), "0") }

func TestPrimaryKeyID(t *testing.T) {
	g := NewWithT(t)
	a, err := PrimaryKeyID("g", "Person", int64(42))
	g.Expect(err).NotTo(HaveOccurred())
	b, err := PrimaryKeyID("g", "Person", 42.0)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(a).To(Equal(b), "42 = 42.0 in openCypher: one key")
	for _, other := range []struct {
		graph, label string
		key          any
	}{{"h", "Person", int64(42)}, {"g", "Robot", int64(42)}, {"g", "Person", int64(43)}, {"g", "Person", "42"}} {
		c, err := PrimaryKeyID(other.graph, other.label, other.key)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(c).NotTo(Equal(a), "%+v", other)
		g.Expect(c).To(BeNumerically(">", 0))
		g.Expect(c).To(BeNumerically("<=", MaxID))
	}
	_, err = PrimaryKeyID("g", "Person", nil)
	g.Expect(err).To(HaveOccurred(), "null is no key")
}

func TestGraphOfAndSkippingAGraph(t *testing.T) {
	g := NewWithT(t)
	for _, graph := range []string{"a", "a-b", "a0", "z"} {
		name, err := GraphOf(VertexKey(graph, 1))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(name).To(Equal(graph))
		skip := NextGraphAfter(graph)
		for _, k := range [][]byte{VertexKey(graph, MaxID), EdgeKey(graph, In, MaxID, "\U0010FFFF", MaxID, MaxID), CatalogKey(graph)} {
			g.Expect(bytes.Compare(k, skip)).To(Equal(-1), "%q", k)
		}
	}
	g.Expect(bytes.Compare(NextGraphAfter("a"), VertexKey("a0", 1))).To(Equal(-1))
	_, err := GraphOf([]byte("user-key"))
	g.Expect(err).To(HaveOccurred())
}

func TestEdgeHalfJSON(t *testing.T) {
	g := NewWithT(t)
	h := EdgeHalf{Dir: In, Vertex: 3, Other: 4, Type: "T", Edge: 5}
	b, err := json.Marshal(h)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(b)).To(Equal(`{"dir":"in","vertex":3,"other":4,"type":"T","edge":5}`))
	var back EdgeHalf
	g.Expect(json.Unmarshal(b, &back)).To(Succeed())
	g.Expect(back).To(Equal(h))
	g.Expect(json.Unmarshal([]byte(`{"dir":"up"}`), &back)).To(MatchError(ContainSubstring("neither out nor in")))
}

// TestMergeIDsIsTheSortedUnion checks SortedIDs and MergeIDs against a set, on random runs
// (some not sorted, as a node of an older version answers), and that the runs stay as they were.
func TestMergeIDsIsTheSortedUnion(t *testing.T) {
	g := NewWithT(t)
	rng := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		runs := make([][]ID, rng.IntN(18))
		set := map[ID]bool{}
		for i := range runs {
			for range rng.IntN(40) {
				id := ID(rng.IntN(200) + 1)
				runs[i] = append(runs[i], id)
				set[id] = true
			}
			if rng.IntN(4) > 0 {
				runs[i] = SortedIDs(runs[i])
			}
		}
		before := make([][]ID, len(runs))
		for i, r := range runs {
			before[i] = slices.Clone(r)
		}
		want := make([]ID, 0, len(set))
		for id := range set {
			want = append(want, id)
		}
		slices.Sort(want)
		got := MergeIDs(runs)
		g.Expect(got).To(HaveLen(len(want)))
		if len(want) > 0 {
			g.Expect(got).To(Equal(want))
		}
		g.Expect(runs).To(Equal(before), "the runs are not changed")
	}
}

// TestIDSetIsASet checks IDSet against a map through its growth, with ids that collide in
// their low bits and random ones.
func TestIDSetIsASet(t *testing.T) {
	g := NewWithT(t)
	rng := rand.New(rand.NewPCG(5, 6))
	var s IDSet
	want := map[ID]bool{}
	for i := range 20000 {
		id := ID(rng.Uint64N(5000) + 1)
		if i%2 == 0 {
			id = ID(rng.Uint64()&uint64(MaxID)) | 1<<40 // random, never 0
		}
		g.Expect(s.Add(id)).To(Equal(!want[id]), "Add(%d) after %d adds", id, i)
		want[id] = true
		g.Expect(s.Len()).To(Equal(len(want)))
	}
	sorted := s.TakeSorted()
	g.Expect(sorted).To(HaveLen(len(want)))
	g.Expect(slices.IsSorted(sorted)).To(BeTrue())
	for _, id := range sorted {
		g.Expect(want[id]).To(BeTrue())
	}
	g.Expect(s.Len()).To(BeZero(), "the set is empty after")
	g.Expect(s.Add(5)).To(BeTrue())
	var empty IDSet
	g.Expect(empty.TakeSorted()).To(BeEmpty())
	var reserved IDSet
	reserved.Reserve(3000)
	slots := len(reserved.slots)
	for id := range ID(3000) {
		reserved.Add(id + 1)
	}
	g.Expect(reserved.slots).To(HaveLen(slots), "no growth within what was reserved")
	g.Expect(reserved.TakeSorted()).To(HaveLen(3000))
}

func BenchmarkIDSetRepeatedAdds(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]ID, 40000)
	for i := range ids {
		ids[i] = ID(rng.Uint64()&uint64(MaxID)) | 1
	}
	for b.Loop() {
		var s IDSet
		for j := range 2_000_000 {
			s.Add(ids[j%len(ids)])
		}
	}
}

// The write cache keeps a graph's vertices, adjacency versions and catalog, and every key
// that is not a graph's; a graph's halves, label and index entries, outbox records and
// bundles, and tombstones it leaves out.
func TestRecurringKeys(t *testing.T) {
	g := NewWithT(t)
	const graph = "o" // a graph named as a kind must not confuse the parse
	h := EdgeHalf{Dir: Out, Vertex: 7, Other: 9, Type: "T", Edge: 11}
	idx, err := IndexKey(graph, "P", "name", "x", 7)
	g.Expect(err).NotTo(HaveOccurred())
	for _, k := range [][]byte{VertexKey(graph, 7), AdjacencyVersionKey(graph, 7), CatalogKey(graph),
		[]byte("user-key"), []byte("o/x"), []byte("\x00other"), []byte("\x00g/"), []byte("\x00g/name")} {
		g.Expect(Recurring(k)).To(BeTrue(), "%q", k)
	}
	for _, k := range [][]byte{h.Key(graph), reverseHalf(h).Key(graph), LabelKey(graph, "P", 7), idx,
		OutboxKey(graph, 11, In, 9), BundleKey(graph, 3, 7), TombstoneKey(graph, 1, h)} {
		g.Expect(Recurring(k)).To(BeFalse(), "%q", k)
	}
}

func reverseHalf(h EdgeHalf) EdgeHalf {
	return EdgeHalf{Dir: h.Dir.Reverse(), Vertex: h.Other, Other: h.Vertex, Type: h.Type, Edge: h.Edge}
}

// sortIDs sorts as slices.Sort does, on either side of radixFrom, for random ids, ids that
// differ only in their low or high bits (passes skipped), repeated ids and the largest id.
func TestSortIDs(t *testing.T) {
	g := NewWithT(t)
	rng := rand.New(rand.NewPCG(7, 8))
	kinds := map[string]func() ID{
		"random":    func() ID { return ID(rng.Uint64N(uint64(MaxID)) + 1) },
		"low bits":  func() ID { return ID(rng.Uint64N(3000) + 1) },
		"high bits": func() ID { return ID(rng.Uint64N(64)<<56 | 1) },
		"few":       func() ID { return []ID{1, MaxID, 1 << 33}[rng.IntN(3)] },
	}
	for name, next := range kinds {
		for _, n := range []int{0, 1, radixFrom - 1, radixFrom, 5000} {
			ids := make([]ID, n)
			for i := range ids {
				ids[i] = next()
			}
			want := slices.Clone(ids)
			slices.Sort(want)
			sortIDs(ids)
			g.Expect(ids).To(Equal(want), "%s, %d ids", name, n)
		}
	}
}

func BenchmarkSortIDs(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	src := make([]ID, 43000) // the distinct ends a shard returns for a two-hop from a busy vertex
	for i := range src {
		src[i] = ID(rng.Uint64N(uint64(MaxID)) + 1)
	}
	ids := make([]ID, len(src))
	for _, sort := range []struct {
		name string
		fn   func([]ID)
	}{{"radix", sortIDs}, {"pdqsort", slices.Sort[[]ID]}} {
		b.Run(sort.name, func(b *testing.B) {
			for b.Loop() {
				copy(ids, src)
				sort.fn(ids)
			}
		})
	}
}
