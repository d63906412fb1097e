// Package shardmap is the one contract between the operator, the storage nodes and the
// router: which shard a key belongs to, which nodes hold each shard, and where those nodes
// listen.
//
// It holds the Map type and its JSON codec, validation, the deterministic Place function that
// computes a balanced assignment with minimal movement, a Holder that keeps the newest valid
// map a process has seen, and Sources that feed a Holder (Static, File, and
// ConfigMap: a client-go informer on one named ConfigMap, for Kubernetes).
//
// It must not import node, router or controllers; they import it.
package shardmap
