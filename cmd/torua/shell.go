package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/torua/torua/router/client"
)

func init() { register(newShellCmd) }

// maxHistory bounds the statements the shell keeps and loads from its history file.
const maxHistory = 1000

const shellHelp = `Statements end with ";" and may span lines. Commands (one line each):
  :graph NAME        switch to graph NAME (:graph alone prints the current one)
  :graphs            list the cluster's graphs
  :params k=v ...    set session parameters ($k); v is JSON when it is JSON, else a string
  :params            list them;  :params clear  removes them all
  :help              this text
  :quit              leave (so does Ctrl-D on an empty line)
`

func newShellCmd() *cobra.Command {
	var gf graphFlags
	cmd := &cobra.Command{
		Use:   "shell",
		Short: "An interactive openCypher prompt on a graph",
		Long: `An interactive openCypher prompt on a graph. Statements end with ";" and may span lines;
results print as torua query prints them. Lines can be edited, and the up and down arrows
recall earlier statements, kept in $XDG_STATE_HOME/torua/history (or ~/.torua_history).

` + shellHelp + `
When standard input is not a terminal, the shell reads statements from it without prompts
(torua shell < script.cypher), runs them all, and exits 1 if any failed.`,
		Example: `  torua shell --graph social
  torua shell < schema.cypher`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := gf.client()
			if err != nil {
				return err
			}
			defer c.Close()
			// Fail at once, not at the first statement, when nothing listens at the URL.
			if _, err := c.Graphs(cmd.Context()); errors.Is(err, client.ErrUnreachable) {
				return err
			}
			sh := &shell{c: c, graph: gf.graph, timeout: gf.timeout, params: map[string]any{}}
			in, out := cmd.InOrStdin(), cmd.OutOrStdout()
			inF, ok1 := in.(*os.File)
			outF, ok2 := out.(*os.File)
			if ok1 && ok2 && term.IsTerminal(int(inF.Fd())) && term.IsTerminal(int(outF.Fd())) {
				return sh.interactive(cmd.Context(), inF, outF)
			}
			sh.out, sh.errw = out, cmd.ErrOrStderr()
			if err := sh.loop(cmd.Context(), &scriptReader{r: bufio.NewReaderSize(in, 64<<10)}, nil); err != nil {
				return err
			}
			if sh.failed > 0 {
				return reportedError{fmt.Errorf("%d of %d statements failed", sh.failed, sh.ran)}
			}
			return nil
		},
	}
	gf.register(cmd)
	return cmd
}

// shell is one session: its graph, its parameters and where it prints.
type shell struct {
	c     *client.Client
	graph string
	// timeout bounds each statement on the router too (--timeout).
	timeout time.Duration
	params  map[string]any
	// out receives results, errw faults and warnings (both the terminal when interactive).
	out, errw   io.Writer
	ran, failed int
}

// lineReader is where the shell's lines come from: a terminal with a prompt, or a script.
type lineReader interface {
	ReadLine() (string, error)
	SetPrompt(prompt string)
}

// scriptReader reads lines from a file or pipe; it shows no prompt.
type scriptReader struct{ r *bufio.Reader }

func (s *scriptReader) ReadLine() (string, error) {
	line, err := s.r.ReadString('\n')
	if err == io.EOF && line != "" {
		err = nil
	}
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), err
}

func (*scriptReader) SetPrompt(string) {}

// interactive runs the session on a terminal: raw mode for line editing, restored on return.
func (s *shell) interactive(ctx context.Context, in, out *os.File) error {
	state, err := term.MakeRaw(int(in.Fd()))
	if err != nil {
		return fmt.Errorf("terminal: %w", err)
	}
	defer func() { _ = term.Restore(int(in.Fd()), state) }()
	t := term.NewTerminal(struct {
		io.Reader
		io.Writer
	}{in, out}, "")
	if w, h, err := term.GetSize(int(out.Fd())); err == nil && w > 0 && h > 0 {
		_ = t.SetSize(w, h)
	}
	s.out, s.errw = t, t
	h := openHistory(func(err error) { fmt.Fprintf(t, "warning: history not saved: %v\n", err) })
	t.History = h
	fmt.Fprintf(t, "torua shell on %s, graph %s. Statements end with \";\"; :help lists the commands.\n", s.c.URL(), s.graph)
	err = s.loop(ctx, t, h)
	// Past the prompt, on the terminal itself: the Terminal would redraw its prompt after.
	_, _ = out.WriteString("\r\n")
	return err
}

