package raftlog

import (
	"fmt"
	"os"
	"slices"
	"sort"
)

// maybeRotate starts a new segment if the last one is full. l.mu is held.
//
// NB: the order makes every segment but the last whole and durable: sync the
// last segment, write the next one (header and a checkpoint of every shard's
// stable values) under a temporary name, sync it, rename it, sync the
// directory. Then every record before the new segment is durable, so segments
// it made unnecessary are deleted at once.
func (l *Log) maybeRotate() error {
	cur := l.segs[len(l.segs)-1]
	// NB: a segment holding only its header and checkpoint is never full, or a
	// checkpoint larger than SegmentSize would rotate at every Write.
	if cur.size < l.opts.SegmentSize || cur.size == cur.head {
		return nil
	}
	// A segment other than the last ends at its last record: cut what is left of
	// its preallocated space (none, unless SegmentSize grew since it was made).
	if err := l.f.Truncate(cur.size); err != nil {
		return l.fail(fmt.Errorf("truncate segment %d: %w", cur.seq, err))
	}
	if !l.opts.NoSync {
		if err := fdatasync(l.f); err != nil {
			return l.fail(fmt.Errorf("sync segment %d: %w", cur.seq, err))
		}
	}
	seq := cur.seq + 1
	f, size, err := l.createSegment(seq, appendCheckpoint(nil, l.checkpoint()))
	if err != nil {
		return l.fail(err)
	}
	l.retired = append(l.retired, l.f)
	l.f = f
	l.segs = append(l.segs, segment{seq: seq, size: size, head: size})
	l.written += uint64(size)
	l.synced = l.written
	l.stats.BytesWritten += uint64(size)
	l.stats.Records++
	l.stats.SegmentsCreated++
	// The checkpoint now holds every latest stable value.
	for _, m := range l.shards {
		for name, v := range m.stable {
			m.stable[name] = stableValue{value: v.value, seq: seq}
		}
	}
	if _, err := l.removeThrough(l.collectable()); err != nil {
		if l.failed != nil {
			return err
		}
		// The log is fine; the segment stays and the next collection retries.
		l.logger.Warn("Failed to remove raft log segment", "err", err)
	}
	return nil
}

// checkpoint lists every shard's compaction point and stable values. l.mu is held.
func (l *Log) checkpoint() []checkpointShard {
	cs := make([]checkpointShard, 0, len(l.shards))
	for shard, m := range l.shards {
		c := checkpointShard{shard: shard, compacted: m.compacted}
		for name, v := range m.stable {
			c.stable = append(c.stable, StableValue{Name: []byte(name), Value: v.value})
		}
		slices.SortFunc(c.stable, func(a, b StableValue) int { return compareBytes(a.Name, b.Name) })
		cs = append(cs, c)
	}
	slices.SortFunc(cs, func(a, b checkpointShard) int { return a.shard - b.shard })
	return cs
}

func compareBytes(a, b []byte) int {
	switch {
	case string(a) < string(b):
		return -1
	case string(a) > string(b):
		return 1
	}
	return 0
}

