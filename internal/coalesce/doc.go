// Package coalesce is a connection's one writer: frames queued by any goroutine go out
// together in one system call each time the previous write returns, group commit for a
// socket. On loopback a write costs as much CPU as a small request's whole handling, so
// the fewer the better. Torua's wire protocol (internal/wire) and its Raft links
// (node/replication) use it.
//
// NB: it imports only the standard library.
package coalesce
