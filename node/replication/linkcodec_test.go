package replication

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	. "github.com/onsi/gomega"
)

var testHeader = raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("node-0"), Addr: []byte("node-0")}

func testAppendEntries() *raft.AppendEntriesRequest {
	return &raft.AppendEntriesRequest{RPCHeader: testHeader, Term: 7,
		PrevLogEntry: 41, PrevLogTerm: 6, LeaderCommitIndex: 40,
		Entries: []*raft.Log{
			{Index: 42, Term: 7, Type: raft.LogCommand, Data: []byte("put a=1"), Extensions: []byte("ext"),
				AppendedAt: time.Unix(1700000000, 123456789)},
			{Index: 43, Term: 7, Type: raft.LogConfiguration, Data: []byte{0, 1, 2}, Extensions: []byte{9},
				AppendedAt: time.Unix(1700000001, 0)},
		}}
}

// Every message survives encoding and decoding field by field.
func TestLinkCodecRoundTrip(t *testing.T) {
	g := NewWithT(t)
	decode := func(kind byte, b []byte) any {
		cmd, err := decodeRequest(kind, b)
		g.Expect(err).NotTo(HaveOccurred())
		return cmd
	}

	ae := testAppendEntries()
	got := decode(kindAppendEntries, appendAppendEntriesRequest(nil, ae)).(*raft.AppendEntriesRequest)
	g.Expect(got.Entries).To(HaveLen(2))
	for i := range ae.Entries {
		g.Expect(got.Entries[i].AppendedAt.Equal(ae.Entries[i].AppendedAt)).To(BeTrue())
		got.Entries[i].AppendedAt = ae.Entries[i].AppendedAt
	}
	g.Expect(got).To(Equal(ae))

	// A heartbeat: no entries, and a zero AppendedAt stays zero.
	hb := &raft.AppendEntriesRequest{RPCHeader: testHeader, Term: 3}
	got = decode(kindAppendEntries, appendAppendEntriesRequest(nil, hb)).(*raft.AppendEntriesRequest)
	g.Expect(got).To(Equal(hb))
	g.Expect(isHeartbeat(got)).To(BeTrue())
	g.Expect(isHeartbeat(ae)).To(BeFalse())
	zero := &raft.AppendEntriesRequest{RPCHeader: testHeader, Term: 3, Entries: []*raft.Log{{Index: 1, Term: 3, Data: []byte("x"), Extensions: []byte("y")}}}
	got = decode(kindAppendEntries, appendAppendEntriesRequest(nil, zero)).(*raft.AppendEntriesRequest)
	g.Expect(got.Entries[0].AppendedAt.IsZero()).To(BeTrue())

	rv := &raft.RequestVoteRequest{RPCHeader: testHeader, Term: 9, LastLogIndex: 100, LastLogTerm: 8, LeadershipTransfer: true}
	g.Expect(decode(kindRequestVote, appendRequestVoteRequest(nil, rv))).To(Equal(rv))
	pv := &raft.RequestPreVoteRequest{RPCHeader: testHeader, Term: 9, LastLogIndex: 100, LastLogTerm: 8}
	g.Expect(decode(kindRequestPreVote, appendRequestPreVoteRequest(nil, pv))).To(Equal(pv))
	tn := &raft.TimeoutNowRequest{RPCHeader: testHeader}
	g.Expect(decode(kindTimeoutNow, appendHeader(nil, tn.RPCHeader))).To(Equal(tn))

	// Answers: each decodes, from its whole encoding, to what was encoded.
	answer := func(want any, read func(*decoder) any) {
		d := decoder{b: appendAnswer(nil, want)}
		got := read(&d)
		g.Expect(d.done()).To(Succeed())
		g.Expect(got).To(Equal(want))
	}
	answer(&raft.AppendEntriesResponse{RPCHeader: testHeader, Term: 7, LastLog: 43, Success: true},
		func(d *decoder) any { r := new(raft.AppendEntriesResponse); d.appendEntriesResponse(r); return r })
	answer(&raft.RequestVoteResponse{RPCHeader: testHeader, Term: 9, Granted: true},
		func(d *decoder) any { r := new(raft.RequestVoteResponse); d.requestVoteResponse(r); return r })
	answer(&raft.RequestPreVoteResponse{RPCHeader: testHeader, Term: 9, Granted: true},
		func(d *decoder) any { r := new(raft.RequestPreVoteResponse); d.requestPreVoteResponse(r); return r })
	answer(&raft.TimeoutNowResponse{RPCHeader: testHeader},
		func(d *decoder) any { r := new(raft.TimeoutNowResponse); d.timeoutNowResponse(r); return r })
}

// A message cut short anywhere, or with bytes after it, is refused; so is an unknown kind.
func TestLinkCodecRefusesDamage(t *testing.T) {
	g := NewWithT(t)
	full := appendAppendEntriesRequest(nil, testAppendEntries())
	for n := range len(full) {
		_, err := decodeRequest(kindAppendEntries, full[:n])
		g.Expect(err).To(HaveOccurred(), "truncated to %d of %d bytes", n, len(full))
	}
	_, err := decodeRequest(kindAppendEntries, append(full, 0))
	g.Expect(err).To(MatchError(ContainSubstring("bytes after the message")))
	_, err = decodeRequest(42, full)
	g.Expect(err).To(MatchError(ContainSubstring("unknown")))
	// A huge entry count in a short message is refused before anything is allocated.
	huge := appendHeader(nil, testHeader)
	huge = append(huge, 1, 0, 0, 0)             // term, prev entry, prev term, commit
	huge = append(huge, 0xff, 0xff, 0xff, 0x0f) // 2^28-1 entries
	_, err = decodeRequest(kindAppendEntries, huge)
	g.Expect(err).To(MatchError(ContainSubstring("log entries in")))
}

// FuzzLinkRequest: no input makes the request decoder panic, and what it accepts encodes
// to a message that decodes to the same request.
func FuzzLinkRequest(f *testing.F) {
	f.Add(kindAppendEntries, appendAppendEntriesRequest(nil, testAppendEntries()))
	f.Add(kindRequestVote, appendRequestVoteRequest(nil, &raft.RequestVoteRequest{RPCHeader: testHeader, Term: 2}))
	f.Add(kindRequestPreVote, appendRequestPreVoteRequest(nil, &raft.RequestPreVoteRequest{Term: 2}))
	f.Add(kindTimeoutNow, appendHeader(nil, testHeader))
	f.Fuzz(func(t *testing.T, kind byte, b []byte) {
		cmd, err := decodeRequest(kind, b)
		if err != nil {
			return
		}
		// The decoder accepts varints longer than their shortest form, so compare the
		// re-encoding with the re-encoding of what it decodes to.
		again := encodeRequest(cmd)
		cmd2, err := decodeRequest(kind, again)
		if err != nil {
			t.Fatalf("re-encoded %T does not decode: %v", cmd, err)
		}
		if !bytes.Equal(encodeRequest(cmd2), again) {
			t.Fatalf("%T changed in a round trip", cmd)
		}
	})
}

func encodeRequest(cmd any) []byte {
	switch r := cmd.(type) {
	case *raft.AppendEntriesRequest:
		return appendAppendEntriesRequest(nil, r)
	case *raft.RequestVoteRequest:
		return appendRequestVoteRequest(nil, r)
	case *raft.RequestPreVoteRequest:
		return appendRequestPreVoteRequest(nil, r)
	case *raft.TimeoutNowRequest:
		return appendHeader(nil, r.RPCHeader)
	}
	panic(fmt.Sprintf("request of type %T", cmd))
}
