package raftlog

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

var (
	// ErrCorrupt reports a log that Open cannot trust: a damaged record other than
	// a torn tail, a missing segment, or a file that is not a segment of this format.
	ErrCorrupt = errors.New("raft log corrupt")
	// ErrClosed reports a call on a closed Log.
	ErrClosed = errors.New("raft log closed")
	// ErrInvalidArgument reports a Write or shard the log refuses (nothing is written).
	ErrInvalidArgument = errors.New("invalid argument")
)

const (
	// MaxShard is the highest shard id.
	MaxShard = 4095
	// MetaShard holds the log's own stable values (the replication package keeps the
	// node's identity there): written, recovered, checkpointed and collected like a
	// shard's, so they live and die with the log. It cannot be deleted.
	MetaShard = MaxShard + 1
	// DefaultSegmentSize is the size at which a segment is rotated if Options
	// does not say.
	DefaultSegmentSize = 64 << 20
)

// Options configure a Log.
type Options struct {
	// SegmentSize is the size in bytes past which the next Write starts a new
	// segment (DefaultSegmentSize if zero).
	SegmentSize int64
	// NoSync skips every fdatasync and directory fsync (tests): nothing is durable
	// against a machine crash, but a process crash loses nothing.
	NoSync bool
	// Logger receives warnings (a torn tail cut off) and debug messages; none if nil.
	Logger *slog.Logger
}

// Entry is one Raft log entry: an index and opaque bytes.
type Entry struct {
	Index uint64
	Data  []byte
}

// StableValue is a named stable value of a shard (hard state, snapshot metadata, ...).
type StableValue struct {
	Name, Value []byte
}

// Write is one shard's part of a Write call. Its parts are applied in the order
// DeleteFrom, DeleteBelow, Entries, Stable.
type Write struct {
	Shard int
	// Entries are stored in index order, replacing entries at the same indexes;
	// their indexes must be consecutive.
	Entries []Entry
	// DeleteFrom, if not zero, removes every entry at or above it first (a log
	// suffix that a new leader's entries replace).
	DeleteFrom uint64
	// Stable values to set.
	Stable []StableValue
	// DeleteBelow, if not zero, removes every entry below it (a compacted prefix).
	DeleteBelow uint64
}

// ShardState is what Open recovered of a shard.
type ShardState struct {
	// Entries are the shard's entries in index order (consecutive if the writes
	// kept them so, as Raft's do).
	Entries []Entry
	// Stable maps each stable value's name to its value.
	Stable map[string][]byte
	// Compacted is the highest DeleteBelow the shard has seen (0 if none).
	Compacted uint64
}

// Stats are counters for metrics.
type Stats struct {
	// BytesWritten counts bytes appended to segments (headers and checkpoints included).
	BytesWritten uint64
	// Records counts records appended.
	Records uint64
	// Syncs counts Syncs that had something to make durable.
	Syncs uint64
	// Segments is the number of segment files now.
	Segments int
	// SegmentsCreated and SegmentsRemoved count rotations and garbage-collected segments.
	SegmentsCreated, SegmentsRemoved uint64
}

// segment is one segment file. The last of Log.segs is the one appended to.
type segment struct {
	seq  uint64
	size int64
	head int64 // the size of its header and leading checkpoint
}

// Log is the Raft log of one node's shards. Write, Sync and the other methods
// are safe for concurrent use; Write and Sync are meant to be called from two
// goroutines (the Raft loop appends while the syncer syncs).
type Log struct {
	dir    string
	opts   Options
	logger *slog.Logger

	// syncMu serialises Syncs (one fdatasync in flight) and Close with them.
	syncMu sync.Mutex

	mu      sync.Mutex
	closed  bool
	failed  error // an I/O error after which the file's state is unknown: sticky
	segs    []segment
	f       *os.File   // the last segment, appended to
	retired []*os.File // earlier segments' files, closed by the next Sync (which may hold one)
	written uint64     // bytes appended since Open
	synced  uint64     // of which known durable
	shards  map[int]*shardMeta
	buf     []byte
	stats   Stats

	recovered map[int]*ShardState // what Open found, until Release
}

// syncHook, if set (tests), runs in Sync while its fdatasync would: no lock held.
var syncHook func()

func (l *Log) segmentPath(seq uint64) string {
	return filepath.Join(l.dir, fmt.Sprintf("%016d.log", seq))
}

// usable reports why the log cannot be used, if it cannot. l.mu is held.
func (l *Log) usable() error {
	if l.closed {
		return ErrClosed
	}
	return l.failed
}

// fail makes err sticky: after a failed write or sync the state of the file (and
// of the kernel's page cache) is unknown, and only a reopen, which recovers from
// what is on disk, may continue. l.mu is held.
func (l *Log) fail(err error) error {
	if l.failed == nil {
		l.failed = fmt.Errorf("raft log failed, reopen it: %w", err)
	}
	return err
}

func checkShard(shard int) error {
	if shard < 0 || shard > MetaShard {
		return fmt.Errorf("shard %d out of range 0..%d: %w", shard, MetaShard, ErrInvalidArgument)
	}
	return nil
}

func checkWrite(w *Write) error {
	if err := checkShard(w.Shard); err != nil {
		return err
	}
	for i := 1; i < len(w.Entries); i++ {
		if w.Entries[i].Index != w.Entries[i-1].Index+1 {
			return fmt.Errorf("shard %d: entry %d follows entry %d, indexes must be consecutive: %w",
				w.Shard, w.Entries[i].Index, w.Entries[i-1].Index, ErrInvalidArgument)
		}
	}
	return nil
}

