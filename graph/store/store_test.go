package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/shardapi"
	"github.com/torua/torua/graph/value"
	"github.com/torua/torua/node/engine"
)

// engineShard is one shard of a real engine, written with atomic applies: the store's contract
// with a Shard is the engine's (Raft only orders the same applies; node/replication tests that).
type engineShard struct {
	e     *engine.Engine
	shard int
	// beforeTxn, if set, runs between a write's read and its transaction (a concurrent writer).
	beforeTxn func()
	txns      int
	loads     int
}

func (s *engineShard) Read(_ context.Context, _ bool, fn func(v *engine.View) error) error {
	v, err := s.e.View(s.shard)
	if err != nil {
		return err
	}
	defer v.Close()
	return fn(v)
}

func (s *engineShard) Txn(_ context.Context, ops []engine.Op) ([]engine.Result, error) {
	if f := s.beforeTxn; f != nil {
		s.beforeTxn = nil
		f()
	}
	s.txns++
	return s.e.Apply(s.shard, ops, engine.ApplyOptions{Atomic: true})
}

// world is two shards of one engine; odd vertex ids live on shard 1, even ones on shard 0.
type world struct {
	t      *testing.T
	g      *WithT
	st     *Store
	shards [2]*engineShard
	clock  time.Time
}

const graph = "g"

