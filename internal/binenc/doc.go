// Package binenc reads the compact binary encodings Torua writes itself: the Raft log's
// records (node/raftlog), the replicated commands in its entries (node/replication), the
// graph's stored records (graph/store) and the binary graph read requests and answers between
// the router and the nodes (graph/shardapi).
// A Decoder reads bytes, uvarints and length-prefixed strings from a byte slice; its first
// failure sticks, so a decoding function reads every field and checks Err once.
//
// It imports nothing of Torua.
package binenc
