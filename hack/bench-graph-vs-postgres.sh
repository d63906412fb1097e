#!/usr/bin/env bash
# Compares Torua's graph store with PostgreSQL 15 and an in-memory BFS on this machine, in one
# run (issue 18 §5): the same generated power-law graph (router/client/bench's R-MAT generator,
# same size and seed) is loaded into
#   - `torua local` (3 nodes, replication factor 3, default fsync) by a bulk load, `torua bench
#     --graph --load --bulk` (BULK=0: through the online import, batch by batch);
#   - a private PostgreSQL 15 (its own data directory, port and socket directory, listening on
#     127.0.0.1 only; a system cluster is never touched) as tables vertex(id) and edge(src, dst)
#     with a primary key on (src, dst), an index on (dst, src) and foreign keys, by COPY
#     (hack/graphbench);
#   - memory (hack/graphbench memory: adjacency arrays, one process: the floor);
# then each runs the same query kinds (one-hop, two-hop, three-hop distinct counts, shortest
# path of at most 6 edges) from random start vertices at each client count, one system at a
# time. A last Torua run with --unsafe-no-fsync (fresh data) loads the graph again and runs
# one-hop only: what the disk costs the import; with ONLINE=1, one more loads it through the
# online import (fsync on) beside the bulk load. Prints one Markdown table (queries/s, p50, p99
# of each system per case), the load rates, whether every system's probe answers agree with
# the in-memory floor's, and the issue's goals.
#
# Usage: hack/bench-graph-vs-postgres.sh [duration per case, default 10s] [results dir]
# With a results dir, every run's --json report is kept there. All data lives in a temporary
# directory, removed on exit (kept, with the logs, when the script fails; not when
# interrupted). Needs PostgreSQL 15's server binaries (Debian's postgresql-15; installed with
# apt-get when missing and running as root); run as root, the PostgreSQL server runs as the
# postgres user, as initdb requires.
#
# Environment:
#   VERTICES, EDGES, SEED   the graph (100000, 1000000, 1)
#   CLIENTS                 client counts (1,8)
#   QUERIES                 query kinds (one-hop,two-hop,three-hop,shortest)
#   BATCH, INFLIGHT         torua's import: vertices or edges per batch, batches in flight (2000, 4;
#                           with 10000 a batch can outlast the router's 10 s bound on a node
#                           request when the cores are busy, and is sent again)
#   WARMUP                  each system runs each query kind this long, unrecorded, before
#                           its cases (5s): caches fill before anything is timed
#   BULK                    0 loads torua through the online import instead of a bulk load (1)
#   ONLINE                  1 adds a torua run that loads through the online import (0)
#   NOFSYNC                 0 skips the --unsafe-no-fsync import run (1)
#   PG_BIN                  PostgreSQL's bin directory (/usr/lib/postgresql/15/bin)
#   PG_PORT                 PostgreSQL's port (25432)
#   TORUA_PORT              router port of torua local (18280)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dur=${1:-10s}
keep=${2:-}
vertices=${VERTICES:-100000}
edges=${EDGES:-1000000}
seed=${SEED:-1}
clients=${CLIENTS:-1,8}
queries=${QUERIES:-one-hop,two-hop,three-hop,shortest}
nofsync=${NOFSYNC:-1}
online=${ONLINE:-0}
torua_load=(--load --batch "${BATCH:-2000}" --in-flight "${INFLIGHT:-4}")
[[ ${BULK:-1} == 1 ]] && torua_load+=(--bulk)
warmup=${WARMUP:-5s}
batch=${BATCH:-2000}
inflight=${INFLIGHT:-4}
pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
pg_port=${PG_PORT:-25432}
torua_port=${TORUA_PORT:-18280}

# shellcheck source=hack/bench-lib.sh
source hack/bench-lib.sh

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-graph.XXXXXX")
chmod 755 "$work" # the postgres user reaches its directories below
res=${keep:-$work/results}
mkdir -p "$res"
torua_pid=
pg_up=
failures=()

