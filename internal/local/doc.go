// Package local runs a whole Torua cluster in one process: storage nodes and a router on one
// host, the shard map in a file of the data directory. It is what `torua local` runs (the
// command adds its flags and the welcome text), and tests start small clusters with it.
//
// A Cluster starts every node at once (each opens its engine and Raft log in parallel),
// places the shards over them with shardmap.Place, waits until every shard is in place
// (shardmap.Progress), drains the nodes it no longer wants (their replicas move away before
// they stop, and their data is deleted only then), and starts the router, which hands key
// requests to the nodes of the process directly. The next Start on the same data directory
// recovers everything from it.
//
// Files: cluster.go (Config, Start, Shutdown, the nodes and the router), place.go (writing
// the map, waiting for the nodes and the replicas, draining).
//
// Imports: node, node/replication (its Config), router, shardmap, internal/wire. Nothing
// imports it but cmd/torua and tests: it is a composition of the parts, as the binary is.
package local
