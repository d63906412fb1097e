package engine

import "sync"

// writeCache is what a shard's writes remember of their own effects, so that Apply reads
// neither the shard's metadata nor (for keys written recently) a key's state back from
// Pebble: under write load those reads were a tenth of a node's CPU, each a seek through
// memtables full of Raft log entries.
//
// It can also be complete: it holds every key of the shard, because the shard had no key
// when the cache learnt its metadata from Pebble (or from a restore or delete) and the
// cache has not started over since. Then a key it does not hold does not exist, and a PUT
// without a condition need not look for it in Pebble: a seek through the memtable's skip
// list was a sixth of a node's CPU under write load. Only that PUT's key and byte counts
// depend on it; conditions and deletes still read Pebble for a key the cache does not hold.
//
// Options.Remember keeps keys that are written once out of it: a graph import writes
// millions of edge halves, which made the cache start over every few batches and lose the
// vertices' keys that every batch writes again.
//
// NB: only the writes of a shard (Apply, RestoreShard, DeleteShard) fill or change it, after
// their commit; the engine's contract serialises them per shard, so what the cache holds
// is what Pebble holds. A reader must never fill it: it could put back a value older than
// a concurrent write's. The mutex only keeps ShardStats's reads of the metadata safe.
type writeCache struct {
	mu       sync.Mutex
	meta     meta
	metaOK   bool
	keys     map[string]keyState
	complete bool
}

// maxCachedKeys bounds the key states a shard remembers; past it the cache starts over
// (cheaper than keeping an LRU order on every write, and as good for a hot set that fits).
var maxCachedKeys = 16 << 10 // a variable for tests

// cache returns shard's write cache.
func (e *Engine) cache(shard int) *writeCache {
	e.cachesMu.Lock()
	defer e.cachesMu.Unlock()
	c := e.caches[shard]
	if c == nil {
		if e.caches == nil {
			e.caches = make(map[int]*writeCache)
		}
		c = &writeCache{}
		e.caches[shard] = c
	}
	return c
}

// committedMeta returns the shard's metadata as of its last committed write, if known.
func (c *writeCache) committedMeta() (meta, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.meta, c.metaOK
}

// learnMeta records the shard's metadata as read from Pebble by a write that found none in
// the cache (which then holds no key): a shard without keys makes the cache complete.
func (c *writeCache) learnMeta(m meta) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.meta, c.metaOK = m, true
	c.complete = m.Keys == 0 && len(c.keys) == 0
}

// key returns the state of user key k, if known, and whether the cache is complete (a key
// it does not know does not exist). A key the cache does not keep (skip) is not looked for.
func (c *writeCache) key(k []byte, skip bool) (st keyState, ok, complete bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !skip {
		st, ok = c.keys[string(k)]
	}
	return st, ok, c.complete
}

// remember records states read from Pebble or written by a committed batch (but not those
// marked skip), and the shard's metadata after that batch. A key skipped that exists makes
// the cache incomplete; one that does not exist may be skipped by a complete cache, which
// takes a key it does not hold for absent anyway.
func (c *writeCache) remember(m meta, keys []cachedKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.meta, c.metaOK = m, true
	kept := 0
	for _, k := range keys {
		if !k.skip {
			kept++
		}
	}
	if len(c.keys)+kept > maxCachedKeys {
		c.keys, c.complete = nil, false
	}
	if c.keys == nil && kept > 0 {
		c.keys = make(map[string]keyState, kept)
	}
	for _, k := range keys {
		if k.skip {
			c.complete = c.complete && !k.state.exists
			continue
		}
		c.keys[k.key] = k.state
	}
}

// reset forgets every key and sets the metadata: m after a committed restore or delete
// (ok; complete if the shard has no key), unknown after a write whose outcome is unknown.
func (c *writeCache) reset(m meta, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.meta, c.metaOK = m, ok
	c.keys = nil
	c.complete = ok && m.Keys == 0
}

type cachedKey struct {
	key   string
	state keyState
	// skip keeps the key out of the cache (Options.Remember).
	skip bool
}
