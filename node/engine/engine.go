package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
)

// Errors returned by the engine. Callers test them with errors.Is; the engine
// wraps them with context.
var (
	// ErrNotFound reports a Get of a missing key, or a Delete (without a
	// failing condition) of a missing key.
	ErrNotFound = errors.New("key not found")
	// ErrConditionFailed reports an op whose precondition (Op.Cond) did not hold
	// (If-Match / If-None-Match mismatch).
	ErrConditionFailed = errors.New("condition failed")
	// ErrAborted reports an op of an atomic unit (Span) that did not apply because another
	// op of the unit failed; that op's Result holds the reason.
	ErrAborted = errors.New("aborted: another op of the atomic unit failed")
	// ErrClosed reports a call on a closed Engine.
	ErrClosed = errors.New("engine closed")
	// ErrInvalidArgument reports a shard outside 0..MaxShard, an unknown op or
	// condition kind, an atomic span that is empty, out of order or out of range, or a
	// non-positive list limit. Nothing is read or written.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrCorrupt reports a store that Pebble finds corrupt or that is not a
	// Torua engine store, stored data that cannot be decoded, or a snapshot
	// stream that is malformed, truncated or fails its checksum.
	ErrCorrupt = errors.New("corrupt data")
)

// DefaultCacheSize is the block cache size used when Options.CacheSize is 0. Point reads
// of a graph's edges miss a smaller cache once a node holds a few hundred MB (measured on a
// 200k-edge import: 64 MiB spent a fifth of the CPU reading blocks from the OS, and a 512 MiB
// cache doubled the import rate; docs/benchmarks.md). Pebble fills it only as blocks are read.
const DefaultCacheSize = 256 << 20

// Options configures Open.
type Options struct {
	// Logger receives the engine's and Pebble's log lines; nil discards them.
	Logger *slog.Logger
	// CacheSize is the block cache size in bytes; 0 means DefaultCacheSize.
	CacheSize int64
	// NoSync makes Apply never fsync, whatever ApplyOptions.Sync says. For
	// tests and benchmarks only: acknowledged writes may be lost on a crash.
	NoSync bool
	// Remember reports whether a shard's write cache (cache.go) should hold the state of
	// key once a write has read or written it: worth it for keys written again and again
	// (a vertex, its adjacency version), a waste for keys written once (an edge's half),
	// which evict the others. It must depend on the key alone. Nil: every key.
	Remember func(key []byte) bool
}

// Engine is a node's storage engine: one Pebble database holding every local
// shard. All methods are safe for concurrent use, with one restriction: calls
// that write one shard (Apply, DeleteShard, RestoreShard) must be serialized
// by the caller; writes to different shards may run concurrently.
type Engine struct {
	dir    string
	log    *slog.Logger
	noSync bool
	stalls *atomic.Int64 // write stalls seen by the event listener
	// remember is Options.Remember.
	remember func(key []byte) bool

	// mu guards closed and db's lifetime: every operation holds it shared,
	// Close holds it exclusively.
	mu     sync.RWMutex
	closed bool
	db     *pebble.DB

	// writerOpts builds the tables of bulk loads (load.go) as Pebble builds those of the
	// last level.
	writerOpts sstable.WriterOptions

	// loads counts the bulk loads applied (load.go), for metrics.
	loads struct{ count, bytes, l0Bytes atomic.Int64 }

	// caches holds each shard's writeCache (cache.go).
	cachesMu sync.Mutex
	caches   map[int]*writeCache
}

// Open opens the engine store in dir, creating dir and an empty store if
// missing. It refuses a corrupt store, or a Pebble store that is not a Torua
// engine store, with an error wrapping ErrCorrupt or Pebble's error.
func Open(dir string, opts Options) (*Engine, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "engine")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("open engine %q: %w", dir, err)
	}
	stalls := new(atomic.Int64)
	po := pebbleOptions(opts, log, stalls)
	if err := os.RemoveAll(filepath.Join(dir, loadDir)); err != nil {
		return nil, fmt.Errorf("open engine %q: remove an interrupted load's tables: %w", dir, err)
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		if pebble.IsCorruptionError(err) {
			return nil, fmt.Errorf("open engine %q: store is corrupt, refusing to open it: %w", dir, markCorrupt(err))
		}
		return nil, fmt.Errorf("open engine %q: %w", dir, err)
	}
	e := &Engine{dir: dir, log: log, noSync: opts.NoSync, stalls: stalls, db: db, remember: opts.Remember}
	po.EnsureDefaults()
	e.writerOpts = po.MakeWriterOptions(len(po.Levels)-1, db.TableFormat())
	if err := e.checkFormat(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open engine %q: %w", dir, err)
	}
	log.Info("Opened engine", "dir", dir, "noSync", opts.NoSync)
	return e, nil
}

