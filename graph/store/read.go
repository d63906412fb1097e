package store

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/shardapi"
	"github.com/torua/torua/node/engine"
)

// Reader is a consistent view of one shard: *engine.View.
type Reader interface {
	Get(key []byte) (engine.Value, error)
	GetEach(keys [][]byte, fn func(i int, val engine.Value) error) error
	Scan(prefix, start []byte, fn func(key []byte, val engine.Value) (bool, error)) error
}

var _ Reader = (*engine.View)(nil)

// ReadCatalog returns the shard's copy of graph's catalog and its revision (0 and an empty
// catalog if the shard has none).
func ReadCatalog(r Reader, graph string) (*shardapi.Catalog, uint64, error) {
	v, err := r.Get(layout.CatalogKey(graph))
	if errors.Is(err, engine.ErrNotFound) {
		return &shardapi.Catalog{}, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	c, err := decodeCatalog(v.Data)
	if err != nil {
		return nil, 0, fmt.Errorf("graph %q: %w", graph, err)
	}
	return c, v.Revision, nil
}

// GetVertex returns vertex id, or nil if it does not exist.
func GetVertex(r Reader, graph string, id layout.ID) (*shardapi.Vertex, error) {
	v, err := r.Get(layout.VertexKey(graph, id))
	if errors.Is(err, engine.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeVertex(id, v.Data, v.Revision)
}

// GetVertices returns the vertices of ids that exist and pass filter, in the order of ids.
func GetVertices(r Reader, graph string, ids []layout.ID, filter *shardapi.VertexFilter) ([]*shardapi.Vertex, error) {
	keys := make([][]byte, len(ids))
	for i, id := range ids {
		keys[i] = layout.VertexKey(graph, id)
	}
	found := make([]*shardapi.Vertex, len(ids))
	err := r.GetEach(keys, func(i int, val engine.Value) error {
		v, err := decodeVertex(ids[i], bytes.Clone(val.Data), val.Revision)
		found[i] = v
		return err
	})
	if err != nil {
		return nil, err
	}
	out := found[:0]
	for _, v := range found {
		if v == nil {
			continue
		}
		ok, err := filter.Match(v)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, v)
		}
	}
	return out, nil
}

// ScanVertices returns up to limit vertices of the shard with ids above after, ascending, that
// have label (any vertex if label is empty) and pass filter, and whether more may follow (then
// the last id returned is the next call's after). A label scan reads the label's keys, not
// every vertex.
func ScanVertices(r Reader, graph, label string, after layout.ID, limit int, filter *shardapi.VertexFilter) (vs []*shardapi.Vertex, more bool, err error) {
	prefix := layout.VertexPrefix(graph)
	keyOf := func(id layout.ID) []byte { return layout.VertexKey(graph, id) }
	idOf := func(k []byte) (layout.ID, error) { return layout.ParseVertexKey(graph, k) }
	if label != "" {
		prefix = layout.LabelPrefix(graph, label)
		keyOf = func(id layout.ID) []byte { return layout.LabelKey(graph, label, id) }
		idOf = func(k []byte) (layout.ID, error) { return layout.ParseLabelKey(graph, label, k) }
	}
	var start []byte
	if after > 0 {
		start = append(keyOf(after), 0)
	}
	err = r.Scan(prefix, start, func(k []byte, val engine.Value) (bool, error) {
		if len(vs) == limit {
			more = true
			return false, nil
		}
		id, err := idOf(k)
		if err != nil {
			return false, fmt.Errorf("%v: %w", err, ErrCorrupt)
		}
		v := (*shardapi.Vertex)(nil)
		if label == "" {
			// val.Data is the iterator's until its next step: the vertex keeps a copy.
			v, err = decodeVertex(id, bytes.Clone(val.Data), val.Revision)
		} else {
			v, err = GetVertex(r, graph, id)
			if err == nil && v == nil {
				err = fmt.Errorf("label key of vertex %d without the vertex: %w", id, ErrCorrupt)
			}
		}
		if err != nil {
			return false, err
		}
		ok, err := filter.Match(v)
		if ok {
			vs = append(vs, v)
		}
		return err == nil, err
	})
	return vs, more, err
}

