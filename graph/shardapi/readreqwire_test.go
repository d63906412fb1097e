package shardapi

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/value"
	"github.com/torua/torua/internal/binenc"
	"github.com/torua/torua/internal/nodeapi"
)

// readReqCases are requests of every shape: each field of every type of the request is set
// in at least one of them (TestReadReqCasesSetEveryField).
func readReqCases() map[string]*ReadsRequest {
	// One predicate of each op, on values of every kind (NaN aside: it equals nothing, not
	// even itself, so no decoding can be compared with another).
	var preds []Pred
	for i, v := range []any{
		nil, true, int64(math.MinInt64), -2.5, math.Inf(1), "Zoë\x00", "",
		[]any{int64(1), "x", []any{}, nil}, map[string]any{"k": []any{false}, "": int64(0)},
		"ab", "b", "a%", int64(7),
	} {
		preds = append(preds, Pred{Key: fmt.Sprintf("p%d", i), Op: opCodes[1+i%12], Value: value.Wire{V: v}})
	}
	person := &VertexFilter{Labels: []string{"Person", "Admin"}, Props: PropFilter{Preds: preds[:4]}}
	frontier := make([]layout.ID, 5000)
	exclude := map[layout.ID][]layout.ID{}
	for i := range frontier {
		frontier[i] = layout.ID(uint64(i+1) * 0x9e3779b97f4a7c15 >> 1)
		if i%5 == 0 {
			exclude[frontier[i]] = []layout.ID{frontier[(i+1)%len(frontier)], layout.ID(i + 1)}
		}
	}
	return map[string]*ReadsRequest{
		"no part": {Parts: []ReadPart{}},
		"one-hop": {Parts: []ReadPart{
			{Shard: 3, Read: &ReadRequest{Expand: &oneHop}},
			{Shard: 11, Read: &ReadRequest{Stale: true, Expand: &ExpandRequest{IDs: []layout.ID{9}, Sources: true,
				SourceFilter: person, Dirs: []layout.Direction{layout.Out}, Limit: 100000}}},
		}},
		"full": {Parts: []ReadPart{
			{Shard: 0, Read: &ReadRequest{
				Stale:    true,
				Catalog:  true,
				Vertices: &VerticesRequest{IDs: []layout.ID{1, layout.MaxID, 1 << 40}, Filter: person},
				Expand: &ExpandRequest{
					IDs: []layout.ID{5, 3}, SourceFilter: &VertexFilter{Props: PropFilter{Preds: preds[4:8]}},
					Sources: true, Dirs: []layout.Direction{layout.Out, layout.In}, Types: []string{"KNOWS", "", "LIKES"},
					EdgeFilter: &PropFilter{Preds: preds[8:]}, Limit: 1 << 20, Ends: true,
					Exclude: map[layout.ID][]layout.ID{5: {7, 8}, 3: {layout.MaxID}, 1 << 62: {1}},
				},
				Scan: &ScanRequest{Label: "Person", After: layout.MaxID - 1, Limit: 1000, Filter: &VertexFilter{Labels: []string{"P"}}},
				Index: &IndexRequest{Label: "Person", Property: "age",
					Range: Range{Eq: value.Wire{V: int64(30)}, Lower: value.Wire{V: -1.5}, Upper: value.Wire{V: "z"},
						LowerInclusive: true, UpperInclusive: true},
					Limit: 10, Fetch: true, Filter: person},
			}},
			{Shard: -1, Read: &ReadRequest{}},
			{Shard: 1 << 40, Read: &ReadRequest{Scan: &ScanRequest{Limit: -5}, Index: &IndexRequest{Limit: math.MinInt64,
				Range: Range{Lower: value.Wire{V: int64(1)}, UpperInclusive: true}}}},
		}},
		"empty lists": {Parts: []ReadPart{{Read: &ReadRequest{
			Vertices: &VerticesRequest{IDs: []layout.ID{}, Filter: &VertexFilter{Labels: []string{}, Props: PropFilter{Preds: []Pred{}}}},
			Expand: &ExpandRequest{IDs: []layout.ID{}, Dirs: []layout.Direction{}, Types: []string{},
				EdgeFilter: &PropFilter{}, Exclude: map[layout.ID][]layout.ID{4: {}, 2: nil}},
			Scan:  &ScanRequest{},
			Index: &IndexRequest{},
		}}}},
		"large frontier": {Parts: []ReadPart{{Shard: 7, Read: &ReadRequest{Expand: &ExpandRequest{
			IDs: frontier, Dirs: []layout.Direction{layout.In}, Types: []string{"T"}, Limit: 1 << 20, Ends: true,
			Exclude: exclude}}}}},
	}
}

