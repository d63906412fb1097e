package shardapi

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/value"
	"github.com/torua/torua/internal/nodeapi"
)

// readsCases are answers of every shape: each field of every type of the answer is set in
// at least one of them (TestReadsCasesSetEveryField).
func readsCases(t testing.TB) map[string]*ReadsResponse {
	props, err := value.EncodeProps(map[string]any{
		"b": true, "i": int64(math.MinInt64), "f": -2.5, "nan": math.NaN(), "s": "Zoë\x00",
		"lb": []any{true, false}, "li": []any{int64(1), int64(-1) << 40}, "lf": []any{math.Inf(1), 0.5},
		"ls": []any{"a", ""}, "empty": []any{},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Props pass through as bytes, whatever they hold: here a value no property may be, a map
	// holding nested lists.
	nested, err := value.EncodeValue(map[string]any{"n": []any{[]any{int64(1), "x"}, []any{}, nil}})
	if err != nil {
		t.Fatal(err)
	}
	v1 := &Vertex{ID: 1, Labels: []string{"Person", "Admin"}, Props: props, Incarnation: math.MaxUint64, Revision: 9}
	v2 := &Vertex{ID: layout.MaxID, Labels: []string{"Person", ""}, Props: nested, Incarnation: 7}
	v3 := &Vertex{ID: 3} // no labels, no props
	many := make(PackedIDs, 5000)
	for i := range many {
		many[i] = layout.ID(uint64(i) * 0x9e3779b97f4a7c15 >> 1)
	}
	return map[string]*ReadsResponse{
		"no part": {Parts: []ReadPartResult{}},
		"errors": {Parts: []ReadPartResult{
			{Status: http.StatusMisdirectedRequest, Error: "not the leader of shard 3", Leader: "n2"},
			{Status: http.StatusServiceUnavailable, Error: "no valid shard map"},
			{Status: http.StatusBadRequest, Error: "a read's limit must be in 1..1048576, got 0"},
			{Status: -1, Error: "ünïcode"},
			{}, // answered with nothing at all
		}},
		"empty lists": {Parts: []ReadPartResult{{Read: &ReadResponse{
			Vertices: []*Vertex{}, Sources: []*Vertex{}, Passed: []layout.ID{}, Halves: []*Half{},
			Ends: PackedIDs{}, Scanned: []*Vertex{}, IDs: []layout.ID{},
			Catalog: &Catalog{PrimaryKeys: []PrimaryKey{}, Indexes: []Index{}},
		}}, {Read: &ReadResponse{}}}},
		"full": {Parts: []ReadPartResult{
			{Read: &ReadResponse{
				Vertices: []*Vertex{v1, v2},
				Sources:  []*Vertex{v3, v1},
				Passed:   []layout.ID{3, 1, layout.MaxID},
				Halves: []*Half{
					{EdgeHalf: layout.EdgeHalf{Dir: layout.Out, Vertex: 1, Other: layout.MaxID, Type: "KNOWS", Edge: 1 << 62},
						Props: props, Gen: 3, Revision: 12},
					{EdgeHalf: layout.EdgeHalf{Dir: layout.In, Vertex: 2, Other: 1, Type: "KNOWS", Edge: 5},
						Gen: 4, Deleted: true, DeletedAt: 1_700_000_000},
					{EdgeHalf: layout.EdgeHalf{Dir: layout.In, Vertex: 2, Other: 9, Edge: 6}, DeletedAt: -1},
				},
				Ends:    PackedIDs{2, 9, 1 << 40, layout.MaxID},
				Scanned: []*Vertex{v2},
				IDs:     []layout.ID{7, 8},
				More:    true,
				Catalog: &Catalog{Version: 4,
					PrimaryKeys: []PrimaryKey{{Name: "pk", Label: "Person", Property: "email"}},
					Indexes: []Index{{Name: "byAge", Label: "Person", Property: "age", State: IndexReady},
						{Name: "byName", Label: "Person", Property: "name", State: IndexBuilding}}},
			}},
			{Status: http.StatusMisdirectedRequest, Error: "not the leader", Leader: "n1"},
			{Read: &ReadResponse{Catalog: &Catalog{Version: 1}}},
			{Read: &ReadResponse{Catalog: &Catalog{Version: 2, Loading: 1765000000123456789}}},
		}},
		"many ends": {Parts: []ReadPartResult{{Read: &ReadResponse{Ends: many, More: true}}, {Read: &ReadResponse{Ends: many[:1]}}}},
	}
}

// TestReadsRoundTrip: the binary answer decodes to exactly what the JSON answer decodes to.
func TestReadsRoundTrip(t *testing.T) {
	for name, r := range readsCases(t) {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			viaJSON, b, jsLen := binaryAsJSON(g, r, EncodeReads, DecodeReads, nil)
			g.Expect(len(b)).To(BeNumerically("<=", jsLen))

			// Each part's read alone, in the read answer.
			for i, p := range r.Parts {
				if p.Read != nil {
					partAlone(g, p.Read, EncodeRead, DecodeRead, nil, viaJSON.Parts[i].Read, i)
				}
			}
		})
	}
}

