package process

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// TestBadInputThroughRouter sends malformed requests to the router: each is answered with its
// status and a JSON error body, and the stored data is the same afterwards.
func TestBadInputThroughRouter(t *testing.T) {
	g := NewWithT(t)
	c := newCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 20 {
		_, err := c.c.Put(ctx, fmt.Sprintf("bad/key-%02d", i), []byte(fmt.Sprintf("value %d", i)))
		g.Expect(err).NotTo(HaveOccurred())
	}
	const existing = "bad/key-07"
	before := snapshot(t, c.c)
	g.Expect(before).To(HaveLen(20))
	_, rev, err := c.c.Get(ctx, existing)
	g.Expect(err).NotTo(HaveOccurred())

	tooBig := bytes.Repeat([]byte("x"), 1<<20+1)
	longKey := strings.Repeat("k", 1025)
	longUnicodeKey := strings.Repeat("é", 513) // 1026 bytes, 513 characters
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	for _, tc := range []struct {
		name, method, path string
		header             http.Header
		body               io.Reader
		status             int
		allow              []string
	}{
		{"empty key PUT", "PUT", "/data/", nil, strings.NewReader("v"), 400, nil},
		{"empty key GET", "GET", "/data/", nil, nil, 400, nil},
		{"empty key DELETE", "DELETE", "/data/", nil, nil, 400, nil},
		{"key over 1024 bytes PUT", "PUT", "/data/" + longKey, nil, strings.NewReader("v"), 400, nil},
		{"key over 1024 bytes GET", "GET", "/data/" + longKey, nil, nil, 400, nil},
		{"Unicode key over 1024 bytes PUT", "PUT", "/data/" + longUnicodeKey, nil, strings.NewReader("v"), 400, nil},
		{"invalid UTF-8 key", "PUT", "/data/%FF%FE", nil, strings.NewReader("v"), 400, nil},
		{"value over the limit", "PUT", "/data/" + existing, nil, bytes.NewReader(tooBig), 413, nil},
		{"value over the limit, chunked", "PUT", "/data/" + existing, nil, struct{ io.Reader }{bytes.NewReader(tooBig)}, 413, nil},
		{"value over the limit, new key", "PUT", "/data/bad/new", nil, bytes.NewReader(tooBig), 413, nil},
		{"If-Match without quotes", "PUT", "/data/" + existing, hdr("If-Match", fmt.Sprint(rev)), strings.NewReader("v"), 400, nil},
		{"If-Match not a number", "PUT", "/data/" + existing, hdr("If-Match", `"abc"`), strings.NewReader("v"), 400, nil},
		{"If-Match zero", "PUT", "/data/" + existing, hdr("If-Match", `"0"`), strings.NewReader("v"), 400, nil},
		{"If-Match weak", "PUT", "/data/" + existing, hdr("If-Match", fmt.Sprintf(`W/"%d"`, rev)), strings.NewReader("v"), 400, nil},
		{"If-None-Match not *", "PUT", "/data/" + existing, hdr("If-None-Match", `"1"`), strings.NewReader("v"), 400, nil},
		{"If-Match and If-None-Match", "PUT", "/data/bad/new", hdr("If-Match", "*", "If-None-Match", "*"), strings.NewReader("v"), 400, nil},
		{"bad If-Match on DELETE", "DELETE", "/data/" + existing, hdr("If-Match", "nope"), nil, 400, nil},
		{"stale If-Match", "PUT", "/data/" + existing, hdr("If-Match", fmt.Sprintf(`"%d"`, rev+1000)), strings.NewReader("v"), 412, nil},
		{"stale If-Match on DELETE", "DELETE", "/data/" + existing, hdr("If-Match", fmt.Sprintf(`"%d"`, rev+1000)), nil, 412, nil},
		{"If-None-Match * on existing key", "PUT", "/data/" + existing, hdr("If-None-Match", "*"), strings.NewReader("v"), 412, nil},
		{"limit not a number", "GET", "/data?limit=abc", nil, nil, 400, nil},
		{"limit zero", "GET", "/data?limit=0", nil, nil, 400, nil},
		{"limit negative", "GET", "/data?limit=-5", nil, nil, 400, nil},
		{"limit too large", "GET", "/data?limit=10001", nil, nil, 400, nil},
		{"prefix over 1024 bytes", "GET", "/data?prefix=" + longKey, nil, nil, 400, nil},
		{"bad consistency", "GET", "/data/" + existing + "?consistency=eventual", nil, nil, 400, nil},
		{"unknown route", "GET", "/nope", nil, nil, 404, nil},
		{"node route on the router", "GET", "/store/" + existing, nil, nil, 404, nil},
		{"unknown method on a key", "POST", "/data/" + existing, nil, strings.NewReader("v"), 405, []string{"GET", "PUT", "DELETE"}},
		{"PATCH on a key", "PATCH", "/data/" + existing, nil, strings.NewReader("v"), 405, []string{"GET", "PUT", "DELETE"}},
		{"unknown method on the listing", "POST", "/data", nil, strings.NewReader("v"), 405, []string{"GET"}},
		{"PUT on the listing", "PUT", "/data", nil, strings.NewReader("v"), 405, []string{"GET"}},
		{"DELETE on the listing", "DELETE", "/data", nil, nil, 405, []string{"GET"}},
		{"unknown method on /cluster", "PUT", "/cluster", nil, strings.NewReader("{}"), 405, []string{"GET"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			status, h, body := doRaw(t, tc.method, c.routerURL+tc.path, tc.header, tc.body)
			g.Expect(status).To(Equal(tc.status), "body: %s", body)
			g.Expect(h.Get("Content-Type")).To(HavePrefix("application/json"))
			var e map[string]any
			g.Expect(json.Unmarshal(body, &e)).To(Succeed(), "body %q", body)
			g.Expect(e).To(HaveKeyWithValue("error", Not(BeEmpty())))
			for _, m := range tc.allow {
				g.Expect(h.Get("Allow")).To(ContainSubstring(m), "Allow header")
			}
		})
	}

	g.Expect(snapshot(t, c.c)).To(Equal(before), "stored data after the bad requests")
}
