package shardapi

import (
	"slices"

	"github.com/torua/torua/graph/layout"
)

// Vertex is a vertex record.
type Vertex struct {
	ID layout.ID `json:"id"`
	// Labels are sorted and distinct.
	Labels []string `json:"labels,omitempty"`
	// Props is the encoded property map (value.EncodeProps).
	Props []byte `json:"props,omitempty"`
	// Incarnation is random, chosen when the vertex is created: an edge made for this vertex
	// never attaches to a later vertex with the same id.
	Incarnation uint64 `json:"incarnation"`
	// Revision is the engine revision of the record (not encoded).
	Revision uint64 `json:"revision,omitempty"`
}

// HasLabel reports whether the vertex has label.
func (v *Vertex) HasLabel(label string) bool {
	_, ok := slices.BinarySearch(v.Labels, label)
	return ok
}

// Half is one half of an edge as its shard stores it.
type Half struct {
	layout.EdgeHalf `json:"half"`
	// Props is the encoded property map; both halves hold the same.
	Props []byte `json:"props,omitempty"`
	// Gen is the generation of the write that made this half: 1 at creation, one more for
	// each later change. A half is only ever replaced by a higher generation.
	Gen uint64 `json:"gen,omitempty"`
	// Deleted marks a tombstone: the half is gone, and Gen stops an older, delayed write
	// from bringing it back. DeletedAt (Unix seconds) dates it for its removal.
	Deleted   bool  `json:"deleted,omitempty"`
	DeletedAt int64 `json:"deletedAt,omitempty"`
	// Revision is the engine revision of the record (not encoded).
	Revision uint64 `json:"revision,omitempty"`
}

// Outbox is an outbox record: what the half of an edge on another shard must become. It is
// written in the same Raft entry as the change of the local half, and deleted once the remote
// half is as it says (or the edge was undone).
type Outbox struct {
	// Remote is the half to set, on Remote.Vertex's shard.
	Remote layout.EdgeHalf `json:"remote"`
	// Present is true to create or update the remote half with Props, false to delete it.
	Present bool   `json:"present"`
	Props   []byte `json:"props,omitempty"`
	// Gen is the generation the remote half gets.
	Gen uint64 `json:"gen,omitempty"`
	// TargetIncarnation, when not 0, is the incarnation Remote.Vertex must have: the edge
	// was made for that vertex, not a later one with the same id.
	TargetIncarnation uint64 `json:"targetIncarnation,omitempty"`
	// Created is when the record was written (Unix nanoseconds, the writer's clock).
	Created int64 `json:"created"`
	// Revision is the engine revision of the record (not encoded).
	Revision uint64 `json:"revision,omitempty"`
	// Bundle, when set, is the key of the bundle that holds the record with the other records
	// of its write (Revision is then the bundle's); else the record is stored alone at Key.
	// Only the writing shard knows it.
	Bundle []byte `json:"-"`
}

// Key is the record's key on the local vertex's shard.
func (o *Outbox) Key(graph string) []byte {
	return layout.OutboxKey(graph, o.Remote.Edge, o.Remote.Dir, o.Remote.Other)
}
