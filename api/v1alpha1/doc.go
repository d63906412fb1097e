// Package v1alpha1 holds the torua.io/v1alpha1 API: the ToruaCluster custom resource that the
// operator (package controllers) reconciles into a StatefulSet of storage nodes, a router
// Deployment and a shard map ConfigMap.
//
// The types carry kubebuilder markers; `make manifests generate` turns them into the CRD under
// config/crd/bases and zz_generated.deepcopy.go. Never edit generated files by hand.
//
// It imports only apimachinery and core API types: never controllers, node, router or shardmap.
//
// +kubebuilder:object:generate=true
// +groupName=torua.io
package v1alpha1
