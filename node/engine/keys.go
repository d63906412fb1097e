package engine

import (
	"encoding/binary"
	"fmt"
)

// MaxShard is the largest shard id the engine accepts; shards are 0..MaxShard.
const MaxShard = 4095

const (
	prefixData   byte = 'd'
	prefixMeta   byte = 'm'
	prefixFormat byte = 'f'

	shardPrefixLen = 3 // prefix byte + uint16 shard
	metaVersion    = 1
)

// formatKey and formatValue mark a Pebble store as a Torua engine store.
var (
	formatKey   = []byte{prefixFormat}
	formatValue = []byte("torua-engine-v1")
)

func checkShard(shard int) error {
	if shard < 0 || shard > MaxShard {
		return fmt.Errorf("shard %d outside 0..%d: %w", shard, MaxShard, ErrInvalidArgument)
	}
	return nil
}

// shardPrefix returns prefix | uint16(shard), with spare capacity for extra bytes.
func shardPrefix(prefix byte, shard int, extra int) []byte {
	k := make([]byte, shardPrefixLen, shardPrefixLen+extra)
	k[0] = prefix
	binary.BigEndian.PutUint16(k[1:], uint16(shard))
	return k
}

func dataKey(shard int, key []byte) []byte {
	return append(shardPrefix(prefixData, shard, len(key)), key...)
}

func metaKey(shard int) []byte {
	return shardPrefix(prefixMeta, shard, 0)
}

// dataSpan returns the key range [start, end) holding all of shard's data.
// NB: shard+1 may be MaxShard+1 (0x1000), which still fits in the uint16.
func dataSpan(shard int) (start, end []byte) {
	return shardPrefix(prefixData, shard, 0), shardPrefix(prefixData, shard+1, 0)
}

// successor returns the smallest key greater than every key with prefix p,
// or nil if there is none (p empty or all 0xff).
func successor(p []byte) []byte {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] != 0xff {
			s := make([]byte, i+1)
			copy(s, p)
			s[i]++
			return s
		}
	}
	return nil
}

// shardOf decodes the shard id of a data or metadata key.
func shardOf(k []byte) (int, bool) {
	if len(k) < shardPrefixLen {
		return 0, false
	}
	return int(binary.BigEndian.Uint16(k[1:shardPrefixLen])), true
}

func encodeValue(rev uint64, data []byte) []byte {
	v := make([]byte, 0, binary.MaxVarintLen64+len(data))
	v = binary.AppendUvarint(v, rev)
	return append(v, data...)
}

// decodeValue splits a stored value into revision and data; data aliases v.
func decodeValue(v []byte) (rev uint64, data []byte, err error) {
	rev, n := binary.Uvarint(v)
	if n <= 0 {
		return 0, nil, fmt.Errorf("decode value header: %w", ErrCorrupt)
	}
	return rev, v[n:], nil
}

// meta is a shard's metadata record.
type meta struct {
	Keys         int64
	Bytes        int64
	Revision     uint64
	AppliedIndex uint64
}

func encodeMeta(m meta) []byte {
	v := make([]byte, 0, 1+4*binary.MaxVarintLen64)
	v = append(v, metaVersion)
	v = binary.AppendUvarint(v, m.Revision)
	v = binary.AppendVarint(v, m.Keys)
	v = binary.AppendVarint(v, m.Bytes)
	return binary.AppendUvarint(v, m.AppliedIndex)
}

func decodeMeta(v []byte) (meta, error) {
	var m meta
	if len(v) == 0 || v[0] != metaVersion {
		return m, fmt.Errorf("decode shard metadata: unknown version: %w", ErrCorrupt)
	}
	v = v[1:]
	var n int
	if m.Revision, n = binary.Uvarint(v); n <= 0 {
		return m, fmt.Errorf("decode shard metadata revision: %w", ErrCorrupt)
	}
	v = v[n:]
	if m.Keys, n = binary.Varint(v); n <= 0 {
		return m, fmt.Errorf("decode shard metadata keys: %w", ErrCorrupt)
	}
	v = v[n:]
	if m.Bytes, n = binary.Varint(v); n <= 0 {
		return m, fmt.Errorf("decode shard metadata bytes: %w", ErrCorrupt)
	}
	v = v[n:]
	if m.AppliedIndex, n = binary.Uvarint(v); n <= 0 {
		return m, fmt.Errorf("decode shard metadata applied index: %w", ErrCorrupt)
	}
	if n != len(v) {
		return m, fmt.Errorf("decode shard metadata: %d trailing bytes: %w", len(v)-n, ErrCorrupt)
	}
	return m, nil
}