func newWorld(t *testing.T) *world {
	e, err := engine.Open(t.TempDir(), engine.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	w := &world{t: t, g: NewWithT(t), clock: time.Unix(1_700_000_000, 0)}
	w.st = New(func(_ string, shard int, id layout.ID) bool { return int(id%2) == shard })
	w.st.now = func() time.Time { return w.clock }
	n := uint64(0)
	w.st.rand = func() uint64 { n++; return n }
	for i := range w.shards {
		w.shards[i] = &engineShard{e: e, shard: i}
	}
	return w
}

func (w *world) on(id layout.ID) *engineShard { return w.shards[id%2] }

func (w *world) write(id layout.ID, muts ...shardapi.Mutation) (*WriteResult, error) {
	return w.st.Write(context.Background(), w.on(id), int(id%2), graph, muts)
}

func (w *world) mustWrite(id layout.ID, muts ...shardapi.Mutation) *WriteResult {
	w.t.Helper()
	res, err := w.write(id, muts...)
	w.g.Expect(err).NotTo(HaveOccurred())
	return res
}

// deliver applies and settles every pending outbox record of both shards, as the node's
// outbox worker does, until none is left.
func (w *world) deliver() {
	w.t.Helper()
	ctx := context.Background()
	for round := 0; round < 10; round++ {
		pending := 0
		for i, sh := range w.shards {
			recs := w.pending(layout.ID(i))
			// Records go to the other shard in one batch, as the node delivers them.
			pending += len(recs)
			if len(recs) == 0 {
				continue
			}
			other := w.shards[1-i]
			res, err := w.st.Apply(ctx, other, 1-i, graph, recs, w.clock.Add(RequestTTL))
			w.g.Expect(err).NotTo(HaveOccurred())
			w.g.Expect(w.st.Settle(ctx, sh, i, graph, recs, res)).To(Succeed())
		}
		if pending == 0 {
			return
		}
	}
	w.t.Fatal("outbox records kept coming back")
}

// pending returns the outbox records on id's shard.
func (w *world) pending(id layout.ID) []*shardapi.Outbox {
	w.t.Helper()
	var recs []*shardapi.Outbox
	w.g.Expect(w.on(id).Read(context.Background(), true, func(v *engine.View) (err error) {
		recs, err = PendingOutbox(v, graph, 1000)
		return err
	})).To(Succeed())
	return recs
}

func (w *world) vertex(id layout.ID) *shardapi.Vertex {
	w.t.Helper()
	var v *shardapi.Vertex
	w.g.Expect(w.on(id).Read(context.Background(), true, func(r *engine.View) (err error) {
		v, err = GetVertex(r, graph, id)
		return err
	})).To(Succeed())
	return v
}

func (w *world) props(v *shardapi.Vertex) map[string]any {
	m, err := value.DecodeProps(v.Props)
	w.g.Expect(err).NotTo(HaveOccurred())
	return m
}

// edges returns "src-type->dst" for every live half of id in dir.
func (w *world) edges(id layout.ID, dir layout.Direction, types ...string) []string {
	w.t.Helper()
	var out []string
	w.g.Expect(w.on(id).Read(context.Background(), true, func(r *engine.View) error {
		hs, _, err := Expand(r, graph, []layout.ID{id}, dir, types, nil, 1000)
		for _, h := range hs {
			out = append(out, itoa(h.Source())+"-"+h.Type+"->"+itoa(h.Target()))
		}
		return err
	})).To(Succeed())
	return out
}

func itoa(id layout.ID) string { return strconv.FormatUint(uint64(id), 10) }

func vtx(id layout.ID, labels []string, props map[string]any) shardapi.Mutation {
	return shardapi.Mutation{CreateVertex: &shardapi.CreateVertex{ID: id, Labels: labels, Props: props}}
}

type Mutation = shardapi.Mutation

func edge(id, src, dst layout.ID, typ string) shardapi.Mutation {
	return shardapi.Mutation{CreateEdge: &shardapi.CreateEdge{ID: id, Src: src, Dst: dst, Type: typ}}
}

func TestVertexLifecycleWithLabelsAndIndexes(t *testing.T) {
	w := newWorld(t)
	g := w.g
	ctx := context.Background()
	// An index on :Person(name), as CREATE INDEX leaves it on each shard.
	cat := &shardapi.Catalog{Version: 2, Indexes: []shardapi.Index{{Name: "by_name", Label: "Person", Property: "name", State: shardapi.IndexReady}}}
	for _, sh := range w.shards {
		_, err := sh.e.Apply(sh.shard, []engine.Op{{Kind: engine.OpPut, Key: layout.CatalogKey(graph), Value: encodeCatalog(cat)}}, engine.ApplyOptions{})
		g.Expect(err).NotTo(HaveOccurred())
	}
	w.mustWrite(2, vtx(2, []string{"Person", "Admin", "Person"}, map[string]any{"name": "Ada", "age": int64(36), "gone": nil}))
	w.mustWrite(4, vtx(4, []string{"Person"}, map[string]any{"name": "Bob"}))
	w.mustWrite(6, vtx(6, nil, map[string]any{"name": "Ada"})) // no label: not indexed

	v := w.vertex(2)
	g.Expect(v.Labels).To(Equal([]string{"Admin", "Person"}))
	g.Expect(w.props(v)).To(Equal(map[string]any{"name": "Ada", "age": int64(36)}))

	lookup := func(rg shardapi.Range) []layout.ID {
		var ids []layout.ID
		g.Expect(w.shards[0].Read(ctx, true, func(r *engine.View) (err error) {
			ids, _, err = IndexLookup(r, graph, "Person", "name", rg, 100)
			return err
		})).To(Succeed())
		return ids
	}
	g.Expect(lookup(shardapi.Range{Eq: value.Wire{V: "Ada"}})).To(Equal([]layout.ID{2}))
	g.Expect(lookup(shardapi.Range{Lower: value.Wire{V: "B"}, LowerInclusive: true})).To(Equal([]layout.ID{4}))
	g.Expect(lookup(shardapi.Range{Upper: value.Wire{V: "Bob"}, UpperInclusive: true})).To(Equal([]layout.ID{2, 4}))
	g.Expect(lookup(shardapi.Range{Upper: value.Wire{V: "Bob"}})).To(Equal([]layout.ID{2}))

	// A label scan and a filtered scan.
	var names []string
	g.Expect(w.shards[0].Read(ctx, true, func(r *engine.View) error {
		vs, more, err := ScanVertices(r, graph, "Person", 0, 100, &shardapi.VertexFilter{Props: shardapi.PropFilter{Preds: []shardapi.Pred{{Key: "name", Op: shardapi.OpStartsWith, Value: value.Wire{V: "B"}}}}})
		g.Expect(more).To(BeFalse())
		for _, v := range vs {
			names = append(names, w.props(v)["name"].(string))
		}
		return err
	})).To(Succeed())
	g.Expect(names).To(Equal([]string{"Bob"}))

	// SET changes the index entry; REMOVE a label drops it.
	w.mustWrite(2, shardapi.Mutation{UpdateVertex: &shardapi.UpdateVertex{ID: 2, Set: map[string]any{"name": "Ada L.", "age": nil}}})
	g.Expect(w.props(w.vertex(2))).To(Equal(map[string]any{"name": "Ada L."}))
	g.Expect(lookup(shardapi.Range{Eq: value.Wire{V: "Ada"}})).To(BeEmpty())
	g.Expect(lookup(shardapi.Range{Eq: value.Wire{V: "Ada L."}})).To(Equal([]layout.ID{2}))
	w.mustWrite(2, shardapi.Mutation{UpdateVertex: &shardapi.UpdateVertex{ID: 2, RemoveLabels: []string{"Person"}}})
	g.Expect(lookup(shardapi.Range{Eq: value.Wire{V: "Ada L."}})).To(BeEmpty())
	g.Expect(w.vertex(2).Labels).To(Equal([]string{"Admin"}))

	// A create of a taken id is refused; DELETE removes the vertex and every entry.
	_, err := w.write(4, vtx(4, nil, nil))
	g.Expect(errors.Is(err, ErrVertexExists)).To(BeTrue(), "%v", err)
	res := w.mustWrite(4, shardapi.Mutation{DeleteVertex: &shardapi.DeleteVertex{ID: 4}})
	g.Expect(res.Outcomes[0].Found).To(BeTrue())
	g.Expect(w.vertex(4)).To(BeNil())
	g.Expect(lookup(shardapi.Range{Lower: value.Wire{V: "A"}})).To(BeEmpty())
	res = w.mustWrite(4, shardapi.Mutation{DeleteVertex: &shardapi.DeleteVertex{ID: 4}})
	g.Expect(res.Outcomes[0].Found).To(BeFalse(), "deleting what is gone does nothing")
}

func TestPrimaryKeys(t *testing.T) {
	w := newWorld(t)
	g := w.g
	cat := &shardapi.Catalog{Version: 2, PrimaryKeys: []shardapi.PrimaryKey{{Name: "pk", Label: "Person", Property: "id"}}}
	id42, err := layout.PrimaryKeyID(graph, "Person", int64(42))
	g.Expect(err).NotTo(HaveOccurred())
	sh := w.on(id42)
	_, err = sh.e.Apply(sh.shard, []engine.Op{{Kind: engine.OpPut, Key: layout.CatalogKey(graph), Value: encodeCatalog(cat)}}, engine.ApplyOptions{})
	g.Expect(err).NotTo(HaveOccurred())

	_, err = w.write(id42, vtx(id42, []string{"Person"}, map[string]any{"name": "no key"}))
	g.Expect(err).To(MatchError(ContainSubstring("needs its primary key id")))
	_, err = w.write(id42, vtx(id42, []string{"Person"}, map[string]any{"id": int64(43)}))
	g.Expect(err).To(MatchError(ContainSubstring("is not the id of :Person")))

	merge := shardapi.Mutation{CreateVertex: &shardapi.CreateVertex{ID: id42, Labels: []string{"Person"}, Props: map[string]any{"id": int64(42), "v": int64(1)}, Merge: true}}
	res := w.mustWrite(id42, merge)
	g.Expect(res.Outcomes[0].Found).To(BeFalse())
	txns := sh.txns
	res = w.mustWrite(id42, merge)
	g.Expect(res.Outcomes[0].Found).To(BeTrue(), "MERGE finds the vertex")
	g.Expect(sh.txns).To(Equal(txns), "and writes nothing")
	_, err = w.write(id42, vtx(id42, []string{"Person"}, map[string]any{"id": 42.0}))
	g.Expect(errors.Is(err, ErrVertexExists)).To(BeTrue(), "42.0 is the same key: %v", err)

	_, err = w.write(id42, shardapi.Mutation{UpdateVertex: &shardapi.UpdateVertex{ID: id42, Set: map[string]any{"id": int64(7)}}})
	g.Expect(err).To(MatchError(ContainSubstring("cannot change")))
	_, err = w.write(id42, shardapi.Mutation{UpdateVertex: &shardapi.UpdateVertex{ID: id42, RemoveLabels: []string{"Person"}}})
	g.Expect(err).To(MatchError(ContainSubstring("cannot be removed")))
	w.mustWrite(id42, shardapi.Mutation{UpdateVertex: &shardapi.UpdateVertex{ID: id42, Set: map[string]any{"v": int64(2)}}})
	g.Expect(w.props(w.vertex(id42))).To(Equal(map[string]any{"id": int64(42), "v": int64(2)}))
}

func TestEdgesOnOneShardAndAcrossShards(t *testing.T) {
	w := newWorld(t)
	g := w.g
	for _, id := range []layout.ID{2, 4, 3} {
		w.mustWrite(id, vtx(id, nil, nil))
	}
	// 2 -> 4: both ends on shard 0, one entry writes both halves.
	res := w.mustWrite(2, edge(10, 2, 4, "KNOWS"))
	g.Expect(res.Outbox).To(BeEmpty())
	g.Expect(w.edges(2, layout.Out)).To(Equal([]string{"2-KNOWS->4"}))
	g.Expect(w.edges(4, layout.In)).To(Equal([]string{"2-KNOWS->4"}))

	// 2 -> 3: the in-half goes through the outbox.
	res = w.mustWrite(2, shardapi.Mutation{CreateEdge: &shardapi.CreateEdge{ID: 11, Src: 2, Dst: 3, Type: "LIKES", Props: map[string]any{"w": 0.5}}})
	g.Expect(res.Outbox).To(HaveLen(1))
	g.Expect(w.edges(3, layout.In)).To(BeEmpty(), "not delivered yet")
	// The writer delivers and settles its own records (the node does, before it answers):
	// settling removes them, so no sweep delivers them again.
	ctx := context.Background()
	applied, err := w.st.Apply(ctx, w.on(3), 1, graph, res.Outbox, w.clock.Add(RequestTTL))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(w.st.Settle(ctx, w.on(2), 0, graph, res.Outbox, applied)).To(Succeed())
	g.Expect(w.pending(2)).To(BeEmpty(), "settled records are gone")
	g.Expect(w.edges(3, layout.In)).To(Equal([]string{"2-LIKES->3"}))
	g.Expect(w.edges(2, layout.Out, "LIKES")).To(Equal([]string{"2-LIKES->3"}))
	g.Expect(w.edges(2, layout.Out, "KNOWS", "LIKES")).To(HaveLen(2))

	// Updating its properties reaches both halves.
	upd := w.mustWrite(2, shardapi.Mutation{UpdateEdge: &shardapi.UpdateEdge{ID: 11, Src: 2, Dst: 3, Type: "LIKES", Set: map[string]any{"w": 0.75}}})
	w.deliver()
	var in []*shardapi.Half
	g.Expect(w.on(3).Read(context.Background(), true, func(r *engine.View) (err error) {
		in, _, err = Expand(r, graph, []layout.ID{3}, layout.In, nil, &shardapi.PropFilter{Preds: []shardapi.Pred{{Key: "w", Op: shardapi.OpGt, Value: value.Wire{V: 0.6}}}}, 10)
		return err
	})).To(Succeed())
	g.Expect(in).To(HaveLen(1))
	g.Expect(in[0].Gen).To(Equal(upd.Outcomes[0].Half.Gen), "the in-half has the update's generation")

	// A delete leaves a tombstone on the other shard, and a delayed, older copy of the
	// create arriving afterwards changes nothing.
	w.mustWrite(2, shardapi.Mutation{DeleteEdge: &shardapi.DeleteEdge{ID: 11, Src: 2, Dst: 3, Type: "LIKES"}})
	w.deliver()
	g.Expect(w.edges(3, layout.In)).To(BeEmpty())
	stale := &shardapi.Outbox{Remote: layout.EdgeHalf{Dir: layout.In, Vertex: 3, Other: 2, Type: "LIKES", Edge: 11}, Present: true, Gen: 1}
	_, err = w.st.Apply(context.Background(), w.on(3), 1, graph, []*shardapi.Outbox{stale}, w.clock.Add(time.Second))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(w.edges(3, layout.In)).To(BeEmpty(), "an older generation never brings a half back")
	_, err = w.st.Apply(context.Background(), w.on(3), 1, graph, []*shardapi.Outbox{stale}, w.clock.Add(-time.Second))
	g.Expect(errors.Is(err, ErrExpired)).To(BeTrue())

	// The same edge made again later (an import run again gives it the same id) is live on
	// both shards: its generation is above its tombstone's.
	w.clock = w.clock.Add(time.Second)
	w.mustWrite(2, Mutation{CreateEdge: &shardapi.CreateEdge{ID: 11, Src: 2, Dst: 3, Type: "LIKES"}})
	w.deliver()
	g.Expect(w.edges(3, layout.In)).To(Equal([]string{"2-LIKES->3"}))
	w.mustWrite(2, Mutation{DeleteEdge: &shardapi.DeleteEdge{ID: 11, Src: 2, Dst: 3, Type: "LIKES"}})
	w.deliver()

	// Tombstones go once they are older than TombstoneTTL, and not before.
	n, err := w.st.CollectTombstones(ctx, w.on(3), 1, graph, 100)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(n).To(BeZero())
	w.clock = w.clock.Add(TombstoneTTL + time.Second)
	n, err = w.st.CollectTombstones(ctx, w.on(3), 1, graph, 100)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(n).To(Equal(1))
	g.Expect(w.on(3).Read(ctx, true, func(r *engine.View) error {
		hs, err := halves(r, graph, 3)
		g.Expect(hs).To(BeEmpty(), "no tombstone left")
		return err
	})).To(Succeed())
}

func TestEdgeToAVertexDeletedMeanwhileIsUndone(t *testing.T) {
	w := newWorld(t)
	g := w.g
	w.mustWrite(2, vtx(2, nil, nil))
	res := w.mustWrite(3, vtx(3, nil, nil))
	inc := res.Outcomes[0].Vertex.Incarnation
	w.mustWrite(2, shardapi.Mutation{CreateEdge: &shardapi.CreateEdge{ID: 20, Src: 2, Dst: 3, Type: "T", DstIncarnation: inc}})
	// The destination is deleted and made again (a new incarnation) before delivery.
	w.mustWrite(3, shardapi.Mutation{DeleteVertex: &shardapi.DeleteVertex{ID: 3}})
	w.mustWrite(3, vtx(3, nil, nil))
	w.deliver()
	g.Expect(w.edges(2, layout.Out)).To(BeEmpty(), "the out-half is undone")
	g.Expect(w.edges(3, layout.In)).To(BeEmpty(), "the new vertex 3 never gets the edge")
}

func TestDeleteAndDetachDelete(t *testing.T) {
	w := newWorld(t)
	g := w.g
	for _, id := range []layout.ID{1, 2, 3, 4} {
		w.mustWrite(id, vtx(id, nil, nil))
	}
	w.mustWrite(2, edge(30, 2, 3, "A"), edge(31, 2, 4, "B"), edge(32, 2, 2, "SELF"))
	w.mustWrite(1, edge(33, 1, 2, "C"))
	w.deliver()
	g.Expect(w.edges(2, layout.In)).To(ConsistOf("1-C->2", "2-SELF->2"))

	_, err := w.write(2, shardapi.Mutation{DeleteVertex: &shardapi.DeleteVertex{ID: 2}})
	g.Expect(err).To(MatchError(ContainSubstring("it still has 4 relationship(s)")))
	g.Expect(errors.Is(err, ErrSemantic)).To(BeTrue())

	w.mustWrite(2, shardapi.Mutation{DeleteVertex: &shardapi.DeleteVertex{ID: 2, Detach: true}})
	w.deliver()
	g.Expect(w.vertex(2)).To(BeNil())
	for _, id := range []layout.ID{1, 3, 4} {
		g.Expect(w.edges(id, layout.Out)).To(BeEmpty(), "vertex %d", id)
		g.Expect(w.edges(id, layout.In)).To(BeEmpty(), "vertex %d", id)
		g.Expect(w.vertex(id)).NotTo(BeNil())
	}
	// Nothing of vertex 2 is left on its shard: no half, no tombstone, no record.
	g.Expect(w.shards[0].Read(context.Background(), true, func(r *engine.View) error {
		hs, err := halves(r, graph, 2)
		g.Expect(hs).To(BeEmpty())
		return err
	})).To(Succeed())
}

func TestAWriteThatLostARaceIsComputedAgain(t *testing.T) {
	w := newWorld(t)
	g := w.g
	w.mustWrite(2, vtx(2, nil, map[string]any{"n": int64(0)}))
	sh := w.on(2)
	// Between the write's read and its transaction, another write changes the vertex: the
	// transaction's condition fails and the write is computed again from the new state.
	sh.beforeTxn = func() {
		_, err := w.st.Write(context.Background(), sh, 0, graph, []shardapi.Mutation{{UpdateVertex: &shardapi.UpdateVertex{ID: 2, Set: map[string]any{"other": true}}}})
		g.Expect(err).NotTo(HaveOccurred())
	}
	txns := sh.txns
	w.mustWrite(2, shardapi.Mutation{UpdateVertex: &shardapi.UpdateVertex{ID: 2, Set: map[string]any{"n": int64(1)}}})
	g.Expect(sh.txns-txns).To(Equal(3), "the concurrent write, the aborted one, the retry")
	g.Expect(w.props(w.vertex(2))).To(Equal(map[string]any{"n": int64(1), "other": true}))
}

// A write that makes edges takes their halves as absent without reading them; an edge that
// exists after all (an import run again) fails that transaction, and the write, computed
// again from what it reads, finds the edge and changes nothing.
func TestAnEdgeMadeAgainIsFound(t *testing.T) {
	w := newWorld(t)
	g := w.g
	for _, id := range []layout.ID{2, 3, 4} {
		w.mustWrite(id, vtx(id, nil, nil))
	}
	sh := w.on(2)
	txns := sh.txns
	first := w.mustWrite(2, edge(60, 2, 4, "T"), edge(61, 2, 3, "T"))
	g.Expect(sh.txns-txns).To(Equal(1), "new edges: one transaction, no read of their halves")
	g.Expect(first.Outcomes[0].Found || first.Outcomes[1].Found).To(BeFalse())
	w.deliver()

	txns = sh.txns
	again := w.mustWrite(2, edge(60, 2, 4, "T"), edge(61, 2, 3, "T"))
	g.Expect(sh.txns-txns).To(Equal(1), "the failed first attempt; the second writes nothing")
	g.Expect(again.Outcomes[0].Found && again.Outcomes[1].Found).To(BeTrue())
	g.Expect(again.Outbox).To(BeEmpty())
	g.Expect(again.Outcomes[1].Half.Gen).To(Equal(first.Outcomes[1].Half.Gen), "the edge is unchanged")
	g.Expect(w.edges(2, layout.Out)).To(ConsistOf("2-T->3", "2-T->4"))
	g.Expect(w.edges(3, layout.In)).To(Equal([]string{"2-T->3"}))

	// Delivered again, a record whose half is there already changes nothing either.
	res, err := w.st.Apply(context.Background(), w.on(3), 1, graph, first.Outbox, w.clock.Add(RequestTTL))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res).To(HaveLen(1))
	g.Expect(w.edges(3, layout.In)).To(Equal([]string{"2-T->3"}))
}

