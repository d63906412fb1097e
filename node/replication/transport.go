package replication

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/torua/torua/internal/coalesce"
)

// Links. Every group of a node sends its RPCs to a peer node over one shared TCP
// connection, the link from this node to that one: each RPC is a frame with the group's
// shard and a request id, answered by a frame with the same id, in any order. One writer
// per connection sends every queued frame in one system call (internal/coalesce), so the
// rounds of 16 groups cost a few writes instead of 64, and the messages use a compact
// encoding of their own (linkcodec.go). Snapshots are the exception: they stream a whole
// shard, and would hold up every other group's heartbeats on a shared connection, so each
// goes over a connection of its own through the group's raft.NetworkTransport (the
// shard's stream layer, as before links existed).
//
// A link connection starts with the mux header (magic "TRFL", shard 0, target node ID).
// Then, in both directions, frames:
//
//	uint32 length of the rest | kind byte | uint16 shard | uint64 id | message
//
// all big-endian. A request's kind names the RPC; its answer has the same kind with
// kindAnswer set, or kindError with an error message as its body.
const (
	linkMagic = "TRFL"

	kindAppendEntries  byte = 1
	kindRequestVote    byte = 2
	kindRequestPreVote byte = 3
	kindTimeoutNow     byte = 4
	kindAnswer         byte = 0x80
	kindError          byte = 0xFF

	// frameHeaderLen is the length of a frame's fixed fields after the length.
	frameHeaderLen = 1 + 2 + 8
	// maxFrame bounds a frame (MaxAppendEntries entries of the largest values fit).
	maxFrame = 1 << 30
	// rpcTimeout bounds the wait for an answer (Mux.rpcTimeout), as raft.NetworkTransport's
	// I/O timeout does; a link on which nothing at all arrived for that long is closed and
	// redialed.
	rpcTimeout = 10 * time.Second
)

// RPC kinds as LinkStats counts them: AppendEntries that carry entries or a commit index
// apart from heartbeats (which only assert leadership).
const (
	statAppendEntries = iota
	statHeartbeat
	statRequestVote
	statRequestPreVote
	statTimeoutNow
	statInstallSnapshot
	numStats
)

var statKinds = [numStats]string{statAppendEntries: "append_entries", statHeartbeat: "heartbeat",
	statRequestVote: "request_vote", statRequestPreVote: "request_pre_vote",
	statTimeoutNow: "timeout_now", statInstallSnapshot: "install_snapshot"}

// LinkStats counts the Raft RPCs a node sent and its link connections, since it started.
type LinkStats struct {
	// RPCs has one entry per kind: append_entries, heartbeat, request_vote,
	// request_pre_vote, timeout_now, install_snapshot.
	RPCs []RPCStats
	// Dials and DialFailures count link connections dialed; Closed counts those that
	// closed or broke.
	Dials, DialFailures, Closed uint64
}

// RPCStats counts the RPCs of one kind a node sent: calls, those that failed (no answer,
// an error answer, a broken link) and the seconds spent waiting for answers.
type RPCStats struct {
	Kind           string
	Calls, Failed  uint64
	SecondsWaiting float64
}

// linkCounters are the mux's LinkStats as they accumulate.
type linkCounters struct {
	rpcs                        [numStats]struct{ calls, failed, nanos atomic.Uint64 }
	dials, dialFailures, closed atomic.Uint64
}

func (c *linkCounters) rpc(kind int, start time.Time, err error) {
	r := &c.rpcs[kind]
	r.calls.Add(1)
	r.nanos.Add(uint64(time.Since(start)))
	if err != nil {
		r.failed.Add(1)
	}
}

// Stats returns the node's Raft RPC and link counters.
func (m *Mux) Stats() LinkStats {
	c := &m.counters
	st := LinkStats{Dials: c.dials.Load(), DialFailures: c.dialFailures.Load(), Closed: c.closed.Load()}
	for i, k := range statKinds {
		r := &c.rpcs[i]
		st.RPCs = append(st.RPCs, RPCStats{Kind: k, Calls: r.calls.Load(), Failed: r.failed.Load(),
			SecondsWaiting: time.Duration(r.nanos.Load()).Seconds()})
	}
	return st
}

