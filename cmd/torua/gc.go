package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// storageGCPercent is the garbage collector's target for storage processes (torua node and
// torua local) when GOGC is not set. Every write allocates its Raft log entry, its
// messages and its futures on three replicas; at Go's default of 100 the collector took
// about a tenth of the CPU under write load, and 400 bought 15-20% more PUTs per second
// (docs/benchmarks.md) for about twice the heap (torua local, 3 nodes: 223 MB -> 434 MB
// resident at the end of a 20 s, 32-client PUT run).
const storageGCPercent = 400

// tuneGC sets the collector of a storage process unless the environment does: GOGC to
// storageGCPercent, and a soft memory limit (GOMEMLIMIT) so that the larger heap target
// gives way before memory runs short: 90% of the cgroup's limit in a container that has one,
// else a quarter of the machine's memory. In the static build Pebble's block cache and
// memtables live in the Go heap, so 5x the live heap could otherwise reach gigabytes.
func tuneGC(log *slog.Logger) {
	if os.Getenv("GOGC") != "" {
		return
	}
	debug.SetGCPercent(storageGCPercent)
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	if limit, ok := cgroupMemoryLimit("/sys/fs/cgroup"); ok {
		debug.SetMemoryLimit(limit / 10 * 9)
		log.Info("Set the Go memory limit from the cgroup's", "cgroupLimitBytes", limit, "goMemLimitBytes", limit/10*9)
	} else if total, ok := machineMemory("/proc/meminfo"); ok {
		debug.SetMemoryLimit(total / 4)
		log.Info("Set the Go memory limit to a quarter of the machine's memory", "goMemLimitBytes", total/4)
	}
}

// machineMemory reads MemTotal from a Linux /proc/meminfo; false elsewhere.
func machineMemory(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, "MemTotal:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil || kb <= 0 {
			return 0, false
		}
		return kb << 10, true
	}
	return 0, false
}

// cgroupMemoryLimit reads the memory limit of this process's cgroup under root: cgroup v2's
// memory.max, else cgroup v1's memory/memory.limit_in_bytes. False when there is none.
func cgroupMemoryLimit(root string) (int64, bool) {
	for _, p := range []string{"memory.max", filepath.Join("memory", "memory.limit_in_bytes")} {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return 0, false
		}
		n, err := strconv.ParseInt(s, 10, 64)
		// cgroup v1 reports "no limit" as a page-rounded maximum int64.
		if err != nil || n <= 0 || n >= 1<<62 {
			return 0, false
		}
		return n, true
	}
	return 0, false
}
