package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ToruaClusterSpec is the desired state of a Torua cluster.
//
// +kubebuilder:validation:XValidation:rule="self.replicationFactor <= self.replicas",message="replicas must be at least replicationFactor: every shard keeps replicationFactor replicas on distinct nodes, so replicas cannot drop below it",reason=FieldValueInvalid,fieldPath=".replicas"
type ToruaClusterSpec struct {
	// replicas is the number of storage nodes (pods of the <name>-node StatefulSet).
	// Scaling down drains the leaving nodes before their pods are removed.
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// shards is the number of shards keys are hashed into (xxhash64 of the key, or of its hash tag, mod shards).
	// It is fixed when the cluster is created.
	// +kubebuilder:default=16
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4096
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="shards cannot be changed after the cluster is created: every key would move to another shard"
	// +optional
	Shards int32 `json:"shards,omitempty"`

	// replicationFactor is the number of replicas of each shard, each on a different node.
	// It must be odd and not greater than replicas. It may change on a live cluster: replicas
	// are added or removed one at a time, each shard keeping a quorum.
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=7
	// +kubebuilder:validation:XValidation:rule="self % 2 == 1",message="replicationFactor must be odd (1, 3, 5 or 7): an even number of replicas survives no more node failures than one fewer (4 tolerates 1, like 3), and with 2 no node could restart in a rolling update without a shard losing its quorum"
	// +optional
	ReplicationFactor int32 `json:"replicationFactor,omitempty"`

	// image is the container image holding the torua binary, used by nodes and routers.
	// Changing it starts a rolling update, one node at a time.
	// +kubebuilder:default="ghcr.io/torua/torua:latest"
	// +kubebuilder:validation:MinLength=1
	// +optional
	Image string `json:"image,omitempty"`

	// imagePullPolicy is the pull policy of every Torua container.
	// +kubebuilder:default=IfNotPresent
	// +kubebuilder:validation:Enum=Always;Never;IfNotPresent
	// +optional
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`

	// storage describes each node's persistent volume.
	// +kubebuilder:default={}
	// +optional
	Storage StorageSpec `json:"storage,omitempty"`

	// resources are the compute resources of each storage node container.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`

	// router configures the stateless router Deployment and its Service <name>.
	// +kubebuilder:default={}
	// +optional
	Router RouterSpec `json:"router,omitempty"`

	// podTemplate holds scheduling and metadata overrides for the storage node pods.
	// +optional
	PodTemplate PodTemplateOverrides `json:"podTemplate,omitempty"`

	// drainTimeout is how long a scale-down may make no progress moving replicas off the leaving
	// nodes before the cluster reports Degraded (reason DrainStalled). The drain is never
	// abandoned: nodes are removed only once they hold no replica.
	// +kubebuilder:default="10m"
	// +optional
	DrainTimeout *metav1.Duration `json:"drainTimeout,omitempty"`

	// nodeDownTimeout is how long a node of the shard map may be not ready (or have no
	// address) before the operator moves its replicas to other nodes, as TiKV's
	// max-store-down-time does. It does so only while at least replicationFactor other nodes
	// are ready to hold them; the node keeps its pod and volume, and takes replicas again once
	// it is ready. A short timeout moves data on every slow restart.
	// +kubebuilder:default="30m"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s')",message="nodeDownTimeout must be a duration such as 30m or 1h, not negative"
	// +optional
	NodeDownTimeout *metav1.Duration `json:"nodeDownTimeout,omitempty"`
	// paused stops every change the operator would make to the cluster's objects and shard map.
	// Status is still reported.
	// +optional
	Paused bool `json:"paused,omitempty"`
}

// StorageSpec describes the persistent volume of each storage node.
type StorageSpec struct {
	// size is the requested size of each node's volume.
	// +kubebuilder:default="1Gi"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="storage.size cannot be changed after creation: StatefulSet volume claim templates are immutable"
	// +optional
	Size *resource.Quantity `json:"size,omitempty"`

	// storageClassName is the StorageClass of the volumes; empty means the cluster's default class.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="storage.storageClassName cannot be changed after creation: StatefulSet volume claim templates are immutable"
	// +optional
	StorageClassName *string `json:"storageClassName,omitempty"`

	// retainOnDelete keeps the volumes (PersistentVolumeClaims) when the ToruaCluster is deleted.
	// While the cluster lives, a node's volume is deleted only by the operator, once a
	// scale-down has drained the node and removed it from the shard map and its pod is gone;
	// a StatefulSet scaled down by anyone else keeps its volumes.
	// +kubebuilder:default=true
	// +optional
	RetainOnDelete *bool `json:"retainOnDelete,omitempty"`
}

// RouterSpec configures the router Deployment.
type RouterSpec struct {
	// replicas is the number of router pods.
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=1
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// resources are the compute resources of each router container.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
}

