package replication

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/torua/torua/internal/coalesce"
)

// The transport keeps one TCP connection to each peer, over which this node sends the
// messages of all its groups; a peer's messages to this node come over the peer's own
// connection. Every connection starts with a header naming its kind, its target and its
// sender:
//
//	magic (4 bytes) | u8 len(target node ID) | target node ID | u8 len(sender) | sender
//
// The target lets the receiver refuse a connection meant for another node (a stale map
// pointing at an address that now belongs to someone else); the sender's name, with the
// Raft ID its messages come from, lets it answer a node it has not heard of yet (Raft knows
// nodes by Raft ID only). A message addressed to a Raft ID that is not this node's (one the
// node had before it lost its disk, see identity.go) is dropped. Magic "TRMR" starts a message
// connection, which then carries frames, each the messages of one round for that peer:
//
//	u32 length | repeated (u16 shard | u32 size | marshalled raftpb.Message)
//
// Magic "TRSN" starts a snapshot connection, one per snapshot:
//
//	u16 shard | u32 size | marshalled MsgSnap | the shard's data stream
//	(engine.SnapshotShard) until the sender closes its side
//
// The MsgSnap's snapshot data holds the members of its configuration (the members list of
// membership.go), so that a new replica can name members it has not heard from yet.
//
// The receiver stores the stream in a file under <dir>/incoming, answers one byte once it
// has all of it, and only then steps the message into the group; the group restores the
// file when Raft accepts the snapshot.
const (
	msgMagic  = "TRMR"
	snapMagic = "TRSN"
	// maxNodeIDLen is the longest node ID the header can carry.
	maxNodeIDLen = 255
	// maxFrame bounds a frame a receiver accepts (a corrupt length must not allocate
	// without bound). A round's messages for one peer are far smaller: entries are
	// limited to maxSizePerMsg per message.
	maxFrame = 256 << 20
	// dialTimeout bounds a dial; handshakeTimeout the header of an accepted connection.
	dialTimeout      = 2 * time.Second
	handshakeTimeout = 5 * time.Second
	// snapshotAckTimeout bounds how long a sender waits for the receiver to confirm it
	// has stored a whole snapshot stream.
	snapshotAckTimeout = time.Minute
)

// tcpTransport is the transport nodes use: TCP connections as described above.
type tcpTransport struct {
	h      *Host
	ln     net.Listener
	dialer net.Dialer

	mu sync.Mutex
	// peers are the connections to other nodes by node ID: messages to every Raft ID a
	// node has had go over one connection.
	peers map[string]*peer
	conns map[net.Conn]struct{}
	done  bool
	wg    sync.WaitGroup
}

type peer struct {
	addr    string
	nc      net.Conn
	w       *coalesce.Writer
	dialing bool
}

func newTCPTransport(h *Host, ln net.Listener) *tcpTransport {
	t := &tcpTransport{h: h, ln: ln, peers: map[string]*peer{}, conns: map[net.Conn]struct{}{},
		dialer: net.Dialer{Timeout: dialTimeout}}
	// A node bound to one IP also dials from it, so that peers (and fault-injecting
	// proxies in tests) see its connections come from its own address.
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsUnspecified() {
		t.dialer.LocalAddr = &net.TCPAddr{IP: tcp.IP}
	}
	t.wg.Add(1)
	go t.accept()
	return t
}

// send sends msgs, one frame per peer. Messages to a peer without a connection are dropped
// (Raft sends again) while one is dialed.
func (t *tcpTransport) send(msgs []outMsg) {
	if len(msgs) == 0 {
		return
	}
	byPeer := map[uint64][]outMsg{}
	for _, om := range msgs {
		if om.m.GetType() == pb.MsgSnap {
			t.wg.Add(1)
			go t.sendSnapshot(om)
			continue
		}
		byPeer[om.m.GetTo()] = append(byPeer[om.m.GetTo()], om)
	}
	for to, ms := range byPeer {
		w := t.writer(to)
		if w == nil {
			t.h.unreachable(ms)
			continue
		}
		if err := w.Send(func(b []byte) []byte { return appendFrame(b, ms) }); err != nil {
			t.broken(to, err)
			t.h.unreachable(ms)
			continue
		}
		t.h.stats.sent.Add(uint64(len(ms)))
	}
}

func appendFrame(b []byte, ms []outMsg) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0)
	for _, om := range ms {
		b = appendMessage(b, om.shard, om.m)
	}
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-4))
	return b
}

func appendMessage(b []byte, shard int, m *pb.Message) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(shard))
	b = binary.BigEndian.AppendUint32(b, uint32(proto.Size(m)))
	b, err := proto.MarshalOptions{}.MarshalAppend(b, m)
	if err != nil {
		panic(fmt.Sprintf("replication: marshal raft message: %v", err))
	}
	return b
}

