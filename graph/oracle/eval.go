package oracle

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/value"
)

// Result is a query's answer: its column names and rows, each row's values in column order
// and of graph/value's model (*value.Node, *value.Relationship and *value.Path for
// entities, holding their labels, types and properties as they were when the query ended).
// A query without RETURN has no columns and no rows.
type Result struct {
	Columns []string
	Rows    [][]any
}

// Canonical returns a copy of r with its rows sorted by value.Key of the row (as a list):
// the order in which to compare results of queries without ORDER BY, whose row order
// openCypher leaves unspecified.
func (r *Result) Canonical() *Result {
	keys := make(map[int]string, len(r.Rows))
	idx := make([]int, len(r.Rows))
	for i, row := range r.Rows {
		idx[i] = i
		keys[i] = value.Key(row)
	}
	slices.SortStableFunc(idx, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
	out := &Result{Columns: slices.Clone(r.Columns), Rows: make([][]any, len(idx))}
	for i, j := range idx {
		out.Rows[i] = slices.Clone(r.Rows[j])
	}
	return out
}

// Eval runs a parsed query against g with the given parameters (Go values, normalised with
// value.Normalize) and returns its result. A query that writes changes g only if it
// succeeds: on an error g is left as it was and Eval returns (nil, err).
//
// Clauses run one after the other over the whole table of rows, as openCypher's semantics
// define them; rows are in the order of the deterministic matcher (ascending ids) unless
// ORDER BY says otherwise.
func Eval(g *Graph, q *cypher.Query, params map[string]any) (*Result, error) {
	ps := make(map[string]any, len(params))
	for k, v := range params {
		nv, err := value.Normalize(v)
		if err != nil {
			return nil, fmt.Errorf("parameter $%s: %w", k, err)
		}
		ps[k] = nv
	}
	if q.Schema != nil && (q.Schema.Kind == cypher.ShowIndexes || q.Schema.Kind == cypher.ShowConstraints) {
		return g.showSchema(q.Schema.Kind), nil
	}
	if q.Schema != nil {
		if err := g.runSchema(q.Schema); err != nil {
			return nil, err
		}
		return &Result{Columns: []string{}, Rows: [][]any{}}, nil
	}
	work := g
	if q.Writes() {
		work = g.Clone()
	}
	ev := &evaluator{g: work, params: ps}
	res, err := ev.query(q)
	if err != nil {
		return nil, err
	}
	if work != g {
		*g = *work
	}
	return res, nil
}

// evaluator runs one query.
type evaluator struct {
	g      *Graph
	params map[string]any
	// aggs holds the aggregates' values for the group whose projection is being evaluated
	// (project.go); nil otherwise, and then an aggregate call is an error.
	aggs map[*cypher.FuncCall]any
	// last are the rows of the last projection, with the rows they came from (WITH's WHERE
	// reads them).
	last []projected
	// known holds a projection's item values by their expressions' text while its ORDER BY or
	// WHERE is evaluated (project.go); nil otherwise.
	known map[string]any
}

// row binds variables to values. Entities in rows are *value.Node, *value.Relationship and
// *value.Path holding ids only: properties and labels are read from the graph when used, so
// that a write is seen by every later read; materialize fills them in for the result.
type row map[string]any

func (r row) clone() row {
	c := make(row, len(r)+1)
	for k, v := range r {
		c[k] = v
	}
	return c
}

func (r row) with(name string, v any) row {
	c := r.clone()
	c[name] = v
	return c
}

// scope is the variables in scope, in the order bound.
type scope []string

func (s scope) has(name string) bool { return slices.Contains(s, name) }

func (s scope) add(names ...string) scope {
	out := slices.Clone(s)
	for _, n := range names {
		if n != "" && !out.has(n) {
			out = append(out, n)
		}
	}
	return out
}

// query runs q: its clauses and then, one after the other, the queries UNION combines with
// them. Every part must name the same columns (in any order; rows are put in the first
// part's); UNION without ALL keeps one of each set of equal rows (by value.Key).
func (ev *evaluator) query(q *cypher.Query) (*Result, error) {
	res, err := ev.run(q.Clauses)
	if err != nil || q.Unions == nil {
		return res, err
	}
	for _, u := range q.Unions {
		part, err := ev.run(u.Clauses)
		if err != nil {
			return nil, err
		}
		if !slices.Equal(slices.Sorted(slices.Values(res.Columns)), slices.Sorted(slices.Values(part.Columns))) {
			return nil, errAt(u.Pos, "UNION of queries with columns %q and %q", res.Columns, part.Columns)
		}
		for _, prow := range part.Rows {
			byName := make(map[string]any, len(prow))
			for i, c := range part.Columns {
				byName[c] = prow[i]
			}
			out := make([]any, len(res.Columns))
			for i, c := range res.Columns {
				out[i] = byName[c]
			}
			res.Rows = append(res.Rows, out)
		}
	}
	if !q.Unions[0].All {
		seen := map[string]bool{}
		kept := [][]any{}
		for _, r := range res.Rows {
			if k := value.Key(r); !seen[k] {
				seen[k] = true
				kept = append(kept, r)
			}
		}
		res.Rows = kept
	}
	return res, nil
}

func (ev *evaluator) run(clauses []cypher.Clause) (*Result, error) {
	rows := []row{{}}
	var sc scope
	var err error
	for _, c := range clauses {
		switch c := c.(type) {
		case *cypher.Match:
			rows, sc, err = ev.match(c, rows, sc)
		case *cypher.Unwind:
			rows, sc, err = ev.unwind(c, rows, sc)
		case *cypher.With:
			rows, sc, err = ev.with(c, rows, sc)
		case *cypher.Return:
			return ev.ret(c, rows, sc)
		default:
			rows, sc, err = ev.update(c, rows, sc)
		}
		if err != nil {
			return nil, err
		}
	}
	return &Result{Columns: []string{}, Rows: [][]any{}}, nil
}

// update runs one updating clause, of the query or of a FOREACH's body.
func (ev *evaluator) update(c cypher.Clause, rows []row, sc scope) ([]row, scope, error) {
	var err error
	switch c := c.(type) {
	case *cypher.Create:
		return ev.create(c, rows, sc)
	case *cypher.Merge:
		return ev.merge(c, rows, sc)
	case *cypher.Set:
		err = ev.set(c, rows, sc)
	case *cypher.Remove:
		err = ev.remove(c, rows, sc)
	case *cypher.Delete:
		err = ev.delete(c, rows, sc)
	case *cypher.Foreach:
		err = ev.foreach(c, rows, sc)
	default:
		err = fmt.Errorf("unknown clause %T", c)
	}
	return rows, sc, err
}

func (ev *evaluator) unwind(c *cypher.Unwind, rows []row, sc scope) ([]row, scope, error) {
	if err := checkVars(c.Expr, sc); err != nil {
		return nil, nil, err
	}
	if sc.has(c.Var) {
		return nil, nil, errAt(c.Pos, "variable %s is already declared", c.Var)
	}
	var out []row
	for _, r := range rows {
		v, err := ev.eval(c.Expr, r)
		if err != nil {
			return nil, nil, err
		}
		switch l := v.(type) {
		case nil:
		case []any:
			for _, e := range l {
				out = append(out, r.with(c.Var, e))
			}
		default: // a single value unwinds to itself
			out = append(out, r.with(c.Var, v))
		}
	}
	return out, sc.add(c.Var), nil
}

func (ev *evaluator) ret(c *cypher.Return, rows []row, sc scope) (*Result, error) {
	cols, out, err := ev.project(&c.Projection, rows, sc)
	if err != nil {
		return nil, err
	}
	res := &Result{Columns: cols, Rows: make([][]any, len(out))}
	for i, r := range out {
		vals := make([]any, len(cols))
		for j, col := range cols {
			if vals[j], err = ev.materialize(r[col]); err != nil {
				return nil, err
			}
		}
		res.Rows[i] = vals
	}
	return res, nil
}

// materialize turns the id-only entities of a row into full values from the graph.
func (ev *evaluator) materialize(v any) (any, error) {
	switch x := v.(type) {
	case *value.Node:
		return ev.node(x)
	case *value.Relationship:
		return ev.rel(x)
	case *value.Path:
		p := &value.Path{Nodes: make([]*value.Node, len(x.Nodes)), Rels: make([]*value.Relationship, len(x.Rels))}
		for i, n := range x.Nodes {
			m, err := ev.node(n)
			if err != nil {
				return nil, err
			}
			p.Nodes[i] = m
		}
		for i, r := range x.Rels {
			m, err := ev.rel(r)
			if err != nil {
				return nil, err
			}
			p.Rels[i] = m
		}
		return p, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			m, err := ev.materialize(e)
			if err != nil {
				return nil, err
			}
			out[i] = m
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			m, err := ev.materialize(e)
			if err != nil {
				return nil, err
			}
			out[k] = m
		}
		return out, nil
	}
	return v, nil
}