// PodTemplateOverrides are merged into the storage node pod template. Changing them starts a
// rolling update, one node at a time.
type PodTemplateOverrides struct {
	// annotations are added to every storage node pod.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// labels are added to every storage node pod; they cannot replace the operator's own labels.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// affinity is the pods' scheduling affinity.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`

	// tolerations are the pods' tolerations.
	// +listType=atomic
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// nodeSelector constrains the pods to nodes with these labels.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// topologySpreadConstraints spread the pods across topology domains.
	// +listType=atomic
	// +optional
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`

	// priorityClassName is the pods' priority class.
	// +optional
	PriorityClassName string `json:"priorityClassName,omitempty"`
}

// MemberState is a storage node's state in the shard map.
// +kubebuilder:validation:Enum=active;draining;joining
type MemberState string

const (
	// MemberActive nodes hold replicas and receive new ones.
	MemberActive MemberState = "active"
	// MemberDraining nodes are being scaled away, or have been down for longer than
	// spec.nodeDownTimeout: their replicas move to other nodes.
	MemberDraining MemberState = "draining"
	// MemberJoining nodes run but are not in the shard map yet: they join once first ready.
	MemberJoining MemberState = "joining"
)

// MemberStatus is one storage node as the operator sees it.
type MemberStatus struct {
	// name is the node's ID: its pod name.
	Name string `json:"name"`
	// address is the host:port of the node's HTTP API.
	// +optional
	Address string `json:"address,omitempty"`
	// ready is the pod's readiness as its EndpointSlice reports it.
	Ready bool `json:"ready"`
	// state is active, draining (scaled away, or down for longer than spec.nodeDownTimeout)
	// or joining.
	State MemberState `json:"state"`
	// replicas is the number of shard replicas the shard map places on the node.
	Replicas int32 `json:"replicas"`
	// leaders is the number of shards the node leads, from its /internal/status; absent when
	// the node could not be asked.
	// +optional
	Leaders *int32 `json:"leaders,omitempty"`
	// notReadySince is when the node was last seen turning not ready (or losing its
	// address); absent while it is ready. After spec.nodeDownTimeout its replicas move.
	// +optional
	NotReadySince *metav1.Time `json:"notReadySince,omitempty"`
}

// DrainStatus tracks a scale-down in progress.
type DrainStatus struct {
	// nodes are the nodes being drained.
	// +listType=atomic
	Nodes []string `json:"nodes"`
	// remainingReplicas counts replicas the nodes' /internal/status still reports on the
	// draining nodes (-1 until every remaining node has answered).
	RemainingReplicas int32 `json:"remainingReplicas"`
	// lastProgressTime is when remainingReplicas last went down, or the drain started.
	LastProgressTime metav1.Time `json:"lastProgressTime"`
}

// ToruaClusterStatus is the observed state of a Torua cluster.
type ToruaClusterStatus struct {
	// observedGeneration is the metadata.generation the status was computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions are Available, Progressing, Degraded and Rebalancing.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// replicas is the size of the node StatefulSet (it stays above spec.replicas while a
	// scale-down drains). The scale subresource reads it.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// selector is the label selector of the storage node pods, for the scale subresource.
	// +optional
	Selector string `json:"selector,omitempty"`

	// readyNodes counts storage nodes whose pods are ready.
	// +optional
	ReadyNodes int32 `json:"readyNodes,omitempty"`

	// shardMapVersion is the version of the published shard map (0: none yet).
	// +optional
	ShardMapVersion int64 `json:"shardMapVersion,omitempty"`

	// underReplicatedShards counts shards with fewer replicas on ready nodes than the shard map
	// gives them.
	// +optional
	UnderReplicatedShards int32 `json:"underReplicatedShards,omitempty"`

	// members lists the storage nodes, in name order.
	// +listType=map
	// +listMapKey=name
	// +optional
	Members []MemberStatus `json:"members,omitempty"`

	// drain is set while a scale-down waits for replicas to leave the departing nodes.
	// +optional
	Drain *DrainStatus `json:"drain,omitempty"`

	// updatedNodes counts node pods that run the current pod template.
	// +optional
	UpdatedNodes int32 `json:"updatedNodes,omitempty"`

	// routerEndpoint is the in-cluster URL of the router Service.
	// +optional
	RouterEndpoint string `json:"routerEndpoint,omitempty"`
}

// ToruaCluster is a sharded, replicated key-value store: a StatefulSet of storage nodes, a
// router Deployment and a shard map ConfigMap that the operator keeps in step.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas,selectorpath=.status.selector
// +kubebuilder:resource:shortName=tc,categories=torua
// +kubebuilder:printcolumn:name="Nodes",type=integer,JSONPath=".spec.replicas"
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=".status.readyNodes"
// +kubebuilder:printcolumn:name="Shards",type=integer,JSONPath=".spec.shards"
// +kubebuilder:printcolumn:name="RF",type=integer,JSONPath=".spec.replicationFactor"
// +kubebuilder:printcolumn:name="Map",type=integer,JSONPath=".status.shardMapVersion",priority=1
// +kubebuilder:printcolumn:name="Available",type=string,JSONPath=".status.conditions[?(@.type==\"Available\")].status"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=".metadata.creationTimestamp"
type ToruaCluster struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the object's metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state; `spec: {}` takes every default.
	// +required
	Spec ToruaClusterSpec `json:"spec"`

	// status is the observed state, written by the operator.
	// +optional
	Status ToruaClusterStatus `json:"status,omitempty"`
}

// ToruaClusterList is a list of ToruaClusters.
//
// +kubebuilder:object:root=true
type ToruaClusterList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the list's metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the ToruaClusters.
	Items []ToruaCluster `json:"items"`
}
