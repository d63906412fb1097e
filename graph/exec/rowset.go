package exec

import (
	"encoding/binary"
	"slices"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/value"
)

// Rows as a set. When the clause after a MATCH does not count rows (it keeps DISTINCT rows, or
// its aggregates are all DISTINCT, min or max), two rows that agree on every column read later
// are one row to it. The matcher then merges such rows, which keeps a path-enumerating MATCH
// (every path of a three-hop pattern from a hub) down to the rows its answer needs:
//   - as the MATCH's last hop makes them, on the columns read later and the columns whose
//     filters are still to be checked: relationship uniqueness no longer applies;
//   - before the last hop, on those columns and the columns the hop reads, keeping of the
//     merged rows' relationships only those every one of them used: the hop may take a
//     relationship unless all the merged rows used it, which is exact for one hop (and only
//     for one: two relationships may each be used by some row without any row using both);
//   - at the end of the MATCH, on the columns read later.
// Rows of different input rows are never merged. A merge only saves work (the next clause
// ignores duplicates), so one that is skipped changes no answer; what must be exact is the
// relationships a merged row may still take. When, before the last hop, the rows differ
// only in the vertex they leave from, which nothing reads later, and the hop's relationship
// is unnamed, the hop asks the shards for the distinct vertices it reaches, not for every
// relationship (endsOnly): what a count(DISTINCT) of a two-hop pattern needs.

// rowSet is what a matcher that may merge rows knows.
type rowSet struct {
	// keep are the columns of this MATCH that later clauses (or the residual WHERE) mention.
	keep []int
	// hopsLeft counts the hops of the MATCH not yet run.
	hopsLeft int
	// edges are the ends (source, target) of the relationships the rows used.
	edges map[layout.ID][2]layout.ID
	// distinct is the column an ends-only last hop bound (-1: none): its rows differ in that
	// column only, and are distinct on it.
	distinct int
}

// planRowSet sets mt.set when the MATCH may merge rows: not OPTIONAL, no named path, no
// shortest path, no variable-length relationship, and a next clause that ignores how often
// a row occurs.
func (mt *matcher) planRowSet(m *cypher.Match) {
	if m.Optional {
		return
	}
	hops := 0
	for _, p := range m.Patterns {
		if p.PathVar != "" || p.Shortest != cypher.NotShortest {
			return
		}
		for _, rel := range p.Rels() {
			if rel.VarLength != nil {
				return
			}
			hops++
		}
	}
	names, ok := mt.r.nextIgnoresMultiplicity()
	if mt.pred != nil {
		// Only whether a row has a match counts, unless the predicate counts them or
		// collects a value from each.
		names, ok = map[string]bool{}, !mt.pred.EveryMatch()
	}
	if !ok {
		return
	}
	for _, e := range mt.residual {
		mentions(e, names)
	}
	set := &rowSet{hopsLeft: hops, edges: map[layout.ID][2]layout.ID{}, distinct: -1}
	for name := range names {
		if col, ok := mt.scope.Index(name); ok && col >= mt.input.Len() {
			set.keep = append(set.keep, col)
		}
	}
	slices.Sort(set.keep)
	mt.set = set
}

// nextIgnoresMultiplicity reports whether the running clause is a MATCH and the clause after
// it a projection whose result does not depend on how many times each input row occurs, and
// returns the variables it mentions.
func (r *run) nextIgnoresMultiplicity() (map[string]bool, bool) {
	if r.at+1 >= len(r.clauses) {
		return nil, false
	}
	if _, isMatch := r.clauses[r.at].(*cypher.Match); !isMatch {
		// A MERGE's match: each row it finds runs ON MATCH SET once, however the clause
		// after it counts.
		return nil, false
	}
	var p *cypher.Projection
	var where cypher.Expr
	switch c := r.clauses[r.at+1].(type) {
	case *cypher.Return:
		p = &c.Projection
	case *cypher.With:
		p, where = &c.Projection, c.Where
	default:
		return nil, false
	}
	if p.Star {
		return nil, false
	}
	aggregated, ok := false, true
	var walk func(e cypher.Expr)
	walk = func(e cypher.Expr) {
		if f, isCall := e.(*cypher.FuncCall); isCall && cypher.IsAggregate(f) {
			aggregated = true
			ok = ok && (f.Distinct || f.Name == "min" || f.Name == "max")
		}
		for _, c := range children(e) {
			walk(c)
		}
	}
	names := map[string]bool{}
	for _, it := range p.Items {
		walk(it.Expr)
		mentions(it.Expr, names)
	}
	for _, s := range p.OrderBy {
		mentions(s.Expr, names)
	}
	mentions(where, names)
	return names, ok && (aggregated || p.Distinct)
}

// mentions adds the variables e mentions to names.
func mentions(e cypher.Expr, names map[string]bool) {
	if v, ok := e.(*cypher.Variable); ok {
		names[v.Name] = true
	}
	for _, c := range children(e) {
		mentions(c, names)
	}
}

