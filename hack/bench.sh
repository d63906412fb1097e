#!/usr/bin/env bash
# Takes the figures in docs/benchmarks.md: `torua bench` against `torua local` with RF 1 (separate
# processes on 127.0.0.1; RF 3 against etcd: hack/bench-vs-etcd.sh), then the Go benchmarks of the engine (with the plain fsync loop as
# the one-fsync-per-write baseline) and of the router versus direct node access.
# Usage: hack/bench.sh [duration per run, default 10s]. Needs nothing but Go.
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-10s}
make --no-print-directory build >/dev/null
data=$(mktemp -d)
port=18080
bin/torua local --data-dir "$data" --listen 127.0.0.1:$port --nodes 3 --replication-factor 1 >"$data/local.out" 2>&1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 300); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
url=http://127.0.0.1:$port
echo "== torua bench against torua local (3 nodes, 16 shards, RF 1), $dur each, 128-byte values"
for c in 1 32; do
  echo "-- put, $c clients"; bin/torua bench --url $url --mode put --concurrency $c --duration "$dur" --keys 100000
done
echo "-- get, 32 clients (10,000 keys preloaded)"
bin/torua bench --url $url --mode get --concurrency 32 --duration "$dur" --keys 10000 --preload
echo "-- get, 1 client"
bin/torua bench --url $url --mode get --concurrency 1 --duration "$dur" --keys 10000
echo "-- mixed 90% get, 32 clients"
bin/torua bench --url $url --mode mixed --read-ratio 0.9 --concurrency 32 --duration "$dur" --keys 10000
echo
echo "== go test -bench: engine (FsyncLoop is the one-fsync-per-write baseline) and router versus direct"
go test -run '^$' -bench 'FsyncLoop|ApplyPutSync|Get' -benchtime 3s ./node/engine
go test -run '^$' -bench . -benchtime 5000x ./router
