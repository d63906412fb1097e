// Package benchstore is the bench.Store of `torua bench` (benchstore.go) and the bench.GraphStore
// and bench.GraphLoader of `torua bench --graph` (graph.go): a Torua router through router/client.
// It is apart from router/client/bench so that the load generator imports no Torua client
// (hack/etcdbench reuses it against etcd).
//
// It imports router/client and router/client/bench.
package benchstore