// binaryAsJSON encodes v as JSON and with enc, and checks that dec reads the binary encoding
// back as JSON reads its own (both through norm, if given) and that the encoder's size
// estimate is near. It returns the JSON's decoding, the binary encoding and the JSON's length.
func binaryAsJSON[T any](g Gomega, v *T, enc func(*T) ([]byte, error), dec func([]byte) (*T, error), norm func(reflect.Value)) (viaJSON *T, b []byte, jsLen int) {
	js, err := json.Marshal(v)
	g.Expect(err).NotTo(HaveOccurred())
	viaJSON = new(T)
	g.Expect(json.Unmarshal(js, viaJSON)).To(Succeed())
	b, err = enc(v)
	g.Expect(err).NotTo(HaveOccurred())
	viaBinary, err := dec(b)
	g.Expect(err).NotTo(HaveOccurred())
	if norm != nil {
		norm(reflect.ValueOf(viaJSON))
		norm(reflect.ValueOf(viaBinary))
	}
	g.Expect(viaBinary).To(Equal(viaJSON))
	g.Expect(cap(b)).To(BeNumerically("<=", 2*len(b)+64), "the size estimate is near")
	return viaJSON, b, len(js)
}

// partAlone checks that part i, encoded alone with enc, reads back with dec (through norm, if
// given) as want, the part as the whole's JSON gave it.
func partAlone[T any](g Gomega, part *T, enc func(*T) ([]byte, error), dec func([]byte) (*T, error), norm func(reflect.Value), want *T, i int) {
	b, err := enc(part)
	g.Expect(err).NotTo(HaveOccurred())
	got, err := dec(b)
	g.Expect(err).NotTo(HaveOccurred())
	if norm != nil {
		norm(reflect.ValueOf(got))
	}
	g.Expect(got).To(Equal(want), "part %d alone", i)
}

// TestReadsCasesSetEveryField: every field of the answer's types is set (not zero) in some
// case, so that a field added to them fails TestReadsRoundTrip until the encoding carries it.
func TestReadsCasesSetEveryField(t *testing.T) {
	expectEveryFieldSet(t, readsCases(t))
}

// expectEveryFieldSet fails t for each field of the structs reachable from T that no case
// sets.
func expectEveryFieldSet[T any](t *testing.T, cases map[string]*T) {
	all, set := map[string]bool{}, map[string]bool{}
	fieldsOf(reflect.TypeFor[T](), all)
	for _, c := range cases {
		fieldsSet(reflect.ValueOf(c), set)
	}
	for f := range all {
		if !set[f] {
			t.Errorf("no case sets %s", f)
		}
	}
}

