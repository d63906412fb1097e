package engine

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// View is a consistent, read-only view of one shard's data at the moment it was taken (a
// Pebble snapshot): every read through it sees the same state, whatever is applied
// meanwhile. The graph store reads a hop's vertices and adjacency through one View.
//
// NB: a View holds the engine open (Close waits for it): close it as soon as the reads are
// done. Its methods are not safe for concurrent use.
type View struct {
	shard   int
	snap    *pebble.Snapshot
	release func()
	// iter is kept between scans, which set its bounds: a hop scans the adjacency of many
	// vertices, and a new iterator per scan costs more than the scan. busy is set while a
	// scan uses it (a scan nested in another's callback gets an iterator of its own).
	iter *pebble.Iterator
	busy bool
}

// View returns a view of shard's data as of now. The caller must Close it.
func (e *Engine) View(shard int) (*View, error) {
	release, err := e.use("view", shard)
	if err != nil {
		return nil, err
	}
	return &View{shard: shard, snap: e.db.NewSnapshot(), release: release}, nil
}

// Close releases the view.
func (v *View) Close() error {
	if v.snap == nil {
		return nil
	}
	var err error
	if v.iter != nil {
		err = v.iter.Close()
		v.iter = nil
	}
	err = errors.Join(err, v.snap.Close())
	v.snap = nil
	v.release()
	return err
}

// Get returns key's value in the view, or an error wrapping ErrNotFound.
func (v *View) Get(key []byte) (Value, error) {
	raw, closer, err := v.snap.Get(dataKey(v.shard, key))
	if errors.Is(err, pebble.ErrNotFound) {
		err = ErrNotFound
	}
	if err != nil {
		return Value{}, fmt.Errorf("get shard %d key %q: %w", v.shard, key, markCorrupt(err))
	}
	defer closer.Close()
	rev, data, err := decodeValue(raw)
	if err != nil {
		return Value{}, fmt.Errorf("get shard %d key %q: %w", v.shard, key, err)
	}
	return Value{Data: bytes.Clone(data), Revision: rev}, nil
}

// GetEach calls fn with the index in keys and the value of each of keys that the view holds,
// in ascending key order, until fn returns an error. val.Data is valid only during the call.
// For a batch of point reads it costs less than Get per key: one iterator serves them all,
// seeking ascending (a Get sets up an iterator per level each time), and a key's bloom filters
// still spare the tables that cannot hold it.
func (v *View) GetEach(keys [][]byte, fn func(i int, val Value) error) error {
	if len(keys) == 0 {
		return nil
	}
	dks := make([][]byte, len(keys))
	order := make([]int, len(keys))
	for i, k := range keys {
		dks[i] = dataKey(v.shard, k)
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return bytes.Compare(dks[a], dks[b]) })
	lower := dataKey(v.shard, nil)
	iter, done, err := v.iterator(lower, successor(lower))
	if err != nil {
		return fmt.Errorf("get shard %d: %w", v.shard, err)
	}
	var ferr error
	for _, i := range order {
		if !iter.SeekPrefixGE(dks[i]) {
			if ferr = iter.Error(); ferr != nil {
				ferr = markCorrupt(ferr)
				break
			}
			continue
		}
		val, err := current(iter)
		if err != nil {
			ferr = err
			break
		}
		if ferr = fn(i, val); ferr != nil {
			break
		}
	}
	if err := errors.Join(ferr, done()); err != nil {
		return fmt.Errorf("get shard %d: %w", v.shard, err)
	}
	return nil
}

// Scan calls fn with each key of the view that starts with prefix and is at or after start
// (nil: from the prefix's first key), ascending, until fn returns false or an error. key and
// val.Data are valid only during the call: fn copies what it keeps.
func (v *View) Scan(prefix, start []byte, fn func(key []byte, val Value) (bool, error)) error {
	lower := dataKey(v.shard, prefix)
	iter, done, err := v.iterator(lower, successor(lower))
	if err != nil {
		return fmt.Errorf("scan shard %d: %w", v.shard, err)
	}
	seek := lower
	if s := dataKey(v.shard, start); bytes.Compare(s, seek) > 0 {
		seek = s
	}
	var ferr error
	for valid := iter.SeekGE(seek); valid; valid = iter.Next() {
		val, err := current(iter)
		if err != nil {
			ferr = err
			break
		}
		more, err := fn(iter.Key()[shardPrefixLen:], val)
		if err != nil || !more {
			ferr = err
			break
		}
	}
	if err := errors.Join(ferr, iter.Error(), done()); err != nil {
		return fmt.Errorf("scan shard %d prefix %q: %w", v.shard, prefix, err)
	}
	return nil
}

// current returns the value at iter's position; its Data is the iterator's until it moves.
func current(iter *pebble.Iterator) (Value, error) {
	raw, err := iter.ValueAndErr()
	if err != nil {
		return Value{}, markCorrupt(err)
	}
	rev, data, err := decodeValue(raw)
	if err != nil {
		return Value{}, err
	}
	return Value{Data: data, Revision: rev}, nil
}

// iterator returns an iterator of the view bounded by lower and upper, and what to call when
// done with it: the view's own iterator when no scan uses it, else a new one.
func (v *View) iterator(lower, upper []byte) (*pebble.Iterator, func() error, error) {
	if v.busy {
		iter, err := v.snap.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
		if err != nil {
			return nil, nil, err
		}
		return iter, iter.Close, nil
	}
	if v.iter == nil {
		iter, err := v.snap.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
		if err != nil {
			return nil, nil, err
		}
		v.iter = iter
	} else {
		v.iter.SetBounds(lower, upper)
	}
	v.busy = true
	return v.iter, func() error { v.busy = false; return nil }, nil
}
