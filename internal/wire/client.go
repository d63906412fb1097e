package wire

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/torua/torua/internal/coalesce"
)

// ErrNotSent means the server never read the request (the connection was already broken or
// draining, or a GOAWAY said so): it did nothing, and sending it again is safe.
var ErrNotSent = errors.New("request not sent")

// ErrConnLost means the connection broke while the request was in flight: the server may
// or may not have acted on it.
var ErrConnLost = errors.New("connection lost")

// Conn is a client connection. Any number of goroutines may use it at once; their
// requests share its writes and reads.
type Conn struct {
	nc     net.Conn
	sender *coalesce.Writer
	done   chan struct{}

	mu       sync.Mutex
	nextID   uint32
	pending  map[uint32]chan reply
	err      error // why the connection stopped (nil while it works)
	drained  bool  // a GOAWAY arrived, or the ids ran out: no new requests
	retiring bool  // the ids ran out: close once the last answer arrived
	lastID   uint32
}

// maxRequestID is the last request id a connection uses; then it takes no new requests
// and closes once answered (a pool dials a fresh one), so ids never wrap around and
// GOAWAY's "read up to id" stays exact. A variable for tests.
var maxRequestID uint32 = 1 << 31

type reply struct {
	resp Response
	err  error
}

// Dial connects to addr (host:port) and sends the preface.
func Dial(ctx context.Context, addr string) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetKeepAlive(true)
		_ = tc.SetKeepAlivePeriod(30 * time.Second)
	}
	// The server's preface: proof that it speaks the protocol, before any request is sent.
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Now()) })
	r := bufio.NewReaderSize(nc, 64<<10)
	head := make([]byte, len(Preface))
	_, err = nc.Write([]byte(Preface))
	if err == nil {
		_, err = io.ReadFull(r, head)
	}
	stop()
	_ = nc.SetDeadline(time.Time{})
	if err == nil && string(head) != Preface {
		err = fmt.Errorf("%s does not speak Torua's wire protocol: it answered %q", addr, head)
	}
	if err != nil {
		_ = nc.Close()
		if ctx.Err() != nil {
			err = fmt.Errorf("no wire protocol preface from %s: %w", addr, ctx.Err())
		}
		return nil, err
	}
	c := &Conn{nc: nc, done: make(chan struct{}), pending: map[uint32]chan reply{}}
	c.sender = coalesce.NewWriter(nc)
	go c.readLoop(r)
	return c, nil
}

// Usable reports whether new requests may be sent on c.
func (c *Conn) Usable() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err == nil && !c.drained
}

// Close closes the connection; requests in flight fail with ErrConnLost.
func (c *Conn) Close() error {
	c.stop(fmt.Errorf("%w: connection closed by the client", ErrConnLost))
	<-c.done
	return nil
}

// Do sends req and waits for its response or the end of ctx. When ctx ends first the
// request may still be carried out.
func (c *Conn) Do(ctx context.Context, req *Request) (Response, error) {
	if err := checkRequest(req); err != nil {
		return Response{}, err
	}
	ch := make(chan reply, 1)
	c.mu.Lock()
	if c.err != nil || c.drained {
		c.mu.Unlock()
		return Response{}, fmt.Errorf("%w: the connection to %s is closing", ErrNotSent, c.nc.RemoteAddr())
	}
	c.nextID++
	id := c.nextID
	c.pending[id] = ch
	if id >= maxRequestID {
		c.drained, c.retiring = true, true
	}
	c.mu.Unlock()
	if err := c.sender.Send(func(b []byte) []byte { return appendRequest(b, id, req) }); err != nil {
		c.stop(err)
	}
	select {
	case r := <-ch:
		return r.resp, r.err
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return Response{}, ctx.Err()
	}
}