// Edge writes on one vertex never conflict with each other (they write its adjacency version
// without a condition); a delete of the vertex that raced an edge is computed again and sees it.
func TestEdgeWritesDoNotConflictButDeletesSeeThem(t *testing.T) {
	w := newWorld(t)
	g := w.g
	for _, id := range []layout.ID{2, 4, 6} {
		w.mustWrite(id, vtx(id, nil, nil))
	}
	sh := w.on(2)
	sh.beforeTxn = func() {
		_, err := w.st.Write(context.Background(), sh, 0, graph, []shardapi.Mutation{edge(40, 2, 4, "T")})
		g.Expect(err).NotTo(HaveOccurred())
	}
	txns := sh.txns
	w.mustWrite(2, edge(41, 2, 6, "T"))
	g.Expect(sh.txns-txns).To(Equal(2), "the other edge's write and this one: no retry")
	g.Expect(w.edges(2, layout.Out)).To(HaveLen(2))

	// Vertex 6 looks edgeless to a DELETE that then races an edge arriving: it fails.
	w.mustWrite(6, Mutation{DeleteEdge: &shardapi.DeleteEdge{ID: 41, Src: 2, Dst: 6, Type: "T"}})
	sh6 := w.on(6)
	sh6.beforeTxn = func() {
		_, err := w.st.Write(context.Background(), sh, 0, graph, []shardapi.Mutation{edge(42, 2, 6, "T")})
		g.Expect(err).NotTo(HaveOccurred())
	}
	_, err := w.write(6, Mutation{DeleteVertex: &shardapi.DeleteVertex{ID: 6}})
	g.Expect(err).To(MatchError(ContainSubstring("it still has 1 relationship(s)")))
	g.Expect(w.vertex(6)).NotTo(BeNil())
}

