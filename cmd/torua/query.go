package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/torua/torua/graph/value"
	"github.com/torua/torua/router/client"
)

func init() { register(newQueryCmd) }

// defaultGraph is the graph the graph commands use when neither --graph nor TORUA_GRAPH names
// one.
const defaultGraph = "default"

// graphFlags are the flags of the commands that work on one graph: the router's and --graph.
type graphFlags struct {
	clientFlags
	graph string
}

func (f *graphFlags) register(cmd *cobra.Command) {
	f.clientFlags.register(cmd)
	def := os.Getenv("TORUA_GRAPH")
	if def == "" {
		def = defaultGraph
	}
	cmd.Flags().StringVarP(&f.graph, "graph", "g", def, "graph name (env TORUA_GRAPH)")
}

// reportedError is an error the command has already printed in full (a query's fault with its
// caret): main exits 1 without printing it again.
type reportedError struct{ error }

func (e reportedError) Unwrap() error { return e.error }

func newQueryCmd() *cobra.Command {
	var (
		gf      graphFlags
		params  []string
		jsonOut bool
	)
	cmd := &cobra.Command{
		Use:   "query [QUERY | -]",
		Short: "Run an openCypher query on a graph and print its rows",
		Long: `Run an openCypher query on a graph and print its answer: an aligned table (nodes as
(#id:Label {k: v}), relationships as [:TYPE {k: v}], paths, lists and maps as Cypher literals)
and a line of statistics, or with --json the answer as JSON for programs. The query is the
argument, or standard input when the argument is "-" or absent.

--param name=value sets $name: the value is read as JSON when it is JSON (1 is an integer, 1.0
a float, "1" and any text that is not JSON a string, [1, 2] a list, {"a": 1} a map).

A fault in the query prints the message and a caret under its place, and exits 1.`,
		Example: `  torua query 'MATCH (p:Person) RETURN p.name, p.age ORDER BY p.age LIMIT 5'
  torua query --graph social --param name=Ada 'MATCH (p:Person {name: $name})-[:KNOWS]->(f) RETURN f'
  torua query --json 'MATCH (n) RETURN count(n)' < /dev/null
  echo 'CREATE (:City {name: "Oslo"})' | torua query`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := parseParams(params, nil)
			if err != nil {
				return err
			}
			q, err := queryText(cmd, args)
			if err != nil {
				return err
			}
			c, err := gf.client()
			if err != nil {
				return err
			}
			defer c.Close()
			res, err := c.Query(cmd.Context(), gf.graph, q, p, client.QueryTimeout(gf.timeout))
			if err != nil {
				if writeQueryFault(cmd.ErrOrStderr(), "torua: ", q, err) {
					return reportedError{err}
				}
				return fmt.Errorf("query: %w", err)
			}
			return writeResult(cmd.OutOrStdout(), res, jsonOut)
		},
	}
	gf.register(cmd)
	cmd.Flags().StringArrayVarP(&params, "param", "p", nil, "query parameter name=value (repeatable; value as JSON when it is JSON, else a string)")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the answer as JSON: columns, rows, stats")
	return cmd
}

// queryText is the query of torua query: its argument, or standard input for "-" or none.
func queryText(cmd *cobra.Command, args []string) (string, error) {
	if len(args) == 1 && args[0] != "-" {
		return args[0], nil
	}
	in := cmd.InOrStdin()
	if len(args) == 0 && isTerminalReader(in) {
		return "", errors.New("give the query as an argument, or on standard input")
	}
	b, err := io.ReadAll(in)
	if err != nil {
		return "", fmt.Errorf("read the query from standard input: %w", err)
	}
	q := strings.TrimSpace(string(b))
	if q == "" {
		return "", errors.New("the query is empty")
	}
	return q, nil
}

// parseParams parses name=value pairs into into (a new map when nil): value is JSON when it
// is valid JSON, with integers kept apart from floats, and a string otherwise.
func parseParams(pairs []string, into map[string]any) (map[string]any, error) {
	if into == nil {
		into = map[string]any{}
	}
	for _, kv := range pairs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("parameter %q: want name=value", kv)
		}
		x, err := paramValue(v)
		if err != nil {
			return nil, fmt.Errorf("parameter %s: %w", k, err)
		}
		into[strings.TrimSpace(k)] = x
	}
	return into, nil
}

// paramValue reads one parameter's value: JSON when it is valid JSON, else the text itself. A
// valid JSON number the model cannot hold (an integer past 64 bits) is an error, not a string.
func paramValue(s string) (any, error) {
	if !json.Valid([]byte(s)) {
		return s, nil
	}
	return value.FromJSON([]byte(s))
}

// writeQueryFault prints err to w when it is a query's own fault (a 400 answer): prefix and the
// message, then, when the fault has a place, the query's line and a caret under the column. It
// reports whether it printed.
func writeQueryFault(w io.Writer, prefix, query string, err error) bool {
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusBadRequest {
		return false
	}
	msg := strings.TrimPrefix(ce.Message, "line 0, column 0: ")
	if ce.Line > 0 && !strings.HasPrefix(msg, "line ") {
		msg = fmt.Sprintf("line %d, column %d: %s", ce.Line, ce.Column, msg)
	}
	fmt.Fprintf(w, "%s%s\n", prefix, msg)
	lines := strings.Split(query, "\n")
	if ce.Line < 1 || ce.Line > len(lines) || ce.Column < 1 {
		return true
	}
	line := strings.TrimRight(lines[ce.Line-1], "\r")
	// The caret line copies the query line's tabs so that it lines up however tabs show.
	var caret strings.Builder
	i := 1
	for _, r := range line {
		if i >= ce.Column {
			break
		}
		if r == '\t' {
			caret.WriteByte('\t')
		} else {
			caret.WriteByte(' ')
		}
		i++
	}
	for ; i < ce.Column; i++ {
		caret.WriteByte(' ')
	}
	fmt.Fprintf(w, "  %s\n  %s^\n", line, caret.String())
	return true
}

// runQuery runs one query for the shell and prints its answer or fault.
func runQuery(ctx context.Context, c *client.Client, graph, q string, params map[string]any, timeout time.Duration, out, errw io.Writer) error {
	res, err := c.Query(ctx, graph, q, params, client.QueryTimeout(timeout))
	if err != nil {
		if !writeQueryFault(errw, "error: ", q, err) {
			fmt.Fprintf(errw, "error: %v\n", err)
		}
		return err
	}
	return writeResult(out, res, false)
}

func isTerminalReader(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && isTerminalWriter(f)
}