# as_pg COMMAND...: run a PostgreSQL command as the postgres user when root (initdb refuses
# root), as this user otherwise.
as_pg() {
	if ((EUID == 0)); then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

stop_pg() {
	if [[ -n $pg_up ]]; then
		as_pg "$pg_bin/pg_ctl" -D "$work/pg" -m fast -w stop >/dev/null 2>&1 || true
		pg_up=
	fi
}
stop_all() {
	stop_torua
	stop_pg
}
on_exit_stop

# attempt NAME COMMAND...: run COMMAND with its JSON report to $res/NAME.json; on failure note
# it and go on (the table leaves the run out; the script exits 1 at the end).
attempt() {
	local name=$1
	shift
	if ! "$@" >"$res/$name.json"; then
		log "$name failed"
		failures+=("$name")
		rm -f "$res/$name.json"
	fi
}

for p in "$pg_port" "$torua_port"; do
	port_free "$p" || { log "127.0.0.1:$p is in use (set PG_PORT / TORUA_PORT)"; exit 1; }
done
if [[ ! -x $pg_bin/initdb ]]; then
	((EUID == 0)) || { log "no PostgreSQL at $pg_bin: install postgresql-15 (or set PG_BIN)"; exit 1; }
	log "installing postgresql-15 (apt-get)"
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
fi

log "building bin/torua and bin/graphbench"
make --no-print-directory build >/dev/null
(cd hack/graphbench && GOWORK=off go build -o "$root/bin/graphbench" .)
# The build's writes (two binaries of 100 MB and more) reach the disk now, not during Torua's
# load, whose Raft logs and tables wait on the same disk's flushes.
sync

graph=(--vertices "$vertices" --edges "$edges" --seed "$seed")
load=(--clients "$clients" --queries "$queries" --duration "$dur" --warmup "$warmup")
echo "# torua vs PostgreSQL vs memory, graph queries, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $("$pg_bin/postgres" --version), $(go env GOVERSION); $vertices vertices, $edges edges, seed $seed; $dur per case after a $warmup warm-up per kind"

# --- torua local: 3 nodes, replication factor 3, default fsync.
start_torua() {
	local dir=$1
	shift
	log "starting torua local: 3 nodes, replication factor 3, router on 127.0.0.1:$torua_port $*"
	bin/torua local --data-dir "$work/$dir" --listen "127.0.0.1:$torua_port" --nodes 3 --replication-factor 3 "$@" \
		>"$work/$dir.log" 2>&1 &
	torua_pid=$!
	wait_for "http://127.0.0.1:$torua_port/readyz" ready 120 "$torua_pid"
}
start_torua torua
log "torua: load and queries"
attempt torua bin/torua bench --graph --url "http://127.0.0.1:$torua_port" "${torua_load[@]}" \
	--json "${graph[@]}" "${load[@]}"
stop_torua
files=("$res/torua.json")

# --- PostgreSQL 15, private: its own data directory, port and socket directory.
log "starting PostgreSQL in $work/pg on 127.0.0.1:$pg_port"
mkdir -p "$work/pg" "$work/pgsock" "$work/pglog"
((EUID == 0)) && chown postgres: "$work/pg" "$work/pgsock" "$work/pglog"
as_pg "$pg_bin/initdb" -D "$work/pg" -U postgres -A trust --no-sync >"$work/initdb.log" 2>&1
cat >>"$work/pg/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$work/pgsock'
shared_buffers = 512MB
# JIT compiles the plans of the costly multi-hop joins at every execution (tens of ms each):
# a PostgreSQL user serving such queries turns it off.
jit = off
EOF
as_pg "$pg_bin/pg_ctl" -D "$work/pg" -l "$work/pglog/pg.log" -w start >/dev/null
pg_up=1
dsn="host=$work/pgsock port=$pg_port user=postgres dbname=postgres"
log "postgres: load and queries"
attempt postgres bin/graphbench postgres --dsn "$dsn" --load --json "${graph[@]}" "${load[@]}"
stop_pg
[[ -f $res/postgres.json ]] && files+=("$res/postgres.json")

# --- the floor: memory, one process.
log "memory: queries"
attempt memory bin/graphbench memory --json "${graph[@]}" "${load[@]}"
[[ -f $res/memory.json ]] && files+=("$res/memory.json")

# --- the import again with fsync off (fresh data): the disk's share of the load.
if [[ $nofsync == 1 ]]; then
	start_torua torua-nofsync --unsafe-no-fsync
	log "torua --unsafe-no-fsync: load"
	attempt torua-nofsync bin/torua bench --graph --url "http://127.0.0.1:$torua_port" "${torua_load[@]}" \
		--json "${graph[@]}" --clients 1 --queries one-hop --duration "$dur"
	stop_torua
	[[ -f $res/torua-nofsync.json ]] && files+=("$res/torua-nofsync.json")
fi

# --- the online import (fsync on, fresh data), beside the bulk load.
if [[ $online == 1 ]]; then
	start_torua torua-online
	log "torua, online import: load"
	attempt torua-online bin/torua bench --graph --url "http://127.0.0.1:$torua_port" --load --batch "$batch" \
		--in-flight "$inflight" --json "${graph[@]}" --clients 1 --queries one-hop --duration "$dur"
	stop_torua
	[[ -f $res/torua-online.json ]] && files+=("$res/torua-online.json")
fi

echo
bin/graphbench compare "${files[@]}"
if ((${#failures[@]} > 0)); then
	log "failed runs: ${failures[*]}"
	exit 1
fi
