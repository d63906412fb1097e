package engine

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"

	"github.com/cockroachdb/pebble/v2"
)

const (
	snapshotMagic   = "TORUASNP"
	snapshotVersion = 1
	tagRecord       = 'r'
	tagEnd          = 'e'

	// Sanity bounds for lengths read from a snapshot stream, far above what
	// the node accepts, so that a corrupt length cannot make Restore
	// allocate without bound.
	maxSnapshotKeyLen  = 64 << 10
	maxSnapshotDataLen = 256 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// SnapshotShard writes a consistent point-in-time copy of shard's data and
// metadata to w, in the format described in the package documentation. It
// reads from a Pebble snapshot, so concurrent writes neither block it nor
// appear in it. NB: Close waits for a running SnapshotShard to return.
func (e *Engine) SnapshotShard(shard int, w io.Writer) error {
	release, err := e.use("snapshot shard", shard)
	if err != nil {
		return err
	}
	defer release()
	snap := e.db.NewSnapshot()
	defer snap.Close()
	if err := writeSnapshot(snap, shard, w); err != nil {
		return fmt.Errorf("snapshot shard %d: %w", shard, markCorrupt(err))
	}
	return nil
}

func writeSnapshot(snap *pebble.Snapshot, shard int, w io.Writer) error {
	m, err := readMeta(snap, shard)
	if err != nil {
		return err
	}
	crc := crc32.New(castagnoli)
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 64<<10)

	hdr := make([]byte, 0, 64)
	hdr = append(hdr, snapshotMagic...)
	hdr = append(hdr, snapshotVersion)
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(shard))
	hdr = binary.AppendUvarint(hdr, m.Revision)
	hdr = binary.AppendUvarint(hdr, m.AppliedIndex)
	if _, err := bw.Write(hdr); err != nil {
		return err
	}

	start, end := dataSpan(shard)
	iter, err := snap.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: end})
	if err != nil {
		return err
	}
	var count, size uint64
	var scratch []byte
	for valid := iter.First(); valid; valid = iter.Next() {
		raw, err := iter.ValueAndErr()
		if err != nil {
			return errors.Join(err, iter.Close())
		}
		rev, data, err := decodeValue(raw)
		if err != nil {
			return errors.Join(fmt.Errorf("key %q: %w", iter.Key()[shardPrefixLen:], err), iter.Close())
		}
		key := iter.Key()[shardPrefixLen:]
		scratch = append(scratch[:0], tagRecord)
		scratch = binary.AppendUvarint(scratch, uint64(len(key)))
		scratch = append(scratch, key...)
		scratch = binary.AppendUvarint(scratch, rev)
		scratch = binary.AppendUvarint(scratch, uint64(len(data)))
		if _, err := bw.Write(scratch); err != nil {
			return errors.Join(err, iter.Close())
		}
		if _, err := bw.Write(data); err != nil {
			return errors.Join(err, iter.Close())
		}
		count++
		size += uint64(len(key) + len(data))
	}
	if err := errors.Join(iter.Error(), iter.Close()); err != nil {
		return err
	}

	trailer := []byte{tagEnd}
	trailer = binary.AppendUvarint(trailer, count)
	trailer = binary.AppendUvarint(trailer, size)
	if _, err := bw.Write(trailer); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	// NB: the checksum covers every byte before it, so it goes straight to w.
	_, err = w.Write(binary.BigEndian.AppendUint32(nil, crc.Sum32()))
	return err
}

// RestoreShard replaces shard's data and metadata whole with the snapshot
// read from r, which must have been taken of the same shard id. It reads and
// verifies the whole stream (structure, key order, counts, checksum, nothing
// after the trailer) before it changes anything: a corrupt or truncated
// stream is refused with an error wrapping ErrCorrupt and the old data kept.
// The replacement is one synced Pebble batch.
//
// NB: the batch holds the whole shard in memory until it commits.
func (e *Engine) RestoreShard(shard int, r io.Reader) error {
	release, err := e.use("restore shard", shard)
	if err != nil {
		return err
	}
	defer release()
	b := e.db.NewBatch()
	defer b.Close()
	if err := deleteShardOps(b, shard); err != nil {
		return fmt.Errorf("restore shard %d: %w", shard, err)
	}
	m, err := readSnapshot(r, shard, b)
	if err != nil {
		return fmt.Errorf("restore shard %d: %w", shard, err)
	}
	if err := b.Set(metaKey(shard), encodeMeta(m), nil); err != nil {
		return fmt.Errorf("restore shard %d: %w", shard, err)
	}
	err = b.Commit(pebble.Sync)
	e.cache(shard).reset(m, err == nil)
	if err != nil {
		return fmt.Errorf("restore shard %d: commit: %w", shard, err)
	}
	e.log.Info("Restored shard", "shard", shard, "keys", m.Keys, "revision", m.Revision)
	return nil
}

// snapReader reads a snapshot stream, hashing every byte it consumes.
type snapReader struct {
	br      *bufio.Reader
	crc     hash.Hash32
	readErr error // the last error of the underlying reader
}

func (s *snapReader) ReadByte() (byte, error) {
	c, err := s.br.ReadByte()
	if err != nil {
		s.readErr = err
		return 0, err
	}
	s.crc.Write([]byte{c})
	return c, nil
}