// vertexOf returns the graph's vertex for n, or an error if the query deleted it.
func (ev *evaluator) vertexOf(n *value.Node) (*Vertex, error) {
	v, ok := ev.g.vertices[int64(n.ID)]
	if !ok {
		return nil, fmt.Errorf("node %d was deleted", n.ID)
	}
	return v, nil
}

// edgeOf returns the graph's edge for r, or an error if the query deleted it.
func (ev *evaluator) edgeOf(r *value.Relationship) (*Edge, error) {
	e, ok := ev.g.edges[int64(r.ID)]
	if !ok {
		return nil, fmt.Errorf("relationship %d was deleted", r.ID)
	}
	return e, nil
}

func (ev *evaluator) node(n *value.Node) (*value.Node, error) {
	v, err := ev.vertexOf(n)
	if err != nil {
		return nil, err
	}
	return &value.Node{ID: n.ID, Labels: append([]string{}, v.Labels...), Props: maps.Clone(v.Props)}, nil
}

func (ev *evaluator) rel(r *value.Relationship) (*value.Relationship, error) {
	e, err := ev.edgeOf(r)
	if err != nil {
		return nil, err
	}
	return &value.Relationship{ID: r.ID, Type: e.Type, Start: uint64(e.Start), End: uint64(e.End), Props: maps.Clone(e.Props)}, nil
}

// nodeRef and relRef are the id-only entities rows hold.
func nodeRef(id int64) *value.Node { return &value.Node{ID: uint64(id)} }

func relRef(e *Edge) *value.Relationship {
	return &value.Relationship{ID: uint64(e.ID), Type: e.Type, Start: uint64(e.Start), End: uint64(e.End)}
}

// errAt is an evaluation error at a position of the query.
func errAt(pos cypher.Pos, format string, args ...any) error {
	return fmt.Errorf("line %d, column %d: %s", pos.Line, pos.Column, fmt.Sprintf(format, args...))
}
