package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/torua/torua/graph/value"
	"github.com/torua/torua/router/client"
)

// How torua query and torua shell print an answer: an aligned table of Cypher literals and a
// stats line, or the JSON of the HTTP API.

// writeResult prints a query's answer: a table and a stats line, or JSON.
func writeResult(w io.Writer, res *client.QueryResult, asJSON bool) error {
	if asJSON {
		return writeResultJSON(w, res)
	}
	if len(res.Columns) > 0 {
		if err := writeTable(w, res); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w, statsLine(res))
	return err
}

// writeResultJSON prints {"columns", "rows", "stats"} with values as the HTTP API has them.
func writeResultJSON(w io.Writer, res *client.QueryResult) error {
	out := struct {
		Columns []string       `json:"columns"`
		Rows    [][]any        `json:"rows"`
		Stats   map[string]any `json:"stats"`
	}{Columns: res.Columns, Rows: make([][]any, len(res.Rows)), Stats: map[string]any{}}
	if out.Columns == nil {
		out.Columns = []string{}
	}
	for i, row := range res.Rows {
		out.Rows[i] = make([]any, len(row))
		for j, v := range row {
			out.Rows[i][j] = value.ToJSON(v)
		}
	}
	for k, v := range res.Stats {
		out.Stats[k] = value.ToJSON(v)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

// writeTable prints the header, a rule and the rows, each column as wide as its widest cell;
// numbers are aligned right, everything else left.
func writeTable(w io.Writer, res *client.QueryResult) error {
	n := len(res.Columns)
	cells := make([][]string, len(res.Rows))
	widths := make([]int, n)
	for j, c := range res.Columns {
		widths[j] = utf8.RuneCountInString(c)
	}
	for i, row := range res.Rows {
		cells[i] = make([]string, n)
		for j := 0; j < n && j < len(row); j++ {
			cells[i][j] = cellText(row[j])
			widths[j] = max(widths[j], utf8.RuneCountInString(cells[i][j]))
		}
	}
	var b strings.Builder
	line := func(texts []string, right func(j int) bool) {
		for j, t := range texts {
			if j > 0 {
				b.WriteString(" | ")
			}
			pad := strings.Repeat(" ", widths[j]-utf8.RuneCountInString(t))
			switch {
			case right(j):
				b.WriteString(pad + t)
			case j == n-1:
				b.WriteString(t) // no trailing blanks
			default:
				b.WriteString(t + pad)
			}
		}
		b.WriteByte('\n')
	}
	line(res.Columns, func(int) bool { return false })
	for j := range n {
		if j > 0 {
			b.WriteString("-+-")
		}
		b.WriteString(strings.Repeat("-", widths[j]))
	}
	b.WriteByte('\n')
	for i, row := range cells {
		line(row, func(j int) bool { return j < len(res.Rows[i]) && isNumber(res.Rows[i][j]) })
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func isNumber(v any) bool {
	switch v.(type) {
	case int64, float64:
		return true
	}
	return false
}

// statLabels name the stats a query's changes are counted in, in the order they print.
var statLabels = []struct{ key, one, many string }{
	{"nodesCreated", "node created", "nodes created"},
	{"nodesDeleted", "node deleted", "nodes deleted"},
	{"relationshipsCreated", "relationship created", "relationships created"},
	{"relationshipsDeleted", "relationship deleted", "relationships deleted"},
	{"propertiesSet", "property set", "properties set"},
	{"labelsAdded", "label added", "labels added"},
	{"labelsRemoved", "label removed", "labels removed"},
	{"indexesAdded", "index added", "indexes added"},
	{"indexesRemoved", "index removed", "indexes removed"},
	{"constraintsAdded", "constraint added", "constraints added"},
	{"constraintsRemoved", "constraint removed", "constraints removed"},
	{"pending", "edge half pending", "edge halves pending"},
}

// statsLine says what a query returned, changed and cost: "3 rows, 2 nodes created, 12 ms,
// 4 rounds".
func statsLine(res *client.QueryResult) string {
	parts := []string{plural(int64(len(res.Rows)), "row", "rows")}
	num := func(key string) (int64, bool) {
		n, ok := res.Stats[key].(int64)
		return n, ok
	}
	for _, s := range statLabels {
		if n, ok := num(s.key); ok && n != 0 {
			parts = append(parts, plural(n, s.one, s.many))
		}
	}
	if us, ok := num("elapsedMicros"); ok {
		if us < 10_000 {
			parts = append(parts, strconv.FormatFloat(float64(us)/1000, 'f', 1, 64)+" ms")
		} else {
			parts = append(parts, strconv.FormatInt(us/1000, 10)+" ms")
		}
	}
	if n, ok := num("rounds"); ok {
		parts = append(parts, plural(n, "round", "rounds"))
	}
	return strings.Join(parts, ", ")
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.FormatInt(n, 10) + " " + many
}

// cellText is a value as a table cell: a string as its text (control characters escaped so
// that a cell stays on its line), null as "null", anything else as a Cypher literal.
func cellText(v any) string {
	if s, ok := v.(string); ok {
		return cellEscaper.Replace(s)
	}
	return literal(v)
}

var cellEscaper = strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`)

// literal writes v in openCypher's literal style: strings in double quotes, lists [a, b],
// maps {k: v} with sorted keys, nodes (#id:Label {k: v}), relationships [:TYPE {k: v}] and
// paths as their nodes joined by their relationships with the direction each points in.
func literal(v any) string {
	var b strings.Builder
	writeLiteral(&b, v)
	return b.String()
}

func writeLiteral(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		b.WriteString(floatText(x))
	case string:
		writeQuoted(b, x)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeLiteral(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		if p, ok := asPath(x); ok {
			writePath(b, p)
		} else if n, ok := asNode(x); ok {
			writeNode(b, n)
		} else if r, ok := asRel(x); ok {
			writeRel(b, r, "", "")
		} else {
			writeMap(b, x)
		}
	default:
		fmt.Fprint(b, x)
	}
}

func floatText(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	switch s {
	case "+Inf":
		return "Infinity"
	case "-Inf":
		return "-Infinity"
	case "NaN":
		return s
	}
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

func writeQuoted(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if unicode.IsControl(r) {
				fmt.Fprintf(b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

// writeName writes a label, type or map key bare when it is an identifier, else in backquotes.
func writeName(b *strings.Builder, s string) {
	ident := s != ""
	for i, r := range s {
		if !(r == '_' || unicode.IsLetter(r) || (i > 0 && unicode.IsDigit(r))) {
			ident = false
			break
		}
	}
	if ident {
		b.WriteString(s)
		return
	}
	b.WriteString("`" + strings.ReplaceAll(s, "`", "``") + "`")
}

func writeMap(b *strings.Builder, m map[string]any) {
	b.WriteByte('{')
	for i, k := range slices.Sorted(mapKeys(m)) {
		if i > 0 {
			b.WriteString(", ")
		}
		writeName(b, k)
		b.WriteString(": ")
		writeLiteral(b, m[k])
	}
	b.WriteByte('}')
}

func mapKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// The client hands nodes, relationships and paths over as maps of exactly these keys
// (router/client.QueryResult); a map a query builds with the same keys and value types prints
// as a node, relationship or path too.
type (
	nodeValue struct {
		id     int64
		labels []string
		props  map[string]any
	}
	relValue struct {
		id, start, end int64
		typ            string
		props          map[string]any
	}
	pathValue struct {
		nodes []nodeValue
		rels  []relValue
	}
)

func asNode(m map[string]any) (nodeValue, bool) {
	id, ok1 := m["id"].(int64)
	labels, ok2 := m["labels"].([]any)
	props, ok3 := m["properties"].(map[string]any)
	if len(m) != 3 || !ok1 || !ok2 || !ok3 {
		return nodeValue{}, false
	}
	n := nodeValue{id: id, props: props}
	for _, l := range labels {
		s, ok := l.(string)
		if !ok {
			return nodeValue{}, false
		}
		n.labels = append(n.labels, s)
	}
	return n, true
}

func asRel(m map[string]any) (relValue, bool) {
	id, ok1 := m["id"].(int64)
	start, ok2 := m["start"].(int64)
	end, ok3 := m["end"].(int64)
	typ, ok4 := m["type"].(string)
	props, ok5 := m["properties"].(map[string]any)
	if len(m) != 5 || !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return relValue{}, false
	}
	return relValue{id: id, start: start, end: end, typ: typ, props: props}, true
}

func asPath(m map[string]any) (pathValue, bool) {
	nodes, ok1 := m["nodes"].([]any)
	rels, ok2 := m["relationships"].([]any)
	if len(m) != 2 || !ok1 || !ok2 || len(nodes) != len(rels)+1 {
		return pathValue{}, false
	}
	var p pathValue
	for _, x := range nodes {
		nm, _ := x.(map[string]any)
		n, ok := asNode(nm)
		if !ok {
			return pathValue{}, false
		}
		p.nodes = append(p.nodes, n)
	}
	for _, x := range rels {
		rm, _ := x.(map[string]any)
		r, ok := asRel(rm)
		if !ok {
			return pathValue{}, false
		}
		p.rels = append(p.rels, r)
	}
	return p, true
}

func writeNode(b *strings.Builder, n nodeValue) {
	fmt.Fprintf(b, "(#%d", n.id)
	for _, l := range n.labels {
		b.WriteByte(':')
		writeName(b, l)
	}
	if len(n.props) > 0 {
		b.WriteByte(' ')
		writeMap(b, n.props)
	}
	b.WriteByte(')')
}

// writeRel writes a relationship between before and after, the arrows of a path ("-", "->").
func writeRel(b *strings.Builder, r relValue, before, after string) {
	b.WriteString(before + "[:")
	writeName(b, r.typ)
	if len(r.props) > 0 {
		b.WriteByte(' ')
		writeMap(b, r.props)
	}
	b.WriteString("]" + after)
}

func writePath(b *strings.Builder, p pathValue) {
	writeNode(b, p.nodes[0])
	for i, r := range p.rels {
		if r.start == p.nodes[i].id && r.end == p.nodes[i+1].id {
			writeRel(b, r, "-", "->")
		} else {
			writeRel(b, r, "<-", "-")
		}
		writeNode(b, p.nodes[i+1])
	}
}
