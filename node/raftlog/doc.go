// Package raftlog is a durable, append-only, segmented log holding the Raft state
// of every shard replica of one node: log entries and stable values (hard state,
// snapshot metadata, member names). It replaces the Raft log's trip through the
// engine's LSM (insert into a memtable, flush, compact, only to be deleted after
// the next compaction point) with sequential appends to a file, as etcd's WAL and
// TiKV's raft-engine do. A shard's log is a set of entries keyed by index, with
// named stable values beside it.
//
// NB: this package must not import other Torua packages but internal/binenc (its
// records' decoder), nor Pebble or the Raft library; it stores opaque bytes. The
// replication package adapts it.
//
// # Files
//
// The log is a directory of segments named by a zero-padded decimal sequence
// number, "0000000000000001.log", "0000000000000002.log", ... Numbers are
// consecutive (a gap is corruption) and never reused. Only the last segment is
// appended to; when it reaches Options.SegmentSize the next one is started.
// A segment is preallocated to SegmentSize (fallocate, as etcd's WAL): appends
// inside it then make an fdatasync record no new blocks and no new file size,
// which on ext4 here costs a third less; the zeros after the last record are
// space never written, cut off when the segment stops being the last.
// Integers are little-endian.
//
//	segment header: magic "TORUARLG" | uint32 version (1) | uint64 sequence number |
//	                uint32 CRC-32C of the 20 preceding bytes               (24 bytes)
//	records:        uint32 len(payload) | uint32 CRC-32C(payload) |
//	                uint32 CRC-32C of those 8 bytes | payload
//
// A payload is a kind byte and a body of uvarints and length-prefixed bytes:
//
//	1 batch:        n | n × (shard | deleteFrom | deleteBelow |
//	                     count | [first index | count × (len | data)] |
//	                     m | m × (len | name | len | value))
//	2 delete shard: shard
//	3 checkpoint:   n | n × (shard | compaction point | m | m × (len | name | len | value))
//
// Shard numbers run from 0 to MaxShard; MetaShard (MaxShard+1) holds the log's own
// stable values (the replication package keeps the node's identity there, so that it
// lives and dies with the log), which cannot be deleted.
//
// A batch holds one Write call (one write system call, one record); its
// entries are consecutive, so only the first index is stored. The header's own
// checksum keeps a damaged length from being mistaken for a torn record.
//
// # Durability
//
// Write appends unsynced; Sync fdatasyncs the last segment. Write does not wait
// for a Sync in flight (group commit: the Raft loop appends while the syncer
// syncs). A new segment is made whole before it becomes visible: the previous
// segment is cut to its last record and fdatasynced, the new one is written
// under a temporary name (header and a checkpoint record), fdatasynced, renamed
// and the directory fsynced. So a segment other than the last always ends at a
// record boundary and its records are durable.
//
// # Recovery
//
// Open reads the segments in order and replays their records. Within one Write
// the order is DeleteFrom, DeleteBelow, Entries, Stable. A segment whose header
// is not this package's (magic, version, checksum, number) is refused. In the
// last segment, zeros from a record boundary to the end are preallocated space.
// A record that does not verify is a torn write only if it is in the last
// segment and no intact record starts anywhere after it: the segment is
// truncated there (logged at Warn) and everything before it is kept. Any other
// damage (in an earlier segment, or followed by an intact record, or a gap in
// the numbers) is refused with an error wrapping ErrCorrupt: Open never deletes
// or repairs a durable record. NB: a damaged last record of the last segment is
// indistinguishable from a torn one and is cut off.
//
// # Garbage collection
//
// In memory the log keeps, per shard, the latest stable values, the compaction
// point and where its live entries are (runs of indexes → segment), never the
// entries. A segment may be deleted when no shard has a live entry or a latest
// stable value in it; to keep old segments from holding the only copy of a
// stable value, each new segment starts with a checkpoint record holding every
// shard's stable values and compaction point. Segments are deleted oldest first
// and only as a prefix (so a delete record is never lost while the records it
// deletes survive), only once the records that made them unnecessary are
// durable, with a directory fsync after each. A shard whose live entries stay
// in an old segment pins it (Pinning); compacting its log releases it.
//
// # Code
//
// log.go (the Log: writes, syncs, shard state), segments.go (rotation, checkpoints,
// collection of old segments), record.go (the records' encoding), recover.go (Open and
// replay), index.go (the in-memory index of each shard's entries), sync_*.go (fdatasync
// and preallocation by platform).
package raftlog
