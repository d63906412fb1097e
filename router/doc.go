// Package router is Torua's stateless request router: it holds the shard map, sends each key
// request to the node that serves the key's shard, gathers listings from every shard, and
// reports the cluster's state (/data, /cluster, /healthz, /readyz, /metrics).
//
// Files: router.go (Config, New, Start, Shutdown, routes), keys.go (key requests over HTTP
// and the wire protocol), forward.go (forwardTo: the shard's leader, leader hints, retries,
// the leader cache), list.go (scatter-gather listing), cluster.go (GET /cluster).
//
// It imports shardmap, internal/httpx, internal/wire, internal/nodeapi (the nodes' HTTP API:
// listings, status) and router/client (the JSON types of /cluster). It must not import node
// or controllers: it knows nodes only through the shard map and their API.
package router
