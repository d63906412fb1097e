package replication

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// transport carries the Raft messages of every group between this node and its peers.
// tcpTransport (tcptransport.go) is the one nodes use; memTransport (memtransport.go) is
// an in-memory network for tests that cut links and drop messages without sockets. Both
// hand what they receive to the host's side, below, which decides what is stepped.
type transport interface {
	// send sends a round's messages without waiting for the network. Messages it cannot
	// send are reported to Host.unreachable (Raft sends again); each MsgSnap goes over a
	// stream of its own with the shard's data (Host.sendSnapshot).
	send(msgs []outMsg)
	// addr is the address peers reach this node at.
	addr() net.Addr
	// close stops sending and receiving and waits for the transport's goroutines.
	close()
}

// errMisaddressed refuses a snapshot addressed to a Raft ID this node does not have.
var errMisaddressed = errors.New("snapshot addressed to another Raft ID")

// outMsg is one Raft message of one shard's group.
type outMsg struct {
	shard int
	m     *pb.Message
}

// quietPeriod is the host's quiet period (Host.QuietUntil): until it ends, every Raft message
// received is dropped.
type quietPeriod struct {
	mu    sync.Mutex
	until time.Time
}

// QuietUntil makes the host drop every Raft message it receives until t: a node that
// restarts with Raft state answers no Raft traffic for a while (Config.RestartQuietPeriod).
func (h *Host) QuietUntil(t time.Time) {
	h.quiet.mu.Lock()
	h.quiet.until = t
	h.quiet.mu.Unlock()
}

// Quiet reports whether the host is still in a quiet period, and until when.
func (h *Host) Quiet() (until time.Time, quiet bool) {
	h.quiet.mu.Lock()
	defer h.quiet.mu.Unlock()
	return h.quiet.until, time.Now().Before(h.quiet.until)
}

// receive steps message m of shard, received from node from, into its group. sender is
// the Raft ID from's messages have come from so far on this stream: a new one is learnt
// as a name of from. Snapshots come over streams of their own only (storeSnapshot).
func (h *Host) receive(from string, sender *uint64, shard int, m *pb.Message) {
	if _, quiet := h.Quiet(); quiet || m.GetType() == pb.MsgSnap {
		return
	}
	if m.GetFrom() != *sender {
		*sender = m.GetFrom()
		h.learnMember(*sender, from)
	}
	h.step(shard, m)
}

// unreachable tells the groups of ms that their peer could not be reached, so that Raft
// probes it instead of streaming entries into the void.
func (h *Host) unreachable(ms []outMsg) {
	h.stats.dropped.Add(uint64(len(ms)))
	seen := map[int]bool{}
	for _, om := range ms {
		if seen[om.shard] {
			continue
		}
		seen[om.shard] = true
		if g := h.group(om.shard); g != nil {
			g.mu.Lock()
			if !g.closed {
				g.rn.ReportUnreachable(om.m.GetTo())
			}
			g.mu.Unlock()
		}
	}
}

// sendSnapshot sends MsgSnap om with stream and tells its group's Raft the outcome. stream
// sends msg (a copy of om whose snapshot data lists the members of its configuration, so
// that a new replica can name members it has not heard from yet) and then the shard's data
// (Storage.SnapshotShard) to node name, and reports whether the receiver confirmed it has
// stored all of it.
func (h *Host) sendSnapshot(om outMsg, stream func(msg *pb.Message, name string) bool) {
	g := h.group(om.shard)
	if g == nil {
		return
	}
	m := proto.Clone(om.m).(*pb.Message)
	cs := m.GetSnapshot().GetMetadata().GetConfState()
	m.Snapshot.Data = joinMembers(h.namedMembers(cs.GetVoters(), cs.GetLearners(), cs.GetVotersOutgoing(), cs.GetLearnersNext()))
	name := h.name(om.m.GetTo())
	status := raft.SnapshotFailure
	if name != "" && stream(m, name) {
		status = raft.SnapshotFinish
		h.stats.snapshotsSent.Add(1)
	} else {
		h.stats.snapshotsFailed.Add(1)
	}
	g.mu.Lock()
	if !g.closed {
		g.rn.ReportSnapshot(om.m.GetTo(), status)
	}
	g.mu.Unlock()
	h.signal()
}

// storeSnapshot stores the data stream of snapshot message m from node from in a file of
// the incoming directory and returns its path and size. A message not addressed to this
// node's Raft ID is refused. The caller confirms the stream to the sender and then hands
// the message over with offerSnapshot, or removes the file.
func (h *Host) storeSnapshot(from string, shard int, m *pb.Message, data io.Reader) (string, int64, error) {
	if !h.addressedHere(shard, m) {
		return "", 0, errMisaddressed
	}
	h.learnMember(m.GetFrom(), from)
	for _, mm := range splitMembers(m.GetSnapshot().GetData()) {
		h.learnMember(mm.ID, mm.Node)
	}
	f, err := os.CreateTemp(incomingDir(h.dir), fmt.Sprintf("shard-%d-*.snap", shard))
	if err != nil {
		h.log.Error("Cannot store an incoming snapshot", "shard", shard, "err", err)
		return "", 0, err
	}
	path := f.Name()
	n, err := io.Copy(f, data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return "", 0, err
	}
	return path, n, nil
}

// offerSnapshot steps a stored snapshot's message, with the file's name as its data, into
// its group, which restores the file when Raft accepts it. In a quiet period, or without
// the group, the file is removed instead.
func (h *Host) offerSnapshot(shard int, m *pb.Message, path string, n int64) {
	_, quiet := h.Quiet()
	g := h.group(shard)
	if quiet || g == nil {
		_ = os.Remove(path)
		return
	}
	h.log.Info("Received snapshot", "shard", shard, "index", m.GetSnapshot().GetMetadata().GetIndex(), "bytes", n)
	m.Snapshot.Data = []byte(filepath.Base(path))
	g.offerSnapshot(path)
	h.step(shard, m)
}

// incomingDir is where snapshot streams are stored until their group restores them.
func incomingDir(dir string) string { return filepath.Join(dir, "incoming") }

// resetIncoming empties the directory of snapshots being received: a file left by a
// previous run belongs to a message no group will see.
func resetIncoming(dir string) error {
	d := incomingDir(dir)
	if err := os.RemoveAll(d); err != nil {
		return fmt.Errorf("clear %s: %w", d, err)
	}
	if err := os.MkdirAll(d, 0o750); err != nil {
		return fmt.Errorf("create %s: %w", d, err)
	}
	return nil
}

// snapshotFile returns the path of a received snapshot from a MsgSnap's data, refusing
// anything but a file of the incoming directory.
func (h *Host) snapshotFile(data []byte) (string, error) {
	name := string(data)
	if name == "" || strings.ContainsAny(name, `/\`) || !strings.HasSuffix(name, ".snap") {
		return "", fmt.Errorf("snapshot data %q names no received snapshot", name)
	}
	return filepath.Join(incomingDir(h.dir), name), nil
}