// fieldsOf adds the fields of the structs reachable from t to out, as "Type.Field".
func fieldsOf(t reflect.Type, out map[string]bool) {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice:
		fieldsOf(t.Elem(), out)
	case reflect.Struct:
		for f := range t.Fields() {
			name := t.Name() + "." + f.Name
			if out[name] {
				continue
			}
			out[name] = true
			fieldsOf(f.Type, out)
		}
	default:
	}
}

// fieldsSet adds the fields of the structs reachable from v that are not zero to out.
func fieldsSet(v reflect.Value, out map[string]bool) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			fieldsSet(v.Elem(), out)
		}
	case reflect.Slice:
		for i := range v.Len() {
			fieldsSet(v.Index(i), out)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); !f.IsZero() {
				out[v.Type().Name()+"."+v.Type().Field(i).Name] = true
				fieldsSet(f, out)
			}
		}
	default:
	}
}

func TestEncodeReadsRefusesNilEntries(t *testing.T) {
	for name, rd := range map[string]*ReadResponse{
		"vertex": {Vertices: []*Vertex{{ID: 1}, nil}},
		"source": {Sources: []*Vertex{nil}},
		"half":   {Halves: []*Half{nil}},
		"scan":   {Scanned: []*Vertex{nil}},
	} {
		_, err := EncodeReads(&ReadsResponse{Parts: []ReadPartResult{{}, {Read: rd}}})
		if !errors.Is(err, errNilEntry) || !strings.Contains(err.Error(), "part 1") {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := EncodeRead(rd); !errors.Is(err, errNilEntry) {
			t.Errorf("%s alone: %v", name, err)
		}
	}
}

// TestDecodeReadsRefuses: what EncodeReads cannot have written is an error wrapping
// nodeapi.ErrBadAnswer, a cut answer included, and a count larger than the bytes left is
// refused before anything is allocated for it.
func TestDecodeReadsRefuses(t *testing.T) {
	g := NewWithT(t)
	full := readsCases(t)["full"]
	expectCutsRefused(g, full, EncodeReads, DecodeReads, full.Parts[0].Read, EncodeRead, DecodeRead, nodeapi.ErrBadAnswer, "read answer", "read answer version 2")
	uv := func(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }
	// One part, answered: status 0, no error, no leader, a read.
	part := []byte{readsVersion, 1, 0, 0, 0, 1}
	// An empty read after the flags: seven empty lists.
	empty := []byte{0, 0, 0, 0, 0, 0, 0}
	for name, tc := range map[string]struct {
		b   []byte
		msg string
	}{
		"nothing":          {nil, "truncated"},
		"version":          {[]byte{2, 0}, "version 2"},
		"trailing":         {[]byte{readsVersion, 0, 0}, "1 trailing bytes"},
		"huge part count":  {uv([]byte{readsVersion}, 1<<60), "items of at least 4 bytes"},
		"read byte":        {[]byte{readsVersion, 1, 0, 0, 0, 2}, "read byte 2"},
		"read flags":       {append(append(part, 4), empty...), "read flags 0x4"},
		"huge vertices":    {uv(append(part, 0), 1<<40), "items of at least 5 bytes"},
		"huge halves":      {uv(append(part, 0, 0, 0, 0), 1<<40), "items of at least 10 bytes"},
		"ids not whole":    {append(append(part, 0, 0, 0, 3, 1, 2, 3), 0, 0, 0, 0, 0), "3 bytes of ids"},
		"string too long":  {append(uv([]byte{readsVersion, 1, 0}, 200), 'x', 0, 0), "length 200 exceeds"},
		"half deleted":     {append(append(part, 0, 0, 0, 0, 1), 1, 1, 1, 0, 1, 0, 0, 2, 0, 0, 0, 0, 0), "half deleted byte 2"},
		"huge labels":      {uv(append(part, 0, 1, 1, 1, 1), 1<<40), "items of at least 1 bytes"},
		"catalog cut":      {append(append(part, readCatalog), empty...), "bad varint"},
		"huge primary key": {uv(append(append(part, readCatalog), append(empty, 1)...), 1<<40), "items of at least 3 bytes"},
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			r, err := DecodeReads(tc.b)
			g.Expect(err).To(MatchError(nodeapi.ErrBadAnswer))
			g.Expect(err).To(MatchError(ContainSubstring(tc.msg)))
			g.Expect(r).To(BeNil())
		})
	}
}