// maxKeptBuffer bounds the record buffer a Log keeps between writes: above a bulk load's
// entries (4 MiB each, graph/exec's bulk parts), which otherwise each grew a new one.
const maxKeptBuffer = 16 << 20

// Write appends writes to the log as one record, with one write system call,
// unsynced: they are durable once a Sync that started after Write returned has
// returned. Nothing is written if any write is invalid. A Write that starts a
// new segment syncs the previous one and the new one first (see the package doc).
func (l *Log) Write(writes []Write) error {
	if len(writes) == 0 {
		return nil
	}
	for i := range writes {
		if err := checkWrite(&writes[i]); err != nil {
			return fmt.Errorf("write raft log: %w", err)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = appendBatch(l.buf[:0], writes)
	if err := l.append(l.buf); err != nil {
		return fmt.Errorf("write raft log: %w", err)
	}
	seq := l.segs[len(l.segs)-1].seq
	for i := range writes {
		m := l.shards[writes[i].Shard]
		if m == nil {
			m = newShardMeta()
			l.shards[writes[i].Shard] = m
		}
		m.apply(&writes[i], seq, true)
	}
	if cap(l.buf) > maxKeptBuffer {
		l.buf = nil // one large write does not pin its buffer
	}
	return nil
}

// append writes one framed record to the last segment, rotating first if it is
// full. l.mu is held.
func (l *Log) append(rec []byte) error {
	if err := l.usable(); err != nil {
		return err
	}
	if err := l.maybeRotate(); err != nil {
		return err
	}
	cur := &l.segs[len(l.segs)-1]
	if _, err := l.f.WriteAt(rec, cur.size); err != nil {
		return l.fail(fmt.Errorf("append to segment %d: %w", cur.seq, err))
	}
	cur.size += int64(len(rec))
	l.written += uint64(len(rec))
	l.stats.BytesWritten += uint64(len(rec))
	l.stats.Records++
	return nil
}

// Sync makes everything written before it started durable: one fdatasync of the
// last segment (earlier segments were synced when the next one was started). It
// holds no lock during the fdatasync that Write needs. Concurrent Syncs run one
// after the other; one with nothing new to sync returns at once.
func (l *Log) Sync() error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	if err := l.usable(); err != nil {
		l.mu.Unlock()
		return fmt.Errorf("sync raft log: %w", err)
	}
	f, target := l.f, l.written
	need := target > l.synced
	l.mu.Unlock()

	var err error
	if need {
		if syncHook != nil {
			syncHook()
		}
		if !l.opts.NoSync {
			err = fdatasync(f)
		}
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	// f was the last segment when this Sync started; the retired files (f among
	// them if a rotation happened meanwhile) were synced by their rotation.
	l.closeRetired()
	if err != nil {
		return fmt.Errorf("sync raft log: %w", l.fail(err))
	}
	if need {
		l.stats.Syncs++
		l.synced = max(l.synced, target)
	}
	return nil
}

func (l *Log) closeRetired() {
	for _, f := range l.retired {
		_ = f.Close() // synced at rotation; nothing left to lose
	}
	l.retired = nil
}

// DeleteShard removes all of shard's state, durably (a replica that left its group).
func (l *Log) DeleteShard(shard int) error {
	if err := checkShard(shard); err != nil || shard == MetaShard {
		return fmt.Errorf("delete raft state of shard %d: %w", shard, ErrInvalidArgument)
	}
	l.mu.Lock()
	err := l.append(appendDeleteShard(nil, shard))
	if err == nil {
		delete(l.shards, shard)
		delete(l.recovered, shard)
	}
	l.mu.Unlock()
	if err != nil {
		return fmt.Errorf("delete raft state of shard %d: %w", shard, err)
	}
	if err := l.Sync(); err != nil {
		return fmt.Errorf("delete raft state of shard %d: %w", shard, err)
	}
	return nil
}

// State returns what Open recovered of shard, and false if the log held nothing
// for it, or if it was released or deleted since. NB: it does not reflect writes
// made since Open; a caller loads a shard once, copies what it needs and releases
// it (Holds tells whether there is state to load from elsewhere).
func (l *Log) State(shard int) (ShardState, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.recovered[shard]
	if !ok {
		return ShardState{}, false
	}
	return *s, true
}

// Release drops what Open recovered of shard from memory; State then reports
// nothing for it.
func (l *Log) Release(shard int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.recovered, shard)
}

// Holds reports whether the log holds state of shard now: entries, stable values or a
// compaction point written since Open or recovered by it and not deleted since.
func (l *Log) Holds(shard int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.shards[shard]
	return m != nil && !m.empty()
}

// HoldsShards reports whether the log holds state of any shard (MetaShard aside).
func (l *Log) HoldsShards() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for s, m := range l.shards {
		if s != MetaShard && !m.empty() {
			return true
		}
	}
	return false
}

// Stats returns the log's counters.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.Segments = len(l.segs)
	return s
}

// Close syncs the log and closes its files. Calls after Close return ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.closed = true
	l.mu.Unlock()
	l.syncMu.Lock() // wait for a Sync in flight
	defer l.syncMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	var err error
	if l.failed == nil && l.written > l.synced && !l.opts.NoSync {
		if err = fdatasync(l.f); err != nil {
			err = fmt.Errorf("close raft log: %w", err)
		}
	}
	l.closeRetired()
	if cerr := l.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close raft log: %w", cerr)
	}
	l.recovered, l.shards = nil, nil
	return err
}
