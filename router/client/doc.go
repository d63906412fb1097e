// Package client is the Go client for the Torua router's public HTTP API: GET, PUT and DELETE
// of single keys under /data/{key}, paginated listing under /data, and the cluster summary at
// /cluster. The CLI (torua get|put|del|ls|status) and the load generator (torua bench) use it.
//
// A Client is safe for concurrent use and keeps a pool of keep-alive connections sized for
// the concurrency it is created for (WithMaxConnsPerHost).
//
// Keys are arbitrary non-empty byte strings; the client sends each one as a single escaped
// path segment, so keys with '/', '%', '?', '#', spaces, "." or ".." reach the router intact.
//
// Errors the router answers are *Error values; errors.Is matches them against ErrNotFound,
// ErrConditionFailed, ErrUnavailable and the other sentinels. A router that cannot be reached
// at all yields an error that matches ErrUnreachable and ErrUnavailable and says so in its
// message: "cannot reach router at http://127.0.0.1:8080: connection refused".
//
// From the project it imports shardmap (the /cluster types), internal/httpx (the error
// body and key escaping the router uses) and internal/wire (the binary key protocol, for
// WithWire); the router imports ClusterInfo and NodeInfo from here, so it must not import
// router or node.
package client
