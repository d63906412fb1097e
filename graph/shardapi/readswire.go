package shardapi

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/internal/binenc"
	"github.com/torua/torua/internal/nodeapi"
)

// ReadsMediaType and ReadMediaType are the media types of the binary reads answer and read
// answer: a router that reads them says so in the Accept header of POST ReadsPath and of
// POST Path(..., "read"), and a node that writes them answers with them as the Content-Type
// (a node that does not answers JSON, which the router reads as before).
//
// They carry exactly what the JSON of ReadsResponse and ReadResponse carries: encoding/json
// spent much of a hop's CPU on the router and the nodes walking the base64 of thousands of
// ends and property maps. Fixed-width integers are little-endian.
//
//	answer   = version (byte 1) | count part*                   ReadsMediaType
//	single   = version (byte 1) | read                          ReadMediaType
//	part     = varint status | string error | string leader | byte 0 (no read) or 1 | [read]
//	read     = byte flags (1: more, 2: catalog, 4: loading) | vertices | vertices (sources) |
//	           ids (passed) | count half* | ids (ends) | vertices (scanned) | ids (ids) |
//	           [catalog, with flag 2] | [varint loading (Catalog.Loading), with flag 4]
//	vertices = count vertex*
//	vertex   = uvarint id | uvarint incarnation | uvarint revision | count string* (labels) |
//	           bytes (props)
//	half     = byte dir | uvarint vertex | uvarint other | string type | uvarint edge |
//	           bytes (props) | uvarint gen | byte deleted (0 or 1) | varint deletedAt |
//	           uvarint revision
//	catalog  = uvarint version | count (string name | string label | string property)* |
//	           count (string name | string label | string property | string state)*
//	ids      = bytes: 8 per id, each a uint64
//	count    = uvarint
//	string, bytes = uvarint length | that many bytes
//	varint   = zig-zag (binary.AppendVarint)
//
// Props are the property maps as the shard stores them (value.EncodeProps), passed through
// undecoded. An empty list, string or props decodes as absent (nil), as the JSON's omitempty
// fields do; the parts, which the JSON always carries, decode as a list, empty or not.
// NB: a node writes these only to a router that asked for them, so a later version byte
// needs a media type of its own: a router of this version reads any other version as a bad
// answer.
const (
	ReadsMediaType = "application/x-torua-graph-reads"
	ReadMediaType  = "application/x-torua-graph-read"
)

// readsVersion is the version byte of the binary read and reads answers.
const readsVersion = 1

// The read's flags byte.
const (
	readMore    = 1 << 0
	readCatalog = 1 << 1
	// readLoading is set only for a catalog that says a bulk load is running, which a router
	// from before bulk loads could not have started.
	readLoading = 1 << 2
)

// The smallest encodings, in bytes, that decoding's counts are checked against.
const (
	minPart   = 4  // status, error, leader, no read
	minVertex = 5  // id, incarnation, revision, labels, props
	minHalf   = 10 // dir, vertex, other, type, edge, props, gen, deleted, deletedAt, revision
	minString = 1  // length
	minPK     = 3  // name, label, property
	minIndex  = 4  // name, label, property, state
)

// AcceptsMedia reports whether a request's header h names mediaType among the media ranges
// of its Accept header (their parameters are not read).
func AcceptsMedia(h http.Header, mediaType string) bool {
	for _, v := range h.Values("Accept") {
		for r := range strings.SplitSeq(v, ",") {
			if IsMedia(r, mediaType) {
				return true
			}
		}
	}
	return false
}

// IsMedia reports whether the media type (or range) mt, as a Content-Type or Accept header
// says it, parameters and all, is mediaType.
func IsMedia(mt, mediaType string) bool {
	mt, _, _ = strings.Cut(mt, ";")
	return strings.EqualFold(strings.TrimSpace(mt), mediaType)
}

