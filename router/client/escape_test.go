package client_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/torua/torua/router/client"
)

// FuzzEscapeKey checks that every non-empty key, escaped by EscapeKey, reaches a handler on a
// Go ServeMux pattern /data/{key...} as exactly the same key, with no redirect.
func FuzzEscapeKey(f *testing.F) {
	for _, seed := range []string{
		"k", "a/b", "/", "//", ".", "..", "./", "../x", "a/./b", "a/../b", "%", "%2F", "%%", "?", "#",
		" ", "+", "a;b", "ü", "🙂", "\x00", "\xff\xfe", "\r\n", strings.Repeat("é", 512),
	} {
		f.Add(seed)
	}
	var got string
	mux := http.NewServeMux()
	mux.HandleFunc("GET /data/{key...}", func(w http.ResponseWriter, r *http.Request) { got = r.PathValue("key") })
	f.Fuzz(func(t *testing.T, key string) {
		if key == "" {
			return
		}
		got = ""
		req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1/data/"+client.EscapeKey(key), nil)
		if err != nil {
			t.Fatalf("key %q: %v", key, err)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || got != key {
			t.Fatalf("key %q: status %d, handler saw %q", key, rec.Code, got)
		}
	})
}
