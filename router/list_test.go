package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/internal/nodeapi"
	"github.com/torua/torua/shardmap"
)

// TestListingThroughStandIns drives the listing and /cluster through nodeapi against a
// stand-in node on loopback (httptest): a real node cannot be made to answer a listing
// with garbage or with 429 on demand. One node, one shard: the per-node request fails, and
// the shard is listed on its own through forwardTo.
func TestListingThroughStandIns(t *testing.T) {
	var answer atomic.Pointer[func(http.ResponseWriter)]
	setAnswer := func(f func(http.ResponseWriter)) { answer.Store(&f) }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { (*answer.Load())(w) }))
	t.Cleanup(srv.Close)
	m, err := shardmap.Place(nil, []shardmap.Node{{ID: "a", API: strings.TrimPrefix(srv.URL, "http://"), Raft: "a:2",
		State: shardmap.NodeActive}}, shardmap.PlaceConfig{Cluster: "t", Shards: 1, ReplicationFactor: 1})
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	rt, err := New(Config{Listen: "127.0.0.1:0", Source: shardmap.NewStatic(m), RetryBudget: 200 * time.Millisecond,
		PingInterval: -1})
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	NewWithT(t).Expect(rt.Start(context.Background())).To(Succeed())
	t.Cleanup(func() { _ = rt.Shutdown(context.Background()) })
	base := "http://" + rt.Addr()
	NewWithT(t).Eventually(func() int { return get(t, base+"/readyz").code }).WithTimeout(10 * time.Second).Should(Equal(200))

	for _, tc := range []struct {
		name   string
		answer func(http.ResponseWriter)
		code   int
		body   string
	}{
		{"a page", func(w http.ResponseWriter) { httpx.WriteJSON(w, 200, httpx.ListPage{Keys: []string{"x", "y"}}) },
			200, `{"keys":["x","y"]}`},
		{"an answer that does not decode is a bad gateway", func(w http.ResponseWriter) { _, _ = w.Write([]byte(`{"keys":`)) },
			502, "listing shard 0: GET "},
		{"another status is passed on as unavailable", func(w http.ResponseWriter) {
			httpx.WriteJSON(w, http.StatusTooManyRequests, httpx.ErrorBody{Error: "too many"})
		}, 503, "listing shard 0 answered 429"},
		{"a 421 without a leader is retried until the budget ends", func(w http.ResponseWriter) {
			httpx.WriteJSON(w, http.StatusMisdirectedRequest, httpx.ErrorBody{Error: "no leader", MapVersion: 1})
		}, 503, "no replica answered as its leader"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			setAnswer(tc.answer)
			r := get(t, base+"/data?limit=5")
			g.Expect(r.code).To(Equal(tc.code), r.body)
			g.Expect(r.body).To(ContainSubstring(tc.body))
		})
	}

	t.Run("cluster", func(t *testing.T) {
		g := NewWithT(t)
		setAnswer(func(w http.ResponseWriter) {
			httpx.WriteJSON(w, http.StatusServiceUnavailable, httpx.ErrorBody{Error: "closing"})
		})
		var info struct {
			Nodes []struct {
				Reachable bool
				Error     string
			}
		}
		g.Expect(json.Unmarshal([]byte(get(t, base+"/cluster").body), &info)).To(Succeed())
		g.Expect(info.Nodes).To(HaveLen(1))
		g.Expect(info.Nodes[0].Reachable).To(BeFalse())
		g.Expect(info.Nodes[0].Error).To(Equal("unavailable: node a: closing"))
	})
}

// TestNodeError checks the router's reading of each kind of nodeapi failure.
func TestNodeError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	_ = ln.Close()
	_, refusedErr := nodeapi.New(nodeapi.Config{}).Status(context.Background(), closed)
	n := shardmap.Node{ID: "a", API: "10.0.0.1:7070"}
	for _, tc := range []struct {
		err  error
		is   error
		text string
	}{
		{refusedErr, httpx.ErrUnavailable, "node a (10.0.0.1:7070) is unreachable"},
		{&nodeapi.Error{StatusCode: 421, Body: httpx.ErrorBody{Error: "not mine"}}, httpx.ErrUnavailable, "node a: not mine"},
		{&nodeapi.Error{StatusCode: 503, Body: httpx.ErrorBody{Error: "closing"}}, httpx.ErrUnavailable, "node a: closing"},
		{&nodeapi.Error{StatusCode: 500, Body: httpx.ErrorBody{Error: "internal error"}}, httpx.ErrBadGateway, "node a answered 500: internal error"},
		{fmt.Errorf("GET x: %w: eof", nodeapi.ErrBadAnswer), httpx.ErrBadGateway, "node a: GET x: unusable answer: eof"},
		{context.DeadlineExceeded, httpx.ErrBadGateway, "node a (10.0.0.1:7070): context deadline exceeded"},
	} {
		err := nodeError(n, tc.err)
		if !errors.Is(err, tc.is) || !strings.HasSuffix(err.Error(), tc.text) {
			t.Errorf("nodeError(%v) = %v, want %v ending %q", tc.err, err, tc.is, tc.text)
		}
	}
}

// TestHTTPReply checks how forwardTo sees a nodeapi call's outcome.
func TestHTTPReply(t *testing.T) {
	g := NewWithT(t)
	rep, err := httpReply(nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(rep.status).To(Equal(200))
	rep, err = httpReply(fmt.Errorf("x: %w", nodeapi.ErrBadAnswer))
	g.Expect(err).NotTo(HaveOccurred(), "the node answered: not sent again")
	g.Expect(rep.status).To(Equal(200))
	rep, err = httpReply(&nodeapi.Error{StatusCode: 421, Body: httpx.ErrorBody{Error: "e", Leader: "b", MapVersion: 4}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(rep.status).To(Equal(421))
	var body httpx.ErrorBody
	g.Expect(json.Unmarshal(rep.body, &body)).To(Succeed())
	g.Expect(body).To(Equal(httpx.ErrorBody{Error: "e", Leader: "b", MapVersion: 4}))
	_, err = httpReply(context.Canceled)
	g.Expect(err).To(MatchError(context.Canceled))
}
