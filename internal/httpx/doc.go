// Package httpx holds the HTTP plumbing the node and the router share: the JSON error body and
// the table from sentinel errors to status codes, key and precondition parsing, request metrics,
// and a server that binds synchronously and shuts down gracefully.
//
// It must not import node, router or controllers.
package httpx