// NoSync reports whether the engine was opened with Options.NoSync (never fsyncs).
func (e *Engine) NoSync() bool { return e.noSync }

// SyncWAL makes every write committed so far durable (one WAL fsync): the Raft loop
// applies unsynced and syncs before it records a snapshot point that covers the applies.
func (e *Engine) SyncWAL() error {
	if err := e.acquire(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	defer e.mu.RUnlock()
	if e.noSync {
		return nil
	}
	if err := e.db.LogData(nil, pebble.Sync); err != nil {
		return fmt.Errorf("sync: %w", markCorrupt(err))
	}
	return nil
}

// pebbleOptions tunes Pebble for many small values written with fsync.
func pebbleOptions(opts Options, log *slog.Logger, stalls *atomic.Int64) *pebble.Options {
	po := &pebble.Options{
		CacheSize:          opts.CacheSize,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             slogLogger{log},
		// A larger memtable than the 4 MiB default means fewer, larger
		// flushes (and L0 files) for a stream of small writes. At most
		// MemTableStopWritesThreshold memtables (128 MiB) are held, and
		// replayed from the WAL on restart.
		MemTableSize:                32 << 20,
		MemTableStopWritesThreshold: 4,
		// Compact L0 early (reads of small values are dominated by read
		// amplification) but stall writes only far later, as CockroachDB does.
		L0CompactionThreshold: 2,
		L0StopWritesThreshold: 1000,
		LBaseMaxBytes:         64 << 20,
		// Two cores: allow a second compaction when debt builds up.
		CompactionConcurrencyRange: func() (int, int) { return 1, 2 },
		EventListener:              eventListener(log, stalls),
	}
	if po.CacheSize == 0 {
		po.CacheSize = DefaultCacheSize
	}
	for i := range po.Levels {
		// Bloom filters make point reads of absent keys (every create and
		// every condition check reads the key first) cheap. Pebble's default
		// 4 KiB blocks suit point reads of small values.
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		po.Levels[i].FilterType = pebble.TableFilter
	}
	return po
}

func eventListener(log *slog.Logger, stalls *atomic.Int64) *pebble.EventListener {
	return &pebble.EventListener{
		BackgroundError: func(err error) {
			log.Error("Pebble background operation failed", "err", err)
		},
		DataCorruption: func(info pebble.DataCorruptionInfo) {
			log.Error("Pebble detected data corruption", "info", info.String())
		},
		DiskSlow: func(info pebble.DiskSlowInfo) {
			log.Warn("Disk operation was slow", "info", info.String())
		},
		WriteStallBegin: func(info pebble.WriteStallBeginInfo) {
			stalls.Add(1)
			log.Warn("Writes stalled", "reason", info.Reason)
		},
		WriteStallEnd: func() {
			log.Info("Writes resumed")
		},
	}
}

// checkFormat writes the format marker into an empty store and refuses a
// store with data but without (or with an unknown) marker.
func (e *Engine) checkFormat() error {
	v, closer, err := e.db.Get(formatKey)
	switch {
	case err == nil:
		ok := bytes.Equal(v, formatValue)
		got := string(v)
		_ = closer.Close()
		if !ok {
			return fmt.Errorf("unknown engine format %q (want %q): %w", got, formatValue, ErrCorrupt)
		}
		return nil
	case !errors.Is(err, pebble.ErrNotFound):
		return fmt.Errorf("read format marker: %w", err)
	}
	iter, err := e.db.NewIter(nil)
	if err != nil {
		return fmt.Errorf("check store is empty: %w", err)
	}
	nonEmpty := iter.First()
	if err := errors.Join(iter.Error(), iter.Close()); err != nil {
		return fmt.Errorf("check store is empty: %w", err)
	}
	if nonEmpty {
		return fmt.Errorf("store holds keys but no engine format marker, not a Torua engine store: %w", ErrCorrupt)
	}
	if err := e.db.Set(formatKey, formatValue, pebble.Sync); err != nil {
		return fmt.Errorf("write format marker: %w", err)
	}
	return nil
}

// Close flushes the memtable and closes the store. Calls after the first
// return nil; other calls concurrent with or after Close return ErrClosed.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	flushErr := e.db.Flush()
	if flushErr != nil {
		flushErr = fmt.Errorf("flush: %w", flushErr)
	}
	if err := errors.Join(flushErr, e.db.Close()); err != nil {
		return fmt.Errorf("close engine %q: %w", e.dir, err)
	}
	e.log.Info("Closed engine", "dir", e.dir)
	return nil
}