// oneHop is the expand of a one-hop query's round: ids, a direction, a type.
var oneHop = ExpandRequest{IDs: []layout.ID{1 << 60, 42, 1<<62 + 3}, Dirs: []layout.Direction{layout.Out},
	Types: []string{"E"}, Limit: 100000, Ends: true}

// emptyAsNil sets the empty slices and maps reachable from v (a pointer) to nil, those inside
// values (value.Wire) aside: the binary requests decode an empty list as nil, where JSON keeps
// the lists it writes even when empty. The node reads both alike.
func emptyAsNil(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			emptyAsNil(v.Elem())
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[value.Wire]() {
			return
		}
		for i := range v.NumField() {
			emptyAsNil(v.Field(i))
		}
	case reflect.Slice:
		if v.Len() == 0 {
			v.SetZero()
			return
		}
		for i := range v.Len() {
			emptyAsNil(v.Index(i))
		}
	case reflect.Map:
		if v.Len() == 0 {
			v.SetZero()
			return
		}
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			emptyAsNil(e)
			v.SetMapIndex(k, e)
		}
	default:
	}
}

// TestReadReqRoundTrip: the binary request decodes to what the JSON request decodes to, but
// for empty lists, which it decodes as nil.
func TestReadReqRoundTrip(t *testing.T) {
	for name, r := range readReqCases() {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			viaJSON, b, jsLen := binaryAsJSON(g, r, EncodeReadsRequest, DecodeReadsRequest, emptyAsNil)
			raw, err := DecodeReadsRequest(b) // as decoded, before emptyAsNil
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(raw.Parts).NotTo(BeNil(), "the parts decode as a list, empty or not")
			g.Expect(len(b)).To(BeNumerically("<", jsLen))
			again, err := EncodeReadsRequest(r)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(again).To(Equal(b), "the encoding is deterministic")

			// Each part's read alone, in the read request.
			for i, p := range r.Parts {
				partAlone(g, p.Read, EncodeReadRequest, DecodeReadRequest, emptyAsNil, viaJSON.Parts[i].Read, i)
			}
		})
	}
}

// TestReadReqCasesSetEveryField: every field of the request's types is set (not zero) in some
// case, so that a field added to them fails TestReadReqRoundTrip until the encoding carries
// it; and the full case uses every filter op.
func TestReadReqCasesSetEveryField(t *testing.T) {
	expectEveryFieldSet(t, readReqCases())
	ops := map[Op]bool{}
	for _, p := range readReqCases()["full"].Parts[0].Read.Vertices.Filter.Props.Preds {
		ops[p.Op] = true
	}
	for _, p := range readReqCases()["full"].Parts[0].Read.Expand.SourceFilter.Props.Preds {
		ops[p.Op] = true
	}
	for _, p := range readReqCases()["full"].Parts[0].Read.Expand.EdgeFilter.Preds {
		ops[p.Op] = true
	}
	if len(ops) != len(opCodes)-1 {
		t.Errorf("the full case has %d of the %d ops", len(ops), len(opCodes)-1)
	}
}

// TestEncodeReadReqRefuses: what the encoding has no way to say is refused, naming where.
func TestEncodeReadReqRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		read *ReadRequest
		err  error
		msg  string
	}{
		"nil read": {nil, errNilRead, ""},
		"op": {&ReadRequest{Vertices: &VerticesRequest{Filter: &VertexFilter{Props: PropFilter{Preds: []Pred{{Key: "k", Op: "=~"}}}}}},
			errUnknownOp, `vertices: unknown predicate operator "=~"`},
		"no op": {&ReadRequest{Expand: &ExpandRequest{EdgeFilter: &PropFilter{Preds: []Pred{{Key: "k"}}}}},
			errUnknownOp, "expand: edge filter"},
		"direction": {&ReadRequest{Expand: &ExpandRequest{Dirs: []layout.Direction{layout.Out, 'x'}}}, errUnknownDir, "expand: a direction neither out nor in: 0x78"},
		"value": {&ReadRequest{Scan: &ScanRequest{Filter: &VertexFilter{Props: PropFilter{Preds: []Pred{
			{Key: "k", Op: OpEq, Value: value.Wire{V: make(chan int)}}}}}}}, value.ErrUnsupported, `scan: predicate on "k"`},
		"range": {&ReadRequest{Index: &IndexRequest{Range: Range{Upper: value.Wire{V: struct{}{}}}}}, value.ErrUnsupported, "index: range upper"},
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			_, err := EncodeReadsRequest(&ReadsRequest{Parts: []ReadPart{{Read: &ReadRequest{}}, {Read: tc.read}}})
			g.Expect(err).To(MatchError(tc.err))
			g.Expect(err).To(MatchError(ContainSubstring("part 1: " + tc.msg)))
			_, err = EncodeReadRequest(tc.read)
			g.Expect(err).To(MatchError(tc.err))
		})
	}
}