// createSegment makes segment seq holding its header and body, durably, and
// returns it open for appending with its size.
func (l *Log) createSegment(seq uint64, body []byte) (*os.File, int64, error) {
	path := l.segmentPath(seq)
	if _, err := os.Lstat(path); err == nil {
		return nil, 0, fmt.Errorf("create segment %d: %s exists: %w", seq, path, ErrCorrupt)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, 0, fmt.Errorf("create segment %d: %w", seq, err)
	}
	b := append(appendSegmentHeader(nil, seq), body...)
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err := f.WriteAt(b, 0); err != nil {
		return nil, 0, fmt.Errorf("create segment %d: %w", seq, err)
	}
	if err := preallocate(f, l.opts.SegmentSize); err != nil {
		return nil, 0, fmt.Errorf("create segment %d: %w", seq, err)
	}
	if !l.opts.NoSync {
		if err := fdatasync(f); err != nil {
			return nil, 0, fmt.Errorf("create segment %d: %w", seq, err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, 0, fmt.Errorf("create segment %d: %w", seq, err)
	}
	ok = true
	if err := l.syncDir(); err != nil {
		_ = f.Close()
		return nil, 0, fmt.Errorf("create segment %d: %w", seq, err)
	}
	return f, int64(len(b)), nil
}

func (l *Log) syncDir() error {
	if l.opts.NoSync {
		return nil
	}
	d, err := os.Open(l.dir)
	if err != nil {
		return fmt.Errorf("sync directory %q: %w", l.dir, err)
	}
	defer func() { _ = d.Close() }()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %q: %w", l.dir, err)
	}
	return nil
}

// collectable returns the highest sequence number of the segments that can be
// deleted (0 if none): the longest prefix of segments, the last excluded, that
// no shard needs. l.mu is held.
func (l *Log) collectable() uint64 {
	needed := map[uint64]bool{}
	for _, m := range l.shards {
		for _, r := range m.runs {
			needed[r.seq] = true
		}
		for _, v := range m.stable {
			needed[v.seq] = true
		}
	}
	var upTo uint64
	for _, s := range l.segs[:len(l.segs)-1] {
		if needed[s.seq] {
			break
		}
		upTo = s.seq
	}
	return upTo
}

// removeThrough deletes the segments numbered upTo or below, oldest first, with
// a directory sync after each (so that a crash never leaves a gap). l.mu is held.
func (l *Log) removeThrough(upTo uint64) (int, error) {
	removed := 0
	for len(l.segs) > 1 && l.segs[0].seq <= upTo {
		seq := l.segs[0].seq
		if err := os.Remove(l.segmentPath(seq)); err != nil {
			return removed, fmt.Errorf("remove segment %d: %w", seq, err)
		}
		l.segs = l.segs[1:]
		removed++
		l.stats.SegmentsRemoved++
		if err := l.syncDir(); err != nil {
			return removed, l.fail(err)
		}
		l.logger.Debug("Removed raft log segment", "segment", seq)
	}
	return removed, nil
}

// Purge deletes the segments that no shard needs any more, after a Sync that
// makes the records that freed them durable. Rotation does the same; Purge is
// for a caller that just compacted shards' logs.
func (l *Log) Purge() (removed int, err error) {
	l.mu.Lock()
	if err := l.usable(); err != nil {
		l.mu.Unlock()
		return 0, fmt.Errorf("purge raft log: %w", err)
	}
	upTo := l.collectable()
	l.mu.Unlock()
	if upTo == 0 {
		return 0, nil
	}
	// NB: what made these segments unnecessary was written before this Sync
	// started, so it is durable after it; and a segment no shard needs never
	// becomes needed again (new records go to the last segment).
	if err := l.Sync(); err != nil {
		return 0, fmt.Errorf("purge raft log: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return 0, fmt.Errorf("purge raft log: %w", err)
	}
	removed, err = l.removeThrough(upTo)
	if err != nil {
		return removed, fmt.Errorf("purge raft log: %w", err)
	}
	return removed, nil
}

// Pinning returns, in ascending order, the shards whose live entries keep alive
// a segment more than olderThan segments behind the last one. Compacting their
// logs (a Write with DeleteBelow) releases those segments.
func (l *Log) Pinning(olderThan int) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur := l.segs[len(l.segs)-1].seq
	olderThan = max(olderThan, 0)
	if uint64(olderThan) >= cur {
		return nil
	}
	limit := cur - uint64(olderThan) // a run in a segment below limit pins
	var shards []int
	for shard, m := range l.shards {
		for _, r := range m.runs {
			if r.seq < limit {
				shards = append(shards, shard)
				break
			}
		}
	}
	sort.Ints(shards)
	return shards
}