// use checks shard and holds the engine open for one operation, named what in errors;
// the caller calls release when done.
func (e *Engine) use(what string, shard int) (release func(), err error) {
	if err := checkShard(shard); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := e.acquire(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return e.mu.RUnlock, nil
}

// acquire takes the shared lock and reports ErrClosed if the engine is closed.
// On success the caller must call e.mu.RUnlock.
func (e *Engine) acquire() error {
	e.mu.RLock()
	if e.closed {
		e.mu.RUnlock()
		return ErrClosed
	}
	return nil
}

// Value is a key's stored value.
type Value struct {
	// Data is the value's bytes, a copy the caller owns.
	Data []byte
	// Revision is the shard revision at which the value was written.
	Revision uint64
}

// Get returns key's value in shard, or an error wrapping ErrNotFound.
func (e *Engine) Get(shard int, key []byte) (Value, error) {
	release, err := e.use("get", shard)
	if err != nil {
		return Value{}, err
	}
	defer release()
	raw, closer, err := e.db.Get(dataKey(shard, key))
	if errors.Is(err, pebble.ErrNotFound) {
		err = ErrNotFound
	}
	if err != nil {
		return Value{}, fmt.Errorf("get shard %d key %q: %w", shard, key, markCorrupt(err))
	}
	defer closer.Close()
	rev, data, err := decodeValue(raw)
	if err != nil {
		return Value{}, fmt.Errorf("get shard %d key %q: %w", shard, key, err)
	}
	// NB: raw is only valid until closer.Close; copy it out.
	return Value{Data: bytes.Clone(data), Revision: rev}, nil
}

// readMeta returns shard's metadata as seen by r, the zero value if none.
func readMeta(r pebble.Reader, shard int) (meta, error) {
	raw, closer, err := r.Get(metaKey(shard))
	if errors.Is(err, pebble.ErrNotFound) {
		return meta{}, nil
	}
	if err != nil {
		return meta{}, fmt.Errorf("read shard %d metadata: %w", shard, markCorrupt(err))
	}
	defer closer.Close()
	m, err := decodeMeta(raw)
	if err != nil {
		return meta{}, fmt.Errorf("read shard %d metadata: %w", shard, err)
	}
	return m, nil
}

// ShardStats is a shard's metadata.
type ShardStats struct {
	// Keys is the number of live keys.
	Keys int64
	// Bytes is the sum of len(key)+len(value) over live keys.
	Bytes int64
	// Revision is the last revision assigned in the shard (0: none yet).
	Revision uint64
	// AppliedIndex is the last ApplyOptions.AppliedIndex stored (0: none).
	AppliedIndex uint64
}

// ShardStats returns shard's statistics; the zero value for a shard without data.
func (e *Engine) ShardStats(shard int) (ShardStats, error) {
	release, err := e.use("shard stats", shard)
	if err != nil {
		return ShardStats{}, err
	}
	defer release()
	if m, ok := e.cache(shard).committedMeta(); ok {
		return ShardStats(m), nil
	}
	m, err := readMeta(e.db, shard)
	if err != nil {
		return ShardStats{}, err
	}
	return ShardStats(m), nil
}

// Shards returns the shards that have any data or metadata, ascending.
func (e *Engine) Shards() ([]int, error) {
	if err := e.acquire(); err != nil {
		return nil, fmt.Errorf("list shards: %w", err)
	}
	defer e.mu.RUnlock()
	seen := make(map[int]bool)
	for _, prefix := range []byte{prefixMeta, prefixData} {
		if err := scanShards(e.db, prefix, seen); err != nil {
			return nil, fmt.Errorf("list shards: %w", err)
		}
	}
	shards := make([]int, 0, len(seen))
	for s := 0; s <= MaxShard; s++ {
		if seen[s] {
			shards = append(shards, s)
		}
	}
	return shards, nil
}

// scanShards adds to seen every shard with a key under prefix, seeking past
// each shard found so that the cost is one seek per shard, not per key.
func scanShards(r pebble.Reader, prefix byte, seen map[int]bool) error {
	iter, err := r.NewIter(&pebble.IterOptions{
		LowerBound: []byte{prefix},
		UpperBound: []byte{prefix + 1},
	})
	if err != nil {
		return err
	}
	for valid := iter.First(); valid; {
		shard, ok := shardOf(iter.Key())
		if !ok {
			break
		}
		seen[shard] = true
		if shard == MaxShard {
			break
		}
		valid = iter.SeekGE(shardPrefix(prefix, shard+1, 0))
	}
	return errors.Join(iter.Error(), iter.Close())
}

// List returns up to limit keys of shard that start with prefix and are
// strictly greater than after (an empty after: from the first key), ascending;
// more reports whether more such keys exist. limit must be positive. The keys
// are copies the caller owns.
func (e *Engine) List(shard int, prefix, after []byte, limit int) (keys [][]byte, more bool, err error) {
	if limit <= 0 {
		return nil, false, fmt.Errorf("list: limit %d not positive: %w", limit, ErrInvalidArgument)
	}
	release, err := e.use("list", shard)
	if err != nil {
		return nil, false, err
	}
	defer release()

	lower := dataKey(shard, prefix)
	upper := successor(lower) // never nil: the 'd' byte is not 0xff
	iter, err := e.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, false, fmt.Errorf("list shard %d: %w", shard, err)
	}
	start := lower
	if len(after) > 0 {
		// The smallest key strictly greater than after is after+0x00.
		if a := append(dataKey(shard, after), 0); bytes.Compare(a, start) > 0 {
			start = a
		}
	}
	for valid := iter.SeekGE(start); valid; valid = iter.Next() {
		if len(keys) == limit {
			more = true
			break
		}
		keys = append(keys, bytes.Clone(iter.Key()[shardPrefixLen:]))
	}
	if err := errors.Join(iter.Error(), iter.Close()); err != nil {
		return nil, false, fmt.Errorf("list shard %d: %w", shard, markCorrupt(err))
	}
	return keys, more, nil
}