// EncodeReads encodes r in the binary reads answer (ReadsMediaType). It refuses a nil entry in
// a list of vertices or halves, which the encoding has no way to say.
func EncodeReads(r *ReadsResponse) ([]byte, error) {
	b := make([]byte, 0, readsSize(r))
	b = append(b, readsVersion)
	b = binary.AppendUvarint(b, uint64(len(r.Parts)))
	for i := range r.Parts {
		p := &r.Parts[i]
		b = binary.AppendVarint(b, int64(p.Status))
		b = binenc.AppendString(b, p.Error)
		b = binenc.AppendString(b, p.Leader)
		if p.Read == nil {
			b = append(b, 0)
			continue
		}
		b = append(b, 1)
		var err error
		if b, err = appendRead(b, p.Read); err != nil {
			return nil, fmt.Errorf("reads answer part %d: %w", i, err)
		}
	}
	return b, nil
}

// EncodeRead encodes r in the binary read answer (ReadMediaType). It refuses a nil vertex or
// half, which the encoding has no way to say.
func EncodeRead(r *ReadResponse) ([]byte, error) {
	b := make([]byte, 0, readSize(r))
	b, err := appendRead(append(b, readsVersion), r)
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	return b, nil
}

// errNilEntry is a nil vertex or half in a list to encode.
var errNilEntry = errors.New("a nil entry")

func appendRead(b []byte, r *ReadResponse) ([]byte, error) {
	var flags byte
	if r.More {
		flags |= readMore
	}
	if r.Catalog != nil {
		flags |= readCatalog
		if r.Catalog.Loading != 0 {
			flags |= readLoading
		}
	}
	b = append(b, flags)
	var err error
	if b, err = appendVertices(b, r.Vertices); err != nil {
		return nil, fmt.Errorf("vertices: %w", err)
	}
	if b, err = appendVertices(b, r.Sources); err != nil {
		return nil, fmt.Errorf("sources: %w", err)
	}
	b = appendIDs(b, r.Passed)
	b = binary.AppendUvarint(b, uint64(len(r.Halves)))
	for _, h := range r.Halves {
		if h == nil {
			return nil, fmt.Errorf("halves: %w", errNilEntry)
		}
		b = append(b, byte(h.Dir))
		b = binary.AppendUvarint(b, uint64(h.Vertex))
		b = binary.AppendUvarint(b, uint64(h.Other))
		b = binenc.AppendString(b, h.Type)
		b = binary.AppendUvarint(b, uint64(h.Edge))
		b = binenc.AppendBytes(b, h.Props)
		b = binary.AppendUvarint(b, h.Gen)
		b = append(b, binenc.Bool(h.Deleted))
		b = binary.AppendVarint(b, h.DeletedAt)
		b = binary.AppendUvarint(b, h.Revision)
	}
	b = appendIDs(b, r.Ends)
	if b, err = appendVertices(b, r.Scanned); err != nil {
		return nil, fmt.Errorf("scanned: %w", err)
	}
	b = appendIDs(b, r.IDs)
	if c := r.Catalog; c != nil {
		b = binary.AppendUvarint(b, c.Version)
		b = binary.AppendUvarint(b, uint64(len(c.PrimaryKeys)))
		for _, pk := range c.PrimaryKeys {
			b = binenc.AppendString(b, pk.Name)
			b = binenc.AppendString(b, pk.Label)
			b = binenc.AppendString(b, pk.Property)
		}
		b = binary.AppendUvarint(b, uint64(len(c.Indexes)))
		for _, x := range c.Indexes {
			b = binenc.AppendString(b, x.Name)
			b = binenc.AppendString(b, x.Label)
			b = binenc.AppendString(b, x.Property)
			b = binenc.AppendString(b, string(x.State))
		}
		if c.Loading != 0 {
			b = binary.AppendVarint(b, c.Loading)
		}
	}
	return b, nil
}

func appendVertices(b []byte, vs []*Vertex) ([]byte, error) {
	b = binary.AppendUvarint(b, uint64(len(vs)))
	for _, v := range vs {
		if v == nil {
			return nil, errNilEntry
		}
		b = binary.AppendUvarint(b, uint64(v.ID))
		b = binary.AppendUvarint(b, v.Incarnation)
		b = binary.AppendUvarint(b, v.Revision)
		b = binary.AppendUvarint(b, uint64(len(v.Labels)))
		for _, l := range v.Labels {
			b = binenc.AppendString(b, l)
		}
		b = binenc.AppendBytes(b, v.Props)
	}
	return b, nil
}