var kindNames = map[byte]string{kindAppendEntries: "AppendEntries", kindRequestVote: "RequestVote",
	kindRequestPreVote: "RequestPreVote", kindTimeoutNow: "TimeoutNow"}

// Transport is one group's raft.Transport: its RPCs travel on the mux's links, its
// snapshots on connections of their own. Close it to unregister the shard.
type Transport struct {
	mux       *Mux
	shard     int
	consumer  chan raft.RPC
	snap      *raft.NetworkTransport
	heartbeat atomic.Pointer[func(raft.RPC)]
	closed    chan struct{}
	once      sync.Once
	forwarded chan struct{}
}

var (
	_ raft.Transport   = (*Transport)(nil)
	_ raft.WithPreVote = (*Transport)(nil)
	_ raft.WithClose   = (*Transport)(nil)
)

// Transport registers shard and returns its transport; logger receives the snapshot
// transport's log lines. A shard has one transport at a time.
func (m *Mux) Transport(shard int, logger hclog.Logger) (*Transport, error) {
	layer, err := m.Layer(shard)
	if err != nil {
		return nil, err
	}
	t := &Transport{mux: m, shard: shard, consumer: make(chan raft.RPC), closed: make(chan struct{}),
		forwarded: make(chan struct{})}
	m.mu.Lock()
	m.transports[shard] = t
	m.mu.Unlock()
	t.snap = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: layer, MaxPool: 1, Timeout: m.rpcTimeout, Logger: logger})
	go t.forwardSnapshots()
	return t, nil
}

// forwardSnapshots hands the snapshot transport's RPCs to Raft with the link RPCs.
func (t *Transport) forwardSnapshots() {
	defer close(t.forwarded)
	for {
		select {
		case rpc := <-t.snap.Consumer():
			select {
			case t.consumer <- rpc:
			case <-t.closed:
				rpc.Respond(nil, raft.ErrTransportShutdown)
				return
			}
		case <-t.closed:
			return
		}
	}
}

// Close unregisters the shard and fails its calls in flight. It is idempotent.
func (t *Transport) Close() error {
	var err error
	t.once.Do(func() {
		t.mux.mu.Lock()
		if t.mux.transports[t.shard] == t {
			delete(t.mux.transports, t.shard)
		}
		t.mux.mu.Unlock()
		close(t.closed)
		err = t.snap.Close()
		<-t.forwarded
	})
	return err
}

// Consumer is the channel of RPCs for Raft to answer.
func (t *Transport) Consumer() <-chan raft.RPC { return t.consumer }

// LocalAddr is this node's ID, which peers resolve through the shard map.
func (t *Transport) LocalAddr() raft.ServerAddress { return raft.ServerAddress(t.mux.localID) }

// AppendEntriesPipeline is not supported: hashicorp/raft's pipeline can deadlock when a
// follower answers Success=false (pipelineDecode returns, the send loop parks on the
// pipeline's in-flight channel, and neither replication nor Shutdown proceeds). Raft
// replicates with one AppendEntries in flight per follower, each carrying every entry
// appended since the last (up to MaxAppendEntries).
func (t *Transport) AppendEntriesPipeline(raft.ServerID, raft.ServerAddress) (raft.AppendPipeline, error) {
	return nil, raft.ErrPipelineReplicationNotSupported
}

// AppendEntries sends args to target and waits for its answer.
func (t *Transport) AppendEntries(_ raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	stat := statAppendEntries
	if isHeartbeat(args) {
		stat = statHeartbeat
	}
	return t.call(target, kindAppendEntries, stat,
		func(b []byte) []byte { return appendAppendEntriesRequest(b, args) },
		func(d *decoder) { d.appendEntriesResponse(resp) })
}

// RequestVote sends args to target and waits for its answer.
func (t *Transport) RequestVote(_ raft.ServerID, target raft.ServerAddress, args *raft.RequestVoteRequest, resp *raft.RequestVoteResponse) error {
	return t.call(target, kindRequestVote, statRequestVote,
		func(b []byte) []byte { return appendRequestVoteRequest(b, args) },
		func(d *decoder) { d.requestVoteResponse(resp) })
}

