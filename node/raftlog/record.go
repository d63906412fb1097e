package raftlog

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"

	"github.com/torua/torua/internal/binenc"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

const (
	segmentMagic      = "TORUARLG"
	segmentVersion    = 1
	segmentHeaderSize = 24
	frameHeaderSize   = 12
	// maxPayload bounds a record (and what recovery believes a length field).
	maxPayload = 1 << 30
)

// Record kinds: the first byte of a payload.
const (
	kindBatch       byte = 1
	kindDeleteShard byte = 2
	kindCheckpoint  byte = 3
)

func appendSegmentHeader(b []byte, seq uint64) []byte {
	start := len(b)
	b = append(b, segmentMagic...)
	b = binary.LittleEndian.AppendUint32(b, segmentVersion)
	b = binary.LittleEndian.AppendUint64(b, seq)
	return binary.LittleEndian.AppendUint32(b, checksum(b[start:]))
}

// checkSegmentHeader verifies that data starts with the header of segment seq.
func checkSegmentHeader(data []byte, seq uint64) error {
	if len(data) < segmentHeaderSize || string(data[:len(segmentMagic)]) != segmentMagic {
		return fmt.Errorf("not a raft log segment (no %q header): %w", segmentMagic, ErrCorrupt)
	}
	if checksum(data[:20]) != binary.LittleEndian.Uint32(data[20:]) {
		return fmt.Errorf("segment header checksum mismatch: %w", ErrCorrupt)
	}
	if v := binary.LittleEndian.Uint32(data[8:]); v != segmentVersion {
		return fmt.Errorf("unknown segment format version %d (want %d): %w", v, segmentVersion, ErrCorrupt)
	}
	if got := binary.LittleEndian.Uint64(data[12:]); got != seq {
		return fmt.Errorf("segment header says number %d, file name says %d: %w", got, seq, ErrCorrupt)
	}
	return nil
}

// beginRecord reserves a frame header at the end of b; finishRecord fills it in
// once the payload has been appended after it.
func beginRecord(b []byte) ([]byte, int) {
	return append(b, make([]byte, frameHeaderSize)...), len(b)
}

