package shardapi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/value"
	"github.com/torua/torua/internal/binenc"
)

// ReadsRequestMediaType and ReadRequestMediaType are the media types of the binary reads
// request and read request: the Client sends them as the Content-Type of POST ReadsPath and
// of POST Path(..., "read"), and a node reads them. A node that does not read a request's
// Content-Type answers 415 (nodes from before these types answered 400: they read any body
// as JSON), and the Client sends that node JSON for a while (Client.Read).
//
// They carry exactly what the JSON of ReadsRequest and ReadRequest carries: marshalling the
// requests, their frontiers of ids above all, was 6% of a one-hop query's CPU. The basic
// types (ids, count, string, bytes, varint) are those of the answers (ReadsMediaType).
//
//	requests = version (byte 1) | count part*                        ReadsRequestMediaType
//	single   = version (byte 1) | read                               ReadRequestMediaType
//	part     = varint shard | read
//	read     = byte flags (1: stale, 2: catalog, 4: vertices, 8: expand, 16: scan, 32: index) |
//	           [vertices] | [expand] | [scan] | [index]             each with its flag
//	vertices = ids | filter
//	expand   = byte flags (1: sources, 2: ends) | ids | filter (source) | dirs |
//	           count string* (types) | byte 0 or 1 | [preds] (edge filter, with 1) |
//	           varint limit | count (uvarint vertex | ids)* (exclude)
//	scan     = string label | uvarint after | varint limit | filter
//	index    = byte flags (1: fetch, 2: lower inclusive, 4: upper inclusive) | string label |
//	           string property | value (eq) | value (lower) | value (upper) | varint limit |
//	           filter
//	filter   = byte 0 (none) | byte 1 | count string* (labels) | preds
//	preds    = count (string key | byte op | value)*
//	op       = 1 = | 2 <> | 3 < | 4 <= | 5 > | 6 >= | 7 IN | 8 IS NULL | 9 IS NOT NULL |
//	           10 STARTS WITH | 11 ENDS WITH | 12 CONTAINS
//	dirs     = string: a byte per direction, 'o' (out) or 'i' (in)
//	value    = bytes: value.EncodeValue's encoding, its version byte included
//
// The exclude list's vertices are strictly ascending, so an encoding is deterministic. An
// empty list, map or string decodes as absent (nil), which the node reads as the empty one;
// the parts decode as a list, empty or not. Decoding refuses what encoding cannot write:
// another version, an unknown flag, op or direction, a cut or trailing byte.
// NB: a later version byte needs media types of its own: a node of this version answers any
// other version 400, not the 415 that makes a client fall back.
const (
	ReadsRequestMediaType = "application/x-torua-graph-reads-request"
	ReadRequestMediaType  = "application/x-torua-graph-read-request"
)

// readReqVersion is the version byte of the binary read and reads requests.
const readReqVersion = 1

// The read request's flags byte, and those of its expand and index parts.
const (
	reqStale    = 1 << 0
	reqCatalog  = 1 << 1
	reqVertices = 1 << 2
	reqExpand   = 1 << 3
	reqScan     = 1 << 4
	reqIndex    = 1 << 5

	expandSources = 1 << 0
	expandEnds    = 1 << 1

	indexFetch          = 1 << 0
	indexLowerInclusive = 1 << 1
	indexUpperInclusive = 1 << 2
)

// The smallest encodings, in bytes, that decoding's counts are checked against.
const (
	minReqPart = 2 // shard, read flags
	minPred    = 3 // key, op, value length
	minExclude = 2 // vertex, ids length
)

// opCodes are the predicates' op bytes: an op's byte is its index.
var opCodes = [...]Op{1: OpEq, 2: OpNe, 3: OpLt, 4: OpLe, 5: OpGt, 6: OpGe, 7: OpIn, 8: OpIsNull,
	9: OpIsNotNull, 10: OpStartsWith, 11: OpEndsWith, 12: OpContains}

// Errors of encoding a request: what the binary encoding has no way to say.
var (
	errNilRead    = errors.New("a part without a read")
	errUnknownOp  = errors.New("unknown predicate operator")
	errUnknownDir = errors.New("a direction neither out nor in")
)