func appendIDs(b []byte, ids []layout.ID) []byte {
	b = binary.AppendUvarint(b, uint64(8*len(ids)))
	for _, id := range ids {
		b = binary.LittleEndian.AppendUint64(b, uint64(id))
	}
	return b
}

// readsSize estimates the size of r's encoding, so that EncodeReads seldom grows its buffer.
func readsSize(r *ReadsResponse) int {
	n := 16
	for _, p := range r.Parts {
		n += 8 + len(p.Error) + len(p.Leader)
		if p.Read != nil {
			n += readSize(p.Read)
		}
	}
	return n
}

// readSize estimates the size of r's encoding, as readsSize does.
func readSize(r *ReadResponse) int {
	n := 16 + 8*(len(r.Passed)+len(r.Ends)+len(r.IDs))
	for _, vs := range [][]*Vertex{r.Vertices, r.Sources, r.Scanned} {
		for _, v := range vs {
			if v != nil {
				n += 32 + 8*len(v.Labels) + len(v.Props)
			}
		}
	}
	for _, h := range r.Halves {
		if h != nil {
			n += 48 + len(h.Type) + len(h.Props)
		}
	}
	return n
}

// decodeAnswer decodes an answer by its Content-Type: with decode when it is mediaType, else
// as JSON (a node that does not write mediaType says application/json). Its errors wrap
// nodeapi.ErrBadAnswer.
func decodeAnswer[T any](body []byte, contentType, mediaType string, decode func([]byte) (*T, error)) (*T, error) {
	if IsMedia(contentType, mediaType) {
		return decode(body)
	}
	var out T
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("%w: %v", nodeapi.ErrBadAnswer, err)
	}
	return &out, nil
}

// DecodeReads decodes a binary reads answer (ReadsMediaType). Bytes EncodeReads cannot have
// written (another version, a cut or trailing byte, a count larger than the bytes left, a
// flag it does not set) give an error wrapping nodeapi.ErrBadAnswer, never a panic; what it
// allocates is in proportion to len(b), whatever the counts say. NB: the props of the
// answer's vertices and halves alias b.
func DecodeReads(b []byte) (*ReadsResponse, error) {
	d := readsDecoder{Decoder: binenc.NewDecoder(b)}
	if v := d.Byte(); d.Err() == nil && v != readsVersion {
		return nil, fmt.Errorf("%w: reads answer version %d", nodeapi.ErrBadAnswer, v)
	}
	out := &ReadsResponse{Parts: make([]ReadPartResult, d.Count(minPart))}
	for i := 0; i < len(out.Parts) && d.Err() == nil; i++ {
		p := &out.Parts[i]
		p.Status = int(d.varint())
		p.Error = d.string()
		p.Leader = d.string()
		switch has := d.Byte(); {
		case d.Err() != nil:
		case has == 1:
			p.Read = d.read()
		case has != 0:
			d.Fail("part %d: read byte %d", i, has)
		}
	}
	d.End()
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("%w: reads answer: %w", nodeapi.ErrBadAnswer, err)
	}
	return out, nil
}

// DecodeRead decodes a binary read answer (ReadMediaType), as DecodeReads decodes a reads
// answer.
func DecodeRead(b []byte) (*ReadResponse, error) {
	d := readsDecoder{Decoder: binenc.NewDecoder(b)}
	if v := d.Byte(); d.Err() == nil && v != readsVersion {
		return nil, fmt.Errorf("%w: read answer version %d", nodeapi.ErrBadAnswer, v)
	}
	r := d.read()
	d.End()
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("%w: read answer: %w", nodeapi.ErrBadAnswer, err)
	}
	return r, nil
}

// readsDecoder reads the read and reads answers; its first failure sticks (binenc).
type readsDecoder struct {
	*binenc.Decoder
	// strs interns the labels and edge types, which repeat through an answer.
	strs map[string]string
}

