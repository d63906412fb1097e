package testutil

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// Child is this test binary run again as a child process, running one test (the crash
// tests: the child writes and reports on its stdout until the parent SIGKILLs it).
type Child struct {
	t      testing.TB
	cmd    *exec.Cmd
	Stdout io.Reader
	killed bool
}

// StartChild runs test (a test function name of this binary) in a child process with the
// environment variable env set to value, its stderr passed through. A child not killed
// by the test is killed when it ends.
func StartChild(t testing.TB, test, env, value string) *Child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"="+value)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &Child{t: t, cmd: cmd, Stdout: stdout}
	t.Cleanup(func() {
		if !c.killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return c
}

// Reports calls report with the fields of each line the child writes, until its stdout
// ends; it skips empty lines and fails the test on a line starting "error". The last line
// may be torn by the SIGKILL: report must check the fields it uses.
func (c *Child) Reports(report func(f []string)) {
	c.t.Helper()
	sc := bufio.NewScanner(c.Stdout)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if f[0] == "error" {
			c.t.Fatalf("child failed: %s", sc.Text())
		}
		report(f)
	}
	if err := sc.Err(); err != nil {
		c.t.Fatal(err)
	}
}

// Kill SIGKILLs the child once (later calls do nothing).
func (c *Child) Kill() {
	if c.killed {
		return
	}
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		c.t.Fatal(err)
	}
	c.killed = true
}

// Wait waits for the child to end; it fails the test, naming what was awaited, if the
// child ended before Kill.
func (c *Child) Wait(awaited string) {
	c.t.Helper()
	err := c.cmd.Wait()
	if !c.killed {
		c.t.Fatalf("child ended before %s: %v", awaited, err)
	}
}