func TestExpandEndsGivesDistinctEndsWithoutExcludedEdges(t *testing.T) {
	w := newWorld(t)
	g := w.g
	for _, id := range []layout.ID{2, 4, 6} {
		w.mustWrite(id, vtx(id, nil, nil))
	}
	w.mustWrite(2, edge(10, 2, 4, "E"), edge(12, 2, 6, "E"))
	w.mustWrite(4, edge(14, 4, 6, "E"))
	ends := func(exclude map[layout.ID][]layout.ID, limit int) ([]layout.ID, bool) {
		var set layout.IDSet
		var more bool
		g.Expect(w.shards[0].Read(context.Background(), true, func(r *engine.View) (err error) {
			more, err = ExpandEnds(r, graph, []layout.ID{2, 4}, layout.Out, nil, nil, exclude, &set, limit)
			return err
		})).To(Succeed())
		return set.TakeSorted(), more
	}
	got, more := ends(nil, 10)
	g.Expect(got).To(Equal([]layout.ID{4, 6}), "6 is reached twice and counted once")
	g.Expect(more).To(BeFalse())
	got, _ = ends(map[layout.ID][]layout.ID{2: {12}}, 10)
	g.Expect(got).To(Equal([]layout.ID{4, 6}), "6 is still reached from 4")
	got, _ = ends(map[layout.ID][]layout.ID{2: {12}, 4: {14}}, 10)
	g.Expect(got).To(Equal([]layout.ID{4}))
	got, more = ends(nil, 1)
	g.Expect(more).To(BeTrue())
	g.Expect(got).To(HaveLen(2), "it stops at the first end past the limit")
}