// EncodeReadsRequest encodes r in the binary reads request (ReadsRequestMediaType). It
// refuses a part without a read, an unknown predicate operator or direction, and a value that
// value.EncodeValue refuses.
func EncodeReadsRequest(r *ReadsRequest) ([]byte, error) {
	b := make([]byte, 0, readsReqSize(r))
	b = append(b, readReqVersion)
	b = binary.AppendUvarint(b, uint64(len(r.Parts)))
	for i, p := range r.Parts {
		b = binary.AppendVarint(b, int64(p.Shard))
		var err error
		if b, err = appendReadReq(b, p.Read); err != nil {
			return nil, fmt.Errorf("reads request part %d: %w", i, err)
		}
	}
	return b, nil
}

// EncodeReadRequest encodes r in the binary read request (ReadRequestMediaType), refusing
// what EncodeReadsRequest refuses.
func EncodeReadRequest(r *ReadRequest) ([]byte, error) {
	b := make([]byte, 0, readReqSize(r))
	b, err := appendReadReq(append(b, readReqVersion), r)
	if err != nil {
		return nil, fmt.Errorf("read request: %w", err)
	}
	return b, nil
}

func appendReadReq(b []byte, r *ReadRequest) ([]byte, error) {
	if r == nil {
		return nil, errNilRead
	}
	b = append(b, flag(r.Stale, reqStale)|flag(r.Catalog, reqCatalog)|flag(r.Vertices != nil, reqVertices)|
		flag(r.Expand != nil, reqExpand)|flag(r.Scan != nil, reqScan)|flag(r.Index != nil, reqIndex))
	var err error
	if q := r.Vertices; q != nil {
		b = appendIDs(b, q.IDs)
		if b, err = appendFilter(b, q.Filter); err != nil {
			return nil, fmt.Errorf("vertices: %w", err)
		}
	}
	if q := r.Expand; q != nil {
		if b, err = appendExpand(b, q); err != nil {
			return nil, fmt.Errorf("expand: %w", err)
		}
	}
	if q := r.Scan; q != nil {
		b = binenc.AppendString(b, q.Label)
		b = binary.AppendUvarint(b, uint64(q.After))
		b = binary.AppendVarint(b, int64(q.Limit))
		if b, err = appendFilter(b, q.Filter); err != nil {
			return nil, fmt.Errorf("scan: %w", err)
		}
	}
	if q := r.Index; q != nil {
		if b, err = appendIndex(b, q); err != nil {
			return nil, fmt.Errorf("index: %w", err)
		}
	}
	return b, nil
}

func appendExpand(b []byte, q *ExpandRequest) ([]byte, error) {
	b = appendIDs(append(b, flag(q.Sources, expandSources)|flag(q.Ends, expandEnds)), q.IDs)
	var err error
	if b, err = appendFilter(b, q.SourceFilter); err != nil {
		return nil, fmt.Errorf("source filter: %w", err)
	}
	b = binary.AppendUvarint(b, uint64(len(q.Dirs)))
	for _, d := range q.Dirs {
		if d != layout.Out && d != layout.In {
			return nil, fmt.Errorf("%w: %#x", errUnknownDir, byte(d))
		}
		b = append(b, byte(d))
	}
	b = binary.AppendUvarint(b, uint64(len(q.Types)))
	for _, t := range q.Types {
		b = binenc.AppendString(b, t)
	}
	if q.EdgeFilter == nil {
		b = append(b, 0)
	} else if b, err = appendPreds(append(b, 1), q.EdgeFilter.Preds); err != nil {
		return nil, fmt.Errorf("edge filter: %w", err)
	}
	b = binary.AppendVarint(b, int64(q.Limit))
	b = binary.AppendUvarint(b, uint64(len(q.Exclude)))
	for _, v := range slices.Sorted(maps.Keys(q.Exclude)) {
		b = appendIDs(binary.AppendUvarint(b, uint64(v)), q.Exclude[v])
	}
	return b, nil
}

func appendIndex(b []byte, q *IndexRequest) ([]byte, error) {
	b = append(b, flag(q.Fetch, indexFetch)|flag(q.Range.LowerInclusive, indexLowerInclusive)|
		flag(q.Range.UpperInclusive, indexUpperInclusive))
	b = binenc.AppendString(b, q.Label)
	b = binenc.AppendString(b, q.Property)
	for _, v := range []struct {
		name string
		w    value.Wire
	}{{"eq", q.Range.Eq}, {"lower", q.Range.Lower}, {"upper", q.Range.Upper}} {
		var err error
		if b, err = appendWire(b, v.w); err != nil {
			return nil, fmt.Errorf("range %s: %w", v.name, err)
		}
	}
	b = binary.AppendVarint(b, int64(q.Limit))
	return appendFilter(b, q.Filter)
}

