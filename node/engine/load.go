package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Bulk loads. Apply writes each key three times on its way to the last level: the WAL, the
// memtable's flush, and the compactions that move it down (each rewriting its neighbours).
// A load writes a shard's run of sorted keys once, as one table that Pebble links into the
// lowest level whose keys it does not overlap (ingestion, as CockroachDB's AddSSTable and
// TiKV's import do): a bulk import whose runs do not overlap what the shard holds costs no
// memtable, no WAL and no compaction.

// loadDir is the directory, inside the engine's, where a load's table is built before
// Pebble links it in; Open empties it (a table left there by a crash was never ingested).
const loadDir = "load"

// Pair is one key of a load and the data to store under it.
type Pair struct {
	Key, Value []byte
}

// LoadStats describes an applied load, for logs and tests.
type LoadStats struct {
	// Keys is the number of pairs, and New those of them the shard did not hold.
	Keys, New int
	// Bytes is the size of the table linked in, and L0Bytes the part of it that Pebble put
	// in level 0 (where compactions will rewrite it): 0 when the load overlapped nothing.
	Bytes, L0Bytes uint64
}

// loadHook, if set (tests only), is called with each applied load's statistics.
var loadHook func(shard int, st LoadStats)

// loadTo applies a bulk load of pairs (sorted by key, strictly ascending) to shard at
// appliedIndex (not 0: a load is a Raft log entry's): each pair is a put without a
// condition, taking the shard's next revision in the pairs' order, as the same puts given to
// Apply would. The table is ingested now; the shard's metadata goes into b, and done is
// called as applyTo's.
//
// Crashes: before the ingestion, loadTo writes (synced) the shard's metadata as it will be
// after the load, as a pending load of appliedIndex. A replay of the same entry (the shard's
// applied index did not reach it) finds that record and ingests the same table again,
// without counting what the first try's table replaced: the statistics are those of one load.
func (e *Engine) loadTo(b *pebble.Batch, shard int, pairs []Pair, appliedIndex uint64) (results []Result, done func(committed bool), err error) {
	if err := checkShard(shard); err != nil {
		return nil, nil, fmt.Errorf("load: %w", err)
	}
	if len(pairs) == 0 || appliedIndex == 0 {
		return nil, nil, fmt.Errorf("load shard %d: %d keys at applied index %d: %w", shard, len(pairs), appliedIndex, ErrInvalidArgument)
	}
	for i := 1; i < len(pairs); i++ {
		if bytes.Compare(pairs[i-1].Key, pairs[i].Key) >= 0 {
			return nil, nil, fmt.Errorf("load shard %d: key %d (%q) does not sort after the one before it: %w", shard, i, pairs[i].Key, ErrInvalidArgument)
		}
	}
	start := time.Now()
	wc := e.cache(shard)
	st := LoadStats{Keys: len(pairs)}
	p, ok, err := readPendingLoad(e.db, shard)
	if err != nil {
		return nil, nil, err
	}
	if !ok || p.index != appliedIndex {
		m, ok := wc.committedMeta()
		if !ok {
			if m, err = readMeta(e.db, shard); err != nil {
				return nil, nil, fmt.Errorf("load: %w", err)
			}
		}
		p = pendingLoad{index: appliedIndex, base: m.Revision, next: m}
		if st.New, err = e.countLoad(shard, pairs, &p.next); err != nil {
			return nil, nil, err
		}
		p.next.Revision += uint64(len(pairs))
		p.next.AppliedIndex = appliedIndex
		if err := e.db.Set(pendingLoadKey(shard), p.encode(), e.writeOptions(true)); err != nil {
			return nil, nil, fmt.Errorf("load shard %d: record the pending load: %w", shard, markCorrupt(err))
		}
	}
	path, err := e.writeTable(shard, pairs, p.base, appliedIndex)
	if err != nil {
		return nil, nil, err
	}
	defer os.Remove(path) // Pebble linked it in (or failed): this name is ours alone
	ing, err := e.db.IngestWithStats(context.Background(), []string{path})
	// The keys may be in the store now, and the shard's cache may hold some of them as absent.
	wc.reset(meta{}, false)
	if err != nil {
		return nil, nil, fmt.Errorf("load shard %d: ingest: %w", shard, markCorrupt(err))
	}
	st.Bytes, st.L0Bytes = ing.Bytes, ing.ApproxIngestedIntoL0Bytes
	e.loads.count.Add(1)
	e.loads.bytes.Add(int64(st.Bytes))
	e.loads.l0Bytes.Add(int64(st.L0Bytes))
	if err := b.Set(metaKey(shard), encodeMeta(p.next), nil); err != nil {
		return nil, nil, fmt.Errorf("load shard %d: batch: %w", shard, err)
	}
	if err := b.Delete(pendingLoadKey(shard), nil); err != nil {
		return nil, nil, fmt.Errorf("load shard %d: batch: %w", shard, err)
	}
	e.log.Info("Loaded keys into shard", "shard", shard, "keys", st.Keys, "new", st.New,
		"bytes", st.Bytes, "level0Bytes", st.L0Bytes, "took", time.Since(start).Round(time.Millisecond))
	if loadHook != nil {
		loadHook(shard, st)
	}
	return []Result{{Revision: p.next.Revision}}, func(committed bool) {
		if committed {
			wc.reset(p.next, true)
		}
	}, nil
}

