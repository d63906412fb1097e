// Package httpx holds the HTTP plumbing the node and the router share: the JSON error body and
// the table from sentinel errors to status codes, key and precondition parsing, request metrics,
// and a server that binds synchronously and shuts down gracefully.
//
// It imports internal/kv (ParsePrecondition's result) and internal/wire (Server multiplexes the
// wire protocol on the HTTP port; CheckWireRequest and WireError give wire requests the HTTP
// API's checks and answers). It must not import node, router or controllers.
package httpx