// RequestPreVote sends args to target and waits for its answer.
func (t *Transport) RequestPreVote(_ raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	return t.call(target, kindRequestPreVote, statRequestPreVote,
		func(b []byte) []byte { return appendRequestPreVoteRequest(b, args) },
		func(d *decoder) { d.requestPreVoteResponse(resp) })
}

// TimeoutNow sends args to target and waits for its answer.
func (t *Transport) TimeoutNow(_ raft.ServerID, target raft.ServerAddress, args *raft.TimeoutNowRequest, resp *raft.TimeoutNowResponse) error {
	return t.call(target, kindTimeoutNow, statTimeoutNow,
		func(b []byte) []byte { return appendHeader(b, args.RPCHeader) },
		func(d *decoder) { d.timeoutNowResponse(resp) })
}

// InstallSnapshot streams a snapshot to target over a connection of its own.
func (t *Transport) InstallSnapshot(id raft.ServerID, target raft.ServerAddress, args *raft.InstallSnapshotRequest, resp *raft.InstallSnapshotResponse, data io.Reader) error {
	start := time.Now()
	err := t.snap.InstallSnapshot(id, target, args, resp, data)
	t.mux.counters.rpc(statInstallSnapshot, start, err)
	return err
}

// EncodePeer and DecodePeer: a peer's address is its node ID.
func (t *Transport) EncodePeer(_ raft.ServerID, addr raft.ServerAddress) []byte { return []byte(addr) }

// DecodePeer is EncodePeer's inverse.
func (t *Transport) DecodePeer(b []byte) raft.ServerAddress { return raft.ServerAddress(b) }

// SetHeartbeatHandler makes heartbeats skip the queue of RPCs (which may wait behind a
// disk write): Raft answers them at once.
func (t *Transport) SetHeartbeatHandler(cb func(raft.RPC)) {
	if cb == nil {
		t.heartbeat.Store(nil)
		return
	}
	t.heartbeat.Store(&cb)
}

// CloseStreams closes the snapshot transport's pooled connections (tests cut nodes off).
func (t *Transport) CloseStreams() { t.snap.CloseStreams() }

// call sends one request to target's link, decodes the answer with read, and counts it
// under statKinds[stat].
func (t *Transport) call(target raft.ServerAddress, kind byte, stat int, write func([]byte) []byte, read func(*decoder)) (err error) {
	select {
	case <-t.closed:
		return raft.ErrTransportShutdown
	default:
	}
	defer func(start time.Time) { t.mux.counters.rpc(stat, start, err) }(time.Now())
	c, err := t.mux.link(string(target)).conn()
	if err != nil {
		return err
	}
	body, err := c.call(t.shard, kind, write, t.closed)
	if err != nil {
		return fmt.Errorf("raft %s to node %q: %w", kindNames[kind], target, err)
	}
	d := decoder{b: body}
	read(&d)
	if err := d.done(); err != nil {
		return fmt.Errorf("raft %s answer from node %q: %w", kindNames[kind], target, err)
	}
	return nil
}

// serve hands one request to Raft and returns its answer. It gives up when the transport
// closes or when done (the link) closes.
func (t *Transport) serve(cmd any, done <-chan struct{}) (any, error) {
	respCh := make(chan raft.RPCResponse, 1)
	rpc := raft.RPC{Command: cmd, RespChan: respCh}
	if fn := t.heartbeat.Load(); fn != nil && isHeartbeat(cmd) {
		(*fn)(rpc)
	} else {
		select {
		case t.consumer <- rpc:
		case <-t.closed:
			return nil, raft.ErrTransportShutdown
		case <-done:
			return nil, net.ErrClosed
		}
	}
	select {
	case r := <-respCh:
		return r.Response, r.Error
	case <-t.closed:
		return nil, raft.ErrTransportShutdown
	case <-done:
		return nil, net.ErrClosed
	}
}

