package store

import (
	"bytes"
	"errors"
	"slices"
	"sync"

	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/shardapi"
	"github.com/torua/torua/node/engine"
)

// The adjacency cache keeps the decoded live halves of busy vertices, so that a hop through a
// vertex with thousands of edges does not scan and decode thousands of keys each time.
//
// An entry is valid while the vertex's adjacency version is the one it was read at: every
// change of a vertex's halves writes that version in the same Raft entry (plan.touch), and a
// revision names one write of the shard's history on every replica (revisions are given in
// log order). So an entry is used only after reading the version in the same view as the
// hop: what a hop returns from the cache is what a scan of that view would return. Only
// vertices with at least cacheFrom halves in a direction are kept (for fewer, the scan costs
// no more than the version's read), up to the cache's budget of halves; past it, entries
// are dropped at random.

// cacheFrom is the fewest live halves in one direction a vertex needs to be cached: for one,
// the scan costs no more than the version's read. A three-hop query's last round reaches
// thousands of vertices with a few halves each: caching those from 2 halves, not 32, made
// it 30% faster at 8 clients (docs/benchmarks.md), with no eviction at 1,000,000 edges.
const cacheFrom = 2

// AdjacencyCache is the adjacency cache of one node, for every shard it holds. It is safe
// for concurrent use.
type AdjacencyCache struct {
	mu      sync.Mutex
	entries map[adjKey]*adjEntry
	halves  int // halves held
	budget  int
	// Hits and Misses count lookups of cached vertices whose version matched, or did not.
	hits, misses, evictions uint64
}

type adjKey struct {
	graph  string
	shard  int
	vertex layout.ID
	dir    layout.Direction
}

type adjEntry struct {
	version uint64 // the revision of the vertex's adjacency version key
	halves  []shardapi.Half
	// others holds each half's other end, in the order of halves, and typ the type every
	// half has ("" when they differ): a hop that wants only the vertices reached reads
	// eight bytes a half instead of a hundred (endsOf).
	others []layout.ID
	typ    string
}

// newAdjEntry returns the entry of halves at version.
func newAdjEntry(version uint64, halves []shardapi.Half) *adjEntry {
	e := &adjEntry{version: version, halves: halves, others: make([]layout.ID, len(halves))}
	for i := range halves {
		e.others[i] = halves[i].Other
	}
	if len(halves) > 0 {
		e.typ = halves[0].Type
		for i := range halves {
			if halves[i].Type != e.typ {
				e.typ = ""
				break
			}
		}
	}
	return e
}

// endsOf returns the other ends of the entry's halves when they are exactly the halves a hop
// of types (sorted; [""] is any type) without an edge filter passes, else ok false.
func (e *adjEntry) endsOf(types []string, edgeFilter *shardapi.PropFilter) (others []layout.ID, ok bool) {
	if edgeFilter != nil && len(edgeFilter.Preds) > 0 {
		return nil, false
	}
	if (len(types) == 1 && types[0] == "") || (e.typ != "" && slices.Contains(types, e.typ)) {
		return e.others, true
	}
	return nil, false
}

// NewAdjacencyCache returns a cache that holds at most budget halves (0: caches nothing).
func NewAdjacencyCache(budget int) *AdjacencyCache {
	return &AdjacencyCache{entries: map[adjKey]*adjEntry{}, budget: budget}
}

// Stats returns the lookups that found a valid entry, those that found a stale one, the
// entries dropped for room, and the halves held.
func (c *AdjacencyCache) Stats() (hits, misses, evictions uint64, halves int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses, c.evictions, c.halves
}

// Cached returns r, a view of shard, reading adjacency through c (r itself when c is nil).
func (c *AdjacencyCache) Cached(r Reader, shard int) Reader {
	if c == nil || c.budget == 0 {
		return r
	}
	return &cachedReader{Reader: r, c: c, shard: shard}
}

