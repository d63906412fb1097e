package replication

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// The encoding of Raft's RPCs on a link (see transport.go): each message is its fields in
// declaration order, unsigned integers as uvarints, byte slices as a uvarint length and the
// bytes, booleans as one byte, a log entry's AppendedAt as a varint of Unix nanoseconds (0:
// the zero time). The fields Raft deprecated (Leader, Candidate, Peers) are not carried: it
// fills RPCHeader.Addr, which supersedes them, on every RPC. hashicorp/raft's own NetworkTransport uses reflection-driven msgpack,
// which cost a tenth of a node's CPU under write load (docs/benchmarks.md).

func appendBytes(b, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendHeader(b []byte, h raft.RPCHeader) []byte {
	b = binary.AppendUvarint(b, uint64(h.ProtocolVersion))
	b = appendBytes(b, h.ID)
	return appendBytes(b, h.Addr)
}

// The link's messages are read with the commands' decoder (command.go): byte slices alias
// the frame, which each message owns.

// field reads a byte slice, nil when empty as msgpack decodes it (Raft tells heartbeats by
// a non-nil leader address).
func (d *decoder) field() []byte {
	if p := d.bytes(); len(p) > 0 {
		return p
	}
	return nil
}

// varint reads a signed varint (binary.AppendVarint's zig-zag encoding of an uvarint).
func (d *decoder) varint() int64 {
	u := d.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

func (d *decoder) bool() bool {
	v := d.byte()
	if d.err != nil {
		return false
	}
	switch v {
	case 0:
		return false
	case 1:
		return true
	default:
		d.err = fmt.Errorf("boolean byte %d", v)
		return false
	}
}

func (d *decoder) header() raft.RPCHeader {
	return raft.RPCHeader{ProtocolVersion: raft.ProtocolVersion(d.uvarint()), ID: d.field(), Addr: d.field()}
}

// done reports the first error, or trailing bytes after the last field.
func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d bytes after the message", len(d.b))
	}
	return d.err
}

func appendAppendEntriesRequest(b []byte, r *raft.AppendEntriesRequest) []byte {
	b = appendHeader(b, r.RPCHeader)
	b = binary.AppendUvarint(b, r.Term)
	b = binary.AppendUvarint(b, r.PrevLogEntry)
	b = binary.AppendUvarint(b, r.PrevLogTerm)
	b = binary.AppendUvarint(b, r.LeaderCommitIndex)
	b = binary.AppendUvarint(b, uint64(len(r.Entries)))
	for _, l := range r.Entries {
		b = binary.AppendUvarint(b, l.Index)
		b = binary.AppendUvarint(b, l.Term)
		b = append(b, byte(l.Type))
		b = appendBytes(b, l.Data)
		b = appendBytes(b, l.Extensions)
		var at int64
		if !l.AppendedAt.IsZero() {
			at = l.AppendedAt.UnixNano()
		}
		b = binary.AppendVarint(b, at)
	}
	return b
}

func (d *decoder) appendEntriesRequest() *raft.AppendEntriesRequest {
	r := &raft.AppendEntriesRequest{RPCHeader: d.header(), Term: d.uvarint(),
		PrevLogEntry: d.uvarint(), PrevLogTerm: d.uvarint(), LeaderCommitIndex: d.uvarint()}
	n := d.uvarint()
	// Each entry takes at least 6 bytes, so a count beyond that is a corrupt message, not
	// an allocation to make.
	if d.err == nil && n > uint64(len(d.b))/6 {
		d.err = fmt.Errorf("%d log entries in %d bytes", n, len(d.b))
	}
	if d.err != nil || n == 0 {
		return r
	}
	logs := make([]raft.Log, n)
	r.Entries = make([]*raft.Log, n)
	for i := range logs {
		l := &logs[i]
		l.Index = d.uvarint()
		l.Term = d.uvarint()
		l.Type = raft.LogType(d.byte())
		l.Data = d.field()
		l.Extensions = d.field()
		if at := d.varint(); at != 0 {
			l.AppendedAt = time.Unix(0, at)
		}
		r.Entries[i] = l
		if d.err != nil {
			break
		}
	}
	return r
}

func appendAppendEntriesResponse(b []byte, r *raft.AppendEntriesResponse) []byte {
	b = appendHeader(b, r.RPCHeader)
	b = binary.AppendUvarint(b, r.Term)
	b = binary.AppendUvarint(b, r.LastLog)
	b = appendBool(b, r.Success)
	return appendBool(b, r.NoRetryBackoff)
}

func (d *decoder) appendEntriesResponse(r *raft.AppendEntriesResponse) {
	*r = raft.AppendEntriesResponse{RPCHeader: d.header(), Term: d.uvarint(), LastLog: d.uvarint(),
		Success: d.bool(), NoRetryBackoff: d.bool()}
}

func appendRequestVoteRequest(b []byte, r *raft.RequestVoteRequest) []byte {
	b = appendHeader(b, r.RPCHeader)
	b = binary.AppendUvarint(b, r.Term)
	b = binary.AppendUvarint(b, r.LastLogIndex)
	b = binary.AppendUvarint(b, r.LastLogTerm)
	return appendBool(b, r.LeadershipTransfer)
}

func (d *decoder) requestVoteRequest() *raft.RequestVoteRequest {
	return &raft.RequestVoteRequest{RPCHeader: d.header(), Term: d.uvarint(),
		LastLogIndex: d.uvarint(), LastLogTerm: d.uvarint(), LeadershipTransfer: d.bool()}
}

func appendRequestVoteResponse(b []byte, r *raft.RequestVoteResponse) []byte {
	b = appendHeader(b, r.RPCHeader)
	b = binary.AppendUvarint(b, r.Term)
	return appendBool(b, r.Granted)
}

func (d *decoder) requestVoteResponse(r *raft.RequestVoteResponse) {
	*r = raft.RequestVoteResponse{RPCHeader: d.header(), Term: d.uvarint(), Granted: d.bool()}
}

func appendRequestPreVoteRequest(b []byte, r *raft.RequestPreVoteRequest) []byte {
	b = appendHeader(b, r.RPCHeader)
	b = binary.AppendUvarint(b, r.Term)
	b = binary.AppendUvarint(b, r.LastLogIndex)
	return binary.AppendUvarint(b, r.LastLogTerm)
}

func (d *decoder) requestPreVoteRequest() *raft.RequestPreVoteRequest {
	return &raft.RequestPreVoteRequest{RPCHeader: d.header(), Term: d.uvarint(), LastLogIndex: d.uvarint(),
		LastLogTerm: d.uvarint()}
}

func appendRequestPreVoteResponse(b []byte, r *raft.RequestPreVoteResponse) []byte {
	b = appendHeader(b, r.RPCHeader)
	b = binary.AppendUvarint(b, r.Term)
	return appendBool(b, r.Granted)
}

func (d *decoder) requestPreVoteResponse(r *raft.RequestPreVoteResponse) {
	*r = raft.RequestPreVoteResponse{RPCHeader: d.header(), Term: d.uvarint(), Granted: d.bool()}
}

// TimeoutNow's request and response are a header alone.

func (d *decoder) timeoutNowRequest() *raft.TimeoutNowRequest {
	return &raft.TimeoutNowRequest{RPCHeader: d.header()}
}

func (d *decoder) timeoutNowResponse(r *raft.TimeoutNowResponse) {
	*r = raft.TimeoutNowResponse{RPCHeader: d.header()}
}
