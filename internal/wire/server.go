package wire

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/torua/torua/internal/coalesce"
)

// Handler answers one request. ctx ends when the connection closes or the server's
// shutdown deadline passes. It must be safe for concurrent use.
type Handler func(ctx context.Context, req *Request) Response

// maxConnInFlight bounds the requests of one connection being handled at once; the
// connection's reader waits beyond it.
const maxConnInFlight = 1024

// Server serves the wire protocol on connections handed to it (see Listener).
type Server struct {
	handler  Handler
	maxFrame int
	log      *slog.Logger
	observe  func(op Op, status int, d time.Duration)

	mu       sync.RWMutex // shared by requests handed over in this process (Do)
	conns    map[*serverConn]struct{}
	shutdown bool
	wg       sync.WaitGroup // connections, and requests handed over in this process
}

// ServerOptions configures a Server.
type ServerOptions struct {
	// MaxValueSize is the largest value a request may carry; a larger one is answered 413
	// and the connection goes on (default 1 MiB).
	MaxValueSize int
	// Logger receives connection errors (default: discard).
	Logger *slog.Logger
	// Observe, if set, is called after each request with its op, status and duration.
	Observe func(op Op, status int, d time.Duration)
}

// NewServer returns a Server that answers requests with h.
func NewServer(h Handler, o ServerOptions) *Server {
	if o.MaxValueSize <= 0 {
		o.MaxValueSize = 1 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{handler: h, maxFrame: min(MaxFrame, requestHeader+1<<16+o.MaxValueSize),
		log: o.Logger.With("component", "wire"), observe: o.Observe, conns: map[*serverConn]struct{}{}}
}

// ErrorBody is the JSON body of an error response, as the HTTP API's.
func ErrorBody(msg string) []byte {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	return b
}

// ServeConn serves nc, whose preface has been read, until it closes or the server shuts
// down. It returns at once.
func (s *Server) ServeConn(nc net.Conn, r *bufio.Reader) {
	ctx, cancel := context.WithCancel(context.Background())
	c := &serverConn{srv: s, nc: nc, r: r, ctx: ctx, cancel: cancel, sender: coalesce.NewWriter(nc),
		slots: make(chan struct{}, maxConnInFlight), stopped: make(chan struct{})}
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		cancel()
		_ = nc.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	_ = c.sender.Send(func(b []byte) []byte { return append(b, Preface...) })
	go c.serve()
}

// Do answers req in this process, as if it had come on a connection, with the same checks,
// limits and metrics: for a client in the server's own process (`torua local`'s router and
// nodes), which saves each request the system calls and goroutine hand-offs of a loopback
// connection at both ends. Once Shutdown has begun it handles nothing and returns an error
// wrapping ErrNotSent; Shutdown waits for requests it is handling. The handler's context is
// ctx: the caller bounds the request (a shutdown's deadline does not end it).
func (s *Server) Do(ctx context.Context, req *Request) (Response, error) {
	s.mu.RLock()
	if s.shutdown {
		s.mu.RUnlock()
		return Response{}, fmt.Errorf("%w: the server is shutting down", ErrNotSent)
	}
	s.wg.Add(1)
	s.mu.RUnlock()
	defer s.wg.Done()
	start := time.Now()
	var resp Response
	if size := requestHeader + len(req.Key) + len(req.Value); size > s.maxFrame {
		resp = tooLarge(size, s.maxFrame)
	} else {
		resp = s.answer(ctx, req)
	}
	s.observeRequest(req.Op, start, resp)
	return resp, nil
}

// answer is the handler's response to req: 400 for a malformed request, 500 for a panic
// or a response without a valid status.
func (s *Server) answer(ctx context.Context, req *Request) (resp Response) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("Wire request panicked", "op", req.Op.String(), "panic", fmt.Sprint(p))
			resp = Response{Status: http.StatusInternalServerError, Body: ErrorBody("internal error")}
		}
	}()
	if err := checkRequest(req); err != nil {
		return Response{Status: http.StatusBadRequest, Body: ErrorBody(err.Error())}
	}
	if req.Op == OpPing {
		return Response{Status: http.StatusOK}
	}
	resp = s.handler(ctx, req)
	switch {
	case resp.Status <= 0 || resp.Status > 999:
		resp = Response{Status: http.StatusInternalServerError, Body: ErrorBody("internal error")}
	case len(resp.Body) > MaxBody:
		// Sent, it would make the client close the connection, failing every request on it.
		resp = Response{Status: http.StatusRequestEntityTooLarge,
			Body: ErrorBody(fmt.Sprintf("the answer is %d bytes, over the wire protocol's limit of %d", len(resp.Body), MaxBody))}
	}
	return resp
}

