package store

import (
	. "github.com/onsi/gomega"

	"context"
	"testing"

	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/shardapi"
	"github.com/torua/torua/graph/value"
	"github.com/torua/torua/node/engine"
)

func TestCatalogIndexBackfillAndDrop(t *testing.T) {
	w := newWorld(t)
	g := w.g
	ctx := context.Background()
	sh := w.shards[0]
	for id := layout.ID(2); id <= 20; id += 2 {
		w.mustWrite(id, vtx(id, []string{"City"}, map[string]any{"pop": int64(id) * 1000}))
	}
	set := func(c *shardapi.Catalog) *shardapi.Catalog {
		out, err := w.st.SetCatalog(ctx, sh, 0, graph, c)
		g.Expect(err).NotTo(HaveOccurred())
		return out
	}
	building := &shardapi.Catalog{Version: 2, Indexes: []shardapi.Index{{Name: "pop", Label: "City", Property: "pop", State: shardapi.IndexBuilding}}}
	g.Expect(set(building)).To(Equal(building))
	g.Expect(set(&shardapi.Catalog{Version: 1})).To(Equal(building), "an older catalog changes nothing")
	_, err := w.st.SetCatalog(ctx, sh, 0, graph, &shardapi.Catalog{Version: 3, PrimaryKeys: []shardapi.PrimaryKey{{Label: "A", Property: "x"}, {Label: "A", Property: "y"}}})
	g.Expect(err).To(MatchError(ContainSubstring("one primary key")))

	// A write after the index exists keeps its entry; the backfill covers the rest, in batches.
	w.mustWrite(22, vtx(22, []string{"City"}, map[string]any{"pop": int64(22000)}))
	after := layout.ID(0)
	for batches := 1; ; batches++ {
		after, err = w.st.BackfillIndex(ctx, sh, 0, graph, "City", "pop", after, 4)
		g.Expect(err).NotTo(HaveOccurred())
		if after == 0 {
			g.Expect(batches).To(Equal(3))
			break
		}
	}
	var ids []layout.ID
	g.Expect(sh.Read(ctx, true, func(r *engine.View) (err error) {
		ids, _, err = IndexLookup(r, graph, "City", "pop", shardapi.Range{Lower: value.Wire{V: 10_000.0}, Upper: value.Wire{V: int64(14_000)}, UpperInclusive: true}, 100)
		return err
	})).To(Succeed())
	g.Expect(ids).To(Equal([]layout.ID{12, 14}))
	_, err = w.st.BackfillIndex(ctx, sh, 0, graph, "City", "name", 0, 4)
	g.Expect(err).To(MatchError(ContainSubstring("no index on :City(name)")))

	var names []string
	g.Expect(sh.Read(ctx, true, func(r *engine.View) (err error) {
		names, err = Graphs(r, true)
		return err
	})).To(Succeed())
	g.Expect(names).To(Equal([]string{graph}))

	total := 0
	for {
		n, more, err := Drop(ctx, sh, graph, 7)
		g.Expect(err).NotTo(HaveOccurred())
		total += n
		if !more {
			break
		}
	}
	g.Expect(total).To(BeNumerically(">", 11*3), "vertices, labels, index entries and the catalog")
	g.Expect(sh.Read(ctx, true, func(r *engine.View) (err error) {
		names, err = Graphs(r, false)
		return err
	})).To(Succeed())
	g.Expect(names).To(BeEmpty())
}
