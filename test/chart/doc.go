// Package chart tests the Helm chart in charts/torua with the pinned bin/helm (`make helm`): it
// lints and renders the chart and checks the rendered objects against the generated manifests in
// config/ (CRD, operator RBAC) and against the values given; and, where the Kubernetes test
// binaries are (KUBEBUILDER_ASSETS), TestInstall installs it with `helm install` on test/localkube
// and runs a ToruaCluster through it (see docs/testing.md).
//
// It has no non-test code and must not be imported.
package chart
