package engine

import "sync"

// writeCache is what a shard's writes remember of their own effects, so that Apply reads
// neither the shard's metadata nor (for keys written recently) a key's state back from
// Pebble: under write load those reads were a tenth of a node's CPU, each a seek through
// memtables full of Raft log entries.
//
// NB: only the writes of a shard (Apply, RestoreShard, DeleteShard) fill or change it, after
// their commit; the engine's contract serialises them per shard, so what the cache holds
// is what Pebble holds. A reader must never fill it: it could put back a value older than
// a concurrent write's. The mutex only keeps ShardStats's reads of the metadata safe.
type writeCache struct {
	mu     sync.Mutex
	meta   meta
	metaOK bool
	keys   map[string]keyState
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

// key returns the state of user key k, if known.
func (c *writeCache) key(k []byte) (keyState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.keys[string(k)]
	return st, ok
}

// remember records states read from Pebble or written by a committed batch, and the
// shard's metadata after that batch.
func (c *writeCache) remember(m meta, keys []cachedKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.meta, c.metaOK = m, true
	if len(c.keys)+len(keys) > maxCachedKeys {
		c.keys = nil
	}
	if c.keys == nil && len(keys) > 0 {
		c.keys = make(map[string]keyState, len(keys))
	}
	for _, k := range keys {
		c.keys[k.key] = k.state
	}
}

// reset forgets every key and sets the metadata: m after a committed restore or delete
// (ok), unknown after a write whose outcome is unknown.
func (c *writeCache) reset(m meta, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.meta, c.metaOK = m, ok
	c.keys = nil
}

type cachedKey struct {
	key   string
	state keyState
}
