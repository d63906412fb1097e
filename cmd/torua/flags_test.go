package main

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"github.com/spf13/cobra"
)

// TestUnsafeNoFsyncFlag: node and local both take --unsafe-no-fsync, off by default.
func TestUnsafeNoFsyncFlag(t *testing.T) {
	g := NewWithT(t)
	for name, newCmd := range map[string]func() *cobra.Command{"node": newNodeCmd, "local": newLocalCmd} {
		c := newCmd()
		f := c.Flags().Lookup("unsafe-no-fsync")
		g.Expect(f).NotTo(BeNil(), "torua %s has no --unsafe-no-fsync", name)
		g.Expect(f.DefValue).To(Equal("false"), "torua %s fsyncs by default", name)
		g.Expect(c.Flags().Parse([]string{"--unsafe-no-fsync"})).To(Succeed())
		g.Expect(f.Value.String()).To(Equal("true"))
	}
}

// TestServerFlagsRefuseBadInput: torua router and torua node refuse a bad log level, a log
// file they cannot open, both map sources or none, and a ConfigMap name without its
// namespace, with a message that names the flag, before anything listens.
func TestServerFlagsRefuseBadInput(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	for _, cmd := range []string{"router", "node"} {
		for args, want := range map[string]string{
			"--log-level=loud --shardmap-file=m.json":                             "--log-level:",
			"--log-file=" + dir + "/no/such/dir/torua.log --shardmap-file=m.json": "open log file",
			"--shardmap-file=m.json --shardmap-configmap=torua/map":               "give --shardmap-file or --shardmap-configmap, not both",
			"--log-level=warn":                 "a shard map source is required: --shardmap-file or --shardmap-configmap",
			"--shardmap-configmap=just-a-name": `--shardmap-configmap must be namespace/name, got "just-a-name"`,
		} {
			full := append([]string{cmd, "--listen=127.0.0.1:0"}, strings.Fields(args)...)
			if cmd == "node" {
				full = append(full, "--id=n0", "--data-dir="+dir+"/data", "--raft-listen=127.0.0.1:0")
			}
			_, _, err := runCLI(t, "", full...)
			g.Expect(err).To(MatchError(ContainSubstring(want)), "torua %s", strings.Join(full, " "))
		}
	}
}