// tooLarge answers a request of size bytes (a frame's length) over limit.
func tooLarge(size, limit int) Response {
	return Response{Status: http.StatusRequestEntityTooLarge,
		Body: ErrorBody(fmt.Sprintf("value too large: the request is %d bytes, over the limit of %d", size, limit))}
}

func (s *Server) observeRequest(op Op, start time.Time, resp Response) {
	if s.observe != nil && op != 0 {
		s.observe(op, resp.Status, time.Since(start))
	}
}

// Shutdown stops reading requests on every connection (each gets a GOAWAY naming the last
// request read) and in this process (Do), waits until those are answered or ctx ends, then
// closes the connections.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	conns := make([]*serverConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.drain()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.cancel()
			_ = c.nc.Close()
		}
		<-done
		return ctx.Err()
	}
}

type serverConn struct {
	srv    *Server
	nc     net.Conn
	r      *bufio.Reader
	ctx    context.Context
	cancel context.CancelFunc
	sender *coalesce.Writer

	slots    chan struct{} // one per request being handled
	inflight sync.WaitGroup
	draining atomic.Bool
	stopped  chan struct{}
}

// drain makes the reader stop at its next frame.
func (c *serverConn) drain() {
	c.draining.Store(true)
	_ = c.nc.SetReadDeadline(time.Now())
}

func (c *serverConn) serve() {
	defer c.srv.wg.Done()
	defer func() {
		c.srv.mu.Lock()
		delete(c.srv.conns, c)
		c.srv.mu.Unlock()
	}()
	var lastID uint32
	err := func() error {
		for !c.draining.Load() {
			id, req, err := readRequest(c.r, c.srv.maxFrame)
			var big *errTooLarge
			if errors.As(err, &big) {
				lastID = big.id
				c.respond(big.id, 0, time.Now(), tooLarge(big.size, c.srv.maxFrame))
				continue
			}
			if err != nil {
				return err
			}
			if c.draining.Load() {
				break // read after the GOAWAY point: never handled, the client resends it
			}
			lastID = id
			if req.Op == OpPing {
				// Answered by the reader itself: proof the process runs, whatever the
				// handlers are busy with.
				_ = c.sender.Send(func(b []byte) []byte { return appendResponse(b, id, &Response{Status: http.StatusOK}) })
				continue
			}
			c.slots <- struct{}{}
			c.inflight.Add(1)
			go c.handle(id, req)
		}
		return nil
	}()
	switch {
	case c.draining.Load():
		_ = c.sender.Send(func(b []byte) []byte {
			return appendResponse(b, lastID, &Response{Status: StatusGoAway})
		})
	case errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed):
		c.cancel() // the client went away: its requests need not finish
	default:
		c.srv.log.Warn("Closing a wire connection", "remote", c.nc.RemoteAddr().String(), "err", err)
		c.cancel()
	}
	c.inflight.Wait()
	c.sender.FlushAndStop(net.ErrClosed)
	c.cancel()
	_ = c.nc.Close()
}

func (c *serverConn) handle(id uint32, req Request) {
	defer c.inflight.Done()
	defer func() { <-c.slots }()
	start := time.Now()
	c.respond(id, req.Op, start, c.srv.answer(c.ctx, &req))
}

func (c *serverConn) respond(id uint32, op Op, start time.Time, resp Response) {
	_ = c.sender.Send(func(b []byte) []byte { return appendResponse(b, id, &resp) })
	c.srv.observeRequest(op, start, resp)
}