// isHeartbeat is raft.NetworkTransport's test for an AppendEntries that only asserts
// leadership (the link does not carry the deprecated Leader field; Addr replaces it).
func isHeartbeat(cmd any) bool {
	r, ok := cmd.(*raft.AppendEntriesRequest)
	return ok && r.Term != 0 && r.Addr != nil && r.PrevLogEntry == 0 && r.PrevLogTerm == 0 &&
		len(r.Entries) == 0 && r.LeaderCommitIndex == 0
}

// link is this node's connection to one peer node, dialed when first needed and again
// after it breaks.
type link struct {
	mux    *Mux
	target string

	mu     sync.Mutex
	cur    *linkConn
	dialed *dialing // the dial in progress, if any
}

type dialing struct {
	done chan struct{}
	c    *linkConn
	err  error
}

// conn returns the link's connection, dialing it if there is none or if the target's
// address changed since it was dialed (a pod back on a new IP: the old address may never
// answer, and waiting for the RPC timeout would stall every group); callers that arrive
// during a dial share its outcome.
func (l *link) conn() (*linkConn, error) {
	l.mu.Lock()
	for l.cur != nil && l.cur.broken() == nil {
		c := l.cur
		// A failed resolution (a map without the node for a moment) keeps the connection.
		if addr, err := l.mux.resolve(l.target); err != nil || addr == c.addr {
			l.mu.Unlock()
			return c, nil
		}
		l.cur = nil
		l.mu.Unlock()
		c.fail(fmt.Errorf("node %q moved from %s", l.target, c.addr))
		l.mu.Lock()
	}
	if d := l.dialed; d != nil {
		l.mu.Unlock()
		<-d.done
		return d.c, d.err
	}
	d := &dialing{done: make(chan struct{})}
	l.dialed = d
	l.mu.Unlock()
	d.c, d.err = l.mux.dialLink(l.target)
	l.mu.Lock()
	l.dialed = nil
	if d.err == nil {
		l.cur = d.c
	}
	l.mu.Unlock()
	close(d.done)
	return d.c, d.err
}

// link returns the link to node target.
func (m *Mux) link(target string) *link {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.links[target]
	if l == nil {
		l = &link{mux: m, target: target}
		m.links[target] = l
	}
	return l
}

// dialLink connects to node target's Raft port, resolved now, and starts reading answers.
func (m *Mux) dialLink(target string) (*linkConn, error) {
	if target == "" || len(target) > maxNodeIDLen {
		return nil, fmt.Errorf("raft dial: node ID %q invalid", target)
	}
	hostport, err := m.resolve(target)
	if err != nil {
		return nil, fmt.Errorf("raft dial %s: resolve: %w", target, err)
	}
	d := m.dialer
	d.Timeout = m.rpcTimeout
	m.counters.dials.Add(1)
	nc, err := d.Dial("tcp", hostport)
	if err != nil {
		m.counters.dialFailures.Add(1)
		return nil, fmt.Errorf("raft dial %s at %s: %w", target, hostport, err)
	}
	_ = nc.SetWriteDeadline(time.Now().Add(m.rpcTimeout))
	if err := writeHeader(nc, linkMagic, 0, target); err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("raft dial %s at %s: header: %w", target, hostport, err)
	}
	_ = nc.SetWriteDeadline(time.Time{})
	if !m.track(nc) {
		_ = nc.Close()
		return nil, ErrMuxClosed
	}
	c := &linkConn{target: target, addr: hostport, nc: nc, w: coalesce.NewWriter(nc), timeout: m.rpcTimeout,
		closed: &m.counters.closed, pending: map[uint64]*pendingCall{}}
	c.lastRead.Store(time.Now().UnixNano())
	go func() {
		defer m.untrack(nc)
		c.readAnswers(bufio.NewReaderSize(nc, 64<<10))
	}()
	return c, nil
}

// track registers a link connection for dropLinks and Close; false if the mux is closed.
func (m *Mux) track(nc net.Conn) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false
	}
	m.linkConns[nc] = struct{}{}
	return true
}

func (m *Mux) untrack(nc net.Conn) {
	m.mu.Lock()
	delete(m.linkConns, nc)
	m.mu.Unlock()
}

