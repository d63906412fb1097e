package replication

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// MemNetwork carries the Raft traffic of hosts in one process in memory
// (HostConfig.Network), for tests that cut links and drop messages deterministically,
// without sockets. Messages from one host to another arrive in the order sent, as over
// the TCP transport's connection, each as a copy of its own. A host that is not running,
// or a link that is cut, loses what is sent over it, and the sender's group is told that
// the peer is unreachable; a message in flight when its link is cut is lost too. A
// snapshot streams the shard's data through a pipe into the receiver's incoming
// directory, as over TCP.
type MemNetwork struct {
	mu    sync.Mutex
	hosts map[string]*memTransport
	cut   map[memLinkKey]bool
	drop  func(from, to string, shard int, m *pb.Message) bool
}

// memLinkKey names the one-way link from one node to another.
type memLinkKey struct{ from, to string }

// NewMemNetwork returns a network on which every link carries.
func NewMemNetwork() *MemNetwork {
	return &MemNetwork{hosts: map[string]*memTransport{}, cut: map[memLinkKey]bool{}}
}

// Cut stops the link from node from to node to (one way: to still reaches from unless
// that link is cut too).
func (n *MemNetwork) Cut(from, to string) {
	n.mu.Lock()
	n.cut[memLinkKey{from, to}] = true
	n.mu.Unlock()
}

// Isolate cuts every link to and from node, including those of nodes that join later,
// until Heal.
func (n *MemNetwork) Isolate(node string) {
	n.mu.Lock()
	n.cut[memLinkKey{node, ""}] = true
	n.cut[memLinkKey{"", node}] = true
	n.mu.Unlock()
}

// Reconnect undoes Isolate(node).
func (n *MemNetwork) Reconnect(node string) {
	n.mu.Lock()
	delete(n.cut, memLinkKey{node, ""})
	delete(n.cut, memLinkKey{"", node})
	n.mu.Unlock()
}

// Heal makes every link carry again.
func (n *MemNetwork) Heal() {
	n.mu.Lock()
	clear(n.cut)
	n.mu.Unlock()
}

// Drop sets a filter that loses the messages it returns true for (snapshots aside), as a
// lossy link would; nil loses none. It is called on the sending host's goroutines, one
// message at a time, in the order each host sends.
func (n *MemNetwork) Drop(f func(from, to string, shard int, m *pb.Message) bool) {
	n.mu.Lock()
	n.drop = f
	n.mu.Unlock()
}

// carries reports whether the link from node from to node to carries, and the host at its
// end (nil if none is running). Under n.mu.
func (n *MemNetwork) carries(from, to string) (*memTransport, bool) {
	if n.cut[memLinkKey{from, to}] || n.cut[memLinkKey{from, ""}] || n.cut[memLinkKey{"", to}] {
		return nil, false
	}
	t := n.hosts[to]
	return t, t != nil
}

// attach makes h node h.nodeID of the network, in place of an earlier host of that node.
func (n *MemNetwork) attach(h *Host) *memTransport {
	t := &memTransport{net: n, h: h, links: map[string]*memLink{}}
	n.mu.Lock()
	n.hosts[h.nodeID] = t
	n.mu.Unlock()
	return t
}

// memTransport is a host's end of a MemNetwork.
type memTransport struct {
	net *MemNetwork
	h   *Host

	mu    sync.Mutex
	links map[string]*memLink // outgoing, by node
	done  bool
	wg    sync.WaitGroup

	// recv is held to hand a message to h: close takes it to wait for those in flight.
	recv     sync.RWMutex
	recvDone bool
}

// memLink is a one-way link's queue of messages, delivered in order by its goroutine.
type memLink struct {
	from, to string
	mu       sync.Mutex
	queue    []outMsg
	wake     chan struct{}
	// sender is the Raft ID the messages have come from so far, for the host at the end
	// (target): a new host there learns it again.
	sender uint64
	target *memTransport
}

func (t *memTransport) addr() net.Addr { return memAddr(t.h.nodeID) }

