package wire

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// TestPingIsAnsweredByTheReader: a ping is answered while every handler is busy, and in
// process (Server.Do) without reaching the handler.
func TestPingIsAnsweredByTheReader(t *testing.T) {
	g := NewWithT(t)
	release := make(chan struct{})
	var handled atomic.Int32
	addr, srv := serve(t, func(ctx context.Context, req *Request) Response {
		handled.Add(1)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return Response{Status: http.StatusOK}
	}, ServerOptions{})
	t.Cleanup(func() { close(release) })
	c := dial(t, addr)
	go func() { _, _ = c.Do(context.Background(), &Request{Op: OpGet, Key: "k"}) }()
	g.Eventually(handled.Load).Should(BeEquivalentTo(1), "a request keeps the handler busy")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Do(ctx, &Request{Op: OpPing})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.Status).To(Equal(http.StatusOK))
	resp, err = srv.Do(ctx, &Request{Op: OpPing})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.Status).To(Equal(http.StatusOK))
	g.Expect(handled.Load()).To(BeEquivalentTo(1), "pings reach no handler")
}

// switchable accepts connections on a loopback port and either serves them with a Server or,
// while hung, sends the preface and then reads and answers nothing: a process that is
// stopped (SIGSTOP) after the kernel accepted the connection looks like that.
type switchable struct {
	ln   net.Listener
	srv  *Server
	hung atomic.Bool
}

func newSwitchable(t *testing.T) *switchable {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &switchable{ln: ln, srv: NewServer(echo, ServerOptions{})}
	t.Cleanup(func() {
		_ = ln.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.srv.Shutdown(ctx)
	})
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go s.handle(nc)
		}
	}()
	return s
}

func (s *switchable) handle(nc net.Conn) {
	r := bufio.NewReader(nc)
	if _, err := r.Discard(len(Preface)); err != nil {
		_ = nc.Close()
		return
	}
	if s.hung.Load() {
		_, _ = nc.Write([]byte(Preface))
		_, _ = io.Copy(io.Discard, r)
		_ = nc.Close()
		return
	}
	s.srv.ServeConn(nc, r)
}

// TestPoolTakesAHungServerDownAndBack: with pings, a request in flight to a server that
// stops answering fails within the ping timeout (the outcome unknown), later requests fail at
// once as not sent, and once the server answers again the pool uses it again, unasked.
func TestPoolTakesAHungServerDownAndBack(t *testing.T) {
	g := NewWithT(t)
	s := newSwitchable(t)
	addr := s.ln.Addr().String()
	p := &Pool{PingInterval: 20 * time.Millisecond, PingTimeout: 200 * time.Millisecond}
	t.Cleanup(p.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := p.Do(ctx, addr, &Request{Op: OpGet, Key: "a"})
	g.Expect(err).NotTo(HaveOccurred())

	s.hung.Store(true)
	// The pool's connection is served by the real server: cut it, so that the next one
	// reaches the hung one.
	slotConn(p, addr).stop(io.ErrUnexpectedEOF)
	start := time.Now()
	_, err = p.Do(ctx, addr, &Request{Op: OpPut, Key: "b", Value: []byte("v")})
	g.Expect(err).To(MatchError(ErrConnLost), "a write in flight to a hung server has an unknown outcome")
	g.Expect(err).To(MatchError(ErrUnresponsive))
	t.Logf("a request to the hung server failed after %s", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	_, err = p.Do(ctx, addr, &Request{Op: OpGet, Key: "c"})
	g.Expect(err).To(MatchError(ErrNotSent), "requests to a server that is down are refused at once")
	g.Expect(err).To(MatchError(ErrUnresponsive))
	g.Expect(time.Since(start)).To(BeNumerically("<", 100*time.Millisecond))

	s.hung.Store(false)
	g.Eventually(func() error {
		_, err := p.Do(ctx, addr, &Request{Op: OpGet, Key: "d"})
		return err
	}).WithTimeout(10*time.Second).WithPolling(10*time.Millisecond).Should(Succeed(), "the probe found the server answering")
}

// TestPoolTakesARefusingServerDownAndBack: with pings, a server that refuses connections is
// down at once (no dial per request), and up again once it listens.
func TestPoolTakesARefusingServerDownAndBack(t *testing.T) {
	g := NewWithT(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	g.Expect(err).NotTo(HaveOccurred())
	addr := ln.Addr().String()
	g.Expect(ln.Close()).To(Succeed())
	p := &Pool{PingInterval: 20 * time.Millisecond}
	t.Cleanup(p.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = p.Do(ctx, addr, &Request{Op: OpGet, Key: "a"})
	g.Expect(err).To(HaveOccurred())
	g.Expect(err).NotTo(MatchError(ErrUnresponsive), "the first failure is the dial's own")
	_, err = p.Do(ctx, addr, &Request{Op: OpGet, Key: "a"})
	g.Expect(err).To(MatchError(ErrNotSent))
	g.Expect(err).To(MatchError(ErrUnresponsive))

	ln, err = net.Listen("tcp", addr)
	g.Expect(err).NotTo(HaveOccurred())
	srv := NewServer(echo, ServerOptions{})
	hs := &http.Server{Handler: http.NotFoundHandler()}
	go func() { _ = hs.Serve(NewListener(ln, srv, time.Second)) }()
	t.Cleanup(func() { _ = hs.Close() })
	g.Eventually(func() error {
		_, err := p.Do(ctx, addr, &Request{Op: OpGet, Key: "b"})
		return err
	}).WithTimeout(10 * time.Second).WithPolling(10 * time.Millisecond).Should(Succeed())
}
