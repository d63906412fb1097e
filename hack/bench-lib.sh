# Shell helpers shared by the comparison benchmarks (hack/bench-vs-etcd.sh,
# hack/bench-graph-vs-postgres.sh), sourced after `set -euo pipefail`. stop_torua uses the
# caller's torua_pid.

log() { printf '==> %s\n' "$*" >&2; }

# port_free PORT: nothing listens on 127.0.0.1:PORT.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for URL PATTERN SECONDS PID...: poll URL until its body matches PATTERN; fail when
# SECONDS have passed or a PID has exited.
wait_for() {
	local url=$1 pattern=$2 secs=$3 i pid
	shift 3
	for ((i = 0; i < secs * 10; i++)); do
		if curl -fs "$url" 2>/dev/null | grep -q "$pattern"; then
			return 0
		fi
		for pid in "$@"; do
			kill -0 "$pid" 2>/dev/null || { log "process $pid exited while waiting for $url"; return 1; }
		done
		sleep 0.1
	done
	log "timed out after ${secs}s waiting for $url"
	return 1
}

# stop_torua: stop the torua local of $torua_pid, if any, as Ctrl-C does.
stop_torua() {
	if [[ -n $torua_pid ]]; then
		kill -INT "$torua_pid" 2>/dev/null || true
		wait "$torua_pid" 2>/dev/null || true
		torua_pid=
	fi
}

# on_exit_stop: from here on, when the script exits the caller's stop_all (which stops its
# servers) runs, and the work directory $work is removed after a success or an interrupt, or
# kept with its logs after a failure.
on_exit_stop() {
	trap _stop_and_clean EXIT
	trap 'exit 130' INT TERM
}
_stop_and_clean() {
	local rc=$?
	stop_all
	if ((rc == 0 || rc == 130)); then
		rm -rf "$work"
	else
		log "failed; logs and data kept in $work"
	fi
}