type cachedReader struct {
	Reader
	c     *AdjacencyCache
	shard int
}

func (c *AdjacencyCache) get(k adjKey) *adjEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entries[k]
}

func (c *AdjacencyCache) put(k adjKey, e *adjEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(e.halves) > c.budget {
		return
	}
	if old := c.entries[k]; old != nil {
		c.halves -= len(old.halves)
	}
	for k2, old := range c.entries { // random order: random eviction
		if c.halves+len(e.halves) <= c.budget {
			break
		}
		delete(c.entries, k2)
		c.halves -= len(old.halves)
		c.evictions++
	}
	c.entries[k] = e
	c.halves += len(e.halves)
}

func (c *AdjacencyCache) count(hit bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if hit {
		c.hits++
	} else {
		c.misses++
	}
}

// adjacencyVersion is the revision of vertex id's adjacency version key (0: none).
func adjacencyVersion(r Reader, graph string, id layout.ID) (uint64, error) {
	v, err := r.Get(layout.AdjacencyVersionKey(graph, id))
	if errors.Is(err, engine.ErrNotFound) {
		return 0, nil
	}
	return v.Revision, err
}

// cachedHalves calls fn with each live half of vertex id in direction dir whose type is one
// of types (any when types holds only "") and whose properties pass edgeFilter, from the
// cache when it holds the vertex at the view's version, else from a scan that fills it. It
// reports whether fn stopped it. With ends, a cached vertex all of whose halves pass is
// given to ends instead, as their other ends: if it handles them, fn is not called.
func (cr *cachedReader) cachedHalves(graph string, id layout.ID, dir layout.Direction, types []string, edgeFilter *shardapi.PropFilter, fn func(h *shardapi.Half) bool, ends endsFunc) (bool, error) {
	k := adjKey{graph: graph, shard: cr.shard, vertex: id, dir: dir}
	var version uint64
	if e := cr.c.get(k); e != nil {
		var err error
		if version, err = adjacencyVersion(cr.Reader, graph, id); err != nil {
			return false, err
		}
		hit := version != 0 && e.version == version
		cr.c.count(hit)
		if hit {
			if others, ok := e.endsOf(types, edgeFilter); ok && ends != nil {
				if handled, stop := ends(id, others); handled {
					return stop, nil
				}
			}
			for i := range e.halves {
				h := &e.halves[i]
				if !typeOK(types, h.Type) {
					continue
				}
				ok, err := edgeFilter.Match(h.Props)
				if err != nil {
					return false, err
				}
				if ok && !fn(h) {
					return true, nil
				}
			}
			return false, nil
		}
	}
	// Scan every type when filling the cache, so that one entry serves every hop.
	var all []shardapi.Half // by value: one allocation per growth, not per half
	stopped := false
	err := scanHalves(cr.Reader, graph, id, dir, "", func(h *shardapi.Half) (bool, error) {
		if len(all) < cr.c.budget {
			all = append(all, *h)
			all[len(all)-1].Props = bytes.Clone(h.Props)
		}
		if stopped || !typeOK(types, h.Type) {
			return true, nil
		}
		ok, err := edgeFilter.Match(h.Props)
		if err != nil {
			return false, err
		}
		stopped = ok && !fn(h)
		return true, nil
	})
	if err != nil {
		return false, err
	}
	if len(all) >= cacheFrom && len(all) < cr.c.budget {
		if version == 0 {
			if version, err = adjacencyVersion(cr.Reader, graph, id); err != nil {
				return false, err
			}
		}
		if version != 0 {
			cr.c.put(k, newAdjEntry(version, all))
		}
	}
	return stopped, nil
}

// typeOK reports whether a half of type typ is one of types (sorted; [""] is any type).
func typeOK(types []string, typ string) bool {
	if len(types) == 1 && types[0] == "" {
		return true
	}
	for _, t := range types {
		if t == typ {
			return true
		}
	}
	return false
}