// Expand returns the live halves of the edges of each vertex of ids in direction dir (Out:
// edges leaving it, In: edges entering it), of the given types (any type if none), whose
// properties pass edgeFilter, in the order of ids, then type, other end and edge. It stops with
// more set after limit halves. Missing vertices have no halves.
func Expand(r Reader, graph string, ids []layout.ID, dir layout.Direction, types []string, edgeFilter *shardapi.PropFilter, limit int) (hs []*shardapi.Half, more bool, err error) {
	err = eachHalf(r, graph, ids, dir, types, edgeFilter, func(h *shardapi.Half) bool {
		if len(hs) == limit {
			more = true
			return false
		}
		c := *h
		c.Props = bytes.Clone(h.Props)
		hs = append(hs, &c)
		return true
	}, nil)
	return hs, more, err
}

// ExpandEnds adds to ends the other ends of the halves Expand would return, leaving out the
// halves of the edges exclude lists for their vertex. It stops with more set when ends would
// hold more than limit.
func ExpandEnds(r Reader, graph string, ids []layout.ID, dir layout.Direction, types []string, edgeFilter *shardapi.PropFilter, exclude map[layout.ID][]layout.ID, ends *layout.IDSet, limit int) (more bool, err error) {
	add := func(id layout.ID) bool {
		if ends.Add(id) && ends.Len() > limit {
			more = true
			return false
		}
		return true
	}
	err = eachHalf(r, graph, ids, dir, types, edgeFilter, func(h *shardapi.Half) bool {
		if len(exclude) > 0 && slices.Contains(exclude[h.Vertex], h.Edge) {
			return true
		}
		return add(h.Other)
	}, func(id layout.ID, others []layout.ID) (handled, stop bool) {
		if len(exclude[id]) > 0 {
			return false, false
		}
		for _, o := range others {
			if !add(o) {
				return true, true
			}
		}
		return true, false
	})
	return more, err
}

// endsFunc takes the other ends of every half of vertex id a hop passes, from the adjacency
// cache, and reports whether it handled them (if not, the halves are given one by one) and
// whether the hop stops.
type endsFunc func(id layout.ID, others []layout.ID) (handled, stop bool)

// eachHalf calls fn with each half Expand returns, in its order, until fn returns false,
// through r's adjacency cache when it has one (AdjacencyCache.Cached). fn must not keep or
// change the half. With ends, the halves of a cached vertex may go to ends instead
// (cachedHalves).
func eachHalf(r Reader, graph string, ids []layout.ID, dir layout.Direction, types []string, edgeFilter *shardapi.PropFilter, fn func(h *shardapi.Half) bool, ends endsFunc) error {
	if len(types) == 0 {
		types = []string{""}
	} else {
		types = slices.Clone(types)
		slices.Sort(types)
		types = slices.Compact(types)
	}
	cr, cached := r.(*cachedReader)
	for _, id := range ids {
		if cached {
			stopped, err := cr.cachedHalves(graph, id, dir, types, edgeFilter, fn, ends)
			if err != nil || stopped {
				return err
			}
			continue
		}
		for _, typ := range types {
			stopped := false
			err := scanHalves(r, graph, id, dir, typ, func(h *shardapi.Half) (bool, error) {
				ok, err := edgeFilter.Match(h.Props)
				if err != nil || !ok {
					return err == nil, err
				}
				stopped = !fn(h)
				return !stopped, nil
			})
			if err != nil || stopped {
				return err
			}
		}
	}
	return nil
}

// scanHalves calls fn with each live half of vertex id in direction dir of type typ (every
// type when ""), in key order, until fn returns false or an error. The half's Props are
// only valid during the call.
func scanHalves(r Reader, graph string, id layout.ID, dir layout.Direction, typ string, fn func(h *shardapi.Half) (bool, error)) error {
	return r.Scan(layout.AdjacencyPrefix(graph, dir, id, typ), nil, func(k []byte, val engine.Value) (bool, error) {
		e, err := layout.ParseEdgeKey(graph, k)
		if err != nil {
			return false, fmt.Errorf("%v: %w", err, ErrCorrupt)
		}
		h, err := decodeHalf(e, val.Data, val.Revision)
		if err != nil || h.Deleted {
			return err == nil, err
		}
		return fn(h)
	})
}