// TestDecodeReadReqRefuses: what EncodeReadsRequest cannot have written is an error wrapping
// binenc.ErrMalformed, a cut request included, and a count larger than the bytes left is
// refused before anything is allocated for it.
func TestDecodeReadReqRefuses(t *testing.T) {
	g := NewWithT(t)
	full := readReqCases()["full"]
	expectCutsRefused(g, full, EncodeReadsRequest, DecodeReadsRequest, full.Parts[0].Read, EncodeReadRequest, DecodeReadRequest, binenc.ErrMalformed, "read request", "read request: malformed encoding: version 2")

	uv := func(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	// One part, shard 0, then its read's flags.
	part := func(flags byte) []byte { return []byte{readReqVersion, 1, 0, flags} }
	// An expand after its flags: no ids, no source filter, dirs, no types, edge filter byte,
	// limit 1, exclude.
	expand := func(dirs []byte, edge byte, exclude []byte) []byte {
		return cat(part(reqExpand), []byte{0, 0, 0}, uv(nil, uint64(len(dirs))), dirs, []byte{0, edge, 2}, exclude)
	}
	// Vertices without ids, filtered by one predicate.
	pred := func(op byte, val []byte) []byte {
		return cat(part(reqVertices), []byte{0, 1, 0, 1, 1, 'k', op}, uv(nil, uint64(len(val))), val)
	}
	null := []byte{1, 0} // value.EncodeValue(nil)
	for name, tc := range map[string]struct {
		b   []byte
		msg string
	}{
		"nothing":         {nil, "truncated"},
		"version":         {[]byte{2, 0}, "version 2"},
		"trailing":        {[]byte{readReqVersion, 0, 0}, "1 trailing bytes"},
		"huge part count": {uv([]byte{readReqVersion}, 1<<60), "items of at least 2 bytes"},
		"read flags":      {part(0x40), "read flags 0x40"},
		"expand flags":    {cat(part(reqExpand), []byte{4}), "expand flags 0x4"},
		"direction":       {expand([]byte{'o', 'x'}, 0, []byte{0}), "expand direction 0x78"},
		"edge filter":     {expand(nil, 2, []byte{0}), "edge filter byte 2"},
		"filter byte":     {cat(part(reqVertices), []byte{0, 3}), "filter byte 3"},
		"op 0":            {pred(0, null), `predicate on "k": op 0`},
		"op 13":           {pred(13, null), `predicate on "k": op 13`},
		"value version":   {pred(1, []byte{9, 0}), "predicate value"},
		"value cut":       {pred(1, []byte{1}), "predicate value"},
		"no value":        {pred(1, nil), "predicate value"},
		"exclude order":   {expand(nil, 0, []byte{2, 5, 0, 5, 0}), "exclude: vertex 5 after 5"},
		"exclude down":    {expand(nil, 0, []byte{2, 5, 0, 4, 0}), "exclude: vertex 4 after 5"},
		"ids not whole":   {cat(part(reqVertices), []byte{3, 1, 2, 3, 0}), "3 bytes of ids"},
		"index flags":     {cat(part(reqIndex), []byte{8}), "index flags 0x8"},
		"range value":     {cat(part(reqIndex), []byte{0, 0, 0, 2, 1, 0xff}), "range eq"},
		"huge labels":     {uv(cat(part(reqVertices), []byte{0, 1}), 1<<40), "items of at least 1 bytes"},
		"huge preds":      {uv(cat(part(reqVertices), []byte{0, 1, 0}), 1<<40), "items of at least 3 bytes"},
		"huge exclude":    {expand(nil, 0, uv(nil, 1<<40)), "items of at least 2 bytes"},
		"huge ids":        {uv(part(reqVertices), 1<<40), "exceeds"},
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			r, err := DecodeReadsRequest(tc.b)
			g.Expect(err).To(MatchError(binenc.ErrMalformed))
			g.Expect(err).To(MatchError(ContainSubstring(tc.msg)))
			g.Expect(r).To(BeNil())
		})
	}
}