// writer returns the connection writer to Raft ID to, dialing in the background if there
// is none; nil until connected. The address is resolved on every call: a peer that moved
// is dialed at its new address at once.
func (t *tcpTransport) writer(to uint64) *coalesce.Writer {
	name := t.h.name(to)
	if name == "" {
		return nil
	}
	addr, err := t.h.resolve(name)
	if err != nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return nil
	}
	p := t.peers[name]
	if p == nil {
		p = &peer{}
		t.peers[name] = p
	}
	if p.w != nil && p.addr != addr {
		t.drop(p, errors.New("peer moved"))
	}
	if p.w != nil {
		return p.w
	}
	if !p.dialing {
		p.dialing = true
		t.wg.Add(1)
		go t.dial(p, name, addr)
	}
	return nil
}

// dialConn connects to addr and writes the header of a magic connection from this node
// to node name.
func (t *tcpTransport) dialConn(addr, magic, name string) (net.Conn, error) {
	from := t.h.nodeID
	nc, err := t.dialer.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	hdr := append([]byte(magic), byte(len(name)))
	hdr = append(hdr, name...)
	hdr = append(hdr, byte(len(from)))
	hdr = append(hdr, from...)
	if _, err := nc.Write(hdr); err != nil {
		_ = nc.Close()
		return nil, err
	}
	return nc, nil
}

func (t *tcpTransport) dial(p *peer, name, addr string) {
	defer t.wg.Done()
	t.h.stats.dials.Add(1)
	nc, err := t.dialConn(addr, msgMagic, name)
	t.mu.Lock()
	defer t.mu.Unlock()
	p.dialing = false
	if err != nil {
		t.h.stats.dialErrors.Add(1)
		return
	}
	if t.done {
		_ = nc.Close()
		return
	}
	p.nc, p.addr, p.w = nc, addr, coalesce.NewWriter(nc)
	t.h.signal()
}

func (t *tcpTransport) broken(to uint64, err error) {
	name := t.h.name(to)
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.peers[name]; p != nil && p.w != nil {
		t.drop(p, err)
	}
}

// drop closes p's connection, failing what is queued on it with err. Under t.mu.
func (t *tcpTransport) drop(p *peer, err error) {
	p.w.Fail(err)
	_ = p.nc.Close()
	p.w, p.nc = nil, nil
	t.h.stats.connsClosed.Add(1)
}

func (t *tcpTransport) accept() {
	defer t.wg.Done()
	for {
		nc, err := t.ln.Accept()
		if err != nil {
			return
		}
		t.mu.Lock()
		if t.done {
			t.mu.Unlock()
			_ = nc.Close()
			return
		}
		t.conns[nc] = struct{}{}
		t.wg.Add(1)
		t.mu.Unlock()
		go t.serve(nc)
	}
}

// serve reads an accepted connection's header and then its messages or snapshot.
func (t *tcpTransport) serve(nc net.Conn) {
	defer t.wg.Done()
	defer func() {
		_ = nc.Close()
		t.mu.Lock()
		delete(t.conns, nc)
		t.mu.Unlock()
	}()
	r := bufio.NewReaderSize(nc, 64<<10)
	_ = nc.SetReadDeadline(time.Now().Add(handshakeTimeout))
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return
	}
	magic := string(hdr[:4])
	if magic != msgMagic && magic != snapMagic {
		t.h.log.Warn("Refused a connection that is not Raft traffic", "remote", nc.RemoteAddr().String())
		return
	}
	target := make([]byte, hdr[4])
	if _, err := io.ReadFull(r, target); err != nil {
		return
	}
	if string(target) != t.h.nodeID {
		t.h.log.Warn("Refused a raft connection meant for another node", "target", string(target), "remote", nc.RemoteAddr().String())
		return
	}
	var fl [1]byte
	if _, err := io.ReadFull(r, fl[:]); err != nil {
		return
	}
	from := make([]byte, fl[0])
	if _, err := io.ReadFull(r, from); err != nil || len(from) == 0 {
		return
	}
	_ = nc.SetReadDeadline(time.Time{})
	if magic == snapMagic {
		t.receiveSnapshot(nc, r, string(from))
		return
	}
	t.receive(r, string(from))
}

