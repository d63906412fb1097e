package node

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/internal/kv"
	"github.com/torua/torua/internal/wire"
	"github.com/torua/torua/node/engine"
)

// TestTransportsGiveTheSameAnswers sends the same key requests over the HTTP API and the
// wire protocol (a real connection to the node's API port) and checks that both give the
// same status, revision and body: both are adapters over the key operations of keys.go.
func TestTransportsGiveTheSameAnswers(t *testing.T) {
	g := NewWithT(t)
	n, base := startNode(t, nil, nil)
	conn, err := wire.Dial(context.Background(), n.Addr())
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = conn.Close() }()
	g.Expect(status(t, "PUT", keyURL(base, "h"), "v", nil)).To(Equal(204))
	w, err := conn.Do(context.Background(), &wire.Request{Op: wire.OpPut, Key: "w", Value: []byte("v")})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(w.Status).To(Equal(204))

	for _, tc := range []struct {
		name   string
		method string
		hdr    map[string]string
		req    wire.Request
	}{
		{"get", "GET", nil, wire.Request{Op: wire.OpGet}},
		{"get missing", "GET", nil, wire.Request{Op: wire.OpGet, Key: "missing"}},
		{"put if absent on existing", "PUT", map[string]string{"If-None-Match": "*"},
			wire.Request{Op: wire.OpPut, Cond: kv.Precondition{Kind: kv.CondAbsent}}},
		{"put if revision mismatch", "PUT", map[string]string{"If-Match": `"999"`},
			wire.Request{Op: wire.OpPut, Cond: kv.Precondition{Kind: kv.CondRevision, Revision: 999}}},
		{"delete if exists on missing", "DELETE", map[string]string{"If-Match": "*"},
			wire.Request{Op: wire.OpDelete, Key: "missing", Cond: kv.Precondition{Kind: kv.CondExists}}},
		{"delete missing", "DELETE", nil, wire.Request{Op: wire.OpDelete, Key: "missing"}},
		{"invalid key", "GET", nil, wire.Request{Op: wire.OpGet, Key: "bad\xff"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			hkey, wkey := "h", "w"
			if tc.req.Key != "" {
				hkey, wkey = tc.req.Key, tc.req.Key
			}
			body := ""
			if tc.method == "PUT" {
				body, tc.req.Value = "x", []byte("x")
			}
			u := keyURL(base, hkey)
			if hkey == "bad\xff" {
				u = base + "/store/bad%FF" // EscapeKey would make it valid UTF-8
			}
			h := do(t, tc.method, u, body, tc.hdr)
			req := tc.req
			req.Key = wkey
			w, err := conn.Do(context.Background(), &req)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(w.Status).To(Equal(h.code))
			if h.code == 200 {
				g.Expect(string(w.Body)).To(Equal(h.body))
				return
			}
			// The two keys differ by name only; an error body names its key.
			g.Expect(strings.ReplaceAll(string(w.Body), `\"w\"`, `\"h\"`)).To(Equal(strings.TrimSuffix(h.body, "\n")))
		})
	}
}

// TestWireUnknownCondIsNoPrecondition: a wire request whose cond byte is of no known kind
// writes as if it had no precondition (the node has always read it so).
func TestWireUnknownCondIsNoPrecondition(t *testing.T) {
	g := NewWithT(t)
	n, base := startNode(t, nil, nil)
	conn, err := wire.Dial(context.Background(), n.Addr())
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = conn.Close() }()
	g.Expect(status(t, "PUT", keyURL(base, "k"), "v1", nil)).To(Equal(204))
	w, err := conn.Do(context.Background(), &wire.Request{Op: wire.OpPut, Key: "k", Value: []byte("v2"),
		Cond: kv.Precondition{Kind: 9, Revision: 999}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(w.Status).To(Equal(204), string(w.Body))
	g.Expect(do(t, "GET", keyURL(base, "k"), "", nil).body).To(Equal("v2"))
}

// TestListShardsAreReadInOrder: in ?shards=, a shard not hosted here named before a
// malformed number is reported (421), a malformed number before it is (400).
func TestListShardsAreReadInOrder(t *testing.T) {
	g := NewWithT(t)
	_, base := startNode(t, nil, nil) // hosts shards 0..7
	for _, tc := range []struct {
		shards string
		code   int
		msg    string
	}{
		{"99", 421, "shard 99 is not hosted"},
		{"99,x", 421, "shard 99 is not hosted"},
		{"x,99", 400, "comma-separated"},
		{"1,x", 400, "comma-separated"},
		{"1,2", 200, ""},
	} {
		r := do(t, "GET", base+"/store?shards="+tc.shards, "", nil)
		g.Expect(r.code).To(Equal(tc.code), "shards=%s: %s", tc.shards, r.body)
		if tc.code != 200 {
			var body httpx.ErrorBody
			g.Expect(json.Unmarshal([]byte(r.body), &body)).To(Succeed())
			g.Expect(body.Error).To(ContainSubstring(tc.msg), "shards=%s", tc.shards)
		}
	}
}

func TestReservedKeysAreOutOfTheKVAPIsReach(t *testing.T) {
	g := NewWithT(t)
	n, base := startNode(t, nil, nil)
	// The graph store writes its keys inside the node, never through the KV API.
	reserved := "\x00g/social/v/{social/1}"
	_, err := n.write(context.Background(), engine.Op{Kind: engine.OpPut, Key: []byte(reserved), Value: []byte("v")})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(do(t, "PUT", base+"/store/a", "1", nil).code).To(Equal(204))

	r := do(t, "GET", base+"/store", "", nil)
	g.Expect(r.code).To(Equal(200))
	var page httpx.ListPage
	g.Expect(json.Unmarshal([]byte(r.body), &page)).To(Succeed())
	g.Expect(page.Keys).To(Equal([]string{"a"}), "a listing skips the reserved namespace")

	for _, method := range []string{"GET", "PUT", "DELETE"} {
		r := do(t, method, base+"/store/"+url.PathEscape(reserved), "x", nil)
		g.Expect(r.code).To(Equal(400), "%s of a reserved key", method)
		g.Expect(r.body).To(ContainSubstring("reserved for Torua's graph store"))
	}
	g.Expect(do(t, "GET", base+"/store?prefix=%00g", "", nil).code).To(Equal(400))
}