// keyCols are the columns rows must agree on to be merged: the kept ones, those whose
// filter is still to be checked or whose vertices are still to be loaded, and extra.
func (mt *matcher) keyCols(extra ...int) []int {
	cols := slices.Clone(mt.set.keep)
	for col, st := range mt.cols {
		if st.pending != nil || (st.needed && !st.loaded) {
			cols = append(cols, col)
		}
	}
	cols = append(cols, extra...)
	slices.Sort(cols)
	return slices.Compact(cols)
}

// rowKey appends row's identity on cols (and its input row) to b. A column past the row's
// end is one the MATCH has not bound yet (the rows of a MATCH that starts from a bound
// vertex are the previous clause's until its first hop): null.
func rowKey(b []byte, row *mrow, cols []int) []byte {
	b = binary.AppendUvarint(b, uint64(row.origin))
	for _, c := range cols {
		var v any
		if c < len(row.row) {
			v = row.row[c]
		}
		b, _ = appendIdentity(b, v) // this MATCH binds only nodes and relationships (or null)
	}
	return b
}

// appendIdentity appends the identity of v to b when it is a node or relationship (its kind
// and id) or null; ok is false for any other value, which appends nothing.
func appendIdentity(b []byte, v any) (_ []byte, ok bool) {
	switch v := v.(type) {
	case *value.Node:
		return binary.BigEndian.AppendUint64(append(b, 'n'), v.ID), true
	case *value.Relationship:
		return binary.BigEndian.AppendUint64(append(b, 'r'), v.ID), true
	case nil:
		return append(b, 0), true
	}
	return b, false
}

// mergeRows merges the rows that agree on cols, keeping the first of each; with intersect,
// the merged row's used relationships are those all of them used, else none.
func mergeRows(rows []*mrow, cols []int, intersect bool) []*mrow {
	at := make(map[string]int, len(rows))
	out := rows[:0]
	var key []byte
	for _, row := range rows {
		key = rowKey(key[:0], row, cols)
		i, seen := at[string(key)]
		if !seen {
			at[string(key)] = len(out)
			if !intersect {
				row.used = nil
			}
			out = append(out, row)
			continue
		}
		if intersect {
			first := out[i]
			first.used = slices.DeleteFunc(slices.Clone(first.used), func(e layout.ID) bool { return !slices.Contains(row.used, e) })
		}
	}
	clear(rows[len(out):])
	return out
}

// endsOnly returns the request of a last hop from node from along rel that needs only the
// vertices reached: when every row agrees on every column the merge keeps after the hop, and
// from is not one of them. Then each vertex left from has one row (merged before the hop),
// whose relationships that leave it in rel's direction the hop must not take again. It
// returns nil when the rows need the relationships.
func (mt *matcher) endsOnly(from *nodeSpec, rel *relSpec) *endsOnly {
	if slices.Contains(mt.set.keep, from.col) {
		return nil
	}
	cols := slices.DeleteFunc(mt.keyCols(), func(c int) bool { return c == from.col })
	var first, key []byte
	ends := &endsOnly{exclude: map[layout.ID][]layout.ID{}}
	for i, row := range mt.rows {
		key = rowKey(key[:0], row, cols)
		if i == 0 {
			first = slices.Clone(key)
		} else if string(key) != string(first) {
			return nil
		}
		id, ok := nodeID(row.row[from.col])
		if !ok {
			continue
		}
		for _, e := range row.used {
			ab, known := mt.set.edges[e]
			leaves := ab[0] == id && rel.dir != cypher.DirIn || ab[1] == id && rel.dir != cypher.DirOut
			if !known || leaves {
				ends.exclude[id] = append(ends.exclude[id], e)
			}
		}
	}
	return ends
}

// reachedEnds binds node to to each vertex an ends-only hop reached, in rows made from the
// (one kind of) row the hop left from.
func (mt *matcher) reachedEnds(exp *expansion, to *nodeSpec) error {
	var out []*mrow
	if len(mt.rows) > 0 {
		from := mt.rows[0]
		if err := mt.r.checkRows(len(exp.ends)); err != nil {
			return err
		}
		// One allocation for the rows, one for their cells: a hop may reach many thousands.
		w := mt.scope.Len()
		cells := make([]any, len(exp.ends)*w)
		rows := make([]mrow, len(exp.ends))
		refs := make([]value.Node, len(exp.ends)) // references by id, as run.ref makes
		out = make([]*mrow, len(exp.ends))
		for i, id := range exp.ends {
			nr := Row(cells[i*w : (i+1)*w : (i+1)*w])
			copy(nr, from.row)
			refs[i].ID = uint64(id)
			nr[to.col] = &refs[i]
			rows[i] = mrow{row: nr, origin: from.origin}
			out[i] = &rows[i]
		}
		mt.set.distinct = to.col
	}
	mt.rows = out
	mt.reached(to, false)
	return nil
}