// halves returns every half of vertex id on its shard, live or tombstone, both directions.
func halves(r Reader, graph string, id layout.ID) ([]*shardapi.Half, error) {
	var hs []*shardapi.Half
	for _, dir := range []layout.Direction{layout.Out, layout.In} {
		err := r.Scan(layout.AdjacencyPrefix(graph, dir, id, ""), nil, func(k []byte, val engine.Value) (bool, error) {
			e, err := layout.ParseEdgeKey(graph, k)
			if err != nil {
				return false, fmt.Errorf("%v: %w", err, ErrCorrupt)
			}
			h, err := decodeHalf(e, bytes.Clone(val.Data), val.Revision)
			if err == nil {
				hs = append(hs, h)
			}
			return err == nil, err
		})
		if err != nil {
			return nil, err
		}
	}
	return hs, nil
}

// getHalf returns the half at e's key, or nil.
func getHalf(r Reader, graph string, e layout.EdgeHalf) (*shardapi.Half, error) {
	v, err := r.Get(e.Key(graph))
	if errors.Is(err, engine.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeHalf(e, v.Data, v.Revision)
}

// getOutbox returns the outbox record at key, or nil.
func getOutbox(r Reader, key []byte) (*shardapi.Outbox, error) {
	v, err := r.Get(key)
	if errors.Is(err, engine.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeOutbox(v.Data, v.Revision)
}

// PendingOutbox returns the outbox records of graph on the shard: those stored alone, then
// those of bundles, whole bundles only, until limit is reached (a bundle may pass it).
func PendingOutbox(r Reader, graph string, limit int) ([]*shardapi.Outbox, error) {
	var out []*shardapi.Outbox
	err := r.Scan(layout.OutboxPrefix(graph), nil, func(_ []byte, val engine.Value) (bool, error) {
		o, err := decodeOutbox(bytes.Clone(val.Data), val.Revision)
		if err == nil {
			out = append(out, o)
		}
		return err == nil && len(out) < limit, err
	})
	if err != nil || len(out) >= limit {
		return out, err
	}
	err = r.Scan(layout.BundlePrefix(graph), nil, func(k []byte, val engine.Value) (bool, error) {
		recs, err := decodeBundle(bytes.Clone(k), bytes.Clone(val.Data), val.Revision)
		if err == nil {
			out = append(out, recs...)
		}
		return err == nil && len(out) < limit, err
	})
	return out, err
}

// IndexLookup returns the ids of the shard's vertices whose indexed property (of index label,
// prop) lies in rng, ascending by value then id, up to limit, and whether more may follow.
func IndexLookup(r Reader, graph, label, prop string, rng shardapi.Range, limit int) (ids []layout.ID, more bool, err error) {
	prefix, start, stop, err := indexBounds(rng, graph, label, prop)
	if err != nil {
		return nil, false, err
	}
	err = r.Scan(prefix, start, func(k []byte, _ engine.Value) (bool, error) {
		if stop != nil && bytes.Compare(k, stop) >= 0 {
			return false, nil
		}
		v, id, err := layout.ParseIndexKey(graph, label, prop, k)
		if err != nil {
			return false, fmt.Errorf("%v: %w", err, ErrCorrupt)
		}
		if !rng.Contains(v) {
			return true, nil
		}
		if len(ids) == limit {
			more = true
			return false, nil
		}
		ids = append(ids, id)
		return true, nil
	})
	return ids, more, err
}

// Graphs returns the names of the graphs that have keys on the shard; with catalogOnly, only
// those with a catalog copy there (every graph made through the router has one on every
// shard).
func Graphs(r Reader, catalogOnly bool) ([]string, error) {
	var names []string
	start := []byte(nil)
	for {
		var name string
		err := r.Scan(layout.GraphsPrefix(), start, func(k []byte, _ engine.Value) (bool, error) {
			n, err := layout.GraphOf(k)
			if err != nil {
				return false, fmt.Errorf("%v: %w", err, ErrCorrupt)
			}
			name = n
			return false, nil
		})
		if err != nil || name == "" {
			return names, err
		}
		keep := true
		if catalogOnly {
			if _, err := r.Get(layout.CatalogKey(name)); errors.Is(err, engine.ErrNotFound) {
				keep = false
			} else if err != nil {
				return nil, err
			}
		}
		if keep {
			names = append(names, name)
		}
		start = layout.NextGraphAfter(name)
	}
}
