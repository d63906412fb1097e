#!/usr/bin/env bash
# hack/cover.sh [out-dir]: statement coverage over every test tier together, per package.
#
# Runs the tiers of `make test` once more with coverage and merges their counters:
#   unit     go test ./... (unit, fuzz seeds, process-level, chart, localkube), test binaries with
#            -cover, counters to data/unit (-test.gocoverdir);
#   envtest  go test -tags envtest ./controllers/..., counters to data/envtest;
#   e2e      go test -tags e2e ./test/e2e (the operator runs in the test binary), to data/e2e;
#   binary   every torua process the process, chart and e2e tests start: the binary built with
#            -cover, run through a wrapper that sets GOCOVERDIR=data/binary (localkube gives pods
#            a fresh environment, so the variable cannot be inherited). Processes that end with
#            SIGKILL write no counters.
# then `go tool covdata merge`, `textfmt`, and a per-package table of statements covered, with
# generated code (zz_generated*) left out. Only the module's non-test packages are instrumented
# (-coverpkg): test/..., internal/testutil and router/client/clienttest are test-only.
#
# COVER_TIERS (default "unit envtest e2e") picks tiers; the binary's counters come with any tier
# that starts it. A failing tier does not stop the others: its counters are merged all the same,
# and the script exits 1 after the report.
#
# Output in out-dir (default bin/cover): summary.txt (the table), func.txt (per function),
# cover.html, cover.txt (the merged profile, generated code left out), logs/<tier>.log, data/.
# Needs KUBEBUILDER_ASSETS (make k8s-test-binaries) and helm (HELM, default bin/helm).
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
GO=${GO:-go}
out=${1:-bin/cover}
mkdir -p "$out"
out=$(cd "$out" && pwd)
tiers=${COVER_TIERS:-unit envtest e2e}
: "${KUBEBUILDER_ASSETS:?KUBEBUILDER_ASSETS is not set (make k8s-test-binaries prints it)}"
HELM=${HELM:-$root/bin/helm}
export KUBEBUILDER_ASSETS HELM

rm -rf "$out/data" "$out/logs"
mkdir -p "$out/data/binary" "$out/data/merged" "$out/logs"

module=$($GO list -m)
# The packages measured: everything but test-only packages.
coverpkg=$($GO list ./... | grep -vE "^$module/(test/.*|internal/testutil|router/client/clienttest)$" | paste -sd, -)
coverflags=(-cover -covermode=set "-coverpkg=$coverpkg")

start=$SECONDS
elapsed() { printf '%dm%02ds' $(((SECONDS - $1) / 60)) $(((SECONDS - $1) % 60)); }

echo "== build the torua binary with coverage"
CGO_ENABLED=0 $GO build -trimpath "${coverflags[@]}" -o "$out/torua" ./cmd/torua
wrapper=$out/torua-cover
cat >"$wrapper" <<EOF
#!/bin/sh
# The torua binary with coverage counters to $out/data/binary (hack/cover.sh).
GOCOVERDIR='$out/data/binary' exec '$out/torua' "\$@"
EOF
chmod +x "$wrapper"

failed=()
# run_tier TIER WHAT COMMAND...: runs a go test COMMAND with the tier's counters to data/TIER.
run_tier() {
	local tier=$1 what=$2
	shift 2
	local t=$SECONDS
	mkdir -p "$out/data/$tier"
	echo "== $tier: $what"
	if "$@" -args "-test.gocoverdir=$out/data/$tier" >"$out/logs/$tier.log" 2>&1; then
		echo "   ok in $(elapsed "$t") (log: $out/logs/$tier.log)"
		# ginkgo's summary, without its colours.
		sed 's/\x1b\[[0-9;]*m//g' "$out/logs/$tier.log" | grep -E '^Ran [0-9]+ of [0-9]+ Specs' | sed 's/^/   /' || true
	else
		echo "   FAILED after $(elapsed "$t"); the counters written are merged all the same (log: $out/logs/$tier.log)"
		sed 's/\x1b\[[0-9;]*m//g' "$out/logs/$tier.log" | grep -E '^(--- FAIL|FAIL|panic:)|\[FAIL\]' | head -40 || true
		failed+=("$tier")
	fi
}

for tier in $tiers; do
	case $tier in
	unit)
		# TORUA_BINARY: test/chart; TORUA_PROCESS_BINARY: test/process.
		run_tier unit "go test ./... (unit, process, chart, localkube)" env TORUA_BINARY="$wrapper" TORUA_PROCESS_BINARY="$wrapper" \
			$GO test -count=1 "${coverflags[@]}" ./...
		;;
	envtest)
		run_tier envtest "go test -tags envtest ./controllers/..." $GO test -v -count=1 -tags envtest "${coverflags[@]}" ./controllers/...
		;;
	e2e)
		run_tier e2e "go test -tags e2e ./test/e2e (localkube)" env TORUA_E2E_ENV=localkube TORUA_E2E_BINARY="$wrapper" \
			$GO test -v -count=1 -tags e2e -timeout 30m "${coverflags[@]}" ./test/e2e/
		;;
	*)
		echo "unknown tier $tier (COVER_TIERS: unit envtest e2e)" >&2
		exit 2
		;;
	esac
done

echo "== merge"
inputs=$(find "$out/data" -mindepth 1 -maxdepth 1 -type d ! -name merged | sort | paste -sd, -)
$GO tool covdata merge -i="$inputs" -o="$out/data/merged"
$GO tool covdata textfmt -i="$out/data/merged" -o="$out/cover-all.txt"
# Generated code is left out of every figure.
{
	head -n 1 "$out/cover-all.txt"
	tail -n +2 "$out/cover-all.txt" | grep -v '/zz_generated' || true
} >"$out/cover.txt"
$GO tool cover -func="$out/cover.txt" >"$out/func.txt"
$GO tool cover -html="$out/cover.txt" -o "$out/cover.html"

# Per package: a block counts once however many binaries reported it; covered if any did.
tail -n +2 "$out/cover.txt" | awk -v module="$module/" '
{
	split($1, a, ":"); file = a[1]
	pkg = file; sub(/\/[^\/]*$/, "", pkg); sub("^" module, "", pkg)
	if (!($1 in stmts)) { stmts[$1] = $2; pkgof[$1] = pkg }
	if ($3 > 0) hit[$1] = 1
}
END {
	for (b in stmts) { total[pkgof[b]] += stmts[b]; if (b in hit) cov[pkgof[b]] += stmts[b] }
	for (p in total) printf "%s\t%d\t%d\t%.1f\n", p, total[p], cov[p], 100 * cov[p] / total[p]
}' | sort -t$'\t' -k4,4n -k1,1 >"$out/packages.tsv"

{
	printf '%-32s %10s %10s %8s\n' package statements covered coverage
	awk -F'\t' '{ printf "%-32s %10d %10d %7.1f%%%s\n", $1, $2, $3, $4, ($4 < 90 ? "  <90" : ""); s += $2; c += $3 }
		END { printf "%-32s %10d %10d %7.1f%%\n", "total", s, c, 100 * c / s }' "$out/packages.tsv"
} | tee "$out/summary.txt"

echo "cover: $(elapsed "$start") for tiers: $tiers; report in $out (summary.txt, func.txt, cover.html)"
if ((${#failed[@]} > 0)); then
	echo "cover: tiers failed: ${failed[*]} (their figures are partial)" >&2
	exit 1
fi
