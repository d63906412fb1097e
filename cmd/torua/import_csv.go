package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/torua/torua/graph/exec"
)

// The CSV files of torua import. A header names the columns; "name:type" types a property
// column (int, float, bool, string, or a list of those as int[] ... with ';' between the
// elements; string by default) and the columns that start with ':' say what a row is:
// :LABEL (a vertex's labels, ';' between them), :START, :END, :TYPE and :RANK (an edge's). An
// empty cell is no property.

// cellType is a column's type.
type cellType struct {
	base string // int, float, bool or string
	list bool
}

func (t cellType) String() string {
	if t.list {
		return t.base + "[]"
	}
	return t.base
}

// parseCellType parses a type's name: int, float, bool, string, or one of those with "[]".
func parseCellType(s string) (cellType, error) {
	t := cellType{base: strings.TrimSuffix(s, "[]"), list: strings.HasSuffix(s, "[]")}
	switch t.base {
	case "int", "float", "bool", "string":
		return t, nil
	}
	return cellType{}, fmt.Errorf("type %q: want int, float, bool or string, or a list of those (int[], ...)", s)
}

// parse reads a non-empty cell.
func (t cellType) parse(s string) (any, error) {
	if !t.list {
		return parseScalar(t.base, s)
	}
	parts := strings.Split(s, ";")
	out := make([]any, len(parts))
	for i, p := range parts {
		v, err := parseScalar(t.base, p)
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i+1, err)
		}
		out[i] = v
	}
	return out, nil
}

func parseScalar(base, s string) (any, error) {
	switch base {
	case "int":
		i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an int (64-bit)", s)
		}
		return i, nil
	case "float":
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a float", s)
		}
		return f, nil
	case "bool":
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not a bool (true or false)", s)
	}
	return s, nil
}

// Column roles.
const (
	roleProp = iota
	roleLabel
	roleStart
	roleEnd
	roleType
	roleRank
)

// csvColumn is one column of a file: what it holds and, for a property, its name and type.
type csvColumn struct {
	header string
	role   int
	name   string
	typ    cellType
}

// parseHeader reads a file's header: a vertex file's or, with edges, an edge file's.
func parseHeader(header []string, edges bool) ([]csvColumn, error) {
	special := map[string]int{":LABEL": roleLabel}
	if edges {
		special = map[string]int{":START": roleStart, ":END": roleEnd, ":TYPE": roleType, ":RANK": roleRank}
	}
	cols := make([]csvColumn, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) // a byte order mark, from spreadsheets
		col := csvColumn{header: h, typ: cellType{base: "string"}}
		if strings.HasPrefix(h, ":") {
			role, ok := special[strings.ToUpper(h)]
			if !ok {
				return nil, fmt.Errorf("column %d %q: unknown (%s)", i+1, h, strings.Join(slices.Sorted(mapKeysInt(special)), ", "))
			}
			col.role = role
		} else {
			col.name = h
			if j := strings.LastIndexByte(h, ':'); j >= 0 {
				t, err := parseCellType(h[j+1:])
				if err != nil {
					return nil, fmt.Errorf("column %d %q: %w", i+1, h, err)
				}
				col.name, col.typ = h[:j], t
			}
			if col.name == "" {
				return nil, fmt.Errorf("column %d %q has no name", i+1, h)
			}
		}
		key := col.name
		if col.role != roleProp {
			key = strings.ToUpper(h)
		}
		if seen[key] {
			return nil, fmt.Errorf("column %d: %q appears twice", i+1, key)
		}
		seen[key] = true
		cols[i] = col
	}
	return cols, nil
}

func mapKeysInt(m map[string]int) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// rowOptions are the flags that complete a row.
type rowOptions struct {
	key                  string   // the vertices' primary-key property
	keyType              cellType // the type of :START and :END
	labels               []string // every vertex's labels (--label)
	typ                  string   // every edge's type, unless :TYPE says (--type)
	startLabel, endLabel string   // the labels that name the edges' ends
}

// cellError is a fault in a file: at a line and a column (1-based; the column counts fields),
// or for a fault of CSV syntax at a line and a character.
type cellError struct {
	file         string
	line, column int
	char         int
	msg          string
}

