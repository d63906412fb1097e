// Package e2e is Torua's end-to-end suite (ginkgo, build tag e2e): a ToruaCluster made from
// config/samples runs on a real Kubernetes control plane with the real torua binary, and
// concurrent clients write and read through the router while the cluster is scaled up, drained
// and scaled down, loses a pod, rolls out a new image and is deleted; every acknowledged write
// is read back at the end of each scenario.
//
// One suite, two environments, chosen by TORUA_E2E_ENV:
//
//   - localkube (default; `make test-e2e`): the suite starts test/localkube (kube-apiserver,
//     etcd, kube-controller-manager and a process kubelet in a private network namespace) and
//     runs the operator in-process.
//   - kind (`make test-e2e-kind`, hack/e2e-kind.sh): the current kubeconfig's cluster, where
//     the operator was installed with the Helm chart and the image loaded; the suite reaches
//     pods through `kubectl port-forward`.
//
// See docs/testing.md. It has no non-test code and must not be imported.
package e2e
