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

// TestBlockCacheFlag: node and local take --block-cache as a quantity, 256Mi by default, and
// refuse what is not a size or is below 1Mi, naming the flag.
func TestBlockCacheFlag(t *testing.T) {
	g := NewWithT(t)
	for name, newCmd := range map[string]func() *cobra.Command{"node": newNodeCmd, "local": newLocalCmd} {
		c := newCmd()
		f := c.Flags().Lookup("block-cache")
		g.Expect(f).NotTo(BeNil(), "torua %s has no --block-cache", name)
		g.Expect(f.DefValue).To(Equal("256Mi"))
		g.Expect(c.Flags().Parse([]string{"--block-cache=1Gi"})).To(Succeed())
		g.Expect(int64(*f.Value.(*byteSize))).To(Equal(int64(1 << 30)))
		g.Expect(c.Flags().Parse([]string{"--block-cache=lots"})).To(MatchError(ContainSubstring(`invalid argument "lots" for "--block-cache" flag: want a size such as 256Mi`)))
		g.Expect(c.Flags().Parse([]string{"--block-cache=512Ki"})).To(MatchError(ContainSubstring("below the smallest block cache, 1Mi")))
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
