package replication

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	pb "go.etcd.io/raft/v3/raftpb"
)

// rawConn dials h's Raft port and writes a connection header for target from sender.
func rawConn(t *testing.T, h *Host, magic, target, sender string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", h.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	hdr := append([]byte(magic), byte(len(target)))
	hdr = append(append(hdr, target...), byte(len(sender)))
	hdr = append(hdr, sender...)
	if _, err := nc.Write(hdr); err != nil {
		t.Fatal(err)
	}
	return nc
}

// closedByPeer reports whether the peer closed nc (a read ends) within the deadline.
func closedByPeer(nc net.Conn) bool {
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := nc.Read(make([]byte, 1))
	return err == io.EOF
}

func TestFramesRoundTrip(t *testing.T) {
	g := NewWithT(t)
	msgs := []outMsg{
		{shard: 3, m: &pb.Message{Type: pb.MsgApp.Enum(), To: new(uint64(7)), From: new(uint64(9)), Term: new(uint64(4)),
			Index: new(uint64(10)), Entries: []*pb.Entry{{Index: new(uint64(11)), Term: new(uint64(4)), Data: []byte("x")}}}},
		{shard: 4095, m: &pb.Message{Type: pb.MsgHeartbeat.Enum(), To: new(uint64(8)), Commit: new(uint64(12))}},
	}
	frame := appendFrame(nil, msgs)
	g.Expect(binary.BigEndian.Uint32(frame)).To(BeEquivalentTo(len(frame) - 4))
	b := frame[4:]
	for _, want := range msgs {
		shard, m, rest, err := readMessage(b)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(shard).To(Equal(want.shard))
		g.Expect(m.String()).To(Equal(want.m.String()))
		b = rest
	}
	g.Expect(b).To(BeEmpty())
	// Every truncation is refused, never misread (a cut between the two messages leaves the
	// first whole).
	whole := frame[4:]
	boundary := len(appendMessage(nil, msgs[0].shard, msgs[0].m))
	for n := 1; n < len(whole); n++ {
		if n == boundary {
			continue
		}
		b := whole[:n]
		var err error
		for len(b) > 0 && err == nil {
			_, _, b, err = readMessage(b)
		}
		g.Expect(err).To(HaveOccurred(), "truncated to %d bytes", n)
	}
}

// TestTransportRefusesStrangers: a connection meant for another node, one that is not Raft
// traffic, and one that sends an undecodable frame are closed; a message for a shard the
// node does not host is dropped and the connection kept.
func TestTransportRefusesStrangers(t *testing.T) {
	g := NewWithT(t)
	h := testHost(t, openEngine(t))
	g.Expect(closedByPeer(rawConn(t, h, msgMagic, "someone-else", "n2"))).To(BeTrue(), "meant for another node")
	g.Expect(closedByPeer(rawConn(t, h, "GET ", "n1", "n2"))).To(BeTrue(), "not Raft traffic")

	nc := rawConn(t, h, msgMagic, "n1", "n2")
	frame := appendFrame(nil, []outMsg{
		{shard: 9, m: &pb.Message{Type: pb.MsgHeartbeat.Enum(), To: new(h.ID()), From: new(uint64(77))}},
		{shard: 9, m: &pb.Message{Type: pb.MsgHeartbeat.Enum(), To: new(h.ID() + 1), From: new(uint64(77))}},
	})
	_, err := nc.Write(frame)
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func() string { return h.name(77) }).Should(Equal("n2"), "the sender's name is learnt from its header, with the Raft ID its messages come from")
	g.Eventually(func() uint64 { return h.Stats().MessagesMisaddressed }).Should(BeEquivalentTo(1), "a message to another Raft ID is dropped and counted")
	_ = nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	_, err = bufio.NewReader(nc).ReadByte()
	g.Expect(err).To(MatchError(ContainSubstring("timeout")), "kept open after a message for a shard not hosted here")

	bad := binary.BigEndian.AppendUint32(nil, 8)
	bad = append(bad, 0, 1, 0, 0, 0, 2, 0xff, 0xff) // shard 1, a 2-byte message that is not protobuf
	_, err = nc.Write(bad)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(closedByPeer(nc)).To(BeTrue(), "an undecodable message closes the connection")
}
