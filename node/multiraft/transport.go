package multiraft

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/torua/torua/internal/coalesce"
)

// The transport keeps one TCP connection to each peer, over which this node sends the
// messages of all its groups; a peer's messages to this node come over the peer's own
// connection. A connection starts with a header:
//
//	magic "TRMR" | u16 name length | target node name
//
// then carries frames, each the messages of one round for that peer:
//
//	u32 length | repeated (u16 shard | u32 size | marshalled raftpb.Message)
const (
	magic       = "TRMR"
	maxFrame    = 256 << 20
	dialTimeout = 2 * time.Second
)

type outMsg struct {
	shard int
	m     *pb.Message
}

type transport struct {
	h     *Host
	mu    sync.Mutex
	peers map[uint64]*peer
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
	done  bool
}

type peer struct {
	name    string
	addr    string
	nc      net.Conn
	w       *coalesce.Writer
	dialing bool
}

func newTransport(h *Host) *transport {
	t := &transport{h: h, peers: map[uint64]*peer{}, conns: map[net.Conn]struct{}{}}
	t.wg.Add(1)
	go t.accept()
	return t
}

// send sends msgs, one frame per peer. Messages to a peer without a connection are
// dropped (Raft retries) while one is dialed.
func (t *transport) send(msgs []outMsg) {
	if len(msgs) == 0 {
		return
	}
	byPeer := map[uint64][]outMsg{}
	for _, om := range msgs {
		if om.m.GetType() == pb.MsgSnap {
			go t.sendSnapshot(om)
			continue
		}
		byPeer[om.m.GetTo()] = append(byPeer[om.m.GetTo()], om)
	}
	for to, ms := range byPeer {
		w := t.writer(to)
		if w == nil {
			t.unreachable(ms)
			continue
		}
		err := w.Send(func(b []byte) []byte { return appendFrame(b, ms) })
		if err != nil {
			t.broken(to, err)
			t.unreachable(ms)
		}
	}
}

func appendFrame(b []byte, ms []outMsg) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0)
	for _, om := range ms {
		b = binary.BigEndian.AppendUint16(b, uint16(om.shard))
		n := proto.Size(om.m)
		b = binary.BigEndian.AppendUint32(b, uint32(n))
		var err error
		b, err = proto.MarshalOptions{}.MarshalAppend(b, om.m)
		if err != nil {
			panic(fmt.Sprintf("multiraft: marshal message: %v", err))
		}
	}
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-4))
	return b
}

func (t *transport) unreachable(ms []outMsg) {
	seen := map[int]bool{}
	for _, om := range ms {
		if seen[om.shard] {
			continue
		}
		seen[om.shard] = true
		if g := t.h.group(om.shard); g != nil {
			g.mu.Lock()
			g.rn.ReportUnreachable(om.m.GetTo())
			g.mu.Unlock()
		}
	}
}

func (t *transport) sendSnapshot(om outMsg) {
	g := t.h.group(om.shard)
	if g == nil {
		return
	}
	status := raft.SnapshotFailure
	defer func() {
		g.mu.Lock()
		g.rn.ReportSnapshot(om.m.GetTo(), status)
		g.mu.Unlock()
		t.h.signal()
	}()
	m, err := g.snapshotMessage(om.m)
	if err != nil {
		t.h.log.Warn("Snapshot for peer failed", "shard", om.shard, "err", err)
		return
	}
	w := t.writer(om.m.GetTo())
	if w == nil {
		return
	}
	if err := w.Send(func(b []byte) []byte { return appendFrame(b, []outMsg{{shard: om.shard, m: m}}) }); err != nil {
		t.broken(om.m.GetTo(), err)
		return
	}
	status = raft.SnapshotFinish
}

// writer returns the connection writer to Raft ID to, dialing in the background if there
// is none; nil until connected.
func (t *transport) writer(to uint64) *coalesce.Writer {
	name := t.h.name(to)
	if name == "" {
		return nil
	}
	addr, err := t.h.cfg.Resolve(name)
	if err != nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return nil
	}
	p := t.peers[to]
	if p == nil {
		p = &peer{name: name}
		t.peers[to] = p
	}
	if p.w != nil && p.addr != addr {
		p.w.Fail(errors.New("peer moved"))
		_ = p.nc.Close()
		p.w, p.nc = nil, nil
	}
	if p.w != nil {
		return p.w
	}
	if !p.dialing {
		p.dialing = true
		t.wg.Add(1)
		go t.dial(to, p, addr)
	}
	return nil
}

func (t *transport) dial(to uint64, p *peer, addr string) {
	defer t.wg.Done()
	nc, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err == nil {
		hdr := append([]byte(magic), 0, 0)
		binary.BigEndian.PutUint16(hdr[4:], uint16(len(p.name)))
		hdr = append(hdr, p.name...)
		if _, err = nc.Write(hdr); err != nil {
			_ = nc.Close()
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p.dialing = false
	if err != nil {
		return
	}
	if t.done {
		_ = nc.Close()
		return
	}
	p.nc, p.addr, p.w = nc, addr, coalesce.NewWriter(nc)
	t.h.signal()
}

func (t *transport) broken(to uint64, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.peers[to]; p != nil && p.w != nil {
		p.w.Fail(err)
		_ = p.nc.Close()
		p.w, p.nc = nil, nil
	}
}

func (t *transport) accept() {
	defer t.wg.Done()
	for {
		nc, err := t.h.cfg.Listener.Accept()
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
		go t.receive(nc)
	}
}

func (t *transport) receive(nc net.Conn) {
	defer t.wg.Done()
	defer func() {
		_ = nc.Close()
		t.mu.Lock()
		delete(t.conns, nc)
		t.mu.Unlock()
	}()
	r := bufio.NewReaderSize(nc, 64<<10)
	var hdr [6]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil || string(hdr[:4]) != magic {
		return
	}
	name := make([]byte, binary.BigEndian.Uint16(hdr[4:]))
	if _, err := io.ReadFull(r, name); err != nil || string(name) != t.h.cfg.NodeID {
		t.h.log.Warn("Refused a raft connection meant for another node", "target", string(name))
		return
	}
	var buf []byte
	for {
		var lb [4]byte
		if _, err := io.ReadFull(r, lb[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(lb[:])
		if n > maxFrame {
			return
		}
		if cap(buf) < int(n) {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			return
		}
		for len(buf) > 0 {
			if len(buf) < 6 {
				return
			}
			shard := int(binary.BigEndian.Uint16(buf))
			sz := binary.BigEndian.Uint32(buf[2:])
			if uint32(len(buf)-6) < sz {
				return
			}
			m := &pb.Message{}
			if err := proto.Unmarshal(buf[6:6+sz], m); err != nil {
				t.h.log.Warn("Undecodable raft message", "err", err)
				return
			}
			t.h.step(shard, m)
			buf = buf[6+sz:]
		}
	}
}

func (t *transport) close() {
	_ = t.h.cfg.Listener.Close()
	t.mu.Lock()
	t.done = true
	for _, p := range t.peers {
		if p.w != nil {
			p.w.Fail(ErrClosed)
			_ = p.nc.Close()
		}
	}
	for nc := range t.conns {
		_ = nc.Close()
	}
	t.mu.Unlock()
	t.wg.Wait()
}
