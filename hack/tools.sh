#!/usr/bin/env bash
# Installs a pinned development tool into bin/, built from the Go module proxy.
#
# Usage: hack/tools.sh NAME      (NAME: controller-gen | golangci-lint | helm)
#
# Each tool is built once per version with `go install MODULE/CMD@VERSION` into
# ${TORUA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/torua}/tools/NAME-VERSION-HASH/ (outside the clone, so a
# fresh clone on the same machine reuses it), then bin/NAME is made a symlink to it.
# Prints the path of bin/NAME. Idempotent and safe to run concurrently (flock per tool and version).
#
# The pins below are the single source of the tools' versions; bump them here.
set -euo pipefail

declare -A pkgs=(
	[controller-gen]=sigs.k8s.io/controller-tools/cmd/controller-gen
	[golangci-lint]=github.com/golangci/golangci-lint/v2/cmd/golangci-lint
	[helm]=helm.sh/helm/v3/cmd/helm
)
declare -A versions=(
	[controller-gen]=v0.23.0
	[golangci-lint]=v2.15.0
	[helm]=v3.22.0
)
# Link-time settings upstream's release builds make. helm's Kubernetes version (for
# .Capabilities.KubeVersion and chart kubeVersion checks) is its client-go minor, v0.37 -> 1.37.
declare -A ldflags=(
	[helm]="-X helm.sh/helm/v3/internal/version.version=v3.22.0
		-X helm.sh/helm/v3/internal/version.gitTreeState=clean
		-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1
		-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=37
		-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1
		-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=37"
)

name="${1:-}"
if [[ -z "${name}" || -z "${pkgs[${name}]:-}" ]]; then
	echo "usage: $0 {$(tr ' ' '|' <<<"${!pkgs[*]}")}" >&2
	exit 2
fi
pkg="${pkgs[${name}]}"
version="${versions[${name}]}"
flags="$(tr -s ' \t\n' ' ' <<<"-s -w ${ldflags[${name}]:-}")"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
localbin="${LOCALBIN:-${root}/bin}"
cache="${TORUA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/torua}"
# The directory is keyed by the link flags too, so changing them rebuilds.
dir="${cache}/tools/${name}-${version}-$(sha256sum <<<"${flags}" | cut -c1-8)"
go="${GO:-go}"

if [[ ! -x "${dir}/${name}" ]]; then
	mkdir -p "${cache}/tools"
	exec 9>"${dir}.lock"
	flock 9
	if [[ ! -x "${dir}/${name}" ]]; then
		echo "==> ${name}: go install ${pkg}@${version} (cached in ${dir})" >&2
		start=${SECONDS}
		tmp="$(mktemp -d "${dir}.tmp.XXXXXX")"
		trap 'rm -rf "${tmp}"' EXIT
		# GOFLAGS is cleared so a caller's -mod or -tags cannot change what the pinned build is.
		GOFLAGS=-buildvcs=false GOWORK=off CGO_ENABLED=0 GOBIN="${tmp}" "${go}" install -trimpath -ldflags "${flags}" "${pkg}@${version}"
		mkdir -p "${dir}"
		mv -f "${tmp}/${name}" "${dir}/${name}"
		echo "==> ${name}: built in $((SECONDS - start))s" >&2
	fi
	exec 9>&-
fi

mkdir -p "${localbin}"
if [[ "$(readlink -- "${localbin}/${name}" 2>/dev/null)" != "${dir}/${name}" ]]; then
	# A rename is atomic, so concurrent runs never see bin/NAME missing.
	ln -sfn "${dir}/${name}" "${localbin}/.${name}.$$"
	mv -Tf "${localbin}/.${name}.$$" "${localbin}/${name}"
fi
echo "${localbin}/${name}"
