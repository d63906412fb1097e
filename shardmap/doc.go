// Package shardmap is the one contract between the operator, the storage nodes and the
// router: which shard a key belongs to, which nodes hold each shard, and where those nodes
// listen.
//
// Files: map.go (the Map type, hashing, validation), codec.go (JSON), placement.go (Place,
// the deterministic placement that computes a balanced assignment with minimal movement),
// holder.go (a Holder that keeps the newest valid map a process has seen), source.go and
// configmap.go (Sources that feed a Holder: Static, File, and ConfigMap, a client-go informer
// on one named ConfigMap, for Kubernetes), status.go (the nodes' /internal/status types and
// the replica Role), progress.go (what a map and the nodes' statuses say about each shard:
// its leader, in place or moving, quorum with and without a node, what a drain waits for;
// pure functions the operator, `torua local` and `torua status` share).
//
// Imports: the standard library, xxhash, fsnotify (File), Prometheus (the Holder's metrics),
// client-go and the Kubernetes API types (ConfigMap only).
//
// It must not import node, router or controllers; they import it.
package shardmap
