// Package controllers is the Torua operator: the ToruaCluster reconciler that runs storage
// nodes as a StatefulSet, learns membership from the node Service's EndpointSlices, computes
// the shard map with shardmap.Place and publishes it in the <cluster>-shardmap ConfigMap
// (restoring the last good map when the ConfigMap loses it), drains nodes before a
// scale-down, moves the replicas of nodes down for too long, deletes a node's volume only
// once it is drained out of the map, and drives rolling updates one pod at a time through
// the StatefulSet partition.
//
// Files: toruacluster_controller.go (Reconcile, RBAC markers), toruacluster_state.go (what
// one reconcile reads: observe, clusterState, the nodes' statuses once per reconcile),
// toruacluster_phases.go (the phases that only ensure objects: RBAC, Services, PDB, router;
// events), toruacluster_shardmap.go (the shard map phase: place, publish, adopt),
// toruacluster_statefulset.go (the StatefulSet phase: its size), toruacluster_drain.go (how
// far a scale-down's drain has come), toruacluster_rollout.go (the rolling update's
// partition), toruacluster_status.go (status and conditions), apply.go (server-side apply of
// every owned object), shardmap.go (trusting and restoring the published map), volumes.go
// (volume claims), membership.go (which nodes belong in the map: a pure function), resources.go (the
// desired objects), nodeclient.go (the NodeClient interface the operator asks the nodes
// through, satisfied by internal/nodeapi's client). Shard progress and quorums come from
// shardmap (progress.go).
//
// It talks to the data plane only through the shard map and the nodes' HTTP endpoints
// (/internal/status, /internal/shardmap, /internal/transfer-leadership). It imports shardmap,
// internal/nodeapi and api/v1alpha1 and must never import node or router.
package controllers
