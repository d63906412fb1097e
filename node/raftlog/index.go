package raftlog

import (
	"slices"
	"sort"
)

// run says that the live versions of a shard's entries lo..hi (inclusive) are in
// segment seq. A shard's runs are sorted and do not overlap; they are what
// garbage collection needs to know of the entries, which are not kept in memory.
type run struct{ lo, hi, seq uint64 }

// shardMeta is what the log keeps in memory of one shard.
type shardMeta struct {
	runs      []run
	compacted uint64 // the highest DeleteBelow: entries below it were deleted
	stable    map[string]stableValue
}

// stableValue is a shard's latest value of a name and the segment holding it.
type stableValue struct {
	value []byte
	seq   uint64
}

func newShardMeta() *shardMeta { return &shardMeta{stable: map[string]stableValue{}} }

// apply records w, written to segment seq, in m, in Write's order: DeleteFrom,
// DeleteBelow, Entries, Stable. If copyValues, the
// stable values are copied (the caller's buffers are not ours to keep).
func (m *shardMeta) apply(w *Write, seq uint64, copyValues bool) {
	if w.DeleteFrom != 0 {
		m.runs = runsCutFrom(m.runs, w.DeleteFrom)
	}
	if w.DeleteBelow != 0 {
		m.runs = runsCutBelow(m.runs, w.DeleteBelow)
		m.compacted = max(m.compacted, w.DeleteBelow)
	}
	if n := len(w.Entries); n > 0 {
		m.runs = runsSet(m.runs, w.Entries[0].Index, w.Entries[n-1].Index, seq)
	}
	for _, s := range w.Stable {
		v := s.Value
		if copyValues {
			v = slices.Clone(v)
		}
		m.stable[string(s.Name)] = stableValue{value: v, seq: seq}
	}
}

// applyCheckpoint records c, read from segment seq, in m.
func (m *shardMeta) applyCheckpoint(c *checkpointShard, seq uint64) {
	if c.compacted != 0 {
		m.runs = runsCutBelow(m.runs, c.compacted)
		m.compacted = max(m.compacted, c.compacted)
	}
	for _, s := range c.stable {
		m.stable[string(s.Name)] = stableValue{value: s.Value, seq: seq}
	}
}

func (m *shardMeta) empty() bool {
	return len(m.runs) == 0 && len(m.stable) == 0 && m.compacted == 0
}

// runsCutFrom drops every index at or above i (i > 0).
func runsCutFrom(rs []run, i uint64) []run {
	for len(rs) > 0 {
		last := &rs[len(rs)-1]
		if last.lo >= i {
			rs = rs[:len(rs)-1]
			continue
		}
		if last.hi >= i {
			last.hi = i - 1
		}
		break
	}
	return rs
}

// runsCutBelow drops every index below i.
func runsCutBelow(rs []run, i uint64) []run {
	k := 0
	for k < len(rs) && rs[k].hi < i {
		k++
	}
	rs = append(rs[:0], rs[k:]...)
	if len(rs) > 0 && rs[0].lo < i {
		rs[0].lo = i
	}
	return rs
}

// runsSet records that lo..hi now live in segment seq, replacing what was there.
func runsSet(rs []run, lo, hi, seq uint64) []run {
	if n := len(rs); n == 0 || rs[n-1].hi < lo {
		// The common case: an append after the last entry.
		if n > 0 && rs[n-1].seq == seq && rs[n-1].hi+1 == lo {
			rs[n-1].hi = hi
			return rs
		}
		return append(rs, run{lo, hi, seq})
	}
	out := make([]run, 0, len(rs)+2)
	add := func(r run) {
		if n := len(out); n > 0 && out[n-1].seq == r.seq && out[n-1].hi+1 == r.lo {
			out[n-1].hi = r.hi
			return
		}
		out = append(out, r)
	}
	inserted := false
	for _, r := range rs {
		switch {
		case r.hi < lo:
			add(r)
		case r.lo > hi:
			if !inserted {
				add(run{lo, hi, seq})
				inserted = true
			}
			add(r)
		default: // overlaps lo..hi
			if r.lo < lo {
				add(run{r.lo, lo - 1, r.seq})
			}
			if !inserted {
				add(run{lo, hi, seq})
				inserted = true
			}
			if r.hi > hi {
				add(run{hi + 1, r.hi, r.seq})
			}
		}
	}
	if !inserted {
		add(run{lo, hi, seq})
	}
	return out
}

// The same operations on entries held in memory during recovery (sorted by index).

func entriesCutFrom(es []Entry, i uint64) []Entry {
	k := sort.Search(len(es), func(k int) bool { return es[k].Index >= i })
	clear(es[k:]) // let the data go
	return es[:k]
}

func entriesCutBelow(es []Entry, i uint64) []Entry {
	k := sort.Search(len(es), func(k int) bool { return es[k].Index >= i })
	clear(es[:k])
	return es[k:]
}

// entriesSet stores add (consecutive indexes) in es, replacing entries at the
// same indexes.
func entriesSet(es, add []Entry) []Entry {
	lo, hi := add[0].Index, add[len(add)-1].Index
	if len(es) == 0 || es[len(es)-1].Index < lo {
		return append(es, add...)
	}
	i := sort.Search(len(es), func(k int) bool { return es[k].Index >= lo })
	j := sort.Search(len(es), func(k int) bool { return es[k].Index > hi })
	return slices.Concat(es[:i], add, es[j:])
}