func (c *Conn) readLoop(r *bufio.Reader) {
	defer close(c.done)
	for {
		id, resp, err := readResponse(r)
		if err != nil {
			c.stop(err)
			return
		}
		if resp.Status == StatusGoAway {
			c.mu.Lock()
			c.drained, c.lastID = true, id
			// Requests after the last one read were never seen: fail them as not sent now.
			for pid, ch := range c.pending {
				if pid > id {
					ch <- reply{err: fmt.Errorf("%w: %s is closing the connection", ErrNotSent, c.nc.RemoteAddr())}
					delete(c.pending, pid)
				}
			}
			c.mu.Unlock()
			continue
		}
		c.mu.Lock()
		ch, ok := c.pending[id]
		delete(c.pending, id)
		retired := c.retiring && len(c.pending) == 0
		c.mu.Unlock()
		if ok {
			ch <- reply{resp: resp}
		}
		if retired {
			c.stop(fmt.Errorf("%w: the connection used up its request ids", ErrConnLost))
			return
		}
	}
}

// stop breaks the connection: every request in flight fails, with ErrNotSent if a GOAWAY
// said it was never read, else with ErrConnLost.
func (c *Conn) stop(cause error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = cause
	for id, ch := range c.pending {
		if c.drained && id > c.lastID {
			ch <- reply{err: fmt.Errorf("%w: %s closed the connection", ErrNotSent, c.nc.RemoteAddr())}
		} else {
			ch <- reply{err: fmt.Errorf("%w: %s: %v", ErrConnLost, c.nc.RemoteAddr(), cause)}
		}
		delete(c.pending, id)
	}
	c.mu.Unlock()
	c.sender.Fail(cause)
	_ = c.nc.Close()
}

// Pool keeps one connection per address, dialled on first use and again after it broke or
// was drained. It is safe for concurrent use.
type Pool struct {
	// DialTimeout bounds a dial (default 2s).
	DialTimeout time.Duration
	// Local holds servers of this process by the address they listen on: a request to one
	// of those addresses is handed to its server (Server.Do) instead of sent over a
	// connection. Set before first use.
	Local map[string]*Server

	mu    sync.Mutex
	slots map[string]*slot
}

// slot is the connection to one address; its mutex serialises dials to that address only.
type slot struct {
	mu sync.Mutex
	c  *Conn
}

// Do sends req to addr on the pool's connection to it, or hands it to addr's server if that
// is in Local. A failed dial is returned as is (nothing was sent).
func (p *Pool) Do(ctx context.Context, addr string, req *Request) (Response, error) {
	if s := p.Local[addr]; s != nil {
		if err := checkRequest(req); err != nil {
			return Response{}, err
		}
		resp, err := s.Do(ctx, req)
		if err == nil && ctx.Err() != nil {
			return Response{}, ctx.Err() // as a connection's Do when ctx ends first
		}
		return resp, err
	}
	c, err := p.conn(ctx, addr)
	if err != nil {
		return Response{}, err
	}
	return c.Do(ctx, req)
}

func (p *Pool) conn(ctx context.Context, addr string) (*Conn, error) {
	p.mu.Lock()
	if p.slots == nil {
		p.slots = map[string]*slot{}
	}
	s := p.slots[addr]
	if s == nil {
		s = &slot{}
		p.slots[addr] = s
	}
	p.mu.Unlock()

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c != nil && s.c.Usable() {
		return s.c, nil
	}
	timeout := p.DialTimeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := Dial(dctx, addr)
	if err != nil {
		return nil, err
	}
	// NB: a drained predecessor is not closed: the server answers what it read, then
	// closes it.
	s.c = c
	return c, nil
}

// Retain forgets the connections to addresses not in keep, closing those with no request
// in flight; a busy one is left to finish and looked at again on the next call.
func (p *Pool) Retain(keep map[string]bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for addr, s := range p.slots {
		if keep[addr] || !s.mu.TryLock() {
			continue
		}
		if s.c == nil || s.c.closeIfIdle() {
			delete(p.slots, addr)
		}
		s.mu.Unlock()
	}
}

// closeIfIdle closes c if no request is in flight on it (or it already stopped) and
// reports whether it did.
func (c *Conn) closeIfIdle() bool {
	c.mu.Lock()
	idle := len(c.pending) == 0
	c.mu.Unlock()
	if idle {
		_ = c.Close()
	}
	return idle
}

// Close closes every connection of the pool; requests in flight on them fail.
func (p *Pool) Close() {
	p.mu.Lock()
	slots := p.slots
	p.slots = nil
	p.mu.Unlock()
	for _, s := range slots {
		s.mu.Lock()
		if s.c != nil {
			_ = s.c.Close()
		}
		s.mu.Unlock()
	}
}
