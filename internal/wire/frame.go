package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"

	"github.com/torua/torua/internal/kv"
)

// Preface opens a connection, from the client and then the server. Its line breaks make
// an HTTP server that gets it by mistake answer 400 at once, which the client reports.
const Preface = "TORUAKV1\r\n\r\n"

// Op is a request's operation.
type Op uint8

// Operations.
const (
	OpGet    Op = 1
	OpPut    Op = 2
	OpDelete Op = 3
	// OpPing asks whether the server's process runs: the connection's reader answers it at
	// once with 200, without a handler (a Pool's heartbeat, see Pool.PingInterval).
	OpPing Op = 4
	// OpGraphReads carries a round of graph reads for the shards a node leads, from the
	// router: the key is the graph's name, the value a graph/shardapi reads request in its
	// binary encoding, and a 200 answer's body the binary reads answer. This package passes
	// both through unread.
	OpGraphReads Op = 5
	// OpQuery runs a graph query, from a client to the router: the key is the graph's name,
	// the value the JSON body of POST /graph/{graph}/query, and the answer's body that
	// request's JSON answer (or its JSON error body).
	OpQuery Op = 6
)

func (o Op) String() string {
	switch o {
	case OpGet:
		return "get"
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	case OpPing:
		return "ping"
	case OpGraphReads:
		return "graph_reads"
	case OpQuery:
		return "query"
	}
	return fmt.Sprintf("op%d", uint8(o))
}

// FlagStale asks for a read of any replica's local state (?consistency=stale).
const FlagStale = 1 << 0

// StatusGoAway is the status of a GOAWAY frame (see the package doc).
const StatusGoAway = 0

const (
	requestHeader  = 4 + 1 + 1 + 1 + 8 + 2 // id, op, flags, cond, revision, len(key)
	responseHeader = 4 + 2 + 8             // id, status, revision
	// MaxFrame bounds any frame this package sends or accepts, whatever the limit a server
	// puts on values.
	MaxFrame = 64 << 20
	// MaxBody bounds a response's body: a server answers a longer one 413.
	MaxBody = MaxFrame - responseHeader
)

// Request is one key request.
type Request struct {
	Op    Op
	Flags uint8
	// Cond is a write's precondition: the frame's cond byte (Cond.Kind) and revision.
	Cond  kv.Precondition
	Key   string
	Value []byte
}

// Stale reports whether FlagStale is set.
func (r *Request) Stale() bool { return r.Flags&FlagStale != 0 }

// Response is the answer to a Request.
type Response struct {
	// Status is the HTTP API's status code for the outcome (200, 204, 404, 412, 421, 503...).
	Status int
	// Revision is the key's revision (the ETag), or 0.
	Revision uint64
	// Body is the value of a GET answered 200, or the JSON error body.
	Body []byte
}

// ErrProtocol is a malformed frame; the connection that carried it is closed.
var ErrProtocol = errors.New("wire protocol error")

// Unsupported reports whether resp is a server's refusal of req's op as unknown: a server
// of an earlier version, which knows fewer ops, answers so (and the connection goes on).
func Unsupported(req *Request, resp Response) bool {
	return resp.Status == http.StatusBadRequest &&
		bytes.Contains(resp.Body, fmt.Appendf(nil, "unknown op %d\"", req.Op))
}

// appendRequest appends the frame of req with id to b.
func appendRequest(b []byte, id uint32, req *Request) []byte {
	n := requestHeader + len(req.Key) + len(req.Value)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	b = binary.BigEndian.AppendUint32(b, id)
	b = append(b, byte(req.Op), req.Flags, byte(req.Cond.Kind))
	b = binary.BigEndian.AppendUint64(b, req.Cond.Revision)
	b = binary.BigEndian.AppendUint16(b, uint16(len(req.Key)))
	b = append(b, req.Key...)
	return append(b, req.Value...)
}

