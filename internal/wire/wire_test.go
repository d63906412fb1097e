package wire

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/internal/kv"
)

// echo answers every request with its fields: status 200, revision = request revision + 1,
// body = op|flags|cond|key|value.
func echo(_ context.Context, req *Request) Response {
	body := fmt.Sprintf("%d|%d|%d|%s|%s", req.Op, req.Flags, req.Cond.Kind, req.Key, req.Value)
	return Response{Status: http.StatusOK, Revision: req.Cond.Revision + 1, Body: []byte(body)}
}

// serve starts a shared listener on loopback: HTTP answers "http" to everything, the wire
// protocol goes to a Server with handler h.
func serve(t *testing.T, h Handler, o ServerOptions) (addr string, srv *Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv = NewServer(h, o)
	l := NewListener(ln, srv, 5*time.Second)
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "http")
	})}
	go func() { _ = hs.Serve(l) }()
	t.Cleanup(func() {
		_ = hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return ln.Addr().String(), srv
}

func dial(t *testing.T, addr string) *Conn {
	t.Helper()
	c, err := Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRoundTripKeepsEveryField(t *testing.T) {
	g := NewWithT(t)
	addr, _ := serve(t, echo, ServerOptions{})
	c := dial(t, addr)
	for _, req := range []Request{
		{Op: OpGet, Key: "a"},
		{Op: OpGet, Flags: FlagStale, Key: "stale/key"},
		{Op: OpPut, Cond: kv.Precondition{Kind: kv.CondRevision, Revision: 41}, Key: "ключ", Value: []byte("value\x00with nul")},
		{Op: OpPut, Cond: kv.Precondition{Kind: kv.CondAbsent}, Key: "k", Value: []byte{}},
		{Op: OpDelete, Cond: kv.Precondition{Kind: kv.CondExists}, Key: "gone"},
		{Op: OpGraphReads, Key: "social", Value: []byte{1, 2, 3}},
	} {
		resp, err := c.Do(context.Background(), &req)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(resp.Status).To(Equal(http.StatusOK))
		g.Expect(resp.Revision).To(Equal(req.Cond.Revision + 1))
		g.Expect(string(resp.Body)).To(Equal(fmt.Sprintf("%d|%d|%d|%s|%s", req.Op, req.Flags, req.Cond.Kind, req.Key, req.Value)))
	}
}

func TestConcurrentRequestsGetTheirOwnAnswers(t *testing.T) {
	// 64 goroutines share one connection; handlers run at once and answer in any order.
	addr, _ := serve(t, func(ctx context.Context, req *Request) Response {
		return Response{Status: http.StatusOK, Body: []byte("answer to " + req.Key)}
	}, ServerOptions{})
	c := dial(t, addr)
	var wg sync.WaitGroup
	errs := make(chan error, 64*50)
	for w := range 64 {
		wg.Go(func() {
			for i := range 50 {
				key := "w" + strconv.Itoa(w) + "/" + strconv.Itoa(i)
				resp, err := c.Do(context.Background(), &Request{Op: OpGet, Key: key})
				if err == nil && string(resp.Body) != "answer to "+key {
					err = fmt.Errorf("request %s got %q", key, resp.Body)
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestHTTPSharesThePort(t *testing.T) {
	g := NewWithT(t)
	addr, _ := serve(t, echo, ServerOptions{})
	resp, err := http.Get("http://" + addr + "/anything")
	g.Expect(err).NotTo(HaveOccurred())
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	g.Expect(string(body)).To(Equal("http"))
	r, err := dial(t, addr).Do(context.Background(), &Request{Op: OpGet, Key: "k"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(r.Status).To(Equal(http.StatusOK))
}

func TestTooLargeRequestIsAnswered413AndTheConnectionGoesOn(t *testing.T) {
	g := NewWithT(t)
	addr, _ := serve(t, echo, ServerOptions{MaxValueSize: 1 << 10})
	c := dial(t, addr)
	resp, err := c.Do(context.Background(), &Request{Op: OpPut, Key: "big", Value: make([]byte, 200<<10)})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.Status).To(Equal(http.StatusRequestEntityTooLarge))
	g.Expect(string(resp.Body)).To(ContainSubstring(`"error":"value too large`))
	resp, err = c.Do(context.Background(), &Request{Op: OpPut, Key: "small", Value: []byte("v")})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.Status).To(Equal(http.StatusOK))
}

func TestMalformedFrameClosesTheConnection(t *testing.T) {
	g := NewWithT(t)
	addr, _ := serve(t, echo, ServerOptions{})
	nc, err := net.Dial("tcp", addr)
	g.Expect(err).NotTo(HaveOccurred())
	defer nc.Close()
	// A frame shorter than a request header.
	frame := binary.BigEndian.AppendUint32([]byte(Preface), 3)
	_, err = nc.Write(append(frame, 1, 2, 3))
	g.Expect(err).NotTo(HaveOccurred())
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	// The server closes it: the read ends (with a reset when the frame's bytes were left
	// unread), not with the deadline.
	_, err = io.ReadAll(nc)
	if err != nil {
		g.Expect(err).To(MatchError(syscall.ECONNRESET))
	}
}

func TestUnknownOpIsABadRequest(t *testing.T) {
	g := NewWithT(t)
	addr, _ := serve(t, echo, ServerOptions{})
	nc, err := net.Dial("tcp", addr)
	g.Expect(err).NotTo(HaveOccurred())
	defer nc.Close()
	b := appendRequest([]byte(Preface), 7, &Request{Op: 9, Key: "k"})
	_, err = nc.Write(b)
	g.Expect(err).NotTo(HaveOccurred())
	r := bufio.NewReader(nc)
	_, err = r.Discard(len(Preface))
	g.Expect(err).NotTo(HaveOccurred())
	id, resp, err := readResponse(r)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(id).To(Equal(uint32(7)))
	g.Expect(resp.Status).To(Equal(http.StatusBadRequest))
	g.Expect(string(resp.Body)).To(ContainSubstring("unknown op 9"))
}

// An answer over the frame's limit would make the client close the connection, failing
// every request on it: the server answers 413 instead, and the connection goes on. Over a
// connection and in this process alike.
func TestTooLargeAnswerIsAnswered413(t *testing.T) {
	g := NewWithT(t)
	big := make([]byte, MaxBody+1)
	addr, srv := serve(t, func(_ context.Context, req *Request) Response {
		if req.Key == "big" {
			return Response{Status: http.StatusOK, Body: big}
		}
		return Response{Status: http.StatusOK, Body: big[:MaxBody]}
	}, ServerOptions{})
	c := dial(t, addr)
	for _, do := range []func(*Request) (Response, error){
		func(req *Request) (Response, error) { return c.Do(context.Background(), req) },
		func(req *Request) (Response, error) { return srv.Do(context.Background(), req) },
	} {
		resp, err := do(&Request{Op: OpGraphReads, Key: "big"})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(resp.Status).To(Equal(http.StatusRequestEntityTooLarge))
		g.Expect(string(resp.Body)).To(ContainSubstring("over the wire protocol's limit"))
		resp, err = do(&Request{Op: OpGraphReads, Key: "fits"})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(resp.Status).To(Equal(http.StatusOK))
		g.Expect(resp.Body).To(HaveLen(MaxBody))
	}
}

// Unsupported tells a server's refusal of an op it does not know (a server of an earlier
// version) from any other answer.
func TestUnsupportedTellsAnUnknownOp(t *testing.T) {
	g := NewWithT(t)
	req := &Request{Op: 9, Key: "k"}
	resp, err := NewServer(echo, ServerOptions{}).Do(context.Background(), req)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(Unsupported(req, resp)).To(BeTrue(), "%d %s", resp.Status, resp.Body)
	g.Expect(Unsupported(&Request{Op: 90}, resp)).To(BeFalse(), "another op")
	g.Expect(Unsupported(req, Response{Status: http.StatusBadRequest, Body: ErrorBody("bad key")})).To(BeFalse())
	g.Expect(Unsupported(req, Response{Status: http.StatusOK, Body: []byte(`unknown op 9"`)})).To(BeFalse())
}

func TestShutdownAnswersWhatItReadAndRefusesTheRest(t *testing.T) {
	g := NewWithT(t)
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	addr, srv := serve(t, func(_ context.Context, req *Request) Response {
		if req.Key == "slow" {
			started <- struct{}{}
			<-release
		}
		return Response{Status: http.StatusNoContent}
	}, ServerOptions{})
	c := dial(t, addr)
	slow := make(chan error, 1)
	go func() {
		resp, err := c.Do(context.Background(), &Request{Op: OpPut, Key: "slow"})
		if err == nil && resp.Status != http.StatusNoContent {
			err = fmt.Errorf("status %d", resp.Status)
		}
		slow <- err
	}()
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Shutdown(context.Background()) }()
	// The GOAWAY arrives: the connection takes no new requests, and says they were not sent.
	g.Eventually(c.Usable).WithTimeout(5 * time.Second).Should(BeFalse())
	_, err := c.Do(context.Background(), &Request{Op: OpPut, Key: "late"})
	g.Expect(err).To(MatchError(ErrNotSent))
	g.Consistently(stopped).WithTimeout(100 * time.Millisecond).ShouldNot(Receive())
	close(release)
	g.Eventually(slow).WithTimeout(5 * time.Second).Should(Receive(BeNil()))
	g.Eventually(stopped).WithTimeout(5 * time.Second).Should(Receive(BeNil()))
}

func TestLostConnectionFailsInFlightRequestsAndThePoolRedials(t *testing.T) {
	g := NewWithT(t)
	// A server that reads the preface and one request, then drops the connection; the
	// second connection gets a real server.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	g.Expect(err).NotTo(HaveOccurred())
	defer ln.Close()
	srv := NewServer(echo, ServerOptions{})
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		r := bufio.NewReader(nc)
		_, _ = r.Discard(len(Preface))
		_, _ = nc.Write([]byte(Preface))
		_, _, _ = readRequest(r, MaxFrame)
		_ = nc.Close()
		nc, err = ln.Accept()
		if err != nil {
			return
		}
		r = bufio.NewReader(nc)
		_, _ = r.Discard(len(Preface))
		srv.ServeConn(nc, r)
	}()
	defer func() { _ = srv.Shutdown(context.Background()) }()
	p := &Pool{}
	defer p.Close()
	_, err = p.Do(context.Background(), ln.Addr().String(), &Request{Op: OpPut, Key: "k"})
	g.Expect(err).To(MatchError(ErrConnLost))
	g.Eventually(func() error {
		_, err := p.Do(context.Background(), ln.Addr().String(), &Request{Op: OpGet, Key: "k"})
		return err
	}).WithTimeout(5 * time.Second).Should(Succeed())
}

func TestDialToAnHTTPServerSaysSo(t *testing.T) {
	g := NewWithT(t)
	hs := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	g.Expect(err).NotTo(HaveOccurred())
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = Dial(ctx, ln.Addr().String())
	g.Expect(err).To(MatchError(ContainSubstring(`does not speak Torua's wire protocol: it answered "HTTP/1.1 400"`)))
}

func TestDialRefusedIsADialError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	_, err = (&Pool{}).Do(context.Background(), addr, &Request{Op: OpGet, Key: "k"})
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		t.Fatalf("err = %v, want a dial error", err)
	}
}

func TestContextEndsTheWait(t *testing.T) {
	g := NewWithT(t)
	block := make(chan struct{})
	defer close(block)
	addr, _ := serve(t, func(context.Context, *Request) Response {
		<-block
		return Response{Status: http.StatusOK}
	}, ServerOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := dial(t, addr).Do(ctx, &Request{Op: OpGet, Key: "k"})
	g.Expect(err).To(MatchError(context.DeadlineExceeded))
}

func FuzzReadRequest(f *testing.F) {
	f.Add(appendRequest(nil, 1, &Request{Op: OpPut, Key: "k", Value: []byte("v")}))
	f.Add([]byte{0, 0, 0, 17, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		br := bytesReader(b)
		id, req, err := readRequest(bufio.NewReader(&br), 1<<20)
		if err != nil {
			return
		}
		// Whatever decodes encodes back to the same bytes.
		again := appendRequest(nil, id, &req)
		if string(again) != string(b[:len(again)]) {
			t.Fatalf("re-encoded %x, read %x", again, b[:len(again)])
		}
	})
}

type bytesReader []byte

func (b *bytesReader) Read(p []byte) (int, error) {
	if len(*b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, *b)
	*b = (*b)[n:]
	return n, nil
}

func TestPoolRetainClosesIdleConnectionsOnly(t *testing.T) {
	g := NewWithT(t)
	block := make(chan struct{})
	addrA, _ := serve(t, echo, ServerOptions{})
	addrB, _ := serve(t, func(context.Context, *Request) Response {
		<-block
		return Response{Status: http.StatusNoContent}
	}, ServerOptions{})
	p := &Pool{}
	defer p.Close()
	_, err := p.Do(context.Background(), addrA, &Request{Op: OpGet, Key: "k"})
	g.Expect(err).NotTo(HaveOccurred())
	busy := make(chan error, 1)
	go func() {
		_, err := p.Do(context.Background(), addrB, &Request{Op: OpPut, Key: "k"})
		busy <- err
	}()
	// B's request is in flight.
	g.Eventually(func() int {
		c := slotConn(p, addrB)
		if c == nil {
			return 0
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.pending)
	}).Should(Equal(1))
	connA := slotConn(p, addrA)
	g.Expect(connA).NotTo(BeNil())

	// Neither address is kept: A's idle connection goes, B's busy one stays until its request ends.
	p.Retain(map[string]bool{})
	g.Expect(connA.Usable()).To(BeFalse())
	g.Expect(slotConn(p, addrA)).To(BeNil())
	g.Expect(slotConn(p, addrB)).NotTo(BeNil())
	close(block)
	g.Eventually(busy).Should(Receive(BeNil()))
	p.Retain(map[string]bool{})
	g.Expect(slotConn(p, addrB)).To(BeNil())
}

// slotConn returns the pool's connection to addr, or nil.
func slotConn(p *Pool, addr string) *Conn {
	p.mu.Lock()
	s := p.slots[addr]
	p.mu.Unlock()
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c
}

func TestConnectionRetiresBeforeIDsWrapAround(t *testing.T) {
	g := NewWithT(t)
	defer func(old uint32) { maxRequestID = old }(maxRequestID)
	maxRequestID = 3
	addr, _ := serve(t, echo, ServerOptions{})
	p := &Pool{}
	defer p.Close()
	var conns []*Conn
	for i := range 7 {
		resp, err := p.Do(context.Background(), addr, &Request{Op: OpGet, Key: strconv.Itoa(i)})
		g.Expect(err).NotTo(HaveOccurred(), "request %d", i)
		g.Expect(resp.Status).To(Equal(http.StatusOK))
		if c := slotConn(p, addr); len(conns) == 0 || conns[len(conns)-1] != c {
			conns = append(conns, c)
		}
	}
	// Ids 1..3 on each connection: three connections for seven requests, the used-up ones closed.
	g.Expect(conns).To(HaveLen(3))
	for _, c := range conns[:2] {
		g.Eventually(func() error {
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.err
		}).Should(MatchError(ContainSubstring("used up its request ids")))
	}
}

// flakyListener fails its first Accepts with an error that is not a closed listener.
type flakyListener struct {
	net.Listener
	mu    sync.Mutex
	fails int
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.fails > 0 {
		l.fails--
		l.mu.Unlock()
		return nil, errors.New("accept: too many open files")
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

func TestListenerOutlivesAcceptErrors(t *testing.T) {
	g := NewWithT(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	g.Expect(err).NotTo(HaveOccurred())
	l := NewListener(&flakyListener{Listener: ln, fails: 3}, NewServer(echo, ServerOptions{}), 5*time.Second)
	defer l.Close()
	c := dial(t, ln.Addr().String())
	resp, err := c.Do(context.Background(), &Request{Op: OpGet, Key: "k"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.Status).To(Equal(http.StatusOK))
}

// A server of the pool's own process answers a request handed to it exactly as over a
// connection: the same fields, the same 400, 413 and 500 answers, the same metrics, and no
// connection is dialled (nothing listens on its address).
func TestPoolHandsRequestsToLocalServers(t *testing.T) {
	g := NewWithT(t)
	var mu sync.Mutex
	observed := map[Op][]int{}
	srv := NewServer(func(ctx context.Context, req *Request) Response {
		if req.Key == "panic" {
			panic("boom")
		}
		return echo(ctx, req)
	}, ServerOptions{MaxValueSize: 100, Observe: func(op Op, status int, _ time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		observed[op] = append(observed[op], status)
	}})
	const addr = "127.0.0.1:1" // nothing listens here: a dial would fail
	p := &Pool{Local: map[string]*Server{addr: srv}}
	defer p.Close()

	resp, err := p.Do(context.Background(), addr, &Request{Op: OpPut, Flags: FlagStale, Cond: kv.Precondition{Kind: kv.CondRevision, Revision: 41}, Key: "k", Value: []byte("v")})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp).To(Equal(Response{Status: http.StatusOK, Revision: 42, Body: []byte(fmt.Sprintf("%d|%d|%d|k|v", OpPut, FlagStale, kv.CondRevision))}))

	resp, err = p.Do(context.Background(), addr, &Request{Op: OpPut, Key: "k", Value: make([]byte, 100+1<<16)})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.Status).To(Equal(http.StatusRequestEntityTooLarge))
	g.Expect(string(resp.Body)).To(ContainSubstring("over the limit of"))

	resp, err = p.Do(context.Background(), addr, &Request{Op: OpGet, Key: "panic"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp).To(Equal(Response{Status: http.StatusInternalServerError, Body: ErrorBody("internal error")}))

	// A request the client side refuses (as a connection's Do does) never reaches the server;
	// the server itself answers one it is handed directly 400.
	_, err = p.Do(context.Background(), addr, &Request{Op: 9, Key: "k"})
	g.Expect(err).To(MatchError(ContainSubstring("unknown op 9")))
	resp, err = srv.Do(context.Background(), &Request{Op: 9, Key: "k"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.Status).To(Equal(http.StatusBadRequest))

	mu.Lock()
	defer mu.Unlock()
	g.Expect(observed).To(Equal(map[Op][]int{OpPut: {200, 413}, OpGet: {500}, 9: {400}}))
	p.mu.Lock()
	defer p.mu.Unlock()
	g.Expect(p.slots).To(BeEmpty(), "no connection was dialled")
}

// Shutdown waits for the requests a server is handling in its own process and refuses new
// ones as not sent, so that a router may retry them elsewhere.
func TestLocalRequestsAndShutdown(t *testing.T) {
	g := NewWithT(t)
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	srv := NewServer(func(ctx context.Context, req *Request) Response {
		if req.Key == "slow" {
			started <- struct{}{}
			<-release
		}
		return Response{Status: http.StatusNoContent}
	}, ServerOptions{})
	slow := make(chan Response, 1)
	go func() {
		resp, _ := srv.Do(context.Background(), &Request{Op: OpPut, Key: "slow"})
		slow <- resp
	}()
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Shutdown(context.Background()) }()
	g.Eventually(func() error {
		_, err := srv.Do(context.Background(), &Request{Op: OpPut, Key: "late"})
		return err
	}).WithTimeout(5 * time.Second).Should(MatchError(ErrNotSent))
	g.Consistently(stopped).WithTimeout(100 * time.Millisecond).ShouldNot(Receive())
	close(release)
	g.Eventually(slow).WithTimeout(5 * time.Second).Should(Receive(Equal(Response{Status: http.StatusNoContent})))
	g.Eventually(stopped).WithTimeout(5 * time.Second).Should(Receive(BeNil()))
}

// A request handed to a local server ends with its context, as one on a connection does.
func TestLocalRequestEndsWithItsContext(t *testing.T) {
	g := NewWithT(t)
	srv := NewServer(func(ctx context.Context, _ *Request) Response {
		<-ctx.Done()
		return Response{Status: http.StatusServiceUnavailable}
	}, ServerOptions{})
	p := &Pool{Local: map[string]*Server{"node": srv}}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := p.Do(ctx, "node", &Request{Op: OpGet, Key: "k"})
	g.Expect(err).To(MatchError(context.DeadlineExceeded))
}

// TestRequestFrameBytes pins a request frame byte for byte (the format of the package doc):
// the precondition's kind and revision are the cond byte and the revision field.
func TestRequestFrameBytes(t *testing.T) {
	g := NewWithT(t)
	req := Request{Op: OpDelete, Flags: FlagStale, Cond: kv.Precondition{Kind: kv.CondRevision, Revision: 0x0102030405060708}, Key: "k", Value: []byte("v")}
	want := []byte{
		0, 0, 0, 19, // n
		0, 0, 0, 9, // id
		3, 1, 1, // op, flags, cond
		1, 2, 3, 4, 5, 6, 7, 8, // revision
		0, 1, 'k', // len(key), key
		'v', // value
	}
	g.Expect(appendRequest(nil, 9, &req)).To(Equal(want))
	id, got, err := readRequest(bufio.NewReader(bytes.NewReader(want)), MaxFrame)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(id).To(Equal(uint32(9)))
	g.Expect(got).To(Equal(req))
	for kind, b := range map[kv.CondKind]byte{kv.CondNone: 0, kv.CondRevision: 1, kv.CondExists: 2, kv.CondAbsent: 3} {
		g.Expect(appendRequest(nil, 1, &Request{Op: OpPut, Cond: kv.Precondition{Kind: kind}})[10]).To(Equal(b), "cond byte of kind %d", kind)
	}
}