func (t *memTransport) send(msgs []outMsg) {
	from := t.h.nodeID
	t.net.mu.Lock()
	drop := t.net.drop
	t.net.mu.Unlock()
	byNode := map[string][]outMsg{}
	for _, om := range msgs {
		if om.m.GetType() == pb.MsgSnap {
			t.mu.Lock()
			if !t.done {
				t.wg.Add(1)
				go t.sendSnapshot(om)
			}
			t.mu.Unlock()
			continue
		}
		to := t.h.name(om.m.GetTo())
		if drop != nil && drop(from, to, om.shard, om.m) {
			continue
		}
		byNode[to] = append(byNode[to], outMsg{shard: om.shard, m: proto.Clone(om.m).(*pb.Message)})
	}
	for to, ms := range byNode {
		t.net.mu.Lock()
		_, ok := t.net.carries(from, to)
		t.net.mu.Unlock()
		var l *memLink
		if ok && to != "" {
			l = t.link(to)
		}
		if l == nil {
			t.h.unreachable(ms)
			continue
		}
		l.mu.Lock()
		l.queue = append(l.queue, ms...)
		l.mu.Unlock()
		select {
		case l.wake <- struct{}{}:
		default:
		}
		t.h.stats.sent.Add(uint64(len(ms)))
	}
}

// link returns the link to node to, starting it if needed; nil once closed.
func (t *memTransport) link(to string) *memLink {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return nil
	}
	l := t.links[to]
	if l == nil {
		l = &memLink{from: t.h.nodeID, to: to, wake: make(chan struct{}, 1)}
		t.links[to] = l
		t.wg.Add(1)
		go t.deliver(l)
	}
	return l
}

// deliver hands the link's messages, in order, to the host at its end while the link
// carries; the others are lost.
func (t *memTransport) deliver(l *memLink) {
	defer t.wg.Done()
	for range l.wake {
		l.mu.Lock()
		ms := l.queue
		l.queue = nil
		l.mu.Unlock()
		for _, om := range ms {
			t.net.mu.Lock()
			to, ok := t.net.carries(l.from, l.to)
			t.net.mu.Unlock()
			if !ok {
				continue
			}
			if to != l.target {
				l.target, l.sender = to, 0
			}
			to.receive(l.from, &l.sender, om)
		}
	}
}

// receive hands a message from node from to the host, unless it is closed.
func (t *memTransport) receive(from string, sender *uint64, om outMsg) {
	t.recv.RLock()
	defer t.recv.RUnlock()
	if !t.recvDone {
		t.h.receive(from, sender, om.shard, om.m)
	}
}

// sendSnapshot streams the shard's data to the host at the other end through a pipe, as
// the TCP transport does over a connection.
func (t *memTransport) sendSnapshot(om outMsg) {
	defer t.wg.Done()
	t.h.sendSnapshot(om, func(msg *pb.Message, name string) bool {
		t.net.mu.Lock()
		to, carries := t.net.carries(t.h.nodeID, name)
		t.net.mu.Unlock()
		if !carries {
			return false
		}
		pr, pw := io.Pipe()
		go func() { _ = pw.CloseWithError(t.h.store.SnapshotShard(om.shard, pw)) }()
		to.recv.RLock()
		defer to.recv.RUnlock()
		if to.recvDone {
			_ = pr.CloseWithError(errClosedInFlight)
			return false
		}
		path, n, err := to.h.storeSnapshot(t.h.nodeID, om.shard, msg, pr)
		_ = pr.CloseWithError(errors.New("snapshot stream ended")) // ends the writer if the reader stopped early
		if err != nil {
			return false
		}
		t.net.mu.Lock()
		_, carries = t.net.carries(t.h.nodeID, name)
		t.net.mu.Unlock()
		if !carries { // cut before the receiver could confirm
			_ = os.Remove(path)
			return false
		}
		to.h.offerSnapshot(om.shard, msg, path, n)
		return true
	})
}

// close stops the links and waits for their goroutines and for deliveries to this host.
func (t *memTransport) close() {
	t.net.mu.Lock()
	if t.net.hosts[t.h.nodeID] == t {
		delete(t.net.hosts, t.h.nodeID)
	}
	t.net.mu.Unlock()
	t.mu.Lock()
	t.done = true
	for _, l := range t.links {
		close(l.wake)
	}
	t.mu.Unlock()
	t.recv.Lock()
	t.recvDone = true
	t.recv.Unlock()
	t.wg.Wait()
}

// memAddr is a host's address on a MemNetwork: its node ID.
type memAddr string

func (a memAddr) Network() string { return "mem" }
func (a memAddr) String() string  { return "mem:" + string(a) }