// dropLinks closes every link connection, both ways; links redial when next used.
func (m *Mux) dropLinks() {
	m.mu.Lock()
	conns := make([]net.Conn, 0, len(m.linkConns))
	for nc := range m.linkConns {
		conns = append(conns, nc)
	}
	m.mu.Unlock()
	for _, nc := range conns {
		_ = nc.Close()
	}
}

// linkConn is one dialed link connection: requests go out through w, answers come back
// to the pending calls by id.
type linkConn struct {
	target   string
	addr     string // the host:port dialed
	nc       net.Conn
	w        *coalesce.Writer
	timeout  time.Duration
	closed   *atomic.Uint64 // the mux's count of closed links
	lastRead atomic.Int64   // Unix nanoseconds of the last frame read

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]*pendingCall
	err     error
}

type pendingCall struct {
	kind byte
	done chan answer
}

type answer struct {
	body []byte
	err  error
}

func (c *linkConn) broken() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// call sends a request of kind for shard and waits for its answer, c.timeout at most, or
// until cancel closes.
func (c *linkConn) call(shard int, kind byte, write func([]byte) []byte, cancel <-chan struct{}) ([]byte, error) {
	p := &pendingCall{kind: kind, done: make(chan answer, 1)}
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, err
	}
	c.nextID++
	id := c.nextID
	c.pending[id] = p
	c.mu.Unlock()
	var tooBig error
	err := c.w.Send(func(b []byte) []byte {
		start := len(b)
		b = appendFrame(b, kind, shard, id, write)
		if n := len(b) - start; n > maxFrame {
			tooBig = fmt.Errorf("message of %d bytes exceeds the %d-byte frame limit", n, maxFrame)
			return b[:start]
		}
		return b
	})
	if err == nil {
		err = tooBig
	}
	if err != nil {
		c.forget(id)
		return nil, err
	}
	timer := time.NewTimer(c.timeout)
	defer timer.Stop()
	select {
	case a := <-p.done:
		return a.body, a.err
	case <-timer.C:
		c.forget(id)
		if time.Since(time.Unix(0, c.lastRead.Load())) >= c.timeout {
			// Nothing came back at all: the peer is gone without closing (a paused process,
			// a dead host). Redial, so that a peer back at a new address is found.
			c.fail(fmt.Errorf("nothing read from node %q in %s", c.target, c.timeout))
		}
		return nil, fmt.Errorf("no answer in %s", c.timeout)
	case <-cancel:
		c.forget(id)
		return nil, raft.ErrTransportShutdown
	}
}

func (c *linkConn) forget(id uint64) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// fail breaks the connection with err (the first error wins) and fails every call in
// flight with it.
func (c *linkConn) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
		c.closed.Add(1)
	}
	pending := c.pending
	c.pending = map[uint64]*pendingCall{}
	c.mu.Unlock()
	for _, p := range pending {
		p.done <- answer{err: err}
	}
	c.w.Fail(err)
	_ = c.nc.Close()
}

// readAnswers delivers answers to their calls until the connection breaks.
func (c *linkConn) readAnswers(r *bufio.Reader) {
	for {
		kind, _, id, body, err := readFrame(r)
		if err != nil {
			c.fail(fmt.Errorf("link to node %q: %w", c.target, err))
			return
		}
		c.lastRead.Store(time.Now().UnixNano())
		c.mu.Lock()
		p := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if p == nil {
			continue // its caller gave up
		}
		switch kind {
		case p.kind | kindAnswer:
			p.done <- answer{body: body}
		case kindError:
			p.done <- answer{err: errors.New(string(body))}
		default:
			err := fmt.Errorf("link to node %q: answer kind %#x to a %s request", c.target, kind, kindNames[p.kind])
			p.done <- answer{err: err}
			c.fail(err)
			return
		}
	}
}

