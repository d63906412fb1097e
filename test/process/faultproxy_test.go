package process

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// faultProxy stands between the nodes' Raft ports: the shard map names, as each node's Raft
// address, one of the proxy's listeners, and that listener forwards to the node's real
// --raft-listen address. A node dials its Raft connections from the IP of its own Raft
// address, so the proxy knows both ends of every connection: the source IP (who dials) and
// the listener (whom it is for). Partition cuts a node off in both directions; Heal restores
// forwarding. Blocked connections are closed at once, as a dropped network would reset them.
type faultProxy struct {
	t *testing.T

	mu         sync.Mutex
	links      map[string]*proxyLink // by destination node ID
	blockedSrc map[string]bool       // source IPs whose connections are refused
	blockedDst map[string]bool       // destination node IDs whose connections are refused
	conns      map[*proxyConn]struct{}
	refused    int // connections refused or cut since the proxy started
	closed     bool

	wg sync.WaitGroup
}

// proxyLink is one listener of the proxy, forwarding to one node's Raft port.
type proxyLink struct {
	node   string
	ln     net.Listener
	target string
}

// proxyConn is one forwarded connection: the accepted side and the dialled side.
type proxyConn struct {
	srcIP, dst string
	in, out    net.Conn
	once       sync.Once
}

// close closes both sides of the connection.
func (c *proxyConn) close() {
	c.once.Do(func() {
		_ = c.in.Close()
		_ = c.out.Close()
	})
}

// newFaultProxy returns a proxy with no listeners; a cleanup closes every listener and
// connection and waits for the proxy's goroutines.
func newFaultProxy(t *testing.T) *faultProxy {
	p := &faultProxy{
		t:          t,
		links:      map[string]*proxyLink{},
		blockedSrc: map[string]bool{},
		blockedDst: map[string]bool{},
		conns:      map[*proxyConn]struct{}{},
	}
	t.Cleanup(p.close)
	return p
}

// add listens on a free port of host for node's Raft traffic, forwarding to target, and
// returns the listener's address (the address to publish in the map).
func (p *faultProxy) add(node, host, target string) string {
	p.t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		p.t.Fatalf("proxy for %s: listen on %s: %v", node, host, err)
	}
	l := &proxyLink{node: node, ln: ln, target: target}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = ln.Close()
		p.t.Fatalf("proxy for %s: proxy closed", node)
	}
	if _, ok := p.links[node]; ok {
		_ = ln.Close()
		p.t.Fatalf("proxy for %s: added twice", node)
	}
	p.links[node] = l
	p.wg.Go(func() { p.accept(l) })
	return ln.Addr().String()
}

// partition cuts node, whose connections come from ip, off from everyone: connections it
// dials and connections to it are refused, and the open ones are closed.
func (p *faultProxy) partition(node, ip string) {
	p.mu.Lock()
	p.blockedSrc[ip] = true
	p.blockedDst[node] = true
	var cut []*proxyConn
	for c := range p.conns {
		if p.blockedLocked(c.srcIP, c.dst) {
			cut = append(cut, c)
			delete(p.conns, c)
			p.refused++
		}
	}
	p.mu.Unlock()
	for _, c := range cut {
		c.close()
	}
}

// heal lifts every partition.
func (p *faultProxy) heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.blockedSrc)
	clear(p.blockedDst)
}

// refusedCount returns how many connections the proxy has refused or cut.
func (p *faultProxy) refusedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refused
}

// blockedLocked reports whether a connection from srcIP to node dst must not pass. p.mu is held.
func (p *faultProxy) blockedLocked(srcIP, dst string) bool {
	return p.blockedSrc[srcIP] || p.blockedDst[dst]
}

// accept forwards every connection l accepts until l is closed.
func (p *faultProxy) accept(l *proxyLink) {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				p.t.Logf("proxy for %s: accept: %v", l.node, err)
			}
			return
		}
		p.wg.Go(func() { p.forward(l, c) })
	}
}