// read appends n bytes from the stream to buf.
func (s *snapReader) read(buf []byte, n uint64) ([]byte, error) {
	start := len(buf)
	buf = append(buf, make([]byte, n)...)
	if _, err := io.ReadFull(s.br, buf[start:]); err != nil {
		return nil, err
	}
	s.crc.Write(buf[start:])
	return buf, nil
}

func (s *snapReader) uvarint(what string) (uint64, error) {
	s.readErr = nil
	v, err := binary.ReadUvarint(s)
	if err != nil {
		if s.readErr == nil {
			// Not the reader's error: the varint itself is malformed.
			return 0, fmt.Errorf("read %s: %w: %w", what, ErrCorrupt, err)
		}
		return 0, fmt.Errorf("read %s: %w", what, err)
	}
	return v, nil
}

// readSnapshot decodes a snapshot of shard from r into b and returns the
// shard's metadata. Any malformation, truncation included, is reported
// wrapping ErrCorrupt.
func readSnapshot(r io.Reader, shard int, b *pebble.Batch) (meta, error) {
	m, err := decodeSnapshot(r, shard, b)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		// A short stream is a corrupt stream; other reader errors stay I/O errors.
		err = fmt.Errorf("truncated stream: %w: %w", ErrCorrupt, err)
	}
	return m, err
}

func decodeSnapshot(r io.Reader, shard int, b *pebble.Batch) (meta, error) {
	var m meta
	s := &snapReader{br: bufio.NewReaderSize(r, 64<<10), crc: crc32.New(castagnoli)}
	hdr, err := s.read(nil, uint64(len(snapshotMagic)+1+2))
	if err != nil {
		return m, fmt.Errorf("read header: %w", err)
	}
	if string(hdr[:len(snapshotMagic)]) != snapshotMagic {
		return m, fmt.Errorf("not a shard snapshot (bad magic %q): %w", hdr[:len(snapshotMagic)], ErrCorrupt)
	}
	if v := hdr[len(snapshotMagic)]; v != snapshotVersion {
		return m, fmt.Errorf("unknown snapshot format version %d: %w", v, ErrCorrupt)
	}
	if got := int(binary.BigEndian.Uint16(hdr[len(snapshotMagic)+1:])); got != shard {
		return m, fmt.Errorf("snapshot is of shard %d: %w", got, ErrCorrupt)
	}
	if m.Revision, err = s.uvarint("revision"); err != nil {
		return m, err
	}
	if m.AppliedIndex, err = s.uvarint("applied index"); err != nil {
		return m, err
	}

	var count, size uint64
	var key, prev, data []byte
	for {
		tag, err := s.ReadByte()
		if err != nil {
			return m, fmt.Errorf("read record tag: %w", err)
		}
		if tag == tagEnd {
			break
		}
		if tag != tagRecord {
			return m, fmt.Errorf("record %d: unknown tag %#x: %w", count, tag, ErrCorrupt)
		}
		n, err := s.uvarint("key length")
		if err != nil {
			return m, err
		}
		if n > maxSnapshotKeyLen {
			return m, fmt.Errorf("record %d: key length %d: %w", count, n, ErrCorrupt)
		}
		if key, err = s.read(key[:0], n); err != nil {
			return m, fmt.Errorf("record %d: read key: %w", count, err)
		}
		if count > 0 && bytes.Compare(key, prev) <= 0 {
			return m, fmt.Errorf("record %d: keys out of order: %w", count, ErrCorrupt)
		}
		prev = append(prev[:0], key...)
		rev, err := s.uvarint("revision")
		if err != nil {
			return m, err
		}
		if rev == 0 || rev > m.Revision {
			return m, fmt.Errorf("record %d: revision %d outside 1..%d: %w", count, rev, m.Revision, ErrCorrupt)
		}
		if n, err = s.uvarint("value length"); err != nil {
			return m, err
		}
		if n > maxSnapshotDataLen {
			return m, fmt.Errorf("record %d: value length %d: %w", count, n, ErrCorrupt)
		}
		data = binary.AppendUvarint(data[:0], rev)
		if data, err = s.read(data, n); err != nil {
			return m, fmt.Errorf("record %d: read value: %w", count, err)
		}
		if err := b.Set(dataKey(shard, key), data, nil); err != nil {
			return m, fmt.Errorf("record %d: batch: %w", count, err)
		}
		count++
		size += uint64(len(key)) + n
	}

	wantCount, err := s.uvarint("record count")
	if err != nil {
		return m, err
	}
	wantSize, err := s.uvarint("byte count")
	if err != nil {
		return m, err
	}
	sum := s.crc.Sum32()
	var tail [4]byte
	if _, err := io.ReadFull(s.br, tail[:]); err != nil {
		return m, fmt.Errorf("read checksum: %w", err)
	}
	if got := binary.BigEndian.Uint32(tail[:]); got != sum {
		return m, fmt.Errorf("checksum %#08x, computed %#08x: %w", got, sum, ErrCorrupt)
	}
	if wantCount != count || wantSize != size {
		return m, fmt.Errorf("trailer says %d records of %d bytes, stream has %d of %d: %w",
			wantCount, wantSize, count, size, ErrCorrupt)
	}
	if _, err := s.br.ReadByte(); !errors.Is(err, io.EOF) {
		if err == nil {
			return m, fmt.Errorf("data after the trailer: %w", ErrCorrupt)
		}
		return m, fmt.Errorf("read after trailer: %w", err)
	}
	m.Keys, m.Bytes = int64(count), int64(size)
	return m, nil
}
