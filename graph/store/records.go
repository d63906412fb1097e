package store

import (
	"encoding/binary"
	"fmt"

	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/shardapi"
	"github.com/torua/torua/internal/binenc"
)

// The values stored under graph keys. Each begins with a format version byte; a record of an
// unknown version is refused as corrupt, never guessed at. Vertices and halves are encoded by
// graph/shardapi (records.go), which a bulk load builds too; the others here.
//
//	outbox:  1 | flags byte (1: present) | uvarint generation | uvarint target incarnation |
//	         uvarint created, Unix nanoseconds | half: dir byte | uvarint vertex |
//	         uvarint other | uvarint len | type | uvarint edge | uvarint len | properties
//	label, index entries: empty
const recordVersion = 1

// decodeVertex decodes vertex id's record (shardapi.DecodeVertex), refusing it as corrupt.
func decodeVertex(id layout.ID, data []byte, rev uint64) (*shardapi.Vertex, error) {
	v, err := shardapi.DecodeVertex(id, data, rev)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", err, ErrCorrupt)
	}
	return v, nil
}

// decodeHalf decodes the record of half e (shardapi.DecodeHalf), refusing it as corrupt.
func decodeHalf(e layout.EdgeHalf, data []byte, rev uint64) (*shardapi.Half, error) {
	h, err := shardapi.DecodeHalf(e, data, rev)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", err, ErrCorrupt)
	}
	return h, nil
}

func encodeOutbox(o *shardapi.Outbox) []byte {
	r := o.Remote
	b := make([]byte, 0, 64+len(r.Type)+len(o.Props))
	b = append(b, recordVersion, binenc.Bool(o.Present))
	b = binary.AppendUvarint(b, o.Gen)
	b = binary.AppendUvarint(b, o.TargetIncarnation)
	b = binary.AppendUvarint(b, uint64(o.Created))
	b = append(b, byte(r.Dir))
	b = binary.AppendUvarint(b, uint64(r.Vertex))
	b = binary.AppendUvarint(b, uint64(r.Other))
	b = binenc.AppendBytes(b, []byte(r.Type))
	b = binary.AppendUvarint(b, uint64(r.Edge))
	return binenc.AppendBytes(b, o.Props)
}

func decodeOutbox(data []byte, rev uint64) (*shardapi.Outbox, error) {
	d := binenc.NewDecoder(data)
	if ver := d.Byte(); d.Err() == nil && ver != recordVersion {
		return nil, fmt.Errorf("outbox record version %d: %w", ver, ErrCorrupt)
	}
	o := &shardapi.Outbox{Revision: rev}
	o.Present = d.Bool("outbox flags")
	o.Gen = d.Uvarint()
	o.TargetIncarnation = d.Uvarint()
	o.Created = int64(d.Uvarint())
	o.Remote.Dir = layout.Direction(d.Byte())
	o.Remote.Vertex = layout.ID(d.Uvarint())
	o.Remote.Other = layout.ID(d.Uvarint())
	o.Remote.Type = string(d.Bytes())
	o.Remote.Edge = layout.ID(d.Uvarint())
	o.Props = d.Bytes()
	d.End()
	if d.Err() == nil && o.Remote.Dir != layout.Out && o.Remote.Dir != layout.In {
		d.Fail("outbox direction %q", byte(o.Remote.Dir))
	}
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("outbox record: %v: %w", err, ErrCorrupt)
	}
	return o, nil
}

// encodeBundle encodes the outbox records of one write as one value: recordVersion |
// uvarint count | each record as encodeOutbox makes it, length-prefixed.
func encodeBundle(os []*shardapi.Outbox) []byte {
	b := make([]byte, 0, 16+len(os)*(64+len(os[0].Remote.Type)))
	b = append(b, recordVersion)
	b = binary.AppendUvarint(b, uint64(len(os)))
	for _, o := range os {
		b = binenc.AppendBytes(b, encodeOutbox(o))
	}
	return b
}

// decodeBundle decodes the bundle stored at key, at revision rev: each record carries the
// bundle's key and revision.
func decodeBundle(key, data []byte, rev uint64) ([]*shardapi.Outbox, error) {
	d := binenc.NewDecoder(data)
	if ver := d.Byte(); d.Err() == nil && ver != recordVersion {
		return nil, fmt.Errorf("outbox bundle version %d: %w", ver, ErrCorrupt)
	}
	n := d.Count(2) // a record takes at least its length and its version byte
	if d.Err() == nil && n == 0 {
		d.Fail("an empty outbox bundle")
	}
	out := make([]*shardapi.Outbox, 0, n)
	for i := 0; d.Err() == nil && i < n; i++ {
		raw := d.Bytes()
		if d.Err() != nil {
			break
		}
		o, err := decodeOutbox(raw, rev)
		if err != nil {
			return nil, fmt.Errorf("outbox bundle record %d: %w", i, err)
		}
		o.Bundle = key
		out = append(out, o)
	}
	d.End()
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("outbox bundle: %v: %w", err, ErrCorrupt)
	}
	return out, nil
}