// pendingLoad is a load whose table may be in the store while the shard's metadata is not
// yet the one it leads to: next, for the load of the entry at index, whose keys take the
// revisions after base.
type pendingLoad struct {
	index, base uint64
	next        meta
}

// pendingLoadKey is where a shard's pending load is recorded, beside its metadata (so that
// DeleteShard and RestoreShard clear it with the shard).
func pendingLoadKey(shard int) []byte {
	return append(shardPrefix(prefixMeta, shard, 1), 'l')
}

func (p pendingLoad) encode() []byte {
	b := binary.AppendUvarint(nil, p.index)
	b = binary.AppendUvarint(b, p.base)
	return append(b, encodeMeta(p.next)...)
}

// readPendingLoad returns shard's pending load, if one is recorded.
func readPendingLoad(r pebble.Reader, shard int) (pendingLoad, bool, error) {
	raw, closer, err := r.Get(pendingLoadKey(shard))
	if errors.Is(err, pebble.ErrNotFound) {
		return pendingLoad{}, false, nil
	}
	if err != nil {
		return pendingLoad{}, false, fmt.Errorf("read shard %d pending load: %w", shard, markCorrupt(err))
	}
	defer closer.Close()
	var p pendingLoad
	var n1, n2 int
	p.index, n1 = binary.Uvarint(raw)
	if n1 > 0 {
		p.base, n2 = binary.Uvarint(raw[n1:])
	}
	if n1 <= 0 || n2 <= 0 {
		return pendingLoad{}, false, fmt.Errorf("read shard %d pending load: %w", shard, ErrCorrupt)
	}
	if p.next, err = decodeMeta(raw[n1+n2:]); err != nil {
		return pendingLoad{}, false, fmt.Errorf("read shard %d pending load: %w", shard, err)
	}
	return p, true, nil
}

// countLoad updates m's live keys and bytes for pairs, as puts would, and returns how many
// of them the shard does not hold. It walks the shard's keys between the first pair's and
// the last's alongside the pairs: one seek when the run overlaps nothing. A key stored at a
// revision above m's counter is a replay's (loadTo) and counts as new.
func (e *Engine) countLoad(shard int, pairs []Pair, m *meta) (fresh int, err error) {
	last := dataKey(shard, pairs[len(pairs)-1].Key)
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: dataKey(shard, pairs[0].Key), UpperBound: append(last, 0)})
	if err != nil {
		return 0, fmt.Errorf("load shard %d: read: %w", shard, markCorrupt(err))
	}
	defer it.Close()
	old := make(map[int]int) // pair index -> stored data length, for pairs the shard holds
	i := 0
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()[shardPrefixLen:]
		for i < len(pairs) && bytes.Compare(pairs[i].Key, k) < 0 {
			i++
		}
		if i == len(pairs) {
			break
		}
		if !bytes.Equal(pairs[i].Key, k) {
			continue
		}
		raw, err := it.ValueAndErr()
		if err != nil {
			return 0, fmt.Errorf("load shard %d: read: %w", shard, markCorrupt(err))
		}
		cur, err := storedState(raw)
		if err != nil {
			return 0, fmt.Errorf("load shard %d: %w", shard, err)
		}
		if cur.rev <= m.Revision {
			old[i] = cur.dataLen
		}
	}
	if err := it.Error(); err != nil {
		return 0, fmt.Errorf("load shard %d: read: %w", shard, markCorrupt(err))
	}
	for i, p := range pairs {
		if n, ok := old[i]; ok {
			m.Bytes += int64(len(p.Value) - n)
			continue
		}
		m.Keys++
		m.Bytes += int64(len(p.Key) + len(p.Value))
	}
	return len(pairs) - len(old), nil
}

// writeTable writes pairs as a table of shard's data keys, the i-th at revision rev+1+i, in
// the engine's load directory, and returns its path.
func (e *Engine) writeTable(shard int, pairs []Pair, rev, appliedIndex uint64) (path string, err error) {
	dir := filepath.Join(e.dir, loadDir)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("load shard %d: %w", shard, err)
	}
	path = filepath.Join(dir, fmt.Sprintf("shard-%d-index-%d.sst", shard, appliedIndex))
	f, err := vfs.Default.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return "", fmt.Errorf("load shard %d: %w", shard, err)
	}
	w := sstable.NewWriter(objstorageprovider.NewFileWritable(f), e.writerOpts)
	prefix := shardPrefix(prefixData, shard, 0)
	var k, v []byte
	for _, p := range pairs {
		rev++
		k = append(append(k[:0], prefix...), p.Key...)
		v = append(binary.AppendUvarint(v[:0], rev), p.Value...)
		if err = w.Set(k, v); err != nil {
			break
		}
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return "", fmt.Errorf("load shard %d: write table: %w", shard, err)
	}
	return path, nil
}