func TestAcceptsMedia(t *testing.T) {
	for _, tc := range []struct {
		accept []string
		want   bool
	}{
		{nil, false},
		{[]string{"application/json"}, false},
		{[]string{ReadsMediaType}, true},
		{[]string{"application/json, " + ReadsMediaType + ";q=0.9"}, true},
		{[]string{"application/json", " Application/X-Torua-Graph-Reads "}, true},
		{[]string{ReadMediaType}, false},
		{[]string{ReadsMediaType + "-v2"}, false},
	} {
		h := http.Header{}
		for _, a := range tc.accept {
			h.Add("Accept", a)
		}
		if got := AcceptsMedia(h, ReadsMediaType); got != tc.want {
			t.Errorf("Accept %q: %v, want %v", tc.accept, got, tc.want)
		}
	}
}

// TestClientReadsEitherAnswer: Reads asks for the binary answer and reads the answer by its
// Content-Type, so a node that answers JSON (of an earlier version) is read as well.
func TestClientReadsEitherAnswer(t *testing.T) {
	want := readsCases(t)["full"]
	js, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := EncodeReads(want)
	if err != nil {
		t.Fatal(err)
	}
	var viaJSON ReadsResponse
	if err := json.Unmarshal(js, &viaJSON); err != nil {
		t.Fatal(err)
	}
	req := &ReadsRequest{Parts: make([]ReadPart, len(want.Parts))}
	for i := range req.Parts {
		req.Parts[i].Read = &ReadRequest{}
	}
	for name, tc := range map[string]struct {
		contentType string
		body        []byte
		err         error
	}{
		"json":                  {"application/json", js, nil},
		"json, no content type": {"", js, nil},
		"binary":                {ReadsMediaType, bin, nil},
		"binary, parameter":     {ReadsMediaType + "; v=1", bin, nil},
		"binary, cut":           {ReadsMediaType, bin[:len(bin)-1], nodeapi.ErrBadAnswer},
		"json, cut":             {"application/json", js[:len(js)-1], nodeapi.ErrBadAnswer},
		"binary, too few parts": {ReadsMediaType, []byte{readsVersion, 0}, nodeapi.ErrBadAnswer},
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			addr, accept := answeringNode(t, tc.contentType, tc.body)
			c := NewClient(nodeapi.New(nodeapi.Config{}))
			got, err := c.Reads(context.Background(), addr, "g", req)
			g.Expect(<-accept).To(Equal(ReadsMediaType))
			if tc.err != nil {
				g.Expect(err).To(MatchError(tc.err))
				g.Expect(err).To(MatchError(ContainSubstring("g/reads")), "the error names the call")
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(&viaJSON))
		})
	}
}

// answeringNode is a stand-in node on loopback that answers every request with body as
// contentType (set as written, parameters or odd case included); accept gets each request's
// Accept header.
func answeringNode(t *testing.T, contentType string, body []byte) (addr string, accept <-chan string) {
	t.Helper()
	ch := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ch <- r.Header.Get("Accept")
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header()["Content-Type"] = []string{contentType}
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), ch
}

