package store

import (
	"context"
	"fmt"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/shardapi"
	"github.com/torua/torua/graph/value"
	"github.com/torua/torua/node/engine"
)

// TestAdjacencyCacheAnswersAsAScanDoes checks that hops through the cache find what a scan of
// the same view finds, while the busy vertex's edges change: made, changed, deleted.
func TestAdjacencyCacheAnswersAsAScanDoes(t *testing.T) {
	w := newWorld(t)
	g := w.g
	ctx := context.Background()
	hub := layout.ID(2)
	w.mustWrite(hub, vtx(hub, nil, nil))
	var muts []shardapi.Mutation
	for i := range 40 {
		dst := layout.ID(4 + 2*i) // on the hub's shard: no outbox to deliver
		w.mustWrite(dst, vtx(dst, nil, nil))
		typ := []string{"A", "B"}[i%2]
		muts = append(muts, shardapi.Mutation{CreateEdge: &shardapi.CreateEdge{ID: layout.ID(1000 + i), Src: hub, Dst: dst, Type: typ, Props: map[string]any{"w": int64(i)}}})
	}
	w.mustWrite(hub, muts...)
	cache := NewAdjacencyCache(1000)
	heavy := &shardapi.PropFilter{Preds: []shardapi.Pred{{Key: "w", Op: shardapi.OpGe, Value: value.Wire{V: int64(30)}}}}
	// expand answers a hop both ways, in one view, and returns what they found.
	expand := func(types []string, f *shardapi.PropFilter) string {
		var direct, cached []*shardapi.Half
		g.Expect(w.on(hub).Read(ctx, true, func(v *engine.View) (err error) {
			if direct, _, err = Expand(v, graph, []layout.ID{hub}, layout.Out, types, f, 1000); err != nil {
				return err
			}
			if cached, _, err = Expand(cache.Cached(v, 0), graph, []layout.ID{hub}, layout.Out, types, f, 1000); err != nil {
				return err
			}
			// The vertices reached, with and without an edge left out: the cache gives a
			// vertex's other ends at once only when every half passes.
			for _, exclude := range []map[layout.ID][]layout.ID{nil, {hub: {1002}}} {
				var directEnds, cachedEnds layout.IDSet
				if _, err := ExpandEnds(v, graph, []layout.ID{hub}, layout.Out, types, f, exclude, &directEnds, 1000); err != nil {
					return err
				}
				if _, err := ExpandEnds(cache.Cached(v, 0), graph, []layout.ID{hub}, layout.Out, types, f, exclude, &cachedEnds, 1000); err != nil {
					return err
				}
				g.Expect(cachedEnds.TakeSorted()).To(Equal(directEnds.TakeSorted()), "types %v, filter %v, exclude %v", types, f, exclude)
			}
			return nil
		})).To(Succeed())
		g.Expect(cached).To(Equal(direct))
		return fmt.Sprint(len(direct))
	}
	g.Expect(expand(nil, nil)).To(Equal("40"))
	g.Expect(expand(nil, nil)).To(Equal("40"))
	hits, misses, _, halves := cache.Stats()
	g.Expect([]any{hits, misses, halves}).To(Equal([]any{uint64(5), uint64(0), 40}), "the second hop is read from memory")
	g.Expect(expand([]string{"B"}, heavy)).To(Equal("5"), "types and edge filters apply to cached halves")

	// Each change of the hub's halves is seen by the next hop.
	w.mustWrite(hub, shardapi.Mutation{DeleteEdge: &shardapi.DeleteEdge{ID: 1000, Src: hub, Dst: 4, Type: "A"}})
	g.Expect(expand(nil, nil)).To(Equal("39"))
	w.mustWrite(hub, shardapi.Mutation{UpdateEdge: &shardapi.UpdateEdge{ID: 1001, Src: hub, Dst: 6, Type: "B", Set: map[string]any{"w": int64(99)}}})
	g.Expect(expand([]string{"B"}, heavy)).To(Equal("6"))
	w.mustWrite(hub, edge(2000, hub, 4, "C"))
	g.Expect(expand(nil, nil)).To(Equal("40"))
	_, misses, _, _ = cache.Stats()
	g.Expect(misses).To(Equal(uint64(3)))
	g.Expect(expand([]string{"C"}, nil)).To(Equal("1"), "a type only some halves have")

	// A hop from the hub once it is gone (DETACH DELETE) finds nothing: a frontier may still
	// name a vertex deleted meanwhile.
	w.mustWrite(hub, shardapi.Mutation{DeleteVertex: &shardapi.DeleteVertex{ID: hub, Detach: true}})
	g.Expect(expand(nil, nil)).To(Equal("0"))

	// A vertex with more halves than the budget is not cached; a small one neither.
	small := NewAdjacencyCache(10)
	g.Expect(w.on(hub).Read(ctx, true, func(v *engine.View) error {
		_, _, err := Expand(small.Cached(v, 0), graph, []layout.ID{hub, 4}, layout.Out, nil, nil, 1000)
		return err
	})).To(Succeed())
	_, _, _, halves = small.Stats()
	g.Expect(halves).To(BeZero())
}

// An entry gives its other ends at once only to a hop that passes every one of its halves.
func TestAdjacencyEntryEndsOf(t *testing.T) {
	g := NewWithT(t)
	half := func(typ string, other layout.ID) shardapi.Half {
		return shardapi.Half{EdgeHalf: layout.EdgeHalf{Dir: layout.Out, Vertex: 1, Other: other, Type: typ, Edge: other + 100}}
	}
	one := newAdjEntry(7, []shardapi.Half{half("A", 3), half("A", 2)})
	mixed := newAdjEntry(7, []shardapi.Half{half("A", 3), half("B", 2)})
	filter := &shardapi.PropFilter{Preds: []shardapi.Pred{{Key: "w", Op: shardapi.OpGe, Value: value.Wire{V: int64(1)}}}}
	for _, c := range []struct {
		e      *adjEntry
		types  []string
		filter *shardapi.PropFilter
		ok     bool
	}{
		{one, []string{""}, nil, true},
		{one, []string{"A"}, nil, true},
		{one, []string{"A", "C"}, &shardapi.PropFilter{}, true},
		{one, []string{"B"}, nil, false},
		{one, []string{""}, filter, false},
		{mixed, []string{""}, nil, true},
		{mixed, []string{"A"}, nil, false},
		{mixed, []string{"A", "B"}, nil, false}, // both, but the entry does not know it: halves one by one
	} {
		others, ok := c.e.endsOf(c.types, c.filter)
		g.Expect(ok).To(Equal(c.ok), "%+v", c)
		if ok {
			g.Expect(others).To(Equal([]layout.ID{3, c.e.halves[1].Other}))
		}
	}
}
