// Package binenc reads and writes the compact binary encodings of Torua: the Raft log's
// records (node/raftlog), the replicated commands in its entries (node/replication), the
// graph's stored records (graph/store) and the binary graph read requests and answers between
// the router and the nodes (graph/shardapi).
// A Decoder reads bytes, uvarints and length-prefixed strings from a byte slice; its first
// failure sticks, so a decoding function reads every field and checks Err once.
// AppendBytes and AppendString write what Decoder.Bytes reads.
//
// It imports nothing of Torua.
package binenc
