package chart

import (
	"os"
	"testing"

	"github.com/torua/torua/test/localkube"
)

// TestMain runs the tests inside localkube's private network namespace when the Kubernetes test
// binaries are there (TestInstall needs pod IPs); the rendering tests run either way.
func TestMain(m *testing.M) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		os.Exit(m.Run())
	}
	localkube.Main(m)
}
