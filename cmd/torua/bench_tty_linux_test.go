package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/torua/torua/internal/testutil"
	"github.com/torua/torua/router/client/clienttest"
)

// openPTY opens a pseudo-terminal: what a program writes to tty, a terminal shows, and the
// test reads it from ptm.
func openPTY(t *testing.T) (ptm, tty *os.File) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	ptm = os.NewFile(uintptr(fd), "/dev/ptmx")
	t.Cleanup(func() { _ = ptm.Close() })
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("name the pseudo-terminal: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open the terminal side: %v", err)
	}
	t.Cleanup(func() { _ = tty.Close() })
	return ptm, tty
}

// TestBenchDrawsABarOnATerminal: with standard error on a terminal, torua bench draws a
// progress bar that it redraws in place (carriage returns) with the phase's figures, and
// clears it when the phase ends; the result still goes to standard output.
func TestBenchDrawsABarOnATerminal(t *testing.T) {
	fake := clienttest.NewRouter(t)
	ptm, tty := openPTY(t)
	var screen testutil.SyncBuffer
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(&screen, ptm)
	}()

	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(tty)
	root.SetArgs([]string{"bench", "--url", fake.URL, "--protocol", "http", "--mode", "put",
		"--keys", "50", "--concurrency", "2", "--duration", "1s"})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("bench: %v\nterminal: %q", err, screen.String())
	}
	_ = tty.Close()
	<-copied

	shown := screen.String()
	for _, want := range []string{"bench: ", " ops, ", " ops/s, 0 errors", "\r"} {
		if !strings.Contains(shown, want) {
			t.Errorf("the terminal shows no %q:\n%q", want, shown)
		}
	}
	if !strings.Contains(out.String(), "ops ") {
		t.Errorf("no result on standard output:\n%s", out.String())
	}
}
