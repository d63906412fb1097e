package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	. "github.com/onsi/gomega"
)

func TestCgroupMemoryLimit(t *testing.T) {
	g := NewWithT(t)
	write := func(root, name, content string) {
		p := filepath.Join(root, name)
		g.Expect(os.MkdirAll(filepath.Dir(p), 0o755)).To(Succeed())
		g.Expect(os.WriteFile(p, []byte(content), 0o644)).To(Succeed())
	}
	for _, tc := range []struct {
		name, file, content string
		want                int64
		ok                  bool
	}{
		{"v2 limit", "memory.max", "536870912\n", 536870912, true},
		{"v2 unlimited", "memory.max", "max\n", 0, false},
		{"v1 limit", "memory/memory.limit_in_bytes", "1073741824\n", 1073741824, true},
		{"v1 unlimited", "memory/memory.limit_in_bytes", "9223372036854771712\n", 0, false},
		{"garbage", "memory.max", "lots\n", 0, false},
		{"none", "", "", 0, false},
	} {
		root := t.TempDir()
		if tc.file != "" {
			write(root, tc.file, tc.content)
		}
		got, ok := cgroupMemoryLimit(root)
		g.Expect(ok).To(Equal(tc.ok), tc.name)
		g.Expect(got).To(Equal(tc.want), tc.name)
	}
}

func TestMachineMemory(t *testing.T) {
	g := NewWithT(t)
	p := filepath.Join(t.TempDir(), "meminfo")
	g.Expect(os.WriteFile(p, []byte("MemTotal:       24576000 kB\nMemFree:         1000 kB\n"), 0o644)).To(Succeed())
	n, ok := machineMemory(p)
	g.Expect(ok).To(BeTrue())
	g.Expect(n).To(Equal(int64(24576000) << 10))
	_, ok = machineMemory(filepath.Join(t.TempDir(), "absent"))
	g.Expect(ok).To(BeFalse())
}

// TestTuneGC: a storage process raises GOGC to storageGCPercent and sets a soft memory limit
// (from the cgroup's, else a quarter of the machine's memory), and leaves each alone when
// the environment sets it.
func TestTuneGC(t *testing.T) {
	g := NewWithT(t)
	const knownPercent, knownLimit = 123, int64(1) << 40
	prevPercent, prevLimit := debug.SetGCPercent(knownPercent), debug.SetMemoryLimit(knownLimit)
	t.Cleanup(func() { debug.SetGCPercent(prevPercent); debug.SetMemoryLimit(prevLimit) })
	reset := func() { debug.SetGCPercent(knownPercent); debug.SetMemoryLimit(knownLimit) }

	t.Setenv("GOGC", "150")
	t.Setenv("GOMEMLIMIT", "")
	tuneGC(slog.New(slog.DiscardHandler))
	g.Expect(debug.SetGCPercent(knownPercent)).To(Equal(knownPercent), "GOGC set: left alone")
	g.Expect(debug.SetMemoryLimit(-1)).To(Equal(knownLimit))

	reset()
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "8GiB")
	tuneGC(slog.New(slog.DiscardHandler))
	g.Expect(debug.SetGCPercent(knownPercent)).To(Equal(storageGCPercent))
	g.Expect(debug.SetMemoryLimit(-1)).To(Equal(knownLimit), "GOMEMLIMIT set: left alone")

	reset()
	t.Setenv("GOMEMLIMIT", "")
	var logs bytes.Buffer
	tuneGC(slog.New(slog.NewTextHandler(&logs, nil)))
	g.Expect(debug.SetGCPercent(knownPercent)).To(Equal(storageGCPercent))
	limit := debug.SetMemoryLimit(-1)
	if cg, ok := cgroupMemoryLimit("/sys/fs/cgroup"); ok {
		g.Expect(limit).To(Equal(cg / 10 * 9))
		g.Expect(logs.String()).To(ContainSubstring("from the cgroup's"))
	} else {
		total, ok := machineMemory("/proc/meminfo")
		g.Expect(ok).To(BeTrue(), "Linux has /proc/meminfo")
		g.Expect(limit).To(Equal(total / 4))
		g.Expect(logs.String()).To(ContainSubstring("a quarter of the machine's memory"))
	}
}