// oldNode is a stand-in for a node of an earlier version, which reads only JSON requests:
// with unsupported it answers any other Content-Type 415, else it reads every body as JSON
// (and answers what is not JSON 400, as nodes before the binary requests did). It answers a
// reads request with an empty read per part, a read request with an empty read, and records
// the Content-Type of each request.
type oldNode struct {
	unsupported bool
	mu          sync.Mutex
	seen        []string
}

func (o *oldNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ct := r.Header.Get("Content-Type")
	o.mu.Lock()
	o.seen = append(o.seen, ct)
	o.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	fail := func(status int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
	}
	if o.unsupported && ct != "application/json" {
		fail(http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported media type: Content-Type %q", ct))
		return
	}
	if strings.HasSuffix(r.URL.Path, "/reads") {
		var req ReadsRequest
		if err := json.Unmarshal(body, &req); err != nil {
			fail(http.StatusBadRequest, "bad request: the request is not valid JSON for this operation: "+err.Error())
			return
		}
		out := ReadsResponse{Parts: make([]ReadPartResult, len(req.Parts))}
		for i := range out.Parts {
			out.Parts[i].Read = &ReadResponse{}
		}
		_ = json.NewEncoder(w).Encode(out)
		return
	}
	var req ReadRequest
	if err := json.Unmarshal(body, &req); err != nil {
		fail(http.StatusBadRequest, "bad request: the request is not valid JSON for this operation: "+err.Error())
		return
	}
	_ = json.NewEncoder(w).Encode(ReadResponse{})
}

// requests returns the Content-Types seen since the last call.
func (o *oldNode) requests() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	seen := o.seen
	o.seen = nil
	return seen
}

// TestClientFallsBackToJSON: a node that refuses the binary request (415, or the 400 of a node
// from before it) is sent the request again as JSON, and sent JSON (Read and Reads alike) until
// jsonFor has passed; then binary again, which a node upgraded meanwhile reads.
func TestClientFallsBackToJSON(t *testing.T) {
	for name, unsupported := range map[string]bool{"415": true, "400 of an earlier node": false} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			node := &oldNode{unsupported: unsupported}
			var upgraded bool
			var mu sync.Mutex
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				up := upgraded
				mu.Unlock()
				if up && r.Header.Get("Content-Type") == ReadsRequestMediaType {
					node.mu.Lock()
					node.seen = append(node.seen, ReadsRequestMediaType)
					node.mu.Unlock()
					w.Header().Set("Content-Type", ReadsMediaType)
					_, _ = w.Write([]byte{readsVersion, 1, 0, 0, 0, 0})
					return
				}
				node.ServeHTTP(w, r)
			}))
			t.Cleanup(srv.Close)
			addr := strings.TrimPrefix(srv.URL, "http://")
			c := NewClient(nodeapi.New(nodeapi.Config{}))
			now := time.Unix(1_700_000_000, 0)
			c.now = func() time.Time { return now }
			ctx := context.Background()
			reads := &ReadsRequest{Parts: []ReadPart{{Shard: 2, Read: &ReadRequest{Expand: &oneHop}}}}

			got, err := c.Reads(ctx, addr, "g", reads)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got.Parts).To(HaveLen(1))
			g.Expect(node.requests()).To(Equal([]string{ReadsRequestMediaType, "application/json"}), "refused, then JSON")
			_, err = c.Reads(ctx, addr, "g", reads)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(node.requests()).To(Equal([]string{"application/json"}), "JSON at once: the refusal is remembered")
			_, err = c.Read(ctx, addr, "g", 2, reads.Parts[0].Read)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(node.requests()).To(Equal([]string{"application/json"}), "for the node, whatever the call")

			now = now.Add(jsonFor - time.Second)
			_, err = c.Read(ctx, addr, "g", 2, reads.Parts[0].Read)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(node.requests()).To(Equal([]string{"application/json"}))
			now = now.Add(time.Second)
			_, err = c.Read(ctx, addr, "g", 2, reads.Parts[0].Read)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(node.requests()).To(Equal([]string{ReadRequestMediaType, "application/json"}), "binary again after jsonFor")

			mu.Lock()
			upgraded = true
			mu.Unlock()
			now = now.Add(jsonFor)
			for range 2 {
				_, err = c.Reads(ctx, addr, "g", reads)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(node.requests()).To(Equal([]string{ReadsRequestMediaType}), "the upgraded node reads binary")
			}
		})
	}
}

