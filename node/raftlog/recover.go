package raftlog

import (
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Open creates the log in dir, or recovers it: it replays every segment (see the
// package doc for what it cuts off and what it refuses with ErrCorrupt). The
// recovered state of each shard is then available from State until Release.
func Open(dir string, opts Options) (*Log, error) {
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open raft log %q: %w", dir, err)
	}
	l := &Log{
		dir:       dir,
		opts:      opts,
		logger:    logger,
		shards:    map[int]*shardMeta{},
		recovered: map[int]*ShardState{},
	}
	seqs, err := l.listSegments()
	if err != nil {
		return nil, fmt.Errorf("open raft log %q: %w", dir, err)
	}
	if len(seqs) == 0 {
		f, size, err := l.createSegment(1, nil)
		if err != nil {
			return nil, fmt.Errorf("open raft log %q: %w", dir, err)
		}
		l.f = f
		l.segs = []segment{{seq: 1, size: size, head: size}}
		l.stats.SegmentsCreated++
		return l, nil
	}
	r := &recovery{l: l, entries: map[int][]Entry{}}
	for i, seq := range seqs {
		if err := r.segment(seq, i == len(seqs)-1); err != nil {
			return nil, fmt.Errorf("open raft log %q: %w", dir, err)
		}
	}
	last := l.segs[len(l.segs)-1]
	f, err := os.OpenFile(l.segmentPath(last.seq), os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open raft log %q: %w", dir, err)
	}
	if err := preallocate(f, opts.SegmentSize); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("open raft log %q: %w", dir, err)
	}
	// NB: the sync makes a cut-off tail's truncation durable before anything is
	// appended in its place, and makes durable what a previous process wrote
	// but did not sync (State presents it as the log's content).
	if !opts.NoSync {
		if err := fdatasync(f); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("open raft log %q: %w", dir, err)
		}
	}
	l.f = f
	for shard, m := range l.shards {
		es := r.entries[shard]
		if m.empty() && len(es) == 0 {
			delete(l.shards, shard)
			continue
		}
		st := &ShardState{Entries: es, Stable: make(map[string][]byte, len(m.stable)), Compacted: m.compacted}
		for name, v := range m.stable {
			st.Stable[name] = v.value
		}
		l.recovered[shard] = st
	}
	return l, nil
}

// listSegments returns the sequence numbers of dir's segments, ascending and
// checked to be consecutive, after removing segments a crash left half made.
func (l *Log) listSegments() ([]uint64, error) {
	des, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, err
	}
	var seqs []uint64
	for _, de := range des {
		name := de.Name()
		if strings.HasSuffix(name, ".log.tmp") {
			// A rotation that crashed before its rename: never part of the log.
			if err := os.Remove(l.dir + string(os.PathSeparator) + name); err != nil {
				return nil, err
			}
			l.logger.Info("Removed incomplete raft log segment", "file", name)
			continue
		}
		num, ok := strings.CutSuffix(name, ".log")
		if !ok || len(num) != 16 {
			continue // not ours
		}
		seq, err := strconv.ParseUint(num, 10, 64)
		if err != nil || seq == 0 {
			return nil, fmt.Errorf("segment file name %q: %w", name, ErrCorrupt)
		}
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			return nil, fmt.Errorf("segments %d to %d are missing: %w", seqs[i-1]+1, seqs[i]-1, ErrCorrupt)
		}
	}
	return seqs, nil
}

// recovery replays segments into a Log's shards and the entries Open returns.
type recovery struct {
	l       *Log
	entries map[int][]Entry
}

func (r *recovery) meta(shard int) *shardMeta {
	m := r.l.shards[shard]
	if m == nil {
		m = newShardMeta()
		r.l.shards[shard] = m
	}
	return m
}