// forward connects in to l's target and copies both ways until either side ends, unless the
// connection is blocked.
func (p *faultProxy) forward(l *proxyLink, in net.Conn) {
	srcIP, _, err := net.SplitHostPort(in.RemoteAddr().String())
	if err != nil {
		_ = in.Close()
		return
	}
	p.mu.Lock()
	blocked := p.blockedLocked(srcIP, l.node) || p.closed
	if blocked {
		p.refused++
	}
	p.mu.Unlock()
	if blocked {
		_ = in.Close()
		return
	}
	out, err := net.DialTimeout("tcp", l.target, 2*time.Second)
	if err != nil {
		// The node is down: the dialler sees its connection closed, as it would see a refusal.
		_ = in.Close()
		return
	}
	c := &proxyConn{srcIP: srcIP, dst: l.node, in: in, out: out}
	// NB: check again under the lock that registers the connection, so that a partition that
	// started while dialling cannot miss it.
	p.mu.Lock()
	if p.closed || p.blockedLocked(srcIP, l.node) {
		p.refused++
		p.mu.Unlock()
		c.close()
		return
	}
	p.conns[c] = struct{}{}
	p.mu.Unlock()

	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		c.close()
	}
	wg.Go(func() { pipe(out, in) })
	wg.Go(func() { pipe(in, out) })
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// close stops every listener, closes every connection and waits for the proxy's goroutines.
func (p *faultProxy) close() {
	p.mu.Lock()
	p.closed = true
	for _, l := range p.links {
		_ = l.ln.Close()
	}
	conns := make([]*proxyConn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	p.wg.Wait()
}

// TestFaultProxy checks the proxy itself against an echo server: connections pass, a
// partition cuts open connections and refuses new ones by source IP and by destination,
// and heal restores forwarding.
func TestFaultProxy(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = echo.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				_, _ = io.Copy(c, c)
				_ = c.Close()
			})
		}
	})

	p := newFaultProxy(t)
	addr := p.add("echo", "127.0.0.11", echo.Addr().String())
	dial := func(fromIP string) net.Conn {
		t.Helper()
		d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(fromIP)}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %s from %s: %v", addr, fromIP, err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	// roundTrip sends a line through c and reads it back.
	roundTrip := func(c net.Conn) error {
		if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
			return err
		}
		if _, err := c.Write([]byte("ping\n")); err != nil {
			return err
		}
		buf := make([]byte, 5)
		if _, err := io.ReadFull(c, buf); err != nil {
			return err
		}
		if string(buf) != "ping\n" {
			return errors.New("echo answered " + string(buf))
		}
		return nil
	}
	mustPass := func(c net.Conn, what string) {
		t.Helper()
		if err := roundTrip(c); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	mustFail := func(c net.Conn, what string) {
		t.Helper()
		if err := roundTrip(c); err == nil {
			t.Fatalf("%s: the round trip passed", what)
		}
	}

	a, b := dial("127.0.0.2"), dial("127.0.0.3")
	mustPass(a, "from 127.0.0.2 before any partition")
	mustPass(b, "from 127.0.0.3 before any partition")

	// Cutting off a node whose IP is 127.0.0.2: its connections go, others stay.
	p.partition("other", "127.0.0.2")
	mustFail(a, "open connection from the partitioned IP")
	mustFail(dial("127.0.0.2"), "new connection from the partitioned IP")
	mustPass(b, "open connection from another IP")

	// Cutting off the echo node: every connection to it goes.
	p.partition("echo", "127.0.0.9")
	mustFail(b, "open connection to the partitioned node")
	mustFail(dial("127.0.0.3"), "new connection to the partitioned node")
	if got := p.refusedCount(); got < 4 {
		t.Errorf("the proxy counted %d refused connections, want at least 4", got)
	}

	p.heal()
	mustPass(dial("127.0.0.2"), "from 127.0.0.2 after heal")
	mustPass(dial("127.0.0.3"), "from 127.0.0.3 after heal")
}
