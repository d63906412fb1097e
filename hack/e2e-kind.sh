#!/usr/bin/env bash
# Runs the e2e suite (test/e2e) against a kind cluster: creates the cluster, builds the image
# with the Dockerfile and loads it under two tags (the second is the rolling update's target),
# installs the operator with the Helm chart, and runs the suite with TORUA_E2E_ENV=kind.
#
# Usage: hack/e2e-kind.sh            (or: make test-e2e-kind)
#
# Needs: docker (or CONTAINER_TOOL), kind, kubectl, helm (HELM; make passes bin/helm), Go.
# Not run in CI: the development machine and CI have no Docker engine.
#
# Environment:
#   KIND_CLUSTER     cluster name (default torua-e2e); an existing cluster of that name is reused
#   KEEP_CLUSTER=1   leave the cluster running afterwards (default: delete it if this script made it)
#   IMG_REPO         image repository (default torua)
#   CONTAINER_TOOL   docker or podman (default docker)
#   HELM, KIND, KUBECTL, GO   commands (default helm, kind, kubectl, go)
#   E2E_FLAGS        extra flags for go test (e.g. -ginkgo.focus=scales)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${root}"

cluster="${KIND_CLUSTER:-torua-e2e}"
repo="${IMG_REPO:-torua}"
tool="${CONTAINER_TOOL:-docker}"
helm="${HELM:-helm}"
kind="${KIND:-kind}"
kubectl="${KUBECTL:-kubectl}"
go="${GO:-go}"
image="${repo}:e2e"
restart_image="${repo}:e2e-restart"
operator_ns="torua-system"

log() { printf '==> %s\n' "$*" >&2; }

for cmd in "${tool}" "${kind}" "${kubectl}" "${helm}" "${go}"; do
	command -v "${cmd}" >/dev/null || { echo "hack/e2e-kind.sh: ${cmd} not found" >&2; exit 1; }
done

created=0
if ! "${kind}" get clusters 2>/dev/null | grep -qx "${cluster}"; then
	log "Creating kind cluster ${cluster}"
	"${kind}" create cluster --name "${cluster}" --wait 120s
	created=1
fi
cleanup() {
	if [[ "${created}" == 1 && "${KEEP_CLUSTER:-}" != 1 ]]; then
		log "Deleting kind cluster ${cluster} (KEEP_CLUSTER=1 keeps it)"
		"${kind}" delete cluster --name "${cluster}"
	fi
}
trap cleanup EXIT
export KUBECONFIG="${KUBECONFIG:-$(mktemp)}"
"${kind}" export kubeconfig --name "${cluster}" --kubeconfig "${KUBECONFIG}"

log "Building ${image} with the Dockerfile"
"${tool}" build -t "${image}" .
"${tool}" tag "${image}" "${restart_image}"
log "Loading ${image} and ${restart_image} into ${cluster}"
"${kind}" load docker-image --name "${cluster}" "${image}" "${restart_image}"

log "Installing the operator with charts/torua into ${operator_ns}"
# Metrics off: the suite does not scrape them, and the chart's metrics Service needs nothing else.
"${helm}" upgrade --install torua charts/torua --namespace "${operator_ns}" --create-namespace \
	--set image.repository="${repo}" --set image.tag=e2e --set image.pullPolicy=IfNotPresent \
	--set metrics.enabled=false --wait --timeout 5m

log "Running the e2e suite against ${cluster}"
# shellcheck disable=SC2086 # E2E_FLAGS is a list of flags
TORUA_E2E_ENV=kind TORUA_E2E_IMAGE="${image}" TORUA_E2E_RESTART_IMAGE="${restart_image}" \
	TORUA_E2E_OPERATOR_NAMESPACE="${operator_ns}" KUBECTL="${kubectl}" \
	"${go}" test -count=1 -tags e2e -timeout 40m ./test/e2e/ -ginkgo.v ${E2E_FLAGS:-}
