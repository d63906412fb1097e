#!/usr/bin/env bash
# Builds the Kubernetes test binaries (kube-apiserver, kube-controller-manager, etcd) from Go module
# sources and caches them outside the clone, keyed by version, so a fresh clone on the same machine
# reuses them. Download sites (dl.k8s.io, setup-envtest) are not needed: only the Go module proxy.
#
# Usage: hack/k8s-test-binaries.sh
# Prints the directory holding the binaries on its last line (usable as KUBEBUILDER_ASSETS).
#
# Environment:
#   TORUA_CACHE  cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/torua)
#   GO           go command (default go)
#
# Idempotent: a binary already in the cache is not rebuilt. Safe to run concurrently: builds are
# serialised with flock and each binary is built to a temporary name, then renamed into place.
# A cold build takes 10+ minutes on 2 cores (kube-apiserver ~5, kube-controller-manager ~7, etcd ~0.5).
set -euo pipefail

K8S_VERSION=v1.37.2
ETCD_VERSION=v3.6.16

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${TORUA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/torua}"
dest="${cache}/k8s/${K8S_VERSION}"
go="${GO:-go}"

k8s_minor="${K8S_VERSION#v1.}"
k8s_minor="${k8s_minor%%.*}"
k8s_ldflags="-s -w
 -X k8s.io/component-base/version.gitVersion=${K8S_VERSION}
 -X k8s.io/component-base/version.gitMajor=1
 -X k8s.io/component-base/version.gitMinor=${k8s_minor}
 -X k8s.io/component-base/version.gitTreeState=clean"
etcd_ldflags="-s -w"

log() { printf '==> %s\n' "$*" >&2; }

# build NAME MODULE_DIR PACKAGE LDFLAGS
build() {
	local name=$1 moddir=$2 pkg=$3 ldflags=$4
	local out="${dest}/${name}"
	if [[ -x "${out}" ]]; then
		log "${name}: cached in ${dest}"
		return
	fi
	local tmp="${dest}/.${name}.tmp.$$"
	# shellcheck disable=SC2064 # expanded now: tmp is local to this function
	trap "rm -f '${tmp}'" EXIT
	log "${name}: building from ${moddir#"${root}/"} (this takes minutes on a small machine)"
	local start=${SECONDS}
	(
		cd "${moddir}"
		# GOWORK=off: a go.work at the repository root must not pull these modules into the main build.
		GOWORK=off CGO_ENABLED=0 "${go}" build -mod=readonly -buildvcs=false -trimpath \
			-ldflags "${ldflags//$'\n'/}" -o "${tmp}" "${pkg}"
	)
	mv -f "${tmp}" "${out}"
	trap - EXIT
	log "${name}: built in $((SECONDS - start))s"
}

mkdir -p "${dest}"
exec 9>"${dest}/.lock"
if ! flock -n 9; then
	log "another build holds ${dest}/.lock; waiting"
	flock 9
fi

build etcd "${root}/hack/tools/etcd" . "${etcd_ldflags}"
build kube-apiserver "${root}/hack/tools/k8s" ./kube-apiserver "${k8s_ldflags}"
build kube-controller-manager "${root}/hack/tools/k8s" ./kube-controller-manager "${k8s_ldflags}"

"${dest}/kube-apiserver" --version >&2
etcd_version="$("${dest}/etcd" --version)"
if [[ "${etcd_version}" != *"etcd Version: ${ETCD_VERSION#v}"* ]]; then
	log "etcd: expected ${ETCD_VERSION}, found: ${etcd_version}"
	exit 1
fi
echo "${dest}"
