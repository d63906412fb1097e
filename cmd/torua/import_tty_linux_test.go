package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/torua/torua/internal/testutil"
)

// TestImportDrawsABarOnATerminal: with standard error on a terminal, torua import draws a
// progress bar that it redraws in place (carriage returns) with the rows loaded and their rate,
// and clears it at the end; the summary goes to standard output.
func TestImportDrawsABarOnATerminal(t *testing.T) {
	u := "--url=" + startGraphCluster(t)
	f := writeFiles(t, map[string]string{"people.csv": peopleCSV, "knows.csv": knowsCSV})
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
	root.SetArgs([]string{"import", u, "--graph", "bar", "--vertices", f["people.csv"], "--edges", f["knows.csv"],
		"--start-label", "Person", "--end-label", "Person", "--type", "LIKES", "--batch", "1"})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("import: %v\nterminal: %q", err, screen.String())
	}
	_ = tty.Close()
	<-copied

	shown := screen.String()
	for _, want := range []string{"import: 0 rows, ", " rows/s", "\r"} {
		if !strings.Contains(shown, want) {
			t.Errorf("the terminal shows no %q:\n%q", want, shown)
		}
	}
	if strings.Contains(shown, "done:") {
		t.Errorf("the plain progress lines went to the terminal too:\n%q", shown)
	}
	if !strings.HasPrefix(out.String(), "imported into graph bar: 3 vertices and 3 edges created") {
		t.Errorf("summary on standard output: %q", out.String())
	}
}