func (d *readsDecoder) read() *ReadResponse {
	r := &ReadResponse{}
	flags := d.Byte()
	if flags&^(readMore|readCatalog|readLoading) != 0 || (flags&readLoading != 0 && flags&readCatalog == 0) {
		d.Fail("read flags %#x", flags)
	}
	r.More = flags&readMore != 0
	r.Vertices = d.vertices()
	r.Sources = d.vertices()
	r.Passed = d.ids()
	if n := d.Count(minHalf); n > 0 {
		r.Halves = make([]*Half, n)
		halves := make([]Half, n) // one allocation for all
		for i := 0; i < n && d.Err() == nil; i++ {
			h := &halves[i]
			h.Dir = layout.Direction(d.Byte())
			h.Vertex = layout.ID(d.Uvarint())
			h.Other = layout.ID(d.Uvarint())
			h.Type = d.intern()
			h.Edge = layout.ID(d.Uvarint())
			h.Props = d.bytes()
			h.Gen = d.Uvarint()
			h.Deleted = d.Bool("half deleted")
			h.DeletedAt = d.varint()
			h.Revision = d.Uvarint()
			r.Halves[i] = h
		}
	}
	r.Ends = d.ids()
	r.Scanned = d.vertices()
	r.IDs = d.ids()
	if flags&readCatalog != 0 {
		c := &Catalog{Version: d.Uvarint()}
		if n := d.Count(minPK); n > 0 {
			c.PrimaryKeys = make([]PrimaryKey, n)
			for i := 0; i < n && d.Err() == nil; i++ {
				c.PrimaryKeys[i] = PrimaryKey{Name: d.string(), Label: d.string(), Property: d.string()}
			}
		}
		if n := d.Count(minIndex); n > 0 {
			c.Indexes = make([]Index, n)
			for i := 0; i < n && d.Err() == nil; i++ {
				c.Indexes[i] = Index{Name: d.string(), Label: d.string(), Property: d.string(), State: IndexState(d.string())}
			}
		}
		if flags&readLoading != 0 {
			c.Loading = d.varint()
		}
		r.Catalog = c
	}
	return r
}

func (d *readsDecoder) vertices() []*Vertex {
	n := d.Count(minVertex)
	if n == 0 {
		return nil
	}
	out := make([]*Vertex, n)
	vs := make([]Vertex, n) // one allocation for all
	for i := 0; i < n && d.Err() == nil; i++ {
		v := &vs[i]
		v.ID = layout.ID(d.Uvarint())
		v.Incarnation = d.Uvarint()
		v.Revision = d.Uvarint()
		if nl := d.Count(minString); nl > 0 {
			v.Labels = make([]string, nl)
			for j := 0; j < nl && d.Err() == nil; j++ {
				v.Labels[j] = d.intern()
			}
		}
		v.Props = d.bytes()
		out[i] = v
	}
	return out
}

// ids reads a list of ids (nil if empty).
func (d *readsDecoder) ids() []layout.ID {
	raw := d.Bytes()
	if len(raw)%8 != 0 {
		d.Fail("%d bytes of ids, not a whole number of ids", len(raw))
	}
	if d.Err() != nil || len(raw) == 0 {
		return nil
	}
	ids := make([]layout.ID, len(raw)/8)
	for i := range ids {
		ids[i] = layout.ID(binary.LittleEndian.Uint64(raw[8*i:]))
	}
	return ids
}

// bytes reads a byte string, aliasing the answer (nil if empty).
func (d *readsDecoder) bytes() []byte {
	if p := d.Bytes(); len(p) > 0 {
		return p
	}
	return nil
}

func (d *readsDecoder) string() string { return string(d.Bytes()) }

// intern reads a string, sharing one copy of each through the answer.
func (d *readsDecoder) intern() string {
	p := d.Bytes()
	if len(p) == 0 {
		return ""
	}
	if s, ok := d.strs[string(p)]; ok {
		return s
	}
	if d.strs == nil {
		d.strs = map[string]string{}
	}
	s := string(p)
	d.strs[s] = s
	return s
}

// varint reads a zig-zag varint (binenc reads only unsigned ones).
func (d *readsDecoder) varint() int64 {
	u := d.Uvarint()
	return int64(u>>1) ^ -int64(u&1)
}