// appendResponse appends the frame of resp with id to b.
func appendResponse(b []byte, id uint32, resp *Response) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(responseHeader+len(resp.Body)))
	b = binary.BigEndian.AppendUint32(b, id)
	b = binary.BigEndian.AppendUint16(b, uint16(resp.Status))
	b = binary.BigEndian.AppendUint64(b, resp.Revision)
	return append(b, resp.Body...)
}

// checkRequest reports whether req fits in a frame.
func checkRequest(req *Request) error {
	switch {
	case req.Op < OpGet || req.Op > OpQuery:
		return fmt.Errorf("%w: unknown op %d", ErrProtocol, req.Op)
	case len(req.Key) > math.MaxUint16:
		return fmt.Errorf("%w: key of %d bytes", ErrProtocol, len(req.Key))
	case requestHeader+len(req.Key)+len(req.Value) > MaxFrame:
		return fmt.Errorf("%w: value of %d bytes", ErrProtocol, len(req.Value))
	}
	return nil
}

// readLength reads a frame's length prefix.
func readLength(r *bufio.Reader, min int) (int, error) {
	var p [4]byte
	if _, err := io.ReadFull(r, p[:]); err != nil {
		return 0, err
	}
	n := int(binary.BigEndian.Uint32(p[:]))
	if n < min {
		return 0, fmt.Errorf("%w: frame of %d bytes, shorter than its header", ErrProtocol, n)
	}
	return n, nil
}

// readResponse reads one response frame.
func readResponse(r *bufio.Reader) (uint32, Response, error) {
	n, err := readLength(r, responseHeader)
	if err != nil {
		return 0, Response{}, err
	}
	if n > MaxFrame {
		return 0, Response{}, fmt.Errorf("%w: response frame of %d bytes", ErrProtocol, n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, Response{}, unexpectedEOF(err)
	}
	id := binary.BigEndian.Uint32(buf)
	resp := Response{
		Status:   int(binary.BigEndian.Uint16(buf[4:])),
		Revision: binary.BigEndian.Uint64(buf[6:]),
	}
	if n > responseHeader {
		resp.Body = buf[responseHeader:]
	}
	return id, resp, nil
}

// errTooLarge is a request frame over the server's limit; its bytes were skipped, so the
// connection goes on.
type errTooLarge struct {
	id   uint32
	size int
}

func (e *errTooLarge) Error() string { return fmt.Sprintf("request frame of %d bytes", e.size) }

// readRequest reads one request frame of at most limit bytes; a longer one is skipped and
// returned as *errTooLarge.
func readRequest(r *bufio.Reader, limit int) (uint32, Request, error) {
	n, err := readLength(r, requestHeader)
	if err != nil {
		return 0, Request{}, err
	}
	if n > limit {
		var p [4]byte
		if _, err := io.ReadFull(r, p[:]); err != nil {
			return 0, Request{}, unexpectedEOF(err)
		}
		if _, err := r.Discard(n - 4); err != nil {
			return 0, Request{}, unexpectedEOF(err)
		}
		return 0, Request{}, &errTooLarge{id: binary.BigEndian.Uint32(p[:]), size: n}
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, Request{}, unexpectedEOF(err)
	}
	id := binary.BigEndian.Uint32(buf)
	req := Request{
		Op:    Op(buf[4]),
		Flags: buf[5],
		Cond:  kv.Precondition{Kind: kv.CondKind(buf[6]), Revision: binary.BigEndian.Uint64(buf[7:])},
	}
	klen := int(binary.BigEndian.Uint16(buf[15:]))
	if requestHeader+klen > n {
		return 0, Request{}, fmt.Errorf("%w: key of %d bytes in a frame of %d", ErrProtocol, klen, n)
	}
	req.Key = string(buf[requestHeader : requestHeader+klen])
	if n > requestHeader+klen {
		req.Value = buf[requestHeader+klen:]
	}
	return id, req, nil
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
