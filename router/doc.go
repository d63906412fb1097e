// Package router is Torua's stateless request router: it holds the shard map, sends each key
// request to the node that serves the key's shard, gathers listings from every shard, and
// reports the cluster's state (/data, /cluster, /healthz, /readyz, /metrics).
//
// It must not import node or controllers: it knows nodes only through the shard map and their
// HTTP API.
package router
