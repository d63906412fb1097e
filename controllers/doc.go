// Package controllers is the Torua operator: the ToruaCluster reconciler that runs storage
// nodes as a StatefulSet, learns membership from the node Service's EndpointSlices, computes
// the shard map with shardmap.Place and publishes it in the <cluster>-shardmap ConfigMap,
// drains nodes before a scale-down, and drives rolling updates one pod at a time through the
// StatefulSet partition. apply.go writes every object it owns, by server-side apply.
//
// It talks to the data plane only through the shard map and the nodes' HTTP endpoints
// (/internal/status, /internal/transfer-leadership). It imports shardmap and api/v1alpha1 and
// must never import node or router.
package controllers