// TestClientReadEitherAnswer: Read asks for the binary answer and reads the answer by its
// Content-Type, as Reads does.
func TestClientReadEitherAnswer(t *testing.T) {
	want := readsCases(t)["full"].Parts[0].Read
	js, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := EncodeRead(want)
	if err != nil {
		t.Fatal(err)
	}
	var viaJSON ReadResponse
	if err := json.Unmarshal(js, &viaJSON); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		contentType string
		body        []byte
		err         error
	}{
		"json":        {"application/json", js, nil},
		"binary":      {ReadMediaType, bin, nil},
		"binary, cut": {ReadMediaType, bin[:len(bin)-1], nodeapi.ErrBadAnswer},
		"reads media": {ReadsMediaType, bin, nodeapi.ErrBadAnswer}, // read as JSON, which it is not
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			addr, accept := answeringNode(t, tc.contentType, tc.body)
			c := NewClient(nodeapi.New(nodeapi.Config{}))
			got, err := c.Read(context.Background(), addr, "g", 3, &ReadRequest{})
			g.Expect(<-accept).To(Equal(ReadMediaType))
			if tc.err != nil {
				g.Expect(err).To(MatchError(tc.err))
				g.Expect(err).To(MatchError(ContainSubstring("g/3/read")), "the error names the call")
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(&viaJSON))
		})
	}
}

// FuzzDecodeReads: DecodeReads never panics, refuses with nodeapi.ErrBadAnswer, and what it
// decodes encodes to an answer that decodes to the same. The seeds are the round-trip cases
// but the large one (its mutations are slow to run and to minimize).
func FuzzDecodeReads(f *testing.F) {
	for name, r := range readsCases(f) {
		b, err := EncodeReads(r)
		if err != nil {
			f.Fatal(err)
		}
		if name != "many ends" {
			f.Add(b)
		}
	}
	f.Add([]byte{readsVersion, 1, 0, 0, 0, 1, readCatalog | readMore, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzReencode(t, b, "DecodeReads", DecodeReads, EncodeReads, nodeapi.ErrBadAnswer)
	})
}

// expectEveryCutRefused checks that decode refuses with refusal every prefix of b, a whole
// encoding, shorter than b.
func expectEveryCutRefused[T any](g *WithT, b []byte, decode func([]byte) (T, error), refusal error) {
	for n := range len(b) {
		_, err := decode(b[:n])
		g.Expect(err).To(MatchError(refusal), "cut at %d of %d bytes", n, len(b))
	}
}

// expectCutsRefused checks a codec of a whole (W) and of one part alone (P): every cut of
// whole's and of part's encodings is refused with refusal, and so are a part with a trailing
// byte (named as what) and one of version 2 (with the message version).
func expectCutsRefused[W, P any](g *WithT, whole *W, encW func(*W) ([]byte, error), decW func([]byte) (*W, error),
	part *P, encP func(*P) ([]byte, error), decP func([]byte) (*P, error), refusal error, what, version string) {
	b, err := encW(whole)
	g.Expect(err).NotTo(HaveOccurred())
	expectEveryCutRefused(g, b, decW, refusal)
	single, err := encP(part)
	g.Expect(err).NotTo(HaveOccurred())
	expectEveryCutRefused(g, single, decP, refusal)
	_, err = decP(append(single, 0))
	g.Expect(err).To(MatchError(ContainSubstring(what + ": malformed encoding: 1 trailing bytes")))
	_, err = decP(append([]byte{2}, single[1:]...))
	g.Expect(err).To(MatchError(ContainSubstring(version)))
}

// fuzzReencode is the body of the binary codecs' fuzz targets: decode (called name) never
// panics and refuses b with refusal, and what it decodes encodes to bytes that decode and
// encode to the same bytes again.
func fuzzReencode[T any](t *testing.T, b []byte, name string, decode func([]byte) (T, error), encode func(T) ([]byte, error), refusal error) {
	t.Helper()
	r, err := decode(b)
	if err != nil {
		if !errors.Is(err, refusal) {
			t.Fatalf("%s(%x): %v, not %v", name, b, err, refusal)
		}
		return
	}
	again, err := encode(r)
	if err != nil {
		t.Fatalf("%s(%x) decoded what its encoder refuses: %v", name, b, err)
	}
	r2, err := decode(again)
	if err != nil {
		t.Fatalf("%s(%x) re-encodes to %x, which does not decode: %v", name, b, again, err)
	}
	if third, err := encode(r2); err != nil || !bytes.Equal(third, again) {
		t.Fatalf("%s(%x) re-encodes to %x, then to %x, %v", name, b, again, third, err)
	}
}

