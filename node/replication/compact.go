package replication

import (
	"fmt"
	"math"

	"github.com/torua/torua/node/raftlog"
)

// maybeCompact cuts the in-memory and stored log back once enough entries, or bytes of
// entries, are applied since the last compaction point, or a load (cmdLoad) was, or now if
// force. Loop only (or with the host's round lock).
//
// A load's entry is never among the trailing entries kept: it is megabytes, which every
// replica would otherwise hold in memory until the group's later writes pushed it out (a
// bulk-loaded graph's shards may take none for long). A replica behind it gets a snapshot.
func (g *Group) maybeCompact(force bool) (raftlog.Write, bool) {
	applied := g.applied.Load()
	point := g.snapPoint
	due := applied >= point+g.h.cfg.SnapshotThreshold || g.appliedBytes >= g.h.cfg.SnapshotBytes || g.loadApplied > point
	if applied <= point || (!force && !due) {
		return raftlog.Write{}, false
	}
	g.mu.Lock()
	conf := g.conf
	g.mu.Unlock()
	s, err := g.ms.CreateSnapshot(applied, conf, nil)
	if err != nil {
		return raftlog.Write{}, false
	}
	g.snapPoint, g.appliedBytes = applied, 0
	first, _ := g.ms.FirstIndex()
	keep := first
	if applied > g.h.cfg.TrailingLogs {
		keep = max(first, applied-g.h.cfg.TrailingLogs)
	}
	keep = g.trailingBytesFrom(keep, applied)
	if g.loadApplied >= keep && g.loadApplied <= applied {
		keep = g.loadApplied + 1
	}
	if keep > first {
		if err := g.ms.Compact(keep - 1); err != nil {
			return raftlog.Write{}, false
		}
	}
	return raftlog.Write{Shard: g.shard, DeleteBelow: keep,
		Stable: []raftlog.StableValue{{Name: keySnapshot, Value: mustMarshal(s.GetMetadata())}}}, true
}

// trailingBytesFrom is the first index from which the entries up to applied, the trailing
// entries kept from keep on, hold at most TrailingBytes of data. Loop only.
func (g *Group) trailingBytesFrom(keep, applied uint64) uint64 {
	if keep > applied {
		return keep
	}
	ents, err := g.ms.Entries(keep, applied+1, math.MaxUint64)
	if err != nil {
		return keep
	}
	var size uint64
	for i := len(ents) - 1; i >= 0; i-- {
		if size += uint64(len(ents[i].GetData())); size > g.h.cfg.TrailingBytes {
			return ents[i].GetIndex() + 1
		}
	}
	return keep
}

// unpin cuts the group's log back to its snapshot point, keeping no trailing entries, so
// that it stops holding old segments of the node's Raft log (Host.unpinLog). A snapshot
// point is made at the applied index first if anything was applied since the last. Loop
// only (or with the host's round lock).
func (g *Group) unpin() (raftlog.Write, bool) {
	w, ok := g.maybeCompact(true)
	if first, _ := g.ms.FirstIndex(); first <= g.snapPoint {
		if err := g.ms.Compact(g.snapPoint); err != nil {
			return w, ok
		}
		w.Shard, w.DeleteBelow, ok = g.shard, g.snapPoint+1, true
	}
	return w, ok
}

// Snapshot compacts the group's log now, up to its applied index.
func (g *Group) Snapshot() error {
	g.h.roundMu.Lock()
	defer g.h.roundMu.Unlock()
	if g.restoring.Load() {
		return nil // a snapshot is being restored: there is no log to compact yet
	}
	rw, ok := g.maybeCompact(true)
	if !ok {
		return nil
	}
	if err := g.h.writePoints([]raftlog.Write{rw}); err != nil {
		return fmt.Errorf("snapshot shard %d: %w", g.shard, err)
	}
	return nil
}