// Reason gives a refusal's own text, whatever wraps it, and any other error whole.
func TestReason(t *testing.T) {
	g := NewWithT(t)
	refusal := fmt.Errorf("mutation 3: %w", fmt.Errorf("%w: cannot delete vertex 7: it still has 1 relationship(s)", ErrSemantic))
	g.Expect(Reason(refusal)).To(Equal("cannot delete vertex 7: it still has 1 relationship(s)"))
	g.Expect(Reason(fmt.Errorf("shard 2: %w", ErrVertexExists))).To(Equal("the vertex exists"))
	g.Expect(Reason(fmt.Errorf("mutation 0: %w", ErrCorrupt))).To(Equal("mutation 0: corrupt graph record"))
}

// Load writes a bulk load's pairs as the node's replica does: one load of the engine at the
// next applied index.
func (s *engineShard) Load(_ context.Context, pairs []engine.Pair) (engine.Result, error) {
	s.loads++
	res, err := s.e.ApplyShards([]engine.ShardApply{{Shard: s.shard, Load: pairs, AppliedIndex: uint64(s.loads)}})
	if err != nil {
		return engine.Result{}, err
	}
	return res[0][0], nil
}

// TestLoadOnlyIntoALoadingGraph: a bulk load's keys go only into a graph whose catalog copy
// says a load is running, only as the graph's data keys, sorted; meanwhile the graph takes no
// write; what was loaded reads back as the store's own records once the load ends.
func TestLoadOnlyIntoALoadingGraph(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	sh := w.shards[0]
	setCatalog := func(c *shardapi.Catalog) {
		_, err := w.st.SetCatalog(ctx, sh, 0, graph, c)
		w.g.Expect(err).NotTo(HaveOccurred())
	}
	v := &shardapi.Vertex{ID: 2, Labels: []string{"P"}, Props: mustProps(w.g, map[string]any{"id": int64(2)}), Incarnation: 9}
	pairs := []shardapi.Pair{
		{Key: layout.LabelKey(graph, "P", 2)},
		{Key: layout.VertexKey(graph, 2), Value: shardapi.EncodeVertex(v)},
	}
	setCatalog(&shardapi.Catalog{Version: 1})
	_, err := Load(ctx, sh, graph, pairs)
	w.g.Expect(err).To(MatchError(ErrNotLoading))

	setCatalog(&shardapi.Catalog{Version: 2, Loading: 1_700_000_000_000_000_000})
	_, err = w.write(4, shardapi.Mutation{CreateVertex: &shardapi.CreateVertex{ID: 4, Labels: []string{"Q"}}})
	w.g.Expect(err).To(MatchError(ContainSubstring(`graph "g" is being bulk-loaded (since 2023-11-14T22:13:20Z)`)))
	w.g.Expect(errors.Is(err, ErrSemantic)).To(BeTrue())
	for name, bad := range map[string][]shardapi.Pair{
		"the catalog":   {{Key: layout.CatalogKey(graph)}},
		"another graph": {{Key: layout.VertexKey("h", 2)}},
		"out of order":  {pairs[1], pairs[0]},
		"none":          nil,
	} {
		_, err := Load(ctx, sh, graph, bad)
		w.g.Expect(errors.Is(err, ErrSemantic)).To(BeTrue(), "%s: %v", name, err)
	}
	w.g.Expect(sh.loads).To(BeZero(), "nothing refused reached the shard")
	rev, err := Load(ctx, sh, graph, pairs)
	w.g.Expect(err).NotTo(HaveOccurred())
	w.g.Expect(rev).To(BeNumerically(">", 0))

	setCatalog(&shardapi.Catalog{Version: 3})
	var got *shardapi.Vertex
	w.g.Expect(sh.Read(ctx, false, func(r *engine.View) error {
		var err error
		got, err = GetVertex(r, graph, 2)
		return err
	})).To(Succeed())
	w.g.Expect(got.Labels).To(Equal([]string{"P"}))
	w.g.Expect(got.Incarnation).To(Equal(uint64(9)))
	_, err = w.write(2, shardapi.Mutation{UpdateVertex: &shardapi.UpdateVertex{ID: 2, Set: map[string]any{"x": int64(1)}}})
	w.g.Expect(err).NotTo(HaveOccurred(), "the loaded vertex takes writes once the load ended")
}

func mustProps(g *WithT, m map[string]any) []byte {
	b, err := value.EncodeProps(m)
	g.Expect(err).NotTo(HaveOccurred())
	return b
}
