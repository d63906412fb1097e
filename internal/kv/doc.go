// Package kv holds the plain types of a key request that every layer shares, from the
// storage engine to the client: the write precondition (precondition.go), one type, so
// that the HTTP API's headers, the wire protocol's frame and the engine's conditional write
// convert at their edges only; and the JSON body of a transaction (txn.go), which the
// node decodes, the router routes by its keys and clients build.
//
// NB: it is a leaf: it must import no other Torua package and nothing beyond the standard
// library, since the engine (the lowest layer) and router/client import it.
package kv
