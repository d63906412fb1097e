package main

import (
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
