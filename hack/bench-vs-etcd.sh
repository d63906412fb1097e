#!/usr/bin/env bash
# Compares Torua with etcd on this machine, in one run: a 3-member etcd cluster (the etcd
# v3.6 binary built from go.etcd.io/etcd/server/v3 by hack/k8s-test-binaries.sh, default fsync
# behaviour) loaded by hack/etcdbench, then `torua local` (3 nodes, replication factor 3)
# loaded by `torua bench`, with the same load: PUT with 1, 32 and 128 clients, linearizable GET and
# stale GET (etcd: serializable) with 32 clients, 128-byte values. Each client has one request
# in flight. The load generator shares the machine's cores with the servers. torua bench uses
# Torua's wire protocol (etcdbench: etcd's gRPC client); a second table shows Torua over HTTP
# and without read leases (--raft-no-read-lease); a third the 32-client PUT load again with
# fsync off in both (--unsafe-no-fsync, fresh data), which separates what the disk costs
# from what the software costs.
# Prints one Markdown table: ops/s, p50, p99 of both and the torua/etcd ratios. A run that
# fails is run once more (and listed under the table); a run that fails twice is marked failed
# in the table, the others go on, and the script exits 1 at the end.
#
# Usage: hack/bench-vs-etcd.sh [duration per run, default 10s] [results dir]
# With a results dir, the --json output of every run is kept there (torua-RUN.json,
# etcd-RUN.json). Everything listens on 127.0.0.1 only; all data lives in a temporary
# directory, removed on exit (kept, with the logs, when the script fails; not when interrupted).
#
# Environment:
#   ETCD                etcd binary (default $KUBEBUILDER_ASSETS/etcd, else the one
#                       hack/k8s-test-binaries.sh builds or finds in its cache)
#   ETCD_BASE_PORT      member i (0..2) serves clients on base+2i and peers on base+2i+1 (22379)
#   TORUA_PORT          router port of torua local (18180)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dur=${1:-10s}
keep=${2:-}
etcd_base=${ETCD_BASE_PORT:-22379}
torua_port=${TORUA_PORT:-18180}

# shellcheck source=hack/bench-lib.sh
source hack/bench-lib.sh

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-vs-etcd.XXXXXX")
res=${keep:-$work/results}
mkdir -p "$res"
etcd_pids=()
torua_pid=
failures=()

retries=()

# attempt NAME COMMAND...: run COMMAND, its JSON output to $res/NAME.json, and once more if it
# fails (a preload stops at its first error: one lost leadership fails the whole run). When
# both attempts fail, note it and go on with the next run: the table marks it failed and the
# script exits 1 at the end.
attempt() {
	local name=$1 try
	shift
	for try in 1 2; do
		if "$@" >"$res/$name.json"; then
			return 0
		fi
		log "$name: attempt $try failed"
		((try == 1)) && retries+=("$name")
	done
	failures+=("$name")
	rm -f "$res/$name.json"
}

stop_etcd() {
	local pid
	for pid in "${etcd_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${etcd_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	etcd_pids=()
}
stop_all() {
	stop_etcd
	stop_torua
}
on_exit_stop

# Binaries: bin/torua (make build), bin/etcdbench (its own module), etcd.
log "building bin/torua and bin/etcdbench"
make --no-print-directory build >/dev/null
(cd hack/etcdbench && GOWORK=off go build -o "$root/bin/etcdbench" .)
etcd=${ETCD:-}
if [[ -z $etcd && -n ${KUBEBUILDER_ASSETS:-} ]]; then
	etcd=$KUBEBUILDER_ASSETS/etcd
fi
if [[ -z $etcd ]]; then
	etcd=$(hack/k8s-test-binaries.sh 2>/dev/null | tail -n 1)/etcd
fi
[[ -x $etcd ]] || { log "no etcd binary at $etcd"; exit 1; }

ports=()
for i in 0 1 2; do ports+=($((etcd_base + 2 * i)) $((etcd_base + 2 * i + 1))); done
for p in "${ports[@]}" "$torua_port"; do
	port_free "$p" || { log "127.0.0.1:$p is in use (set ETCD_BASE_PORT / TORUA_PORT)"; exit 1; }
done

common=(--duration "$dur" --value-size 128)
# The runs, by name: the load arguments shared by both tools, then each tool's own for reads.
runs=(put-1 put-32 put-128 get-32 get-stale-32)
declare -A load=(
	[put-1]="--mode put --concurrency 1 --keys 100000"
	[put-32]="--mode put --concurrency 32 --keys 100000"
	[put-128]="--mode put --concurrency 128 --keys 100000"
	[get-32]="--mode get --concurrency 32 --keys 10000 --preload"
	[get-stale-32]="--mode get --concurrency 32 --keys 10000"
)
declare -A etcd_extra=([get-stale-32]="--consistency serializable")
declare -A torua_extra=([get-stale-32]="--consistency stale")

echo "# torua vs etcd, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $("$etcd" --version | head -n 1), $(go env GOVERSION); $dur per run, 128-byte values"

