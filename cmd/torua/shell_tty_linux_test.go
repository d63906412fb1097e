package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/torua/torua/internal/testutil"
)

// ttySession is torua shell running on a pseudo-terminal: the test types on ptm and reads the
// screen.
type ttySession struct {
	t      *testing.T
	ptm    *os.File
	screen testutil.SyncBuffer
	done   chan error
}

func startShellOnTTY(t *testing.T, args ...string) *ttySession {
	t.Helper()
	ptm, tty := openPTY(t)
	s := &ttySession{t: t, ptm: ptm, done: make(chan error, 1)}
	go func() { _, _ = io.Copy(&s.screen, ptm) }()
	root := newRootCmd()
	root.SetIn(tty)
	root.SetOut(tty)
	root.SetErr(tty)
	root.SetArgs(append([]string{"shell"}, args...))
	go func() { s.done <- root.ExecuteContext(context.Background()) }()
	return s
}

// waitFor polls the screen until text has appeared n times.
func (s *ttySession) waitFor(text string, n int) {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(s.screen.String(), text) < n {
		if time.Now().After(deadline) {
			s.t.Fatalf("the terminal never showed %q %d times:\n%q", text, n, s.screen.String())
		}
		select {
		case err := <-s.done:
			s.t.Fatalf("the shell ended (%v) before showing %q %d times:\n%q", err, text, n, s.screen.String())
		case <-time.After(10 * time.Millisecond): // poll interval
		}
	}
}

func (s *ttySession) typeKeys(keys string) {
	s.t.Helper()
	if _, err := s.ptm.WriteString(keys); err != nil {
		s.t.Fatal(err)
	}
}

// end types Ctrl-D and waits for the shell to end well.
func (s *ttySession) end() {
	s.t.Helper()
	s.typeKeys("\x04")
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Fatalf("the shell ended with %v", err)
		}
	case <-time.After(20 * time.Second):
		s.t.Fatalf("Ctrl-D did not end the shell:\n%q", s.screen.String())
	}
}

// TestShellOnATerminal: the prompt, a statement over two lines with the continuation prompt,
// the up arrow recalling that statement as one line, :graph changing the prompt, Ctrl-D
// leaving; the history file keeps the session for the next one, whose up arrow recalls it.
func TestShellOnATerminal(t *testing.T) {
	u := "--url=" + startGraphCluster(t)
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)

	s := startShellOnTTY(t, u)
	s.waitFor("torua:default> ", 1)
	s.typeKeys("CREATE (:P {n: 41});\r")
	s.waitFor("1 node created", 1)
	s.waitFor("torua:default> ", 2)
	s.typeKeys("MATCH (p:P)\r")
	s.waitFor("     -> ", 1)
	s.typeKeys("RETURN p.n + 1 AS answer;\r")
	s.waitFor("answer\r\n------\r\n    42\r\n1 row, ", 1)
	s.waitFor("torua:default> ", 3)
	s.typeKeys("\x1b[A") // up: the last statement, as one line
	s.waitFor("MATCH (p:P) RETURN p.n + 1 AS answer;", 1)
	s.typeKeys("\r")
	s.waitFor("    42\r\n1 row, ", 2)
	s.waitFor("torua:default> ", 4)
	s.typeKeys(":graph other\r")
	s.waitFor("torua:other> ", 1)
	s.typeKeys("MATCH (p:P) RETURN count(p) AS c;\r")
	s.waitFor("c\r\n-\r\n0\r\n", 1)
	s.waitFor("torua:other> ", 2)
	s.end()

	hist, err := os.ReadFile(filepath.Join(state, "torua", "history"))
	if err != nil {
		t.Fatal(err)
	}
	want := "CREATE (:P {n: 41});\nMATCH (p:P) RETURN p.n + 1 AS answer;\n:graph other\nMATCH (p:P) RETURN count(p) AS c;\n"
	if string(hist) != want {
		t.Errorf("history file:\n%s\nwant\n%s", hist, want)
	}

	// The next session starts with that history: two ups recall :graph other.
	s = startShellOnTTY(t, u)
	s.waitFor("torua:default> ", 1)
	s.typeKeys("\x1b[A\x1b[A\r")
	s.waitFor("torua:other> ", 1)
	s.end()
}

// TestShellOnATerminalWithoutHistoryFile: a history file that cannot be written costs one
// warning, not the session.
func TestShellOnATerminalWithoutHistoryFile(t *testing.T) {
	u := "--url=" + startGraphCluster(t)
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_STATE_HOME", blocker) // a file: no directory can be made in it

	s := startShellOnTTY(t, u)
	s.waitFor("torua:default> ", 1)
	s.typeKeys("RETURN 1 AS one;\r")
	s.waitFor("1 row", 1)
	s.typeKeys("RETURN 2 AS two;\r")
	s.waitFor("torua:default> ", 3)
	s.typeKeys("\x1b[A\r") // the session's own history still works
	s.waitFor("torua:default> ", 4)
	s.end()
	if n := strings.Count(s.screen.String(), "warning: history not saved"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%q", n, s.screen.String())
	}
	if n := strings.Count(s.screen.String(), "two\r\n---\r\n  2\r\n"); n != 2 {
		t.Errorf("RETURN 2 answered %d times, want 2 (typed, then recalled):\n%q", n, s.screen.String())
	}
}
