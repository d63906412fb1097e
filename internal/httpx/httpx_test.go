package httpx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/torua/torua/internal/kv"
	"github.com/torua/torua/internal/wire"
)

func TestParsePrecondition(t *testing.T) {
	for _, tc := range []struct {
		im, inm string
		want    kv.Precondition
		bad     bool
	}{
		{"", "", kv.Precondition{}, false},
		{"*", "", kv.Precondition{Kind: kv.CondExists}, false},
		{`"42"`, "", kv.Precondition{Kind: kv.CondRevision, Revision: 42}, false},
		{"", "*", kv.Precondition{Kind: kv.CondAbsent}, false},
		{"42", "", kv.Precondition{}, true},
		{`"0"`, "", kv.Precondition{}, true},
		{`"-1"`, "", kv.Precondition{}, true},
		{`W/"1"`, "", kv.Precondition{}, true},
		{"", `"1"`, kv.Precondition{}, true},
		{"*", "*", kv.Precondition{}, true},
	} {
		h := http.Header{}
		if tc.im != "" {
			h.Set("If-Match", tc.im)
		}
		if tc.inm != "" {
			h.Set("If-None-Match", tc.inm)
		}
		got, err := ParsePrecondition(h)
		if tc.bad {
			if !errors.Is(err, ErrBadRequest) {
				t.Errorf("If-Match %q If-None-Match %q: err %v, want ErrBadRequest", tc.im, tc.inm, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("If-Match %q If-None-Match %q: %+v, %v; want %+v", tc.im, tc.inm, got, err, tc.want)
		}
	}
}

func TestPage(t *testing.T) {
	for _, tc := range []struct {
		keys  []string
		limit int
		more  bool
		want  string
	}{
		{nil, 10, false, "[] next="},
		{[]string{"c", "a", "b"}, 10, false, "[a b c] next="},
		{[]string{"c", "a", "b"}, 2, false, "[a b] next=b"},
		{[]string{"a"}, 2, true, "[a] next=a"},
	} {
		p := Page(tc.keys, tc.limit, tc.more)
		if got := fmt.Sprintf("%v next=%s", p.Keys, p.Next); got != tc.want {
			t.Errorf("Page(%v, %d, %v) = %s, want %s", tc.keys, tc.limit, tc.more, got, tc.want)
		}
	}
}

func TestParseList(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  ListParams
		bad   bool
	}{
		{"", ListParams{Limit: DefaultListLimit}, false},
		{"prefix=a%2Fb&after=a%2Fb1&limit=7", ListParams{Prefix: "a/b", After: "a/b1", Limit: 7}, false},
		{"limit=10000", ListParams{Limit: 10000}, false},
		{"limit=10001", ListParams{}, true},
		{"limit=-1", ListParams{}, true},
		{"prefix=" + strings.Repeat("p", 1025), ListParams{}, true},
		{"prefix=%00g", ListParams{}, true}, // the graph store's reserved namespace
	} {
		got, err := ParseList(httptest.NewRequest("GET", "/data?"+tc.query, nil))
		if tc.bad != (err != nil) || (!tc.bad && got != tc.want) {
			t.Errorf("%q: %+v, %v", tc.query, got, err)
		}
	}
}

func TestStatus(t *testing.T) {
	if got := Status(fmt.Errorf("x: %w", ErrPreconditionFailed)); got != 412 {
		t.Errorf("wrapped ErrPreconditionFailed -> %d", got)
	}
	if got := Status(fmt.Errorf("x: %w", ErrUnsupportedMediaType)); got != 415 {
		t.Errorf("wrapped ErrUnsupportedMediaType -> %d", got)
	}
	if got := Status(errors.New("disk on fire")); got != 500 {
		t.Errorf("unknown error -> %d", got)
	}
}

func TestWriteErrorHidesInternalDetail(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteError(rec, httptest.NewRequest("GET", "/", nil), discard(), errors.New("secret path /x/y"))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "secret") {
		t.Fatalf("500 answer leaks detail: %d %s", rec.Code, rec.Body)
	}
}