// loop reads lines until :quit or the end of input and runs what they hold. h, when not nil,
// records every statement and command.
func (s *shell) loop(ctx context.Context, r lineReader, h *history) error {
	var sp splitter
	for {
		if sp.pending() {
			r.SetPrompt("     -> ")
		} else {
			r.SetPrompt("torua:" + s.graph + "> ")
		}
		line, err := r.ReadLine()
		if errors.Is(err, term.ErrPasteIndicator) {
			err = nil // a pasted line is a line like any other
		}
		if err == io.EOF {
			// A script's last statement may lack its ";"; on a terminal, Ctrl-D drops an
			// unfinished statement, as it would a line.
			if h == nil {
				if rest := sp.rest(); rest != "" {
					s.statement(ctx, rest)
				}
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if !sp.pending() && strings.HasPrefix(strings.TrimSpace(line), ":") {
			cmdLine := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(line), ";"))
			h.record(cmdLine)
			if s.command(ctx, cmdLine) {
				return nil
			}
			continue
		}
		for _, st := range sp.feed(line) {
			h.record(strings.Join(strings.Fields(st), " ") + ";")
			s.statement(ctx, st)
		}
	}
}

// statement runs one statement and prints its answer or fault.
func (s *shell) statement(ctx context.Context, q string) {
	s.ran++
	if err := runQuery(ctx, s.c, s.graph, q, s.params, s.timeout, s.out, s.errw); err != nil {
		s.failed++
	}
}

// command runs a shell command (a line that starts with ':'); it reports whether to quit.
func (s *shell) command(ctx context.Context, line string) (quit bool) {
	name, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	switch name {
	case ":quit", ":exit", ":q":
		return true
	case ":help", ":h", ":?":
		fmt.Fprint(s.out, shellHelp)
	case ":graph":
		switch {
		case arg == "":
			fmt.Fprintf(s.out, "graph %s\n", s.graph)
		case strings.ContainsAny(arg, " \t"):
			s.fail("usage: :graph NAME")
		default:
			s.graph = arg
			fmt.Fprintf(s.out, "graph %s\n", s.graph)
		}
	case ":graphs":
		names, err := s.c.Graphs(ctx)
		if err != nil {
			s.fail("graphs: %v", err)
			return false
		}
		for _, n := range names {
			mark := "  "
			if n == s.graph {
				mark = "* "
			}
			fmt.Fprintln(s.out, mark+n)
		}
		if len(names) == 0 {
			fmt.Fprintln(s.out, "(no graphs yet)")
		}
	case ":params", ":param":
		s.setParams(arg)
	default:
		s.fail("unknown command %s (:help lists them)", name)
	}
	return false
}

func (s *shell) setParams(arg string) {
	switch arg {
	case "":
		for _, k := range slices.Sorted(mapKeys(s.params)) {
			fmt.Fprintf(s.out, "$%s = %s\n", k, literal(s.params[k]))
		}
		if len(s.params) == 0 {
			fmt.Fprintln(s.out, "(no parameters)")
		}
		return
	case "clear":
		clear(s.params)
		return
	}
	pairs, err := splitAssignments(arg)
	if err == nil {
		_, err = parseParams(pairs, s.params)
	}
	if err != nil {
		s.fail("%v", err)
	}
}

func (s *shell) fail(format string, args ...any) {
	fmt.Fprintf(s.errw, "error: "+format+"\n", args...)
}