// TestClientSendsBinary: Read and Reads send the binary requests, and a node's other refusals
// (a 400 about the request itself) are errors, with no JSON sent after them.
func TestClientSendsBinary(t *testing.T) {
	g := NewWithT(t)
	var mu sync.Mutex
	var seen []string
	var got any
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r.Header.Get("Content-Type"))
		if status != http.StatusOK {
			w.WriteHeader(status)
			_, _ = io.WriteString(w, `{"error":"bad request: a read's limit must be in 1..1048576, got 0"}`)
			return
		}
		switch r.Header.Get("Content-Type") {
		case ReadsRequestMediaType:
			got, _ = DecodeReadsRequest(body)
			w.Header().Set("Content-Type", ReadsMediaType)
			_, _ = w.Write([]byte{readsVersion, 1, 0, 0, 0, 0})
		case ReadRequestMediaType:
			got, _ = DecodeReadRequest(body)
			w.Header().Set("Content-Type", ReadMediaType)
			_, _ = w.Write([]byte{readsVersion, 0, 0, 0, 0, 0, 0, 0, 0})
		}
	}))
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	c := NewClient(nodeapi.New(nodeapi.Config{}))
	ctx := context.Background()
	reads := &ReadsRequest{Parts: []ReadPart{{Shard: 2, Read: &ReadRequest{Expand: &oneHop}}}}
	_, err := c.Reads(ctx, addr, "g", reads)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(Equal(reads))
	_, err = c.Read(ctx, addr, "g", 2, reads.Parts[0].Read)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(Equal(reads.Parts[0].Read))
	g.Expect(seen).To(Equal([]string{ReadsRequestMediaType, ReadRequestMediaType}))

	status, seen = http.StatusBadRequest, nil
	_, err = c.Reads(ctx, addr, "g", reads)
	g.Expect(nodeapi.StatusCode(err)).To(Equal(http.StatusBadRequest))
	g.Expect(seen).To(Equal([]string{ReadsRequestMediaType}), "no JSON after a refusal of the request itself")

	_, err = c.Reads(ctx, addr, "g", &ReadsRequest{Parts: []ReadPart{{Shard: 1}}})
	g.Expect(err).To(MatchError(errNilRead))
	g.Expect(err).To(MatchError(ContainSubstring("encode the request")))
}

// readReqSeeds are the encodings of the round-trip cases but the large one (its mutations are
// slow to run and to minimize): those of the reads requests with reads, else of their reads.
func readReqSeeds(f *testing.F, reads bool) {
	for name, r := range readReqCases() {
		if name == "large frontier" {
			continue
		}
		if reads {
			b, err := EncodeReadsRequest(r)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
			continue
		}
		for _, p := range r.Parts {
			b, err := EncodeReadRequest(p.Read)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
}

// FuzzDecodeReadsRequest: DecodeReadsRequest never panics, refuses with binenc.ErrMalformed,
// and what it decodes encodes to a request that decodes and encodes to the same bytes.
func FuzzDecodeReadsRequest(f *testing.F) {
	readReqSeeds(f, true)
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzReencode(t, b, "DecodeReadsRequest", DecodeReadsRequest, EncodeReadsRequest, binenc.ErrMalformed)
	})
}

// FuzzDecodeReadRequest: DecodeReadRequest does what FuzzDecodeReadsRequest says of
// DecodeReadsRequest.
func FuzzDecodeReadRequest(f *testing.F) {
	readReqSeeds(f, false)
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzReencode(t, b, "DecodeReadRequest", DecodeReadRequest, EncodeReadRequest, binenc.ErrMalformed)
	})
}

// BenchmarkReadsRequest measures what a one-hop round's reads request (6 shards' frontiers of
// 2,000 ids on one node) costs the router to encode and the node to decode, as JSON and in the
// binary encoding.
func BenchmarkReadsRequest(b *testing.B) {
	r := &ReadsRequest{}
	for p := range 6 {
		ids := make([]layout.ID, 2000)
		for i := range ids {
			ids[i] = layout.ID((uint64(p*2000+i+1) * 0x9e3779b97f4a7c15) >> 1)
		}
		r.Parts = append(r.Parts, ReadPart{Shard: p, Read: &ReadRequest{Expand: &ExpandRequest{IDs: ids,
			Dirs: []layout.Direction{layout.Out}, Types: []string{"E"}, Limit: 100000, Ends: true}}})
	}
	benchCodecs(b, "", r, EncodeReadsRequest, DecodeReadsRequest)
}