func appendFilter(b []byte, f *VertexFilter) ([]byte, error) {
	if f == nil {
		return append(b, 0), nil
	}
	b = binary.AppendUvarint(append(b, 1), uint64(len(f.Labels)))
	for _, l := range f.Labels {
		b = binenc.AppendString(b, l)
	}
	return appendPreds(b, f.Props.Preds)
}

func appendPreds(b []byte, preds []Pred) ([]byte, error) {
	b = binary.AppendUvarint(b, uint64(len(preds)))
	for _, p := range preds {
		op := slices.Index(opCodes[:], p.Op)
		if op < 1 {
			return nil, fmt.Errorf("%w %q", errUnknownOp, p.Op)
		}
		b = append(binenc.AppendString(b, p.Key), byte(op))
		var err error
		if b, err = appendWire(b, p.Value); err != nil {
			return nil, fmt.Errorf("predicate on %q: %w", p.Key, err)
		}
	}
	return b, nil
}

// flag is f when set, else 0.
func flag(set bool, f byte) byte {
	if set {
		return f
	}
	return 0
}

func appendWire(b []byte, w value.Wire) ([]byte, error) {
	v, err := value.EncodeValue(w.V)
	if err != nil {
		return nil, err
	}
	return binenc.AppendBytes(b, v), nil
}

// readsReqSize estimates the size of r's encoding, so that EncodeReadsRequest seldom grows
// its buffer.
func readsReqSize(r *ReadsRequest) int {
	n := 8
	for _, p := range r.Parts {
		n += 2 + readReqSize(p.Read)
	}
	return n
}

// readReqSize estimates the size of r's encoding, as readsReqSize does.
func readReqSize(r *ReadRequest) int {
	if r == nil {
		return 0
	}
	n := 1
	if q := r.Vertices; q != nil {
		n += 4 + 8*len(q.IDs) + filterSize(q.Filter)
	}
	if q := r.Expand; q != nil {
		n += 16 + 8*len(q.IDs) + filterSize(q.SourceFilter)
		for _, t := range q.Types {
			n += 1 + len(t)
		}
		if q.EdgeFilter != nil {
			n += predsSize(q.EdgeFilter.Preds)
		}
		for _, ex := range q.Exclude {
			n += 12 + 8*len(ex)
		}
	}
	if q := r.Scan; q != nil {
		n += 16 + len(q.Label) + filterSize(q.Filter)
	}
	if q := r.Index; q != nil {
		n += 32 + len(q.Label) + len(q.Property) + filterSize(q.Filter)
	}
	return n
}

func filterSize(f *VertexFilter) int {
	if f == nil {
		return 1
	}
	n := 2
	for _, l := range f.Labels {
		n += 1 + len(l)
	}
	return n + predsSize(f.Props.Preds)
}

func predsSize(preds []Pred) int {
	n := 1
	for _, p := range preds {
		n += 16 + len(p.Key)
	}
	return n
}

// DecodeReadsRequest decodes a binary reads request (ReadsRequestMediaType). Bytes
// EncodeReadsRequest cannot have written (another version, a cut or trailing byte, a count
// larger than the bytes left, an unknown flag, op or direction, a value value.DecodeValue
// refuses) give an error wrapping binenc.ErrMalformed, never a panic; what it allocates is
// in proportion to len(b), whatever the counts say.
func DecodeReadsRequest(b []byte) (*ReadsRequest, error) {
	d := reqDecoder{readsDecoder{Decoder: binenc.NewDecoder(b)}}
	d.version()
	out := &ReadsRequest{Parts: make([]ReadPart, d.Count(minReqPart))}
	for i := 0; i < len(out.Parts) && d.Err() == nil; i++ {
		out.Parts[i] = ReadPart{Shard: int(d.varint()), Read: d.readReq()}
	}
	d.End()
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("reads request: %w", err)
	}
	return out, nil
}

// DecodeReadRequest decodes a binary read request (ReadRequestMediaType), as
// DecodeReadsRequest decodes a reads request.
func DecodeReadRequest(b []byte) (*ReadRequest, error) {
	d := reqDecoder{readsDecoder{Decoder: binenc.NewDecoder(b)}}
	d.version()
	r := d.readReq()
	d.End()
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("read request: %w", err)
	}
	return r, nil
}

// reqDecoder reads the read and reads requests with the answers' primitives; its first
// failure sticks (binenc).
type reqDecoder struct{ readsDecoder }

func (d *reqDecoder) version() {
	if v := d.Byte(); d.Err() == nil && v != readReqVersion {
		d.Fail("version %d", v)
	}
}

