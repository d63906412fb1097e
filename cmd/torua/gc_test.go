package main

import (
	"os"
	"path/filepath"
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