// serveLink answers the requests of an accepted link connection until it breaks. Each
// request waits for Raft in a goroutine of its own, so that a group busy on its disk
// holds up none of the others.
func (m *Mux) serveLink(nc net.Conn) {
	if !m.track(nc) {
		_ = nc.Close()
		return
	}
	defer m.untrack(nc)
	w := coalesce.NewWriter(nc)
	done := make(chan struct{})
	var handlers sync.WaitGroup
	defer func() {
		close(done)
		_ = nc.Close()
		w.Fail(net.ErrClosed)
		handlers.Wait()
	}()
	r := bufio.NewReaderSize(nc, 64<<10)
	for {
		kind, shard, id, body, err := readFrame(r)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				m.log.Debug("Raft link closed", "remote", nc.RemoteAddr().String(), "err", err)
			}
			return
		}
		m.mu.Lock()
		t := m.transports[shard]
		m.mu.Unlock()
		if t == nil {
			msg := fmt.Sprintf("node %q hosts no raft group for shard %d", m.localID, shard)
			_ = w.Send(func(b []byte) []byte {
				return appendFrame(b, kindError, shard, id, func(b []byte) []byte { return append(b, msg...) })
			})
			continue
		}
		cmd, err := decodeRequest(kind, body)
		if err != nil {
			m.log.Warn("Closing raft link: bad request", "remote", nc.RemoteAddr().String(), "shard", shard, "err", err)
			return
		}
		handlers.Add(1)
		go func() {
			defer handlers.Done()
			resp, err := t.serve(cmd, done)
			_ = w.Send(func(b []byte) []byte {
				if err != nil {
					msg := err.Error()
					return appendFrame(b, kindError, shard, id, func(b []byte) []byte { return append(b, msg...) })
				}
				return appendFrame(b, kind|kindAnswer, shard, id, func(b []byte) []byte { return appendAnswer(b, resp) })
			})
		}()
	}
}

// decodeRequest decodes a request frame's message.
func decodeRequest(kind byte, body []byte) (any, error) {
	d := decoder{b: body}
	var cmd any
	switch kind {
	case kindAppendEntries:
		cmd = d.appendEntriesRequest()
	case kindRequestVote:
		cmd = d.requestVoteRequest()
	case kindRequestPreVote:
		cmd = d.requestPreVoteRequest()
	case kindTimeoutNow:
		cmd = d.timeoutNowRequest()
	default:
		return nil, fmt.Errorf("request kind %#x unknown", kind)
	}
	if err := d.done(); err != nil {
		return nil, fmt.Errorf("%s request: %w", kindNames[kind], err)
	}
	return cmd, nil
}

// appendAnswer encodes Raft's answer to a request.
func appendAnswer(b []byte, resp any) []byte {
	switch r := resp.(type) {
	case *raft.AppendEntriesResponse:
		return appendAppendEntriesResponse(b, r)
	case *raft.RequestVoteResponse:
		return appendRequestVoteResponse(b, r)
	case *raft.RequestPreVoteResponse:
		return appendRequestPreVoteResponse(b, r)
	case *raft.TimeoutNowResponse:
		return appendHeader(b, r.RPCHeader)
	default:
		// Raft answers each request with the response type of its kind; anything else is
		// a bug here, and an answer the caller cannot decode says so.
		panic(fmt.Sprintf("raft link: answer of type %T", resp))
	}
}

// appendFrame appends a frame whose message writeMessage appends.
func appendFrame(b []byte, kind byte, shard int, id uint64, writeMessage func([]byte) []byte) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, kind)
	b = binary.BigEndian.AppendUint16(b, uint16(shard))
	b = binary.BigEndian.AppendUint64(b, id)
	b = writeMessage(b)
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-4))
	return b
}

// readFrame reads one frame; its message is a new slice.
func readFrame(r *bufio.Reader) (kind byte, shard int, id uint64, msg []byte, err error) {
	var h [4 + frameHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, 0, 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[:4])
	if n < frameHeaderLen || n > maxFrame {
		return 0, 0, 0, nil, fmt.Errorf("frame length %d out of range", n)
	}
	kind = h[4]
	shard = int(binary.BigEndian.Uint16(h[5:7]))
	id = binary.BigEndian.Uint64(h[7:15])
	msg = make([]byte, n-frameHeaderLen)
	if _, err := io.ReadFull(r, msg); err != nil {
		return 0, 0, 0, nil, err
	}
	return kind, shard, id, msg, nil
}
