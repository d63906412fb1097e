// Package wire is Torua's binary key protocol: GET, PUT and DELETE of one key (and graph
// queries and the router's graph reads), multiplexed and pipelined over one TCP connection, on the same
// port as the HTTP API. The router speaks it to the nodes, and clients that want throughput (torua bench, router/client's
// WithWire) speak it to the router.
//
// Why: every request over HTTP/1.1 costs a write and a read system call at each end of
// each hop, plus header parsing; on a small machine those dominate. Here many requests in
// flight on one connection share each write (a connection has one writer that sends
// whatever frames are queued in one system call) and each read (64 KiB buffered).
//
// A connection starts with the client's 12-byte Preface, which the server, telling it from
// HTTP by those bytes (Listener), sends back. Then both sides send frames, big-endian:
//
//	request:  u32 n | u32 id | u8 op | u8 flags | u8 cond | u64 revision | u16 len(key) | key | value
//	response: u32 n | u32 id | u16 status | u64 revision | body
//
// n counts the bytes after itself. The client picks request ids (increasing); a response
// carries its request's id, in any order. Ops are OpGet, OpPut, OpDelete, OpPing (a
// liveness probe the connection's reader answers at once; a Pool with PingInterval pings
// every connection and takes a server that stops answering as down until it answers again,
// since a hung process still accepts connections and reads nothing), OpGraphReads (the
// router's graph reads to a node: key and value, and the answer's body, are graph/shardapi's
// to read; a server of an earlier version answers it 400 "unknown op", see Unsupported) and
// OpQuery (a client's graph query to the router: the graph's name, and the JSON request and
// answer of the HTTP API's POST /graph/{graph}/query); flag
// FlagStale asks for a stale read; cond and revision are the write's precondition
// (Request.Cond, a kv.Precondition: cond is its Kind, revision its Revision; the HTTP API's
// If-Match / If-None-Match). Status is the HTTP API's status code for the same
// outcome; revision is its ETag; body is the value of a GET answered 200, else the HTTP
// API's JSON error body ({"error": ..., "leader": ...}) or nothing. A body is at most
// MaxBody bytes: a handler's longer answer is sent as 413.
//
// A response with status 0 is GOAWAY: the server is closing the connection and has read
// requests up to and including id; it answers those, never reads the others, and the client
// may resend them elsewhere.
//
// It imports internal/coalesce and internal/kv, and must not import node, router or
// controllers.
package wire