// segment replays segment seq. In the last segment, zeros to the end are
// preallocated space never written, and a record that does not verify, with no
// intact record after it, is a torn write: it is cut off.
func (r *recovery) segment(seq uint64, last bool) error {
	path := r.l.segmentPath(seq)
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := checkSegmentHeader(data, seq); err != nil {
		return fmt.Errorf("segment %s: %w", path, err)
	}
	off, head := segmentHeaderSize, int64(segmentHeaderSize)
	for off < len(data) {
		payload, size, ok := readFrame(data[off:])
		if !ok {
			if !last {
				return fmt.Errorf("segment %s: damaged record at offset %d (not the last segment): %w", path, off, ErrCorrupt)
			}
			// An intact record starts with its length, never zero, so none starts
			// in the zeros at the end.
			end := len(data)
			for end > off && data[end-1] == 0 {
				end--
			}
			if end == off {
				break // the rest was never written
			}
			if at := intactRecordAfter(data, off+1, end); at >= 0 {
				return fmt.Errorf("segment %s: damaged record at offset %d followed by an intact one at %d: %w",
					path, off, at, ErrCorrupt)
			}
			if err := os.Truncate(path, int64(off)); err != nil {
				return fmt.Errorf("cut off torn tail of segment %s: %w", path, err)
			}
			r.l.logger.Warn("Cut off torn tail of raft log segment",
				"segment", path, "offset", off, "bytes", len(data)-off)
			break
		}
		rec, err := decodeRecord(payload)
		if err != nil {
			return fmt.Errorf("segment %s: record at offset %d: %v: %w", path, off, err, ErrCorrupt)
		}
		if off == segmentHeaderSize && rec.kind == kindCheckpoint {
			head = int64(off + size)
		}
		r.apply(&rec, seq)
		off += size
	}
	r.l.segs = append(r.l.segs, segment{seq: seq, size: int64(off), head: head})
	return nil
}

// intactRecordAfter returns the first offset in [from, to) where an intact
// record starts, or -1.
func intactRecordAfter(data []byte, from, to int) int {
	for o := from; o < to && o+frameHeaderSize < len(data); o++ {
		if _, _, ok := readFrame(data[o:]); ok {
			return o
		}
	}
	return -1
}

// apply replays rec, read from segment seq. NB: rec aliases the segment's
// bytes; what is kept is copied.
func (r *recovery) apply(rec *record, seq uint64) {
	switch rec.kind {
	case kindBatch:
		for i := range rec.writes {
			w := &rec.writes[i]
			r.meta(w.Shard).apply(w, seq, true)
			es := r.entries[w.Shard]
			if w.DeleteFrom != 0 {
				es = entriesCutFrom(es, w.DeleteFrom)
			}
			if w.DeleteBelow != 0 {
				es = entriesCutBelow(es, w.DeleteBelow)
			}
			if len(w.Entries) > 0 {
				es = entriesSet(es, copyEntries(w.Entries))
			}
			r.entries[w.Shard] = es
		}
	case kindDeleteShard:
		delete(r.l.shards, rec.shard)
		delete(r.entries, rec.shard)
	case kindCheckpoint:
		for i := range rec.checkpoint {
			c := &rec.checkpoint[i]
			for j := range c.stable {
				c.stable[j].Value = slices.Clone(c.stable[j].Value)
			}
			r.meta(c.shard).applyCheckpoint(c, seq)
			if c.compacted != 0 {
				r.entries[c.shard] = entriesCutBelow(r.entries[c.shard], c.compacted)
			}
		}
	}
}

// copyEntries copies es's data into one new buffer.
func copyEntries(es []Entry) []Entry {
	n := 0
	for _, e := range es {
		n += len(e.Data)
	}
	buf := make([]byte, 0, n)
	out := make([]Entry, len(es))
	for i, e := range es {
		start := len(buf)
		buf = append(buf, e.Data...)
		out[i] = Entry{Index: e.Index, Data: buf[start:len(buf):len(buf)]}
	}
	return out
}
