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

// ErrUnresponsive means a server did not answer a ping in time (a hung process or machine,
// or a network that drops its packets): its connection was closed, and requests to it fail
// at once, as not sent, until it answers again (see Pool.PingInterval).
var ErrUnresponsive = errors.New("server unresponsive")

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
			ch <- reply{err: fmt.Errorf("%w: %s: %w", ErrConnLost, c.nc.RemoteAddr(), cause)}
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
	// PingInterval, if set, makes every connection ping its server that often. A server
	// that leaves a ping unanswered for PingTimeout (default 3 × PingInterval), or that
	// cannot be dialled, is down: its connection is closed (requests in flight on it fail
	// with ErrConnLost, wrapping ErrUnresponsive), and requests to it fail at once with
	// ErrNotSent, wrapping ErrUnresponsive, while the pool dials and pings it in the
	// background until it answers. A process that is stopped or hung keeps accepting
	// connections and reading nothing; without pings every request to it would wait for
	// its caller's deadline. Set before first use.
	PingInterval time.Duration
	PingTimeout  time.Duration

	mu     sync.Mutex
	slots  map[string]*slot
	closed bool
	done   chan struct{}  // closed by Close: ends probes' pauses
	wg     sync.WaitGroup // probes and heartbeats
}

// goLocked runs f in a goroutine Close waits for, unless the pool is closed. p.mu is held.
func (p *Pool) goLocked(f func()) {
	if p.closed {
		return
	}
	if p.done == nil {
		p.done = make(chan struct{})
	}
	p.wg.Go(f)
}

// slot is the connection to one address; its mutex serialises dials to that address only.
type slot struct {
	mu sync.Mutex
	c  *Conn
	// down is set while the server is down (see Pool.PingInterval): probing says a probe
	// runs. Guarded by the pool's mu.
	down, probing bool
	downErr       error
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
	if s.down {
		err := s.downErr
		p.mu.Unlock()
		return nil, err
	}
	p.mu.Unlock()

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c != nil && s.c.Usable() {
		return s.c, nil
	}
	c, err := p.dial(ctx, addr)
	if err != nil {
		if ctx.Err() == nil {
			p.markDown(addr, s, fmt.Errorf("dial %s: %w", addr, err))
		}
		return nil, err
	}
	// NB: a drained predecessor is not closed: the server answers what it read, then
	// closes it.
	s.c = c
	p.heartbeat(addr, s, c)
	return c, nil
}

func (p *Pool) dial(ctx context.Context, addr string) (*Conn, error) {
	timeout := p.DialTimeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return Dial(dctx, addr)
}

func (p *Pool) pingTimeout() time.Duration {
	if p.PingTimeout > 0 {
		return p.PingTimeout
	}
	return 3 * p.PingInterval
}

// ping sends c a ping and waits for the answer, up to the ping timeout.
func (p *Pool) ping(c *Conn) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.pingTimeout())
	defer cancel()
	_, err := c.Do(ctx, &Request{Op: OpPing})
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %s answered no ping within %s", ErrUnresponsive, c.nc.RemoteAddr(), p.pingTimeout())
	}
	return err
}

// heartbeat pings c every PingInterval until it stops; an unanswered ping closes it and
// marks its server down.
func (p *Pool) heartbeat(addr string, s *slot, c *Conn) {
	if p.PingInterval <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.goLocked(func() {
		t := time.NewTicker(p.PingInterval)
		defer t.Stop()
		for {
			select {
			case <-c.done:
				return
			case <-t.C:
			}
			if err := p.ping(c); err != nil {
				if errors.Is(err, ErrUnresponsive) {
					// Down first: what fails now is not dialled again at once.
					p.markDown(addr, s, err)
					c.stop(err)
				}
				return
			}
		}
	})
}

// markDown records that the server at addr is down, if the pool tracks liveness, and
// starts a probe that dials and pings it until it answers.
func (p *Pool) markDown(addr string, s *slot, cause error) {
	if p.PingInterval <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.slots[addr] != s {
		return
	}
	s.down = true
	s.downErr = fmt.Errorf("%w: %w (%w)", ErrNotSent, ErrUnresponsive, cause)
	if s.probing {
		return
	}
	s.probing = true
	p.goLocked(func() { p.probe(addr, s) })
}

// probe dials and pings addr, pausing between attempts (from a tenth of PingInterval up to
// PingInterval), until the server answers; then its connection serves requests again. It
// ends when the pool closes or forgets addr.
func (p *Pool) probe(addr string, s *slot) {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	pause := p.PingInterval / 10
	for {
		ctx, cancel := context.WithCancel(context.Background())
		go func() { // a dial ends when the pool closes
			select {
			case <-done:
			case <-ctx.Done():
			}
			cancel()
		}()
		c, err := p.dial(ctx, addr)
		cancel()
		if err == nil {
			if err = p.ping(c); err != nil {
				_ = c.Close()
			}
		}
		if err == nil {
			// NB: the connection is in place before the server stops being down, so no
			// request dials one of its own meanwhile.
			s.mu.Lock()
			old := s.c
			s.c = c
			s.mu.Unlock()
			if old != nil {
				_ = old.Close()
			}
			p.mu.Lock()
			current := !p.closed && p.slots[addr] == s
			if current {
				s.down, s.probing, s.downErr = false, false, nil
			}
			p.mu.Unlock()
			if !current {
				_ = c.Close()
				return
			}
			p.heartbeat(addr, s, c)
			return
		}
		select {
		case <-done:
			return
		case <-time.After(pause): // backoff between probes, not a wait for a condition
		}
		p.mu.Lock()
		current := !p.closed && p.slots[addr] == s
		p.mu.Unlock()
		if !current {
			return
		}
		pause = min(2*pause, p.PingInterval)
	}
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

// Close closes every connection of the pool; requests in flight on them fail. It waits for
// the pool's probes and heartbeats to end.
func (p *Pool) Close() {
	p.mu.Lock()
	slots := p.slots
	p.slots = nil
	if !p.closed && p.done != nil {
		close(p.done)
	}
	p.closed = true
	p.mu.Unlock()
	for _, s := range slots {
		s.mu.Lock()
		if s.c != nil {
			_ = s.c.Close()
		}
		s.mu.Unlock()
	}
	p.wg.Wait()
}