// FuzzDecodeRead: DecodeRead never panics, refuses with nodeapi.ErrBadAnswer, and what it
// decodes encodes to an answer that decodes to the same. The seeds are the reads of the
// round-trip cases but the large one.
func FuzzDecodeRead(f *testing.F) {
	for name, r := range readsCases(f) {
		for _, p := range r.Parts {
			if p.Read == nil || name == "many ends" {
				continue
			}
			b, err := EncodeRead(p.Read)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzReencode(t, b, "DecodeRead", DecodeRead, EncodeRead, nodeapi.ErrBadAnswer)
	})
}

// BenchmarkReadsAnswer measures what an answer costs the node to encode and the router to
// decode, as JSON and in the binary encoding: a hub's distinct ends (a two-hop query's second
// hop, 6 of 16 shards on one node), a one-hop's vertices with their properties, and halves.
func BenchmarkReadsAnswer(b *testing.B) {
	props, err := value.EncodeProps(map[string]any{"id": int64(123456), "name": "vertex 123456"})
	if err != nil {
		b.Fatal(err)
	}
	answers := map[string]*ReadsResponse{}
	ends := &ReadsResponse{}
	for p := range 6 {
		ids := make(PackedIDs, 43000)
		for i := range ids {
			ids[i] = layout.ID((uint64(p*43000+i) * 0x9e3779b97f4a7c15) >> 1)
		}
		ends.Parts = append(ends.Parts, ReadPartResult{Read: &ReadResponse{Ends: layout.SortedIDs(ids)}})
	}
	answers["ends"] = ends
	vertices := &ReadsResponse{}
	for p := range 6 {
		vertices.Parts = append(vertices.Parts, ReadPartResult{Read: &ReadResponse{Vertices: []*Vertex{
			{ID: layout.ID(p + 1<<60), Labels: []string{"V"}, Props: props, Incarnation: 1<<63 + uint64(p)},
			{ID: layout.ID(p + 1<<61), Labels: []string{"V"}, Props: props, Incarnation: 1<<62 + uint64(p)},
		}}})
	}
	answers["vertices"] = vertices
	halves := &ReadsResponse{Parts: []ReadPartResult{{Read: &ReadResponse{}}}}
	for i := range 2000 {
		halves.Parts[0].Read.Halves = append(halves.Parts[0].Read.Halves, &Half{EdgeHalf: layout.EdgeHalf{
			Dir: layout.Out, Vertex: 1 << 60, Other: layout.ID(uint64(i) * 0x9e3779b97f4a7c15 >> 1), Type: "E",
			Edge: layout.ID(uint64(i+7) * 0x9e3779b97f4a7c15 >> 1)}, Props: props[:1]})
	}
	answers["halves"] = halves
	for _, name := range []string{"ends", "vertices", "halves"} {
		r := answers[name]
		benchCodecs(b, name+"/", r, EncodeReads, DecodeReads)
	}
}

// benchCodecs runs a round trip of v through JSON (name+"json") and through enc and dec
// (name+"binary"), bytes counted as encoded.
func benchCodecs[T any](b *testing.B, name string, v *T, enc func(*T) ([]byte, error), dec func([]byte) (*T, error)) {
	b.Run(name+"json", func(b *testing.B) {
		for b.Loop() {
			js, err := json.Marshal(v)
			if err != nil {
				b.Fatal(err)
			}
			if err := json.Unmarshal(js, new(T)); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(js)))
		}
	})
	b.Run(name+"binary", func(b *testing.B) {
		for b.Loop() {
			bin, err := enc(v)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := dec(bin); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(bin)))
		}
	})
}
