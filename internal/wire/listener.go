package wire

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"sync"
	"time"
)

// Listener shares a TCP listener between HTTP and the wire protocol: it reads the first
// bytes of each accepted connection, serves the ones that begin with Preface itself (on
// its Server), and returns the others from Accept with those bytes put back.
type Listener struct {
	net.Listener
	srv     *Server
	timeout time.Duration

	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

// NewListener wraps ln. A connection that sends nothing for timeout is closed.
func NewListener(ln net.Listener, srv *Server, timeout time.Duration) *Listener {
	l := &Listener{Listener: ln, srv: srv, timeout: timeout, conns: make(chan net.Conn), done: make(chan struct{})}
	go l.acceptLoop()
	return l
}

func (l *Listener) acceptLoop() {
	var delay time.Duration
	for {
		nc, err := l.Listener.Accept()
		if errors.Is(err, net.ErrClosed) {
			_ = l.Close()
			return
		}
		if err != nil {
			// Temporary failures (EMFILE...): back off instead of spinning, as
			// http.Server does, and keep serving.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(delay):
			case <-l.done:
				return
			}
			continue
		}
		delay = 0
		go l.sniff(nc)
	}
}

// sniff reads up to len(Preface) bytes and routes the connection.
func (l *Listener) sniff(nc net.Conn) {
	_ = nc.SetReadDeadline(time.Now().Add(l.timeout))
	// A small buffer for the peek (HTTP keeps its own); the wire server gets a large one
	// that first drains whatever came in with the preface.
	r := bufio.NewReaderSize(nc, 16)
	head, err := r.Peek(len(Preface))
	_ = nc.SetReadDeadline(time.Time{})
	if err == nil && bytes.Equal(head, []byte(Preface)) {
		_, _ = r.Discard(len(Preface))
		l.srv.ServeConn(nc, bufio.NewReaderSize(r, 64<<10))
		return
	}
	if len(head) == 0 {
		_ = nc.Close() // nothing at all: nothing for HTTP to answer either
		return
	}
	// Not ours (an HTTP request, or fewer bytes than a preface): HTTP reads what was peeked
	// from the buffer, then the rest from the connection.
	select {
	case l.conns <- &peekedConn{Conn: nc, r: r}:
	case <-l.done:
		_ = nc.Close()
	}
}

// Accept returns the next connection that is not the wire protocol's.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case nc := <-l.conns:
		return nc, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close closes the listener; served connections stay open (Server.Shutdown ends them).
func (l *Listener) Close() error {
	var err error
	l.closeOnce.Do(func() {
		close(l.done)
		err = l.Listener.Close()
	})
	return err
}

// peekedConn is a connection whose first bytes sit in r.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