func (d *reqDecoder) readReq() *ReadRequest {
	flags := d.Byte()
	if flags&^(reqStale|reqCatalog|reqVertices|reqExpand|reqScan|reqIndex) != 0 {
		d.Fail("read flags %#x", flags)
	}
	if d.Err() != nil {
		return nil
	}
	r := &ReadRequest{Stale: flags&reqStale != 0, Catalog: flags&reqCatalog != 0}
	if flags&reqVertices != 0 {
		r.Vertices = &VerticesRequest{IDs: d.ids(), Filter: d.filter()}
	}
	if flags&reqExpand != 0 {
		r.Expand = d.expand()
	}
	if flags&reqScan != 0 {
		r.Scan = &ScanRequest{Label: d.string(), After: layout.ID(d.Uvarint()), Limit: int(d.varint()), Filter: d.filter()}
	}
	if flags&reqIndex != 0 {
		r.Index = d.index()
	}
	return r
}

func (d *reqDecoder) expand() *ExpandRequest {
	flags := d.Byte()
	if flags&^(expandSources|expandEnds) != 0 {
		d.Fail("expand flags %#x", flags)
	}
	q := &ExpandRequest{Sources: flags&expandSources != 0, Ends: flags&expandEnds != 0}
	q.IDs = d.ids()
	q.SourceFilter = d.filter()
	if dirs := d.Bytes(); len(dirs) > 0 {
		q.Dirs = make([]layout.Direction, len(dirs))
		for i, c := range dirs {
			if q.Dirs[i] = layout.Direction(c); q.Dirs[i] != layout.Out && q.Dirs[i] != layout.In {
				d.Fail("expand direction %#x", c)
			}
		}
	}
	q.Types = d.strings()
	switch has := d.Byte(); {
	case d.Err() != nil:
	case has == 1:
		q.EdgeFilter = &PropFilter{Preds: d.preds()}
	case has != 0:
		d.Fail("edge filter byte %d", has)
	}
	q.Limit = int(d.varint())
	if n := d.Count(minExclude); n > 0 {
		q.Exclude = make(map[layout.ID][]layout.ID, n)
		var last layout.ID
		for i := 0; i < n && d.Err() == nil; i++ {
			v := layout.ID(d.Uvarint())
			if i > 0 && v <= last {
				d.Fail("exclude: vertex %d after %d", v, last)
			}
			last = v
			q.Exclude[v] = d.ids()
		}
	}
	return q
}

func (d *reqDecoder) index() *IndexRequest {
	flags := d.Byte()
	if flags&^(indexFetch|indexLowerInclusive|indexUpperInclusive) != 0 {
		d.Fail("index flags %#x", flags)
	}
	q := &IndexRequest{Fetch: flags&indexFetch != 0, Label: d.string(), Property: d.string()}
	q.Range = Range{Eq: d.wire("range eq"), Lower: d.wire("range lower"), Upper: d.wire("range upper"),
		LowerInclusive: flags&indexLowerInclusive != 0, UpperInclusive: flags&indexUpperInclusive != 0}
	q.Limit = int(d.varint())
	q.Filter = d.filter()
	return q
}

func (d *reqDecoder) filter() *VertexFilter {
	switch has := d.Byte(); {
	case d.Err() != nil:
	case has == 1:
		return &VertexFilter{Labels: d.strings(), Props: PropFilter{Preds: d.preds()}}
	case has != 0:
		d.Fail("filter byte %d", has)
	}
	return nil
}

func (d *reqDecoder) preds() []Pred {
	n := d.Count(minPred)
	if n == 0 {
		return nil
	}
	preds := make([]Pred, n)
	for i := 0; i < n && d.Err() == nil; i++ {
		p := &preds[i]
		p.Key = d.string()
		if op := d.Byte(); int(op) < len(opCodes) && op > 0 {
			p.Op = opCodes[op]
		} else {
			d.Fail("predicate on %q: op %d", p.Key, op)
		}
		p.Value = d.wire("predicate value")
	}
	return preds
}

// wire reads a value; what names it in a failure.
func (d *reqDecoder) wire(what string) value.Wire {
	b := d.Bytes()
	if d.Err() != nil {
		return value.Wire{}
	}
	v, err := value.DecodeValue(b)
	if err != nil {
		d.Fail("%s: %v", what, err)
	}
	return value.Wire{V: v}
}

// strings reads a list of strings (nil if empty).
func (d *reqDecoder) strings() []string {
	n := d.Count(minString)
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := 0; i < n && d.Err() == nil; i++ {
		out[i] = d.string()
	}
	return out
}
