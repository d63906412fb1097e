package replication

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

var (
	bucketLogs   = []byte("logs")
	bucketStable = []byte("stable")

	// errKeyNotFound is what raft.StableStore callers expect for a missing key: the Raft
	// library compares the error's text with "not found".
	errKeyNotFound = errors.New("not found")
)

// logEncodingVersion is the first byte of every stored log entry.
const logEncodingVersion = 1

// boltStore is a raft.LogStore and raft.StableStore in one bbolt file. Every StoreLogs is
// one fsynced bbolt transaction, so Raft's batching (many entries per append) is also the
// log's group commit. Keys of the logs bucket are big-endian indexes, so bbolt's cursor
// order is log order.
type boltStore struct {
	db *bolt.DB
}

var (
	_ raft.LogStore    = (*boltStore)(nil)
	_ raft.StableStore = (*boltStore)(nil)
)

// openBoltStore opens (creating if missing) the store in file path.
func openBoltStore(path string) (*boltStore, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: time.Second, // another process holding the file fails fast, not forever
		// The freelist is rebuilt on open instead of written on every commit: fewer
		// pages per fsync on the append path.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("open raft log %q: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketLogs); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists(bucketStable)
		return err
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open raft log %q: %w", path, err)
	}
	return &boltStore{db: db}, nil
}

// Close closes the file.
func (s *boltStore) Close() error { return s.db.Close() }

func (s *boltStore) FirstIndex() (uint64, error) {
	var idx uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		if k, _ := tx.Bucket(bucketLogs).Cursor().First(); k != nil {
			idx = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	return idx, err
}

func (s *boltStore) LastIndex() (uint64, error) {
	var idx uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		if k, _ := tx.Bucket(bucketLogs).Cursor().Last(); k != nil {
			idx = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	return idx, err
}

func (s *boltStore) GetLog(index uint64, out *raft.Log) error {
	return s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketLogs).Get(indexKey(index))
		if v == nil {
			return raft.ErrLogNotFound
		}
		// NB: v is only valid inside the transaction; decodeLog copies what it keeps.
		if err := decodeLog(v, out); err != nil {
			return fmt.Errorf("raft log entry %d: %w", index, err)
		}
		return nil
	})
}

func (s *boltStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

func (s *boltStore) StoreLogs(logs []*raft.Log) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLogs)
		for _, l := range logs {
			if err := b.Put(indexKey(l.Index), encodeLog(l)); err != nil {
				return fmt.Errorf("store raft log entry %d: %w", l.Index, err)
			}
		}
		return nil
	})
}

func (s *boltStore) DeleteRange(lo, hi uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketLogs).Cursor()
		for k, _ := c.Seek(indexKey(lo)); k != nil; k, _ = c.Next() {
			if binary.BigEndian.Uint64(k) > hi {
				break
			}
			if err := c.Delete(); err != nil {
				return fmt.Errorf("delete raft log entries %d..%d: %w", lo, hi, err)
			}
		}
		return nil
	})
}

func (s *boltStore) Set(key, val []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketStable).Put(key, val)
	})
}

func (s *boltStore) Get(key []byte) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketStable).Get(key)
		if v == nil {
			return errKeyNotFound
		}
		out = append([]byte(nil), v...)
		return nil
	})
	return out, err
}

func (s *boltStore) SetUint64(key []byte, val uint64) error { return setUint64(s, key, val) }

func (s *boltStore) GetUint64(key []byte) (uint64, error) { return getUint64(s, key) }

// bytesStable is the byte-valued half of a raft.StableStore; setUint64 and getUint64 build
// the uint64 half on it (big-endian, 8 bytes), for every store kind.
type bytesStable interface {
	Set(key, val []byte) error
	Get(key []byte) ([]byte, error)
}

func setUint64(s bytesStable, key []byte, val uint64) error {
	return s.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

func getUint64(s bytesStable, key []byte) (uint64, error) {
	v, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("stable key %q: %d bytes, want 8", key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

func indexKey(i uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), i) }

// encodeLog encodes a log entry:
//
//	version byte 1 | uvarint index | uvarint term | type byte |
//	uvarint len(data) | data | uvarint len(extensions) | extensions | varint appendedAt (Unix ns)
func encodeLog(l *raft.Log) []byte {
	b := make([]byte, 0, 1+5*binary.MaxVarintLen64+1+len(l.Data)+len(l.Extensions))
	b = append(b, logEncodingVersion)
	b = binary.AppendUvarint(b, l.Index)
	b = binary.AppendUvarint(b, l.Term)
	b = append(b, byte(l.Type))
	b = binary.AppendUvarint(b, uint64(len(l.Data)))
	b = append(b, l.Data...)
	b = binary.AppendUvarint(b, uint64(len(l.Extensions)))
	b = append(b, l.Extensions...)
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	return binary.AppendVarint(b, at)
}

func decodeLog(v []byte, out *raft.Log) error {
	d := decoder{b: v}
	if ver := d.byte(); d.err == nil && ver != logEncodingVersion {
		return fmt.Errorf("encoding version %d unknown", ver)
	}
	out.Index = d.uvarint()
	out.Term = d.uvarint()
	out.Type = raft.LogType(d.byte())
	data := d.bytes()
	ext := d.bytes()
	var at int64
	if d.err == nil {
		var n int
		at, n = binary.Varint(d.b)
		if n <= 0 || n != len(d.b) {
			d.err = errors.New("bad appendedAt")
		}
	}
	if d.err != nil {
		return fmt.Errorf("decode: %w", d.err)
	}
	out.Data = cloneOrNil(data)
	out.Extensions = cloneOrNil(ext)
	out.AppendedAt = time.Time{}
	if at != 0 {
		out.AppendedAt = time.Unix(0, at)
	}
	return nil
}

func cloneOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
