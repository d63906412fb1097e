// Package e2e is Torua's end-to-end suite (ginkgo, build tag e2e): a ToruaCluster made from
// config/samples runs on a real Kubernetes control plane with the real torua binary, and
// concurrent clients write, read and compare-and-set through the routers while the cluster
// goes through day-2 operations: a pod deleted, rolling updates, scaling up and down (with a
// node killed while a shard moves onto or off it, and a scale-up cancelled half-way), the
// operator killed mid-change, every node pod deleted at once, and deletion. Each scenario ends
// with every acknowledged write read back, the register clients' history checked for
// linearizability (test/kvhistory) and a budget of failed operations and unavailability
// printed and asserted (budget_test.go).
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
