package v1alpha1

// Condition types of a ToruaCluster.
const (
	// ConditionAvailable is True when the shard map is published, every shard has a quorum of
	// replicas on ready nodes and the router has an available pod.
	ConditionAvailable = "Available"
	// ConditionProgressing is True while the operator is moving the cluster towards its spec:
	// creating, scaling, draining or rolling out a new pod template.
	ConditionProgressing = "Progressing"
	// ConditionDegraded is True when something needs a person's attention: a stalled drain,
	// a node down for longer than nodeDownTimeout, a lost shard map, under-replicated shards,
	// unreachable nodes or failing writes to the API server.
	ConditionDegraded = "Degraded"
	// ConditionRebalancing is True while replicas move between nodes: a drain, or shards whose
	// groups do not match the shard map yet (a scale-up, a replaced node).
	ConditionRebalancing = "Rebalancing"
)

// Condition reasons, CamelCase as Kubernetes expects. Events use the same words.
const (
	// ReasonAvailable : every shard has a quorum on ready nodes and the router is up.
	ReasonAvailable = "Available"
	// ReasonShardMapPending : no shard map yet; waiting for enough nodes to get an address.
	ReasonShardMapPending = "ShardMapPending"
	// ReasonQuorumLost : some shard has no quorum of replicas on ready nodes.
	ReasonQuorumLost = "QuorumLost"
	// ReasonRouterUnavailable : the router Deployment has no available pod.
	ReasonRouterUnavailable = "RouterUnavailable"

	// ReasonConverged : the cluster's objects and shard map match the spec.
	ReasonConverged = "Converged"
	// ReasonCreating : the cluster's first nodes are starting.
	ReasonCreating = "Creating"
	// ReasonScalingUp : new nodes are starting and join the shard map once ready.
	ReasonScalingUp = "ScalingUp"
	// ReasonDraining : nodes being scaled away are marked draining and their replicas move.
	ReasonDraining = "Draining"
	// ReasonDrainCancelled : replicas were raised during a drain; the nodes became active again.
	ReasonDrainCancelled = "DrainCancelled"
	// ReasonScaledDown : a drain finished and the StatefulSet shrank.
	ReasonScaledDown = "ScaledDown"
	// ReasonRollingUpdate : pods restart one at a time, highest ordinal first.
	ReasonRollingUpdate = "RollingUpdate"
	// ReasonLeadershipTransferPending : a node did not (yet) hand off its shard leaderships.
	ReasonLeadershipTransferPending = "LeadershipTransferPending"
	// ReasonWaitingForNodes : nodes are not ready or not caught up with the shard map.
	ReasonWaitingForNodes = "WaitingForNodes"
	// ReasonPaused : spec.paused is set; the operator changes nothing.
	ReasonPaused = "Paused"

	// ReasonAsExpected : nothing is degraded.
	ReasonAsExpected = "AsExpected"
	// ReasonDrainStalled : a drain made no progress for spec.drainTimeout.
	ReasonDrainStalled = "DrainStalled"
	// ReasonUnderReplicated : some shard has fewer replicas on ready nodes than the shard map gives it.
	ReasonUnderReplicated = "UnderReplicated"
	// ReasonNodeStatusUnavailable : a node's /internal/status could not be read.
	ReasonNodeStatusUnavailable = "NodeStatusUnavailable"
	// ReasonReconcileError : the operator failed to read or write an object.
	ReasonReconcileError = "ReconcileError"

	// ReasonMovingReplicas : shards' groups are adding or removing replicas to match the map.
	ReasonMovingReplicas = "MovingReplicas"
	// ReasonBalanced : no replicas are moving.
	ReasonBalanced = "Balanced"

	// ReasonShardMapUpdated : a new shard map version was published (event only).
	ReasonShardMapUpdated = "ShardMapUpdated"
	// ReasonShardMapRefused : a computed shard map failed validation and was not published (event only).
	ReasonShardMapRefused = "ShardMapRefused"
	// ReasonNodeJoined : a node joined the shard map (event only).
	ReasonNodeJoined = "NodeJoined"
	// ReasonNodeRemoved : a drained node was pruned from the shard map (event only).
	ReasonNodeRemoved = "NodeRemoved"
	// ReasonNodeRestarted : a node was let restart with the new pod template (event only).
	ReasonNodeRestarted = "NodeRestarted"
	// ReasonObjectRestored : someone changed a field the operator sets on one of its objects;
	// the operator put it back (event only).
	ReasonObjectRestored = "ObjectRestored"
	// ReasonShardMapRestored : the shard map ConfigMap held no map, something that is not a
	// valid map, or a map the operator did not write; the operator published the last good map
	// (the newest its nodes hold) with a higher version (event only).
	ReasonShardMapRestored = "ShardMapRestored"
	// ReasonShardMapAdopted : the shard map ConfigMap holds a valid map the operator did not
	// write, and the nodes already follow it; the operator builds on it instead of moving
	// replicas back (event only).
	ReasonShardMapAdopted = "ShardMapAdopted"
	// ReasonShardMapLost : the shard map ConfigMap holds no usable map and no node reports the
	// map it holds; the operator waits for a node to answer and changes nothing meanwhile.
	ReasonShardMapLost = "ShardMapLost"
	// ReasonNodeDown : a node of the shard map has not been ready for longer than
	// spec.nodeDownTimeout; its replicas move to other nodes when enough of them are ready.
	ReasonNodeDown = "NodeDown"
	// ReasonNodeRecovered : a node marked draining while it was down is ready again and takes
	// replicas again (event only).
	ReasonNodeRecovered = "NodeRecovered"
	// ReasonVolumeDeleted : the volume claim of a node that was drained, removed from the shard
	// map and scaled away was deleted (event only).
	ReasonVolumeDeleted = "VolumeDeleted"
)