func finishRecord(b []byte, start int) []byte {
	h := b[start : start+frameHeaderSize]
	payload := b[start+frameHeaderSize:]
	binary.LittleEndian.PutUint32(h[0:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[4:], checksum(payload))
	binary.LittleEndian.PutUint32(h[8:], checksum(h[:8]))
	return b
}

// readFrame returns the payload of the record at the start of b and the
// record's total size, or ok false if there is no intact record there.
func readFrame(b []byte) (payload []byte, size int, ok bool) {
	if len(b) < frameHeaderSize {
		return nil, 0, false
	}
	if checksum(b[:8]) != binary.LittleEndian.Uint32(b[8:]) {
		return nil, 0, false
	}
	n := binary.LittleEndian.Uint32(b[0:])
	if n == 0 || n > maxPayload || uint64(len(b)-frameHeaderSize) < uint64(n) {
		return nil, 0, false
	}
	payload = b[frameHeaderSize : frameHeaderSize+int(n)]
	if checksum(payload) != binary.LittleEndian.Uint32(b[4:]) {
		return nil, 0, false
	}
	return payload, frameHeaderSize + int(n), true
}

// appendBatch appends one batch record holding writes, framed.
func appendBatch(b []byte, writes []Write) []byte {
	// Grown once to the record's size, at most: a bulk load's entries are megabytes each, and
	// growing by doubling copied and zeroed them several times over.
	n := frameHeaderSize + 1 + binary.MaxVarintLen64
	for _, w := range writes {
		n += 5 * binary.MaxVarintLen64
		for _, e := range w.Entries {
			n += binary.MaxVarintLen64 + len(e.Data)
		}
		for _, v := range w.Stable {
			n += 2*binary.MaxVarintLen64 + len(v.Name) + len(v.Value)
		}
	}
	b = slices.Grow(b, n)
	b, start := beginRecord(b)
	b = append(b, kindBatch)
	b = binary.AppendUvarint(b, uint64(len(writes)))
	for _, w := range writes {
		b = binary.AppendUvarint(b, uint64(w.Shard))
		b = binary.AppendUvarint(b, w.DeleteFrom)
		b = binary.AppendUvarint(b, w.DeleteBelow)
		b = binary.AppendUvarint(b, uint64(len(w.Entries)))
		if len(w.Entries) > 0 {
			b = binary.AppendUvarint(b, w.Entries[0].Index)
			for _, e := range w.Entries {
				b = binenc.AppendBytes(b, e.Data)
			}
		}
		b = appendStable(b, w.Stable)
	}
	return finishRecord(b, start)
}

// appendStable appends a count and the stable values (name and value each with its length).
func appendStable(b []byte, vs []StableValue) []byte {
	b = binary.AppendUvarint(b, uint64(len(vs)))
	for _, v := range vs {
		b = binenc.AppendBytes(binenc.AppendBytes(b, v.Name), v.Value)
	}
	return b
}

func appendDeleteShard(b []byte, shard int) []byte {
	b, start := beginRecord(b)
	b = append(b, kindDeleteShard)
	b = binary.AppendUvarint(b, uint64(shard))
	return finishRecord(b, start)
}

// checkpointShard is one shard's part of a checkpoint record.
type checkpointShard struct {
	shard     int
	compacted uint64
	stable    []StableValue
}

func appendCheckpoint(b []byte, shards []checkpointShard) []byte {
	b, start := beginRecord(b)
	b = append(b, kindCheckpoint)
	b = binary.AppendUvarint(b, uint64(len(shards)))
	for _, s := range shards {
		b = binary.AppendUvarint(b, uint64(s.shard))
		b = binary.AppendUvarint(b, s.compacted)
		b = appendStable(b, s.stable)
	}
	return finishRecord(b, start)
}

// record is a decoded payload. Its byte slices alias the payload.
type record struct {
	kind       byte
	writes     []Write           // kindBatch
	shard      int               // kindDeleteShard
	checkpoint []checkpointShard // kindCheckpoint
}

// shard reads a shard number, refusing one above MetaShard.
func shard(d *binenc.Decoder) int {
	s := d.Uvarint()
	if s > MetaShard {
		d.Fail("shard %d", s)
	}
	return int(s)
}

// stable reads a list of stable values.
func stable(d *binenc.Decoder) []StableValue {
	n := d.Count(2)
	if n == 0 {
		return nil
	}
	vs := make([]StableValue, n)
	for i := range vs {
		vs[i].Name = d.Bytes()
		vs[i].Value = d.Bytes()
	}
	return vs
}

// decodeRecord decodes a payload that passed its checksum. An error means a
// record this package did not write (a bug or a foreign file), never a torn one.
func decodeRecord(p []byte) (record, error) {
	if len(p) == 0 {
		return record{}, fmt.Errorf("empty record: %w", binenc.ErrMalformed)
	}
	r := record{kind: p[0]}
	d := binenc.NewDecoder(p[1:])
	switch r.kind {
	case kindBatch:
		r.writes = make([]Write, d.Count(5))
		for i := range r.writes {
			w := &r.writes[i]
			w.Shard = shard(d)
			w.DeleteFrom = d.Uvarint()
			w.DeleteBelow = d.Uvarint()
			if n := d.Count(1); n > 0 {
				first := d.Uvarint()
				if first+uint64(n-1) < first {
					d.Fail("%d entries from index %d", n, first)
				}
				w.Entries = make([]Entry, n)
				for j := range w.Entries {
					w.Entries[j] = Entry{Index: first + uint64(j), Data: d.Bytes()}
				}
			}
			w.Stable = stable(d)
		}
	case kindDeleteShard:
		r.shard = shard(d)
	case kindCheckpoint:
		r.checkpoint = make([]checkpointShard, d.Count(3))
		for i := range r.checkpoint {
			c := &r.checkpoint[i]
			c.shard = shard(d)
			c.compacted = d.Uvarint()
			c.stable = stable(d)
		}
	default:
		return record{}, fmt.Errorf("unknown record kind %d: %w", r.kind, binenc.ErrMalformed)
	}
	d.End()
	if err := d.Err(); err != nil {
		return record{}, err
	}
	return r, nil
}
