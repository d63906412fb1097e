// Package engine is the storage engine of a Torua node: one Pebble database
// (github.com/cockroachdb/pebble/v2) per node, holding the data and metadata of
// every shard replica the node hosts, with per-shard revisions, conditional
// writes, bulk loads (a sorted run written as one table and ingested, load.go),
// listing, statistics, snapshots and Prometheus metrics.
//
// NB: this is the only package in Torua that may import Pebble. Everything else
// talks to storage through Engine (or a small interface over it declared where
// it is used). The engine knows nothing of HTTP, Raft or the shard map; it must
// not import other Torua packages but internal/kv, the leaf package of the write
// precondition (Op.Cond) that the transports and clients share.
//
// # Key encoding
//
// All keys live in one Pebble keyspace, ordered bytewise:
//
//	'd' | shard (uint16 big-endian) | user key   a data record
//	'm' | shard (uint16 big-endian)              the shard's metadata
//	'm' | shard (uint16 big-endian) | 'l'        a bulk load's pending metadata (load.go)
//	'l', 's' | shard (uint16 big-endian) | ...   Raft state of earlier versions (legacy.go)
//	'f'                                          the engine's format marker
//
// Shards are 0..MaxShard (4095). Because the shard id is fixed-width and big
// endian, the data of one shard is the contiguous key range
// ['d'|shard, 'd'|shard+1), so listing, snapshots and DeleteShard are single
// bounded scans or range deletions and can never see another shard's keys.
//
// # Value encoding
//
// A data record's value is uvarint(revision) | data. A deleted key has no
// record (a Pebble tombstone); its revision is consumed from the shard's
// counter all the same.
//
// The metadata value is: version byte 1 | uvarint(revision counter) |
// varint(live keys) | varint(live bytes) | uvarint(applied index). Live bytes
// count len(user key) + len(data) over the shard's live keys (encoding
// overhead excluded).
//
// The format marker value is the ASCII string "torua-engine-v1". Open refuses
// a store whose marker is missing (but that holds keys) or unknown.
//
// # Ops and atomic units
//
// Apply takes a list of ops on one shard: OpPut, OpDelete and OpCheck (asserts its
// condition, writes nothing), each with a precondition (kv.Precondition) evaluated against
// the key's state after the earlier ops of the call. By default each op succeeds or fails
// alone. An atomic unit (Span: ApplyOptions.Atomic for the whole call, ShardApply.Atomic
// for ranges of a shard's ops) applies all-or-nothing: at its first failing op (a
// condition that does not hold, a delete of a missing key) the unit stops, that op's
// Result carries the reason, every other op of the unit carries ErrAborted, and the unit
// leaves no trace: no write, no revision taken, statistics and write cache unchanged.
// The applied index of the call is recorded all the same. OpKind values are in the Raft
// log: never renumber them.
//
// # Revisions and durability
//
// Every successful Put or Delete takes the shard's next revision; the counter
// is stored in the shard's metadata in the same Pebble batch as the data, so it
// only grows and survives restarts (until DeleteShard removes the shard). A
// synced Apply returns only after its batch is fsynced in Pebble's WAL;
// concurrent synced Applies share fsyncs through Pebble's commit pipeline.
//
// # Snapshot stream format
//
// SnapshotShard writes (fixed-width integers big-endian):
//
//	header:  magic "TORUASNP" | format version byte 1 | uint16 shard |
//	         uvarint revision counter | uvarint applied index
//	records: 'r' | uvarint len(key) | key | uvarint revision | uvarint len(data) | data
//	         (one per live key, ascending by key)
//	trailer: 'e' | uvarint record count | uvarint live bytes |
//	         uint32 CRC-32C (Castagnoli) of every preceding byte
//
// RestoreShard verifies the structure, the shard id, the key order, that no
// revision exceeds the counter, the counts, the checksum and that nothing
// follows the trailer before it replaces anything. The restored shard's live
// key and byte counts are recomputed from the records.
package engine
