package store

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/shardapi"
	"github.com/torua/torua/node/engine"
)

// A write that changes several edges across shards stores their outbox records as one
// bundle: one key written, one key removed once every record is settled.
func TestAWriteOfManyEdgesStoresOneBundle(t *testing.T) {
	w := newWorld(t)
	g := w.g
	ctx := context.Background()
	for _, id := range []layout.ID{2, 3, 5, 7} {
		w.mustWrite(id, vtx(id, nil, nil))
	}
	res := w.mustWrite(2, edge(40, 2, 3, "T"), edge(41, 2, 5, "T"), edge(42, 2, 7, "T"))
	g.Expect(res.Outbox).To(HaveLen(3))
	bundle := res.Outbox[0].Bundle
	g.Expect(bundle).To(HavePrefix(string(layout.BundlePrefix(graph))))
	for _, o := range res.Outbox {
		g.Expect(o.Bundle).To(Equal(bundle))
		g.Expect(o.Revision).To(Equal(res.Outbox[0].Revision))
	}
	g.Expect(w.keys(0, layout.OutboxPrefix(graph))).To(BeEmpty(), "no record stored alone")
	g.Expect(w.keys(0, layout.BundlePrefix(graph))).To(HaveLen(1))
	pending := w.pending(2)
	g.Expect(pending).To(HaveLen(3))
	g.Expect(pending[0].Bundle).To(Equal(bundle), "a pending record knows its bundle")

	// Settling part of a bundle keeps it whole: it is delivered again, which changes nothing.
	applied, err := w.st.Apply(ctx, w.shards[1], 1, graph, res.Outbox[:2], w.clock.Add(RequestTTL))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(w.st.Settle(ctx, w.shards[0], 0, graph, res.Outbox[:2], applied)).To(Succeed())
	g.Expect(w.pending(2)).To(HaveLen(3))
	g.Expect(w.edges(3, layout.In)).To(Equal([]string{"2-T->3"}))
	g.Expect(w.edges(7, layout.In)).To(BeEmpty())

	w.deliver()
	g.Expect(w.keys(0, layout.BundlePrefix(graph))).To(BeEmpty(), "settled whole, the bundle is gone")
	for _, id := range []layout.ID{3, 5, 7} {
		g.Expect(w.edges(id, layout.In)).To(Equal([]string{"2-T->" + itoa(id)}))
	}

	// One edge alone keeps its record at the edge's key.
	res = w.mustWrite(2, edge(43, 2, 3, "U"))
	g.Expect(res.Outbox).To(HaveLen(1))
	g.Expect(res.Outbox[0].Bundle).To(BeNil())
	g.Expect(w.keys(0, layout.OutboxPrefix(graph))).To(HaveLen(1))
}

// A record of a bundle that a newer change of its edge overtook is not current: the sweep
// settles it without delivering it, so that it can never bring back a half whose tombstone
// is gone. A record whose other vertex is gone undoes only the change it was made for.
func TestABundlesOvertakenRecordIsNotDelivered(t *testing.T) {
	w := newWorld(t)
	g := w.g
	for _, id := range []layout.ID{2, 3, 5} {
		w.mustWrite(id, vtx(id, nil, nil))
	}
	res := w.mustWrite(2, edge(50, 2, 3, "T"), edge(51, 2, 5, "T"))
	g.Expect(res.Outbox).To(HaveLen(2))
	current := func(o *shardapi.Outbox) bool {
		var ok bool
		g.Expect(w.shards[0].Read(context.Background(), true, func(v *engine.View) (err error) {
			ok, err = CurrentOutbox(v, graph, o)
			return err
		})).To(Succeed())
		return ok
	}
	g.Expect(current(res.Outbox[0])).To(BeTrue())

	// Edge 50 is deleted before the bundle is delivered: its delete is a record of its own.
	w.mustWrite(2, Mutation{DeleteEdge: &shardapi.DeleteEdge{ID: 50, Src: 2, Dst: 3, Type: "T"}})
	g.Expect(current(res.Outbox[0])).To(BeFalse(), "the create was overtaken by the delete")
	g.Expect(current(res.Outbox[1])).To(BeTrue())

	// Made again (a newer generation): the old create is still not current.
	w.clock = w.clock.Add(1)
	again := w.mustWrite(2, edge(50, 2, 3, "T"))
	g.Expect(current(res.Outbox[0])).To(BeFalse())
	g.Expect(current(again.Outbox[0])).To(BeTrue())

	// Edge 51 is changed (a record of its own), then its other vertex goes. Delivering the
	// bundle finds vertex 5 gone, but the out-half is the newer change: it stays, until the
	// newer change's own record is delivered and undoes it.
	w.mustWrite(2, Mutation{UpdateEdge: &shardapi.UpdateEdge{ID: 51, Src: 2, Dst: 5, Type: "T", Set: map[string]any{"w": int64(1)}}})
	w.mustWrite(5, Mutation{DeleteVertex: &shardapi.DeleteVertex{ID: 5}})
	ctx := context.Background()
	applied, err := w.st.Apply(ctx, w.shards[1], 1, graph, res.Outbox[1:], w.clock.Add(RequestTTL))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(applied[0].Gone).To(BeTrue())
	g.Expect(w.st.Settle(ctx, w.shards[0], 0, graph, res.Outbox[1:], applied)).To(Succeed())
	g.Expect(w.edges(2, layout.Out)).To(ConsistOf("2-T->3", "2-T->5"), "the newer change is not undone by the older record")
	w.deliver()
	g.Expect(w.edges(2, layout.Out)).To(Equal([]string{"2-T->3"}))
	g.Expect(w.edges(3, layout.In)).To(Equal([]string{"2-T->3"}))
	g.Expect(w.pending(2)).To(BeEmpty())
}

// keys lists the keys under prefix on shard i.
func (w *world) keys(i int, prefix []byte) []string {
	w.t.Helper()
	var out []string
	w.g.Expect(w.shards[i].Read(context.Background(), true, func(v *engine.View) error {
		return v.Scan(prefix, nil, func(k []byte, _ engine.Value) (bool, error) {
			out = append(out, string(k))
			return true, nil
		})
	})).To(Succeed())
	return out
}
