package main

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestShellScript: with standard input not a terminal, the shell runs the statements of a
// script without prompts: statements across lines, several on a line, semicolons in strings and
// comments, a last statement without its ";", the commands; a failed statement prints its fault
// and the others still run, and the shell exits 1.
func TestShellScript(t *testing.T) {
	u := "--url=" + startGraphCluster(t)
	script := `:graph s1
CREATE (:P {n: 1}),
       (:P {n: 2});
MATCH (p:P) RETURN p.n AS n ORDER BY n; MATCH (p:P)
RETURN count(p) AS c;
// a comment; with a semicolon
MATCH (p:P {n: 'a;b'}) RETURN p /* and; here */;
:params k=2 name="x y" l=[1, 2]
MATCH (p:P) WHERE p.n = $k RETURN p.n AS n, $name AS name, $l AS l;
:params
MATCH (n RETURN n;
:graphs
:graph s2
:nonsense
MATCH (p:P) RETURN count(p) AS c
`
	out, errOut, err := runCLI(t, script, "shell", u)
	var reported reportedError
	if !errors.As(err, &reported) || err.Error() != "1 of 7 statements failed" {
		t.Errorf("error %v, want a reportedError: 1 of 7 statements failed", err)
	}
	want := []string{
		"graph s1",
		`^0 rows, 2 nodes created, 2 properties set, 2 labels added, [0-9.]+ ms, [0-9]+ rounds?$`,
		"n", "-", "1", "2", `^2 rows, `,
		"c", "-", "2", `^1 row, `,
		"p", "-", `^0 rows, `,
		"n | name | l", "--+------+-------", "2 | x y  | [1, 2]", `^1 row, `,
		`$k = 2`, `$l = [1, 2]`, `$name = "x y"`,
		"* s1", // :graphs: the cluster is this test's, and s1 its only graph
		"graph s2",
		"c", "-", "0", `^1 row, `,
	}
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("stdout has %d lines, want %d:\n%s", len(got), len(want), out)
	}
	for i, w := range want {
		if strings.HasPrefix(w, "^") {
			if !regexp.MustCompile(w).MatchString(got[i]) {
				t.Errorf("line %d: %q does not match %s", i+1, got[i], w)
			}
		} else if got[i] != w {
			t.Errorf("line %d: %q, want %q", i+1, got[i], w)
		}
	}
	wantErr := "error: line 1, column 10: expected \":\", a property map or \")\" after the variable, found \"RETURN\"\n" +
		"  MATCH (n RETURN n\n" +
		"           ^\n" +
		"error: unknown command :nonsense (:help lists them)\n"
	if errOut != wantErr {
		t.Errorf("stderr:\n%s\nwant\n%s", errOut, wantErr)
	}

	// :quit ends the session: what follows is not read.
	out, _, err = runCLI(t, ":help\n:quit\nCREATE (:Q);\n", "shell", u)
	if err != nil || !strings.Contains(out, ":graph NAME") || strings.Contains(out, "created") {
		t.Errorf(":help then :quit: %v\n%s", err, out)
	}
}

// TestShellSplitter: statements end at semicolons outside strings, backquoted names and
// comments; blank and comment-only text is no statement.
func TestShellSplitter(t *testing.T) {
	for _, tc := range []struct {
		lines   []string
		want    []string
		pending bool
	}{
		{[]string{"RETURN 1;"}, []string{"RETURN 1"}, false},
		{[]string{"RETURN 1; RETURN 2;  "}, []string{"RETURN 1", "RETURN 2"}, false},
		{[]string{"MATCH (n)", "RETURN n;"}, []string{"MATCH (n)\nRETURN n"}, false},
		{[]string{"RETURN 'a;b', \"c;\\\"d\", `e;f`;"}, []string{"RETURN 'a;b', \"c;\\\"d\", `e;f`"}, false},
		{[]string{"RETURN 'a", "b;c';"}, []string{"RETURN 'a\nb;c'"}, false},
		{[]string{"RETURN 1 // no; end", ";"}, []string{"RETURN 1 // no; end"}, false},
		{[]string{"/* a; b", "c; */ RETURN 1;"}, []string{"/* a; b\nc; */ RETURN 1"}, false},
		{[]string{"// only a comment;"}, nil, false},
		{[]string{";", " ; ;"}, nil, false},
		{[]string{"RETURN 1; RETURN"}, []string{"RETURN 1"}, true},
		{[]string{"/* open"}, nil, true},
		{[]string{"RETURN 'open;"}, nil, true},
	} {
		var sp splitter
		var got []string
		for _, l := range tc.lines {
			got = append(got, sp.feed(l)...)
		}
		if !slices.Equal(got, tc.want) || sp.pending() != tc.pending {
			t.Errorf("%q: statements %q, pending %v; want %q, %v", tc.lines, got, sp.pending(), tc.want, tc.pending)
		}
	}
}

// TestShellParams: :params splits its assignments at the blanks outside JSON strings, lists
// and maps.
func TestShellParams(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{"a=1", []string{"a=1"}, false},
		{`a=1  b="x y" c=[1, "]"] d={"k": [2, 3]}`, []string{"a=1", `b="x y"`, `c=[1, "]"]`, `d={"k": [2, 3]}`}, false},
		{`a="x \" y"`, []string{`a="x \" y"`}, false},
		{`a=[1, 2`, nil, true},
		{`a="open`, nil, true},
	} {
		got, err := splitAssignments(tc.in)
		if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("%q: %q, %v; want %q (error: %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}