// receive hands the messages of a message connection from node from to the host.
func (t *tcpTransport) receive(r *bufio.Reader, from string) {
	var buf []byte
	var sender uint64 // the Raft ID from's messages come from, once learnt
	for {
		var lb [4]byte
		if _, err := io.ReadFull(r, lb[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(lb[:])
		if n > maxFrame {
			t.h.log.Warn("Refused a raft frame over the size limit", "bytes", n)
			return
		}
		if cap(buf) < int(n) {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			return
		}
		for b := buf; len(b) > 0; {
			shard, m, rest, err := readMessage(b)
			if err != nil {
				t.h.log.Warn("Undecodable raft message; closing the connection", "err", err)
				return
			}
			b = rest
			t.h.receive(from, &sender, shard, m)
		}
	}
}

// readMessage decodes one (shard, message) of a frame and returns the bytes after it.
func readMessage(b []byte) (int, *pb.Message, []byte, error) {
	if len(b) < 6 {
		return 0, nil, nil, errors.New("truncated message header")
	}
	shard := int(binary.BigEndian.Uint16(b))
	sz := binary.BigEndian.Uint32(b[2:])
	if uint64(len(b)-6) < uint64(sz) {
		return 0, nil, nil, errors.New("truncated message")
	}
	m := &pb.Message{}
	if err := proto.Unmarshal(b[6:6+sz], m); err != nil {
		return 0, nil, nil, err
	}
	return shard, m, b[6+sz:], nil
}

// sendSnapshot streams the shard's data with a MsgSnap over a connection of its own.
func (t *tcpTransport) sendSnapshot(om outMsg) {
	defer t.wg.Done()
	t.h.sendSnapshot(om, func(msg *pb.Message, name string) bool { return t.streamSnapshot(om.shard, msg, name) })
}

// streamSnapshot sends msg and the shard's data to node name, and reports whether it
// confirmed that it has stored them.
func (t *tcpTransport) streamSnapshot(shard int, msg *pb.Message, name string) bool {
	addr, err := t.h.resolve(name)
	if err != nil {
		return false
	}
	nc, err := t.dialConn(addr, snapMagic, name)
	if err != nil {
		t.h.log.Warn("Snapshot for peer failed", "shard", shard, "peer", name, "err", err)
		return false
	}
	if !t.track(nc) {
		return false
	}
	defer t.untrack(nc)
	start := time.Now()
	bw := bufio.NewWriterSize(nc, 256<<10)
	_, err = bw.Write(appendMessage(nil, shard, msg))
	if err == nil {
		err = t.h.store.SnapshotShard(shard, bw)
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = nc.(*net.TCPConn).CloseWrite()
	}
	if err == nil {
		_ = nc.SetReadDeadline(time.Now().Add(snapshotAckTimeout))
		var ack [1]byte
		_, err = io.ReadFull(nc, ack[:])
	}
	if err != nil {
		t.h.log.Warn("Snapshot for peer failed", "shard", shard, "peer", name, "err", err)
		return false
	}
	t.h.log.Info("Sent snapshot", "shard", shard, "peer", name,
		"index", msg.GetSnapshot().GetMetadata().GetIndex(), "took", time.Since(start))
	return true
}

// track registers an outgoing connection so that close ends it; false once closed.
func (t *tcpTransport) track(nc net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		_ = nc.Close()
		return false
	}
	t.conns[nc] = struct{}{}
	return true
}

func (t *tcpTransport) untrack(nc net.Conn) {
	_ = nc.Close()
	t.mu.Lock()
	delete(t.conns, nc)
	t.mu.Unlock()
}

// receiveSnapshot stores a snapshot stream, confirms it, and hands its message to the
// host.
func (t *tcpTransport) receiveSnapshot(nc net.Conn, r *bufio.Reader, from string) {
	var hb [6]byte
	if _, err := io.ReadFull(r, hb[:]); err != nil {
		return
	}
	sz := binary.BigEndian.Uint32(hb[2:])
	if sz > maxFrame {
		return
	}
	mb := make([]byte, 6+sz)
	copy(mb, hb[:])
	if _, err := io.ReadFull(r, mb[6:]); err != nil {
		return
	}
	shard, m, _, err := readMessage(mb)
	if err != nil || m.GetType() != pb.MsgSnap || m.GetSnapshot() == nil {
		t.h.log.Warn("Refused an undecodable snapshot message", "err", err)
		return
	}
	path, n, err := t.h.storeSnapshot(from, shard, m, r)
	if err != nil {
		return
	}
	if _, err := nc.Write([]byte{1}); err != nil {
		_ = os.Remove(path)
		return
	}
	t.h.offerSnapshot(shard, m, path, n)
}

// addr is the bound Raft address.
func (t *tcpTransport) addr() net.Addr { return t.ln.Addr() }

func (t *tcpTransport) close() {
	_ = t.ln.Close()
	t.mu.Lock()
	t.done = true
	for _, p := range t.peers {
		if p.w != nil {
			t.drop(p, ErrClosed)
		}
	}
	for nc := range t.conns {
		_ = nc.Close()
	}
	t.mu.Unlock()
	t.wg.Wait()
}
