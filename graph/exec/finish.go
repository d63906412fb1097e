package exec

import (
	"slices"
	"strings"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/value"
)

// paths binds the named paths of the patterns, from their nodes and relationships, and
// loads their inner nodes when a later clause reads the path whole.
func (mt *matcher) paths(patterns []*cypher.Pattern) error {
	for _, p := range patterns {
		if p.PathVar == "" || p.Shortest != cypher.NotShortest {
			continue
		}
		col, _ := mt.scope.Index(p.PathVar)
		nodes, rels := p.Nodes(), p.Rels()
		for _, row := range mt.rows {
			path := &value.Path{}
			first, _ := mt.scope.Index(mt.nodeVar(nodes[0]))
			path.Nodes = append(path.Nodes, row.row[first].(*value.Node))
			for i, rel := range rels {
				rc, _ := mt.scope.Index(relVar(rel))
				nc, _ := mt.scope.Index(mt.nodeVar(nodes[i+1]))
				end := row.row[nc].(*value.Node)
				switch rv := row.row[rc].(type) {
				case *value.Relationship:
					path.Rels = append(path.Rels, rv)
					path.Nodes = append(path.Nodes, end)
				case []any:
					// A variable-length relationship: walk its relationships from the
					// path's last node.
					for _, x := range rv {
						rel := x.(*value.Relationship)
						at := path.Nodes[len(path.Nodes)-1].ID
						next := rel.End
						if rel.End == at {
							next = rel.Start
						}
						path.Rels = append(path.Rels, rel)
						path.Nodes = append(path.Nodes, mt.r.ref(layout.ID(next)))
					}
					path.Nodes[len(path.Nodes)-1] = end
				}
			}
			row.row[col] = path
		}
		if slices.ContainsFunc(rels, func(rel *cypher.RelPattern) bool { return rel.VarLength != nil }) {
			// The inner nodes of a variable-length relationship are references.
			if err := mt.loadPaths(p, col); err != nil {
				return err
			}
		}
	}
	return nil
}

// filter keeps the rows for which every residual WHERE conjunct is true.
func (mt *matcher) filter() ([]*mrow, error) {
	if len(mt.residual) == 0 {
		return mt.rows, nil
	}
	if err := mt.predicates(); err != nil {
		return nil, err
	}
	out := mt.rows[:0]
	for _, row := range mt.rows {
		keep := true
		for _, c := range mt.residual {
			v, err := mt.r.env.Eval(c, mt.scope, row.row)
			if err != nil {
				return nil, err
			}
			if err := truth(c, v, "WHERE"); err != nil {
				return nil, err
			}
			if v != true {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, row)
		}
	}
	return out, nil
}

// optional gives every input row that matched nothing one row with the clause's new
// variables null, in input order.
func (mt *matcher) optional(input []Row, matched []*mrow) []*mrow {
	byOrigin := make([][]*mrow, len(input))
	for _, m := range matched {
		byOrigin[m.origin] = append(byOrigin[m.origin], m)
	}
	var out []*mrow
	for i, ms := range byOrigin {
		if len(ms) == 0 {
			ms = []*mrow{{row: input[i].Extend(mt.scope.Len()), origin: i}}
		}
		out = append(out, ms...)
	}
	return out
}

// project drops the hidden columns.
func (mt *matcher) project(rows []*mrow) ([]Row, *Scope, error) {
	var keep []int
	var names []string
	for i, n := range mt.scope.Names() {
		if !strings.HasPrefix(n, hidden) {
			keep = append(keep, i)
			names = append(names, n)
		}
	}
	out := make([]Row, len(rows))
	for i, m := range rows {
		if len(keep) == len(m.row) {
			out[i] = m.row
			continue
		}
		row := make(Row, len(keep))
		for j, c := range keep {
			row[j] = m.row[c]
		}
		out[i] = row
	}
	return out, NewScope(slices.Clone(names)...), nil
}
