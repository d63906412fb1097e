package exec

import (
	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/value"
)

// union runs the queries that unions combine with the first, whose result is res, one after
// the other, and appends their rows to res's: each part's columns must have the names of the
// first's (a QueryError at its UNION otherwise), and its rows are reordered to the first's
// columns. Without ALL, a row equivalent (value.Key) to one already in the result is left
// out, the first part's duplicates too. The row limit bounds the combined result. The parser
// has refused updating clauses in the parts.
func (r *run) union(res *Result, unions []*cypher.Union) (*Result, error) {
	distinct := !unions[0].All
	var seen map[string]bool
	if distinct {
		res.Rows = distinctRows(res.Rows)
		seen = make(map[string]bool, len(res.Rows))
		for _, row := range res.Rows {
			seen[value.Key([]any(row))] = true
		}
	}
	for _, u := range unions {
		part, err := r.single(u.Clauses)
		if err != nil {
			return nil, err
		}
		if !cypher.SameColumns(res.Columns, part.Columns) {
			return nil, errorf(u.Pos, "%s", cypher.UnionColumnsMessage(res.Columns, part.Columns))
		}
		cols := make([]int, len(res.Columns)) // cols[i]: the part's column of res.Columns[i]
		for i, name := range res.Columns {
			for j, pn := range part.Columns {
				if pn == name {
					cols[i] = j
				}
			}
		}
		for _, pr := range part.Rows {
			row := make(Row, len(cols))
			for i, j := range cols {
				row[i] = pr[j]
			}
			if distinct {
				k := value.Key([]any(row))
				if seen[k] {
					continue
				}
				seen[k] = true
			}
			res.Rows = append(res.Rows, row)
		}
		if err := r.checkRows(len(res.Rows)); err != nil {
			return nil, err
		}
	}
	return res, nil
}
