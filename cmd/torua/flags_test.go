package main

import (
	"testing"

	. "github.com/onsi/gomega"
)

// TestUnsafeNoFsyncFlag: node and local both take --unsafe-no-fsync, off by default.
func TestUnsafeNoFsyncFlag(t *testing.T) {
	g := NewWithT(t)
	for _, cmd := range []string{"node", "local"} {
		var c = newNodeCmd()
		if cmd == "local" {
			c = newLocalCmd()
		}
		f := c.Flags().Lookup("unsafe-no-fsync")
		g.Expect(f).NotTo(BeNil(), "torua %s has no --unsafe-no-fsync", cmd)
		g.Expect(f.DefValue).To(Equal("false"), "torua %s fsyncs by default", cmd)
		g.Expect(c.Flags().Parse([]string{"--unsafe-no-fsync"})).To(Succeed())
		g.Expect(f.Value.String()).To(Equal("true"))
	}
}