func (e *cellError) Error() string {
	if e.char > 0 {
		return fmt.Sprintf("%s:%d: character %d: %s", e.file, e.line, e.char, e.msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.file, e.line, e.column, e.msg)
}

// csvFile reads the rows of one file.
type csvFile struct {
	name  string
	r     *csv.Reader
	cols  []csvColumn
	edges bool
	opts  *rowOptions
}

// openCSV reads the header of a vertex or edge file and checks it has the columns its rows need.
func openCSV(name string, in io.Reader, edges bool, opts *rowOptions) (*csvFile, error) {
	r := csv.NewReader(in)
	r.FieldsPerRecord = -1 // counted here, to name the line and column
	header, err := r.Read()
	if err == io.EOF {
		return nil, &cellError{file: name, line: 1, column: 1, msg: "the file is empty: want a header"}
	}
	if err != nil {
		return nil, csvError(name, err)
	}
	cols, err := parseHeader(header, edges)
	if err != nil {
		return nil, &cellError{file: name, line: 1, column: 1, msg: err.Error()}
	}
	f := &csvFile{name: name, r: r, cols: cols, edges: edges, opts: opts}
	has := func(match func(c csvColumn) bool) bool { return slices.ContainsFunc(cols, match) }
	switch {
	case !edges && !has(func(c csvColumn) bool { return c.role == roleProp && c.name == opts.key }):
		return nil, &cellError{file: name, line: 1, column: 1, msg: fmt.Sprintf("no key column %q (--key)", opts.key)}
	case !edges && len(opts.labels) == 0 && !has(func(c csvColumn) bool { return c.role == roleLabel }):
		return nil, &cellError{file: name, line: 1, column: 1, msg: "no :LABEL column and no --label: vertices need a label"}
	case edges && (!has(func(c csvColumn) bool { return c.role == roleStart }) || !has(func(c csvColumn) bool { return c.role == roleEnd })):
		return nil, &cellError{file: name, line: 1, column: 1, msg: "an edge file needs :START and :END columns"}
	case edges && opts.typ == "" && !has(func(c csvColumn) bool { return c.role == roleType }):
		return nil, &cellError{file: name, line: 1, column: 1, msg: "no :TYPE column and no --type: edges need a type"}
	}
	return f, nil
}

// keyType is the type of a vertex file's key column.
func (f *csvFile) keyType() cellType {
	for _, c := range f.cols {
		if c.role == roleProp && c.name == f.opts.key {
			return c.typ
		}
	}
	return cellType{base: "string"}
}

// csvError words an error of encoding/csv with the file's name.
func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &cellError{file: name, line: pe.Line, char: max(pe.Column, 1), msg: pe.Err.Error()}
	}
	return fmt.Errorf("read %s: %w", name, err)
}

// next reads the next row as a vertex or an edge (one of them non-nil); io.EOF at the end.
func (f *csvFile) next() (*exec.ImportVertex, *exec.ImportEdge, error) {
	rec, err := f.r.Read()
	if err != nil {
		if err == io.EOF {
			return nil, nil, err
		}
		return nil, nil, csvError(f.name, err)
	}
	line, _ := f.r.FieldPos(0)
	if len(rec) != len(f.cols) {
		return nil, nil, &cellError{file: f.name, line: line, column: min(len(rec), len(f.cols)) + 1,
			msg: fmt.Sprintf("%d fields, the header has %d", len(rec), len(f.cols))}
	}
	fail := func(j int, format string, args ...any) error {
		l, _ := f.r.FieldPos(j)
		return &cellError{file: f.name, line: l, column: j + 1, msg: fmt.Sprintf("column %q: ", f.cols[j].header) + fmt.Sprintf(format, args...)}
	}
	var v exec.ImportVertex
	e := exec.ImportEdge{Type: f.opts.typ, From: exec.VertexRef{Label: f.opts.startLabel}, To: exec.VertexRef{Label: f.opts.endLabel}}
	props := map[string]any{}
	if !f.edges {
		v.Labels = slices.Clone(f.opts.labels)
	}
	for j, cell := range rec {
		c := f.cols[j]
		if cell == "" {
			switch {
			case c.role == roleStart || c.role == roleEnd:
				return nil, nil, fail(j, "empty: an edge needs both ends")
			case c.role == roleProp && !f.edges && c.name == f.opts.key:
				return nil, nil, fail(j, "empty: the key (--key %s) is required", f.opts.key)
			}
			continue
		}
		var err error
		switch c.role {
		case roleProp:
			props[c.name], err = c.typ.parse(cell)
		case roleLabel:
			for _, l := range strings.Split(cell, ";") {
				if l = strings.TrimSpace(l); l != "" && !slices.Contains(v.Labels, l) {
					v.Labels = append(v.Labels, l)
				}
			}
		case roleStart:
			e.From.Key, err = f.opts.keyType.parse(cell)
		case roleEnd:
			e.To.Key, err = f.opts.keyType.parse(cell)
		case roleType:
			e.Type = strings.TrimSpace(cell)
		case roleRank:
			var r any
			if r, err = parseScalar("int", cell); err == nil {
				e.Rank = r.(int64)
			}
		}
		if err != nil {
			return nil, nil, fail(j, "%v", err)
		}
	}
	if len(props) > 0 {
		v.Props, e.Props = props, props
	}
	if f.edges {
		if e.Type == "" {
			return nil, nil, &cellError{file: f.name, line: line, column: 1, msg: "the edge has no type (:TYPE or --type)"}
		}
		return nil, &e, nil
	}
	if len(v.Labels) == 0 {
		return nil, nil, &cellError{file: f.name, line: line, column: 1, msg: "the vertex has no label (:LABEL or --label)"}
	}
	return &v, nil, nil
}

// offset is how far into the file the rows read so far reach, in bytes.
func (f *csvFile) offset() int64 { return f.r.InputOffset() }
