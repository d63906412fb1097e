package benchstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/internal/local"
	"github.com/torua/torua/internal/local/localtest"
	"github.com/torua/torua/router/client"
	"github.com/torua/torua/router/client/benchstore"
)

// TestStoreAgainstACluster: the store's puts and gets reach a real one-node cluster (nodes
// and router in this process, on loopback), and a key never written reads as absent.
func TestStoreAgainstACluster(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := localtest.Start(t, local.Config{Nodes: 1, Shards: 2})
	cl, err := client.New(c.RouterURL(), client.WithTimeout(10*time.Second))
	g.Expect(err).NotTo(HaveOccurred())
	defer cl.Close()
	s := benchstore.New(cl)

	g.Expect(s.Put(ctx, "bench/a", []byte("1"))).To(Succeed())
	for _, stale := range []bool{false, true} {
		found, err := s.Get(ctx, "bench/a", stale)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(found).To(BeTrue(), "stale %v", stale)
		found, err = s.Get(ctx, "bench/never-written", stale)
		g.Expect(err).NotTo(HaveOccurred(), "absent is not a failure")
		g.Expect(found).To(BeFalse())
	}
	// An invalid key is refused by the router: a failure of its own kind.
	err = s.Put(ctx, string(make([]byte, 2048)), []byte("x"))
	g.Expect(err).To(HaveOccurred())
	g.Expect(s.ErrorKind(err)).To(Equal("http_400"))
	g.Expect(s.Transient(err)).To(BeFalse())
}

// TestStoreAgainstNoRouter: with nothing listening, every operation fails as unreachable,
// and a retry is harmless.
func TestStoreAgainstNoRouter(t *testing.T) {
	g := NewWithT(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	g.Expect(err).NotTo(HaveOccurred())
	addr := ln.Addr().String()
	g.Expect(ln.Close()).To(Succeed())
	cl, err := client.New("http://"+addr, client.WithTimeout(2*time.Second))
	g.Expect(err).NotTo(HaveOccurred())
	defer cl.Close()
	s := benchstore.New(cl)
	err = s.Put(context.Background(), "k", []byte("v"))
	g.Expect(s.ErrorKind(err)).To(Equal("unreachable"))
	g.Expect(s.Transient(err)).To(BeTrue())
}

// timeoutErr is a network error that timed out, as net.Error reports one.
type timeoutErr struct{}

func (timeoutErr) Error() string { return "i/o timeout" }
func (timeoutErr) Timeout() bool { return true }

// TestErrorKind names every kind of failure, from the router's answers (client.Error values
// as the client returns them) to the client's own.
func TestErrorKind(t *testing.T) {
	for err, want := range map[error]string{
		&client.Error{Status: 503, Message: "no leader"}:         "unavailable",
		&client.Error{Status: 404, Message: "not found"}:         "not_found",
		&client.Error{Status: 412, Message: "condition failed"}:  "condition_failed",
		&client.Error{Status: 429, Message: "too many requests"}: "http_429",
		fmt.Errorf("put: %w", &client.Error{Status: 500}):        "http_500",
		fmt.Errorf("get: %w", context.DeadlineExceeded):          "timeout",
		fmt.Errorf("get: %w", timeoutErr{}):                      "timeout",
		errors.New("connection reset by peer"):                   "transport",
	} {
		g := NewWithT(t)
		g.Expect(benchstore.Store{}.ErrorKind(err)).To(Equal(want), "%v", err)
	}
}
