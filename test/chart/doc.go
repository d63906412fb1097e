// Package chart tests the Helm chart in charts/torua: it lints and renders the chart with the
// pinned bin/helm (`make helm`) and checks the rendered objects against the generated manifests
// in config/ (CRD and operator RBAC) and against the values given.
//
// It has no non-test code and must not be imported.
package chart
