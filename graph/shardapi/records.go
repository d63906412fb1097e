package shardapi

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/value"
	"github.com/torua/torua/internal/binenc"
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

// CheckLabels returns a vertex's labels as its record keeps them, sorted and distinct,
// refusing an empty one.
func CheckLabels(labels []string) ([]string, error) {
	for _, l := range labels {
		if l == "" {
			return nil, fmt.Errorf("a label must not be empty")
		}
	}
	out := slices.Clone(labels)
	slices.Sort(out)
	return slices.Compact(out), nil
}

// CheckProps returns props without its null values (setting a property to null removes it),
// refusing values that cannot be properties.
func CheckProps(props map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(props))
	for k, v := range props {
		if v == nil {
			continue
		}
		if err := value.CheckProperty(v); err != nil {
			return nil, fmt.Errorf("property %s: %v", k, err)
		}
		out[k] = v
	}
	return out, nil
}

// The records of vertices and edge halves, as the store keeps them (graph/store keeps the
// others' formats). Each begins with a format version byte; a record of an unknown version is
// refused, never guessed at.
//
//	vertex:  1 | uvarint incarnation | uvarint label count | labels (uvarint len | bytes) |
//	         uvarint len | properties (value.EncodeProps)
//	half:    1 | uvarint generation | flags byte (1: tombstone) |
//	         [uvarint deleted-at, Unix seconds, if tombstone] | uvarint len | properties
const recordVersion = 1

// EncodeVertex encodes a vertex record, as the store keeps it under layout.VertexKey.
func EncodeVertex(v *Vertex) []byte {
	b := make([]byte, 0, 16+len(v.Props)+8*len(v.Labels))
	b = append(b, recordVersion)
	b = binary.AppendUvarint(b, v.Incarnation)
	b = binary.AppendUvarint(b, uint64(len(v.Labels)))
	for _, l := range v.Labels {
		b = binenc.AppendBytes(b, []byte(l))
	}
	return binenc.AppendBytes(b, v.Props)
}

// DecodeVertex decodes the record of vertex id stored at revision rev.
func DecodeVertex(id layout.ID, data []byte, rev uint64) (*Vertex, error) {
	d := binenc.NewDecoder(data)
	if ver := d.Byte(); d.Err() == nil && ver != recordVersion {
		return nil, fmt.Errorf("vertex %d: record version %d: unknown version", id, ver)
	}
	v := &Vertex{ID: id, Incarnation: d.Uvarint(), Revision: rev}
	n := d.Count(1)
	for i := 0; i < n && d.Err() == nil; i++ {
		v.Labels = append(v.Labels, string(d.Bytes()))
	}
	v.Props = d.Bytes()
	d.End()
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("vertex %d: %w", id, err)
	}
	return v, nil
}

// EncodeHalf encodes a half record, as the store keeps it under its key (layout.EdgeKey).
func EncodeHalf(h *Half) []byte {
	b := make([]byte, 0, 16+len(h.Props))
	b = append(b, recordVersion)
	b = binary.AppendUvarint(b, h.Gen)
	if h.Deleted {
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(h.DeletedAt))
	} else {
		b = append(b, 0)
	}
	return binenc.AppendBytes(b, h.Props)
}

// DecodeHalf decodes the record of half e stored at revision rev.
func DecodeHalf(e layout.EdgeHalf, data []byte, rev uint64) (*Half, error) {
	d := binenc.NewDecoder(data)
	if ver := d.Byte(); d.Err() == nil && ver != recordVersion {
		return nil, fmt.Errorf("edge %d: record version %d: unknown version", e.Edge, ver)
	}
	h := &Half{EdgeHalf: e, Gen: d.Uvarint(), Revision: rev}
	switch flags := d.Byte(); {
	case d.Err() != nil:
	case flags == 1:
		h.Deleted = true
		h.DeletedAt = int64(d.Uvarint())
	case flags != 0:
		d.Fail("half flags %d", flags)
	}
	h.Props = d.Bytes()
	d.End()
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("edge %d: %w", e.Edge, err)
	}
	return h, nil
}
