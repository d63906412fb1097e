package replication

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Resolver maps a node ID to the host:port of that node's Raft port. The mux calls it on
// every dial, so a node that moved (a new pod IP) is reached at its new address as soon as
// the shard map says so. It must be safe for concurrent use.
type Resolver func(nodeID string) (string, error)

// Connection header, written by the dialer before anything else:
//
//	magic | version byte 1 | uint16 shard (big-endian) | uint8 len(target node ID) | target node ID
//
// Magic "TRFL" starts a link, which carries the RPCs of every group (shard 0, unused; see
// transport.go); "TRFT" a connection of one shard's raft.NetworkTransport, which carries
// snapshots.
//
// The target ID lets the receiver refuse a connection meant for another node (a stale map
// pointing at an address that now belongs to someone else): answering Raft RPCs addressed
// to another server would corrupt the leader's view of its followers.
const (
	muxMagic   = "TRFT"
	muxVersion = 1
	// maxNodeIDLen is the longest node ID the header can carry.
	maxNodeIDLen = 255
)

// handshakeTimeout bounds how long an accepted connection may take to send its header.
const handshakeTimeout = 5 * time.Second

// ErrMuxClosed is returned by a closed Mux and its stream layers.
var ErrMuxClosed = errors.New("raft mux closed")

// Mux shares one TCP listener among the Raft groups of a node. Each group gets a Transport
// from it: RPCs go over the mux's links (one connection to each peer node, shared by every
// group; transport.go), snapshots over a raft.StreamLayer (Layer), whose connections carry
// the shard in their header and are handed to the same shard's layer on the receiving node.
type Mux struct {
	ln      net.Listener
	dialer  net.Dialer
	localID string
	resolve Resolver
	log     *slog.Logger
	// rpcTimeout bounds each Raft RPC (rpcTimeout; tests shorten it).
	rpcTimeout time.Duration
	counters   linkCounters

	mu         sync.Mutex
	layers     map[int]*streamLayer
	transports map[int]*Transport
	links      map[string]*link
	linkConns  map[net.Conn]struct{}
	closed     bool
	quietUntil time.Time
	wg         sync.WaitGroup
}

// QuietUntil makes the mux close every connection it accepts until t: a node that
// restarts with Raft state answers no Raft traffic for a while (see
// Config.RestartQuietPeriod).
func (m *Mux) QuietUntil(t time.Time) {
	m.mu.Lock()
	m.quietUntil = t
	m.mu.Unlock()
}

// Listen binds addr (host:port; port 0 picks one) for the Raft traffic of node localID and
// starts accepting. Bind errors are returned at once.
func Listen(addr, localID string, resolve Resolver, log *slog.Logger) (*Mux, error) {
	if localID == "" || len(localID) > maxNodeIDLen {
		return nil, fmt.Errorf("raft mux: node ID %q: must be 1..%d bytes", localID, maxNodeIDLen)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("raft mux: listen %s: %w", addr, err)
	}
	m := &Mux{ln: ln, localID: localID, resolve: resolve, log: log.With("component", "raft-mux"), rpcTimeout: rpcTimeout,
		layers: make(map[int]*streamLayer), transports: make(map[int]*Transport),
		links: make(map[string]*link), linkConns: make(map[net.Conn]struct{})}
	// A node bound to one IP also dials from it, so that peers (and fault-injecting
	// proxies in tests) see its connections come from its own address.
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsUnspecified() {
		m.dialer.LocalAddr = &net.TCPAddr{IP: tcp.IP}
	}
	m.wg.Add(1)
	go m.acceptLoop()
	return m, nil
}

// Addr is the address the mux listens on.
func (m *Mux) Addr() net.Addr { return m.ln.Addr() }

// Close stops accepting, closes every layer and every link connection. Connections
// already handed to a group's snapshot transport are that transport's to close.
func (m *Mux) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	layers := m.layers
	m.layers = map[int]*streamLayer{}
	m.mu.Unlock()
	err := m.ln.Close()
	for _, l := range layers {
		l.shutdown()
	}
	m.dropLinks()
	m.wg.Wait()
	return err
}

// Layer registers shard and returns its stream layer. A shard has at most one layer at a
// time; closing the layer (the transport does) unregisters it.
func (m *Mux) Layer(shard int) (raft.StreamLayer, error) {
	if shard < 0 || shard > 0xFFFF {
		return nil, fmt.Errorf("raft mux: shard %d out of range", shard)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrMuxClosed
	}
	if _, ok := m.layers[shard]; ok {
		return nil, fmt.Errorf("raft mux: shard %d already has a layer", shard)
	}
	l := &streamLayer{mux: m, shard: shard, conns: make(chan net.Conn), closed: make(chan struct{})}
	m.layers[shard] = l
	return l, nil
}