// DeleteShard removes all of shard's data and metadata, including its
// revision counter, with a synced range deletion.
// NB: a shard re-created afterwards starts again at revision 1.
func (e *Engine) DeleteShard(shard int) error {
	release, err := e.use("delete shard", shard)
	if err != nil {
		return err
	}
	defer release()
	b := e.db.NewBatch()
	defer b.Close()
	if err := deleteShardOps(b, shard); err != nil {
		return fmt.Errorf("delete shard %d: %w", shard, err)
	}
	err = b.Commit(pebble.Sync)
	e.cache(shard).reset(meta{}, err == nil)
	if err != nil {
		return fmt.Errorf("delete shard %d: %w", shard, err)
	}
	e.log.Info("Deleted shard", "shard", shard)
	return nil
}

// deleteShardOps adds to b the deletion of shard's data and metadata.
func deleteShardOps(b *pebble.Batch, shard int) error {
	start, end := dataSpan(shard)
	if err := b.DeleteRange(start, end, nil); err != nil {
		return err
	}
	if err := b.Delete(pendingLoadKey(shard), nil); err != nil {
		return err
	}
	return b.Delete(metaKey(shard), nil)
}

// writeOptions returns the Pebble write options for a write that asked for sync.
func (e *Engine) writeOptions(sync bool) *pebble.WriteOptions {
	if sync && !e.noSync {
		return pebble.Sync
	}
	return pebble.NoSync
}

// markCorrupt makes a Pebble corruption error (marked with cockroachdb/errors,
// which the standard errors.Is does not see) also match ErrCorrupt.
func markCorrupt(err error) error {
	if err != nil && pebble.IsCorruptionError(err) && !errors.Is(err, ErrCorrupt) {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return err
}

// slogLogger adapts slog to Pebble's Logger.
type slogLogger struct{ log *slog.Logger }

func (l slogLogger) Infof(format string, args ...any) {
	l.log.Info(fmt.Sprintf(format, args...), "source", "pebble")
}

func (l slogLogger) Errorf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...), "source", "pebble")
}

// Fatalf logs and panics: Pebble calls it when continuing could lose data.
func (l slogLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error(msg, "source", "pebble", "fatal", true)
	panic("pebble: " + msg)
}

var _ io.Closer = (*Engine)(nil)

// Compactions returns the compactions running and the estimated bytes left to compact (0
// and 0 once the engine is closed).
func (e *Engine) Compactions() (running int64, debt uint64) {
	if e.acquire() != nil {
		return 0, 0
	}
	defer e.mu.RUnlock()
	m := e.db.Metrics()
	return m.Compact.NumInProgress, m.Compact.EstimatedDebt
}