# --- etcd: 3 members on 127.0.0.1, static bootstrap, default flags otherwise.
cluster= endpoints=
for i in 0 1 2; do
	cluster+=${cluster:+,}m$i=http://127.0.0.1:$((etcd_base + 2 * i + 1))
	endpoints+=${endpoints:+,}127.0.0.1:$((etcd_base + 2 * i))
done
# start_etcd DIR-PREFIX [FLAG...]: start the 3 members with data in $work/DIR-PREFIX-mI.
start_etcd() {
	local prefix=$1 i c p
	shift
	log "starting etcd: 3 members, clients on $endpoints $*"
	for i in 0 1 2; do
		c=http://127.0.0.1:$((etcd_base + 2 * i)) p=http://127.0.0.1:$((etcd_base + 2 * i + 1))
		"$etcd" --name "m$i" --data-dir "$work/$prefix-m$i" \
			--listen-client-urls "$c" --advertise-client-urls "$c" \
			--listen-peer-urls "$p" --initial-advertise-peer-urls "$p" \
			--initial-cluster "$cluster" --initial-cluster-token torua-bench --initial-cluster-state new \
			"$@" >"$work/$prefix-m$i.log" 2>&1 &
		etcd_pids+=($!)
	done
	for i in 0 1 2; do
		wait_for "http://127.0.0.1:$((etcd_base + 2 * i))/health" '"health":"true"' 60 "${etcd_pids[@]}"
	done
}
start_etcd etcd
for run in "${runs[@]}"; do
	log "etcd $run"
	# shellcheck disable=SC2086 # the load strings are word lists
	attempt "etcd-$run" bin/etcdbench --endpoints "$endpoints" --json "${common[@]}" ${load[$run]} ${etcd_extra[$run]:-}
done
stop_etcd
start_etcd etcd-nofsync --unsafe-no-fsync
log "etcd put-32 without fsync"
# shellcheck disable=SC2086
attempt "etcd-put-32-nofsync" bin/etcdbench --endpoints "$endpoints" --json "${common[@]}" ${load[put-32]}
stop_etcd

# --- torua local: 3 nodes, replication factor 3.
log "starting torua local: 3 nodes, replication factor 3, router on 127.0.0.1:$torua_port"
bin/torua local --data-dir "$work/torua" --listen "127.0.0.1:$torua_port" --nodes 3 --replication-factor 3 \
	>"$work/torua-local.log" 2>&1 &
torua_pid=$!
wait_for "http://127.0.0.1:$torua_port/readyz" ready 120 "$torua_pid"
for run in "${runs[@]}"; do
	log "torua $run"
	# shellcheck disable=SC2086
	attempt "torua-$run" bin/torua bench --url "http://127.0.0.1:$torua_port" --json "${common[@]}" ${load[$run]} ${torua_extra[$run]:-}
done
# Variants, Torua only: the same loads over HTTP instead of the wire protocol.
variants=()
for run in put-32 get-32; do
	log "torua $run over HTTP"
	# shellcheck disable=SC2086
	attempt "variant-$run-http" bin/torua bench --url "http://127.0.0.1:$torua_port" --json --protocol http "${common[@]}" ${load[$run]/--preload/}
	variants+=("$run-http")
done
stop_torua
# ...and linearizable reads without read leases (each read confirms leadership).
log "starting torua local with --raft-no-read-lease"
bin/torua local --data-dir "$work/torua" --listen "127.0.0.1:$torua_port" --raft-no-read-lease \
	>"$work/torua-local-nolease.log" 2>&1 &
torua_pid=$!
wait_for "http://127.0.0.1:$torua_port/readyz" ready 120 "$torua_pid"
log "torua get-32 without read leases"
# shellcheck disable=SC2086
attempt "variant-get-32-nolease" bin/torua bench --url "http://127.0.0.1:$torua_port" --json "${common[@]}" ${load[get-32]/--preload/}
variants+=(get-32-nolease)
stop_torua
# ...and PUTs with fsync off, on fresh data.
log "starting torua local with --unsafe-no-fsync"
bin/torua local --data-dir "$work/torua-nofsync" --listen "127.0.0.1:$torua_port" --unsafe-no-fsync \
	>"$work/torua-local-nofsync.log" 2>&1 &
torua_pid=$!
wait_for "http://127.0.0.1:$torua_port/readyz" ready 120 "$torua_pid"
log "torua put-32 without fsync"
# shellcheck disable=SC2086
attempt "torua-put-32-nofsync" bin/torua bench --url "http://127.0.0.1:$torua_port" --json "${common[@]}" ${load[put-32]}
stop_torua

echo
bin/etcdbench compare "$res" "${runs[@]}"
echo
bin/etcdbench variants "$res" "${variants[@]}"
echo
echo "# fsync off in both (--unsafe-no-fsync; not a way to run either, a measurement of the disk's share)"
bin/etcdbench compare "$res" put-32-nofsync
if ((${#retries[@]} > 0)); then
	echo "note: run again after a failed first attempt (see the log above): ${retries[*]}"
fi
if ((${#failures[@]} > 0)); then
	log "failed runs: ${failures[*]}"
	exit 1
fi
