// Package nodeapi is the one client of a storage node's HTTP API for the rest of Torua: the
// operator (status, leadership hand-off, the node's shard map), a node asking its peers
// (status, Raft state) and the router (status for GET /cluster, listings by shard).
//
// One policy for every call: Config.Timeout bounds it, body included; Config.MaxBody bounds
// the answer read; a non-2xx answer is an *Error carrying the status code and the node's JSON
// error body (httpx.ErrorBody: message, leader hint, map version); a 2xx answer that is over
// the limit or does not decode is ErrBadAnswer; a request that failed in transit returns the
// transport's error (wrapping the *net.OpError of a refused dial). PostJSON and PostJSONRaw
// carry the calls of the node's other APIs (graph/shardapi's); PostJSONRaw returns the
// answer undecoded with its Content-Type, for a caller that asked for a format of its own.
//
// Files: client.go (Config, Client, the request policy, Error and the sentinels), api.go (one
// method per endpoint and their request and response types).
//
// It lives in internal/ because the node, the router and the operator all import it, and the
// router and the operator must not import node or anything under it. It imports shardmap and
// internal/httpx and must never import node, router or controllers (its external tests
// import node, to call a real one).
package nodeapi