func (m *Mux) acceptLoop() {
	defer m.wg.Done()
	var delay time.Duration
	for {
		c, err := m.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary failures (EMFILE...): back off instead of spinning.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			m.log.Warn("Failed to accept raft connection", "err", err, "retryIn", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.handshake(c)
		}()
	}
}

// Quiet reports whether the mux is in its quiet period, and until when.
func (m *Mux) Quiet() (until time.Time, quiet bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.quietUntil, time.Now().Before(m.quietUntil)
}

// handshake reads c's header and serves c as a link or hands it to its shard's layer, or
// closes it.
func (m *Mux) handshake(c net.Conn) {
	if _, quiet := m.Quiet(); quiet {
		_ = c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Now().Add(handshakeTimeout))
	magic, shard, target, err := readHeader(c)
	if err == nil && target != m.localID {
		err = fmt.Errorf("connection for node %q reached node %q", target, m.localID)
	}
	if err == nil && magic == linkMagic {
		_ = c.SetReadDeadline(time.Time{})
		m.serveLink(c)
		return
	}
	var l *streamLayer
	if err == nil {
		m.mu.Lock()
		l = m.layers[shard]
		m.mu.Unlock()
		if l == nil {
			err = fmt.Errorf("no raft group for shard %d", shard)
		}
	}
	if err != nil {
		m.log.Debug("Refused raft connection", "remote", c.RemoteAddr().String(), "err", err)
		_ = c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	select {
	case l.conns <- c:
	case <-l.closed:
		_ = c.Close()
	case <-time.After(handshakeTimeout):
		_ = c.Close()
	}
}

func writeHeader(w io.Writer, magic string, shard int, target string) error {
	b := make([]byte, 0, len(magic)+4+len(target))
	b = append(b, magic...)
	b = append(b, muxVersion)
	b = binary.BigEndian.AppendUint16(b, uint16(shard))
	b = append(b, byte(len(target)))
	b = append(b, target...)
	_, err := w.Write(b)
	return err
}

func readHeader(r io.Reader) (magic string, shard int, target string, err error) {
	var fixed [len(muxMagic) + 4]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return "", 0, "", fmt.Errorf("read header: %w", err)
	}
	magic = string(fixed[:4])
	if magic != muxMagic && magic != linkMagic {
		return "", 0, "", errors.New("bad magic")
	}
	if fixed[4] != muxVersion {
		return "", 0, "", fmt.Errorf("header version %d unknown", fixed[4])
	}
	shard = int(binary.BigEndian.Uint16(fixed[5:7]))
	id := make([]byte, fixed[7])
	if _, err := io.ReadFull(r, id); err != nil {
		return "", 0, "", fmt.Errorf("read header: %w", err)
	}
	return magic, shard, string(id), nil
}

// streamLayer is one shard's view of a Mux, used by that shard's raft.NetworkTransport.
type streamLayer struct {
	mux    *Mux
	shard  int
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

var _ raft.StreamLayer = (*streamLayer)(nil)

// Accept returns the next connection for this shard.
func (l *streamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, ErrMuxClosed
	}
}

// Close unregisters the layer; the mux keeps serving other shards.
func (l *streamLayer) Close() error {
	l.mux.mu.Lock()
	if l.mux.layers[l.shard] == l {
		delete(l.mux.layers, l.shard)
	}
	l.mux.mu.Unlock()
	l.shutdown()
	return nil
}

func (l *streamLayer) shutdown() { l.once.Do(func() { close(l.closed) }) }

// Addr is the local node ID: Raft uses it as this server's address, and peers resolve it.
func (l *streamLayer) Addr() net.Addr { return nodeAddr(l.mux.localID) }

// Dial connects to the Raft port of the node whose ID is address, resolved now.
func (l *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	id := string(address)
	if id == "" || len(id) > maxNodeIDLen {
		return nil, fmt.Errorf("raft dial: node ID %q invalid", id)
	}
	hostport, err := l.mux.resolve(id)
	if err != nil {
		return nil, fmt.Errorf("raft dial %s: resolve: %w", id, err)
	}
	d := l.mux.dialer
	d.Timeout = timeout
	c, err := d.Dial("tcp", hostport)
	if err != nil {
		return nil, fmt.Errorf("raft dial %s at %s: %w", id, hostport, err)
	}
	if timeout > 0 {
		_ = c.SetWriteDeadline(time.Now().Add(timeout))
	}
	if err := writeHeader(c, muxMagic, l.shard, id); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("raft dial %s at %s: header: %w", id, hostport, err)
	}
	_ = c.SetWriteDeadline(time.Time{})
	return c, nil
}

// nodeAddr is a node ID used as a net.Addr.
type nodeAddr string

func (a nodeAddr) Network() string { return "torua-raft" }
func (a nodeAddr) String() string  { return string(a) }
