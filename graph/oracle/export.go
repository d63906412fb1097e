package oracle

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/value"
)

// CreateQuery returns one CREATE query that builds g in an empty graph: every vertex in id
// order (variable v<id>), then every edge in id order. Run by Eval on an empty Graph it
// gives g again with the same ids (g's ids must be 1..n and 1..m, as the generators' and
// Karate's are); a store that assigns its own ids gets the same graph up to ids. Suits
// graphs of some thousands of elements; CreateStatements splits bigger ones.
func (g *Graph) CreateQuery() string {
	c := &cypher.Create{}
	for _, v := range g.Vertices() {
		c.Patterns = append(c.Patterns, &cypher.Pattern{Elements: []cypher.Element{vertexPattern(v, true)}})
	}
	for _, e := range g.Edges() {
		c.Patterns = append(c.Patterns, edgePattern(e))
	}
	if len(c.Patterns) == 0 {
		return ""
	}
	return c.String()
}

// CreateStatements returns CREATE statements that build g in an empty graph, at most batch
// vertices or edges each: the vertices' statements first, then the edges', each edge's ends
// found by MATCH on their labels and the property key, which every vertex must have, with
// distinct values. The generators' and Karate's vertices have such a key: "id".
func (g *Graph) CreateStatements(key string, batch int) ([]string, error) {
	if batch < 1 {
		return nil, fmt.Errorf("batch must be positive, not %d", batch)
	}
	vs := g.Vertices()
	seen := map[string]int64{}
	for _, v := range vs {
		k, ok := v.Props[key]
		if !ok {
			return nil, fmt.Errorf("vertex %d has no property %s", v.ID, key)
		}
		if other, dup := seen[value.Key(k)]; dup {
			return nil, fmt.Errorf("vertices %d and %d have the same %s", other, v.ID, key)
		}
		seen[value.Key(k)] = v.ID
	}
	var out []string
	for part := range slices.Chunk(vs, batch) {
		c := &cypher.Create{}
		for _, v := range part {
			c.Patterns = append(c.Patterns, &cypher.Pattern{Elements: []cypher.Element{vertexPattern(v, false)}})
		}
		out = append(out, c.String())
	}
	for part := range slices.Chunk(g.Edges(), batch) {
		m := &cypher.Match{}
		c := &cypher.Create{}
		matched := map[int64]bool{}
		for _, e := range part {
			for _, id := range []int64{e.Start, e.End} {
				if matched[id] {
					continue
				}
				matched[id] = true
				v := g.vertices[id]
				np := &cypher.NodePattern{Var: vertexVar(id), Labels: v.Labels,
					Props: &cypher.MapLit{Items: []*cypher.MapItem{{Key: key, Value: literal(v.Props[key])}}}}
				m.Patterns = append(m.Patterns, &cypher.Pattern{Elements: []cypher.Element{np}})
			}
			c.Patterns = append(c.Patterns, edgePattern(e))
		}
		out = append(out, m.String()+" "+c.String())
	}
	return out, nil
}

func vertexVar(id int64) string { return "v" + strconv.FormatInt(id, 10) }

// vertexPattern is (v<id>:Labels {props}), or without the variable.
func vertexPattern(v Vertex, named bool) *cypher.NodePattern {
	np := &cypher.NodePattern{Labels: v.Labels, Props: propsLit(v.Props)}
	if named {
		np.Var = vertexVar(v.ID)
	}
	return np
}

// edgePattern is (v<start>)-[:Type {props}]->(v<end>).
func edgePattern(e Edge) *cypher.Pattern {
	return &cypher.Pattern{Elements: []cypher.Element{
		&cypher.NodePattern{Var: vertexVar(e.Start)},
		&cypher.RelPattern{Types: []string{e.Type}, Dir: cypher.DirOut, Props: propsLit(e.Props)},
		&cypher.NodePattern{Var: vertexVar(e.End)},
	}}
}

// propsLit is a property map as a map literal, keys sorted; nil for no properties.
func propsLit(props map[string]any) cypher.Expr {
	if len(props) == 0 {
		return nil
	}
	m := &cypher.MapLit{}
	for _, k := range slices.Sorted(maps.Keys(props)) {
		m.Items = append(m.Items, &cypher.MapItem{Key: k, Value: literal(props[k])})
	}
	return m
}

// literal is a property value (a scalar or a list of scalars) as an expression.
func literal(v any) cypher.Expr {
	if l, ok := v.([]any); ok {
		lit := &cypher.ListLit{Elems: make([]cypher.Expr, len(l))}
		for i, e := range l {
			lit.Elems[i] = literal(e)
		}
		return lit
	}
	return &cypher.Literal{Value: v}
}