// splitAssignments splits "a=1 b=\"x y\" c=[1, 2]" at the blanks that are outside JSON strings,
// lists and maps.
func splitAssignments(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	depth, inStr, esc := 0, false, false
	for _, r := range s {
		switch {
		case inStr:
			inStr = esc || r != '"'
			esc = !esc && r == '\\'
		case r == '"':
			inStr = true
		case r == '[' || r == '{':
			depth++
		case r == ']' || r == '}':
			depth--
		case (r == ' ' || r == '\t') && depth == 0:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
			continue
		}
		cur.WriteRune(r)
	}
	if inStr || depth != 0 {
		return nil, fmt.Errorf("parameters %q: a string, list or map is not closed", s)
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out, nil
}

// splitter cuts the lines of a session into statements at the semicolons that are outside
// strings, backquoted names and comments (the lexer's rules, graph/cypher).
type splitter struct {
	buf string
	// significant: buf holds more than blanks and comments.
	significant bool
}

// feed adds a line and returns the statements it completes, without their ';'.
func (sp *splitter) feed(line string) []string {
	buf := sp.buf + line + "\n"
	var out []string
	const (
		code = iota
		quoted
		backquoted
		lineComment
		blockComment
	)
	state, quote, start, significant := code, byte(0), 0, false
	for i := 0; i < len(buf); i++ {
		c := buf[i]
		switch state {
		case code:
			switch {
			case c == '\'' || c == '"':
				state, quote, significant = quoted, c, true
			case c == '`':
				state, significant = backquoted, true
			case c == '/' && i+1 < len(buf) && buf[i+1] == '/':
				state = lineComment
				i++
			case c == '/' && i+1 < len(buf) && buf[i+1] == '*':
				state = blockComment
				i++
			case c == ';':
				if significant {
					out = append(out, strings.TrimSpace(buf[start:i]))
				}
				start, significant = i+1, false
			case c != ' ' && c != '\t' && c != '\n' && c != '\r':
				significant = true
			}
		case quoted:
			switch c {
			case '\\':
				i++
			case quote:
				state = code
			}
		case backquoted:
			if c == '`' {
				state = code
			}
		case lineComment:
			if c == '\n' {
				state = code
			}
		case blockComment:
			if c == '*' && i+1 < len(buf) && buf[i+1] == '/' {
				state = code
				i++
			}
		}
	}
	sp.buf, sp.significant = buf[start:], significant || state == quoted || state == backquoted || state == blockComment
	if !sp.significant {
		sp.buf = ""
	}
	return out
}

// pending reports whether an unfinished statement waits for more lines.
func (sp *splitter) pending() bool { return sp.significant }

// rest returns the unfinished statement and forgets it.
func (sp *splitter) rest() string {
	r := ""
	if sp.significant {
		r = strings.TrimSpace(sp.buf)
	}
	sp.buf, sp.significant = "", false
	return r
}

// history is the shell's statement history for the terminal's up and down arrows, kept in a
// file. The terminal's own Add of each line is ignored: the shell records whole statements
// (a statement of several lines comes back as one line) and commands.
type history struct {
	entries []string // oldest first
	path    string
	warn    func(error)
	warned  bool
}

// historyPath is $XDG_STATE_HOME/torua/history, or ~/.torua_history without XDG_STATE_HOME.
func historyPath() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "torua", "history"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".torua_history"), nil
}

// openHistory loads the history file's last maxHistory lines. It never fails: a file that
// cannot be read or written leaves a history of this session only, and warn is called once.
func openHistory(warn func(error)) *history {
	h := &history{warn: warn}
	path, err := historyPath()
	if err == nil {
		err = os.MkdirAll(filepath.Dir(path), 0o700)
	}
	if err != nil {
		h.fail(err)
		return h
	}
	h.path = path
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		h.fail(err)
		return h
	}
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			h.entries = append(h.entries, l)
		}
	}
	if n := len(h.entries); n > maxHistory {
		h.entries = slices.Clip(h.entries[n-maxHistory:])
		// Keep the file as short as what is loaded from it.
		if err := os.WriteFile(path, []byte(strings.Join(h.entries, "\n")+"\n"), 0o600); err != nil {
			h.fail(err)
		}
	}
	return h
}

func (h *history) fail(err error) {
	h.path = ""
	if !h.warned {
		h.warned = true
		h.warn(err)
	}
}

// Add is the terminal's record of each line read: ignored (see history).
func (*history) Add(string) {}

// Len is the number of entries.
func (h *history) Len() int { return len(h.entries) }

// At returns the entry i places back: 0 is the most recent.
func (h *history) At(i int) string { return h.entries[len(h.entries)-1-i] }

// record adds an entry (not a repeat of the last) and appends it to the file. A nil history
// records nothing.
func (h *history) record(entry string) {
	if h == nil || entry == "" || (len(h.entries) > 0 && h.entries[len(h.entries)-1] == entry) {
		return
	}
	h.entries = append(h.entries, entry)
	if len(h.entries) > maxHistory {
		h.entries = h.entries[1:]
	}
	if h.path == "" {
		return
	}
	f, err := os.OpenFile(h.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err == nil {
		_, err = f.WriteString(entry + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		h.fail(err)
	}
}
