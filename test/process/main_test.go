package process

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// toruaBin is the binary TestMain builds, or $TORUA_PROCESS_BINARY (hack/cover.sh passes one
// built with -cover); every test runs it.
var toruaBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if bin := os.Getenv("TORUA_PROCESS_BINARY"); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			fmt.Fprintln(os.Stderr, "process tests:", err)
			return 1
		}
		toruaBin = abs
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "torua-process-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "process tests:", err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	toruaBin = filepath.Join(dir, "torua")
	if err := build(toruaBin); err != nil {
		fmt.Fprintln(os.Stderr, "process tests: build torua:", err)
		return 1
	}
	return m.Run()
}

// build compiles ./cmd/torua of the enclosing module into out.
func build(out string) error {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(gomod))
	if mod == "" || mod == os.DevNull {
		return fmt.Errorf("not inside a Go module (go env GOMOD = %q)", mod)
	}
	cmd := exec.Command("go", "build", "-o", out, "./cmd/torua")
	cmd.Dir = filepath.Dir(mod)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w\n%s", err, b)
	}
	return nil
}
