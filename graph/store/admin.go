package store

import (
	"bytes"
	"context"
	"fmt"

	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/shardapi"
	"github.com/torua/torua/node/engine"
)

// SetCatalog sets the shard's copy of graph's catalog to c, unless the copy's version is
// already c's or higher, and returns the copy as it is afterwards. A vertex write that read
// the older copy is computed again (it was conditional on the copy).
func (s *Store) SetCatalog(ctx context.Context, sh Shard, shard int, graph string, c *shardapi.Catalog) (*shardapi.Catalog, error) {
	if err := checkCatalog(c); err != nil {
		return nil, err
	}
	var out *shardapi.Catalog
	err := s.writeLoop(ctx, sh, shard, graph, func(p *plan) error {
		cur, rev, err := ReadCatalog(p.r, graph)
		if err != nil {
			return err
		}
		out = cur
		if rev != 0 && cur.Version >= c.Version {
			return nil
		}
		p.guard(layout.CatalogKey(graph), rev)
		p.put(layout.CatalogKey(graph), encodeCatalog(c))
		out = c
		return nil
	})
	return out, err
}

// checkCatalog refuses a catalog that names a label twice as a primary key, or an index twice.
func checkCatalog(c *shardapi.Catalog) error {
	pks := map[string]bool{}
	for _, pk := range c.PrimaryKeys {
		if pk.Label == "" || pk.Property == "" || pks[pk.Label] {
			return fmt.Errorf("%w: primary key %+v: a label may declare one primary key", ErrSemantic, pk)
		}
		pks[pk.Label] = true
	}
	idx := map[[2]string]bool{}
	for _, x := range c.Indexes {
		k := [2]string{x.Label, x.Property}
		if x.Label == "" || x.Property == "" || idx[k] || (x.State != shardapi.IndexBuilding && x.State != shardapi.IndexReady) {
			return fmt.Errorf("%w: index %+v: one index per label and property, building or ready", ErrSemantic, x)
		}
		idx[k] = true
	}
	return nil
}

// Drop deletes up to limit keys of graph on the shard in one transaction and reports how many
// it deleted and whether keys are left. Dropping a graph that is still being written may leave
// keys written after the last call: drop a graph nobody writes to.
func Drop(ctx context.Context, sh Shard, graph string, limit int) (deleted int, more bool, err error) {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		var ops []engine.Op
		more = false
		err := sh.Read(ctx, false, func(v *engine.View) error {
			return v.Scan(layout.GraphPrefix(graph), nil, func(k []byte, _ engine.Value) (bool, error) {
				if len(ops) == limit {
					more = true
					return false, nil
				}
				ops = append(ops, engine.Op{Kind: engine.OpDelete, Key: append([]byte(nil), k...)})
				return true, nil
			})
		})
		if err != nil || len(ops) == 0 {
			return 0, false, err
		}
		res, err := sh.Txn(ctx, ops)
		if err != nil {
			return 0, false, err
		}
		if !txnFailed(res) {
			return len(ops), more, nil
		}
	}
	return 0, true, fmt.Errorf("drop graph %q: %w", graph, ErrConflict)
}

// BackfillIndex writes the entries of the index of label and prop for up to limit vertices
// of the shard with label, by ascending id after after, in one transaction, and returns the
// last id it covered (0 when it reached the end). The shard's catalog copy must already list
// the index: writes made since then keep its entries themselves.
func (s *Store) BackfillIndex(ctx context.Context, sh Shard, shard int, graph, label, prop string, after layout.ID, limit int) (layout.ID, error) {
	var last layout.ID
	err := s.writeLoop(ctx, sh, shard, graph, func(p *plan) error {
		cat, rev, err := ReadCatalog(p.r, graph)
		if err != nil {
			return err
		}
		if _, ok := cat.IndexOn(label, prop); !ok {
			return fmt.Errorf("%w: no index on :%s(%s) in the shard's catalog", ErrSemantic, label, prop)
		}
		p.cat = cat
		p.guard(layout.CatalogKey(graph), rev)
		vs, more, err := ScanVertices(p.r, graph, label, after, limit, nil)
		if err != nil {
			return err
		}
		last = 0
		for _, v := range vs {
			p.guard(layout.VertexKey(graph, v.ID), v.Revision)
			entries, err := p.entries(v)
			if err != nil {
				return err
			}
			for k := range entries {
				p.put([]byte(k), nil)
			}
			last = v.ID
		}
		if !more {
			last = 0
		}
		return nil
	})
	return last, err
}

// CollectTombstones removes up to limit tombstones of graph on the shard that were written
// more than TombstoneTTL before now, with their entries in the tombstone list, and reports how
// many it removed. A tombstone replaced since by a live half is only unlisted.
func (s *Store) CollectTombstones(ctx context.Context, sh Shard, shard int, graph string, limit int) (int, error) {
	n := 0
	err := s.writeLoop(ctx, sh, shard, graph, func(p *plan) error {
		n = 0
		stop := layout.TombstoneBefore(graph, p.now.Add(-TombstoneTTL).Unix())
		type entry struct{ key, half []byte }
		var list []entry
		err := p.r.Scan(layout.TombstonePrefix(graph), nil, func(k []byte, v engine.Value) (bool, error) {
			if bytes.Compare(k, stop) >= 0 || len(list) == limit {
				return false, nil
			}
			list = append(list, entry{bytes.Clone(k), bytes.Clone(v.Data)})
			p.guard(k, v.Revision)
			return true, nil
		})
		if err != nil {
			return err
		}
		for _, e := range list {
			p.del(e.key)
			half, err := layout.ParseEdgeKey(graph, e.half)
			if err != nil {
				return fmt.Errorf("tombstone list entry %q: %v: %w", e.key, err, ErrCorrupt)
			}
			h, err := p.half(half)
			if err != nil {
				return err
			}
			if h != nil && h.Deleted {
				p.delHalf(half)
				n++
			}
		}
		return nil
	})
	return n, err
}