func TestEscapeKey(t *testing.T) {
	for key, want := range map[string]string{".": "%2E", "..": "%2E%2E", "a/b": "a%2Fb", "a b": "a%20b", "...": "..."} {
		if got := EscapeKey(key); got != want {
			t.Errorf("EscapeKey(%q) = %q, want %q", key, got, want)
		}
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestShutdownClosesConnectionsThatSentNothing: a client that connected but never sent a
// request must not hold up a graceful shutdown (net/http alone waits 5 s for it).
func TestShutdownClosesConnectionsThatSentNothing(t *testing.T) {
	srv, err := Start("127.0.0.1:0", http.NotFoundHandler(), discard(), nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	// Make sure the server has accepted it: a request on a second connection is answered
	// only after the accept loop has passed the first.
	resp, err := http.Get("http://" + srv.Addr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with an idle new connection open: %v", err)
	}
}

func TestCheckWireRequest(t *testing.T) {
	for _, tt := range []struct {
		req  wire.Request
		want error
	}{
		{wire.Request{Op: wire.OpPut, Key: "k", Value: make([]byte, 10)}, nil},
		{wire.Request{Op: wire.OpGet, Key: "k"}, nil},
		{wire.Request{Op: wire.OpPut, Key: "k", Value: make([]byte, 11)}, ErrTooLarge},
		{wire.Request{Op: wire.OpGet, Key: "k", Value: []byte("v")}, ErrBadRequest},
		{wire.Request{Op: wire.OpDelete, Key: "k", Value: []byte("v")}, ErrBadRequest},
		{wire.Request{Op: wire.OpGet, Key: ""}, ErrBadRequest},
		{wire.Request{Op: wire.OpGet, Key: "bad\xff"}, ErrBadRequest},
		{wire.Request{Op: wire.OpPut, Key: "\x00g/social/v/{social/1}"}, ErrBadRequest}, // reserved
		{wire.Request{Op: wire.OpGraphReads, Key: "social"}, ErrBadRequest},             // not a key operation
		{wire.Request{Op: wire.OpPing, Key: "k"}, ErrBadRequest},
	} {
		err := CheckWireRequest(&tt.req, 10)
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s %q (%d bytes): %v, want %v", tt.req.Op, tt.req.Key, len(tt.req.Value), err, tt.want)
		}
	}
	r := WireError(discard(), &wire.Request{Op: wire.OpGet, Key: "k"}, fmt.Errorf("%w: key %q", ErrNotFound, "k"))
	if r.Status != http.StatusNotFound || string(r.Body) != `{"error":"not found: key \"k\""}` {
		t.Errorf("WireError: %d %s", r.Status, r.Body)
	}
}

// TestWrapAnswersAPanic500: a handler that panics is answered 500 with a JSON body (not a
// dropped connection), logged with its stack, and counted; one that panicked after answering
// keeps its answer.
func TestWrapAnswersAPanic500(t *testing.T) {
	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, nil))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) { panic("index out of range") })
	mux.HandleFunc("GET /late", func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"ok": "yes"})
		panic("after the answer")
	})
	m := NewMetrics("test")
	h := m.Wrap(mux, log)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/boom", nil))
	if rec.Code != 500 || strings.TrimSpace(rec.Body.String()) != `{"error":"internal error"}` {
		t.Fatalf("a panic answered %d %s, want 500 with a JSON error", rec.Code, rec.Body)
	}
	if !strings.Contains(logged.String(), "index out of range") || !strings.Contains(logged.String(), "stack=") {
		t.Fatalf("the panic was not logged with its stack: %s", logged.String())
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/late", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"ok":"yes"`) {
		t.Fatalf("a panic after the answer changed it: %d %s", rec.Code, rec.Body)
	}
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var counted float64
	for _, f := range families {
		if f.GetName() != "torua_test_http_requests_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "code" && l.GetValue() == "500" {
					counted += s.GetCounter().GetValue()
				}
			}
		}
	}
	if counted != 2 {
		t.Fatalf("%v requests counted with code 500, want both", counted)
	}
}
