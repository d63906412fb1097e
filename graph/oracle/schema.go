package oracle

import (
	"fmt"
	"slices"
	"strings"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/value"
)

// Index is a recorded secondary index: the oracle answers the same with or without it, and
// records it only so that CREATE/DROP INDEX behave as the store's do (errors included).
type Index struct {
	Name     string
	Label    string
	Property string
}

// Constraint is a label's primary key: its property is unique among the label's vertices
// (equal values, 1 and 1.0 included, conflict), and with NodeKey every such vertex has it.
type Constraint struct {
	Name     string
	Label    string
	Property string
	NodeKey  bool
}

// schema is a graph's indexes and constraints, in the order created.
type schema struct {
	indexes     []Index
	constraints []Constraint
}

func (s schema) clone() schema {
	return schema{indexes: slices.Clone(s.indexes), constraints: slices.Clone(s.constraints)}
}

// Indexes returns the graph's indexes in the order created.
func (g *Graph) Indexes() []Index { return slices.Clone(g.schema.indexes) }

// Constraints returns the graph's constraints in the order created.
func (g *Graph) Constraints() []Constraint { return slices.Clone(g.schema.constraints) }

// runSchema applies a schema command to g. Unnamed indexes and constraints are named
// index_<label>_<property> and pk_<label>_<property>, as the store names them.
func (g *Graph) runSchema(s *cypher.Schema) error {
	switch s.Kind {
	case cypher.CreateIndex:
		return g.createIndex(s)
	case cypher.DropIndex:
		return g.dropIndex(s)
	case cypher.CreateConstraint:
		return g.createConstraint(s)
	case cypher.DropConstraint:
		return g.dropConstraint(s)
	}
	return fmt.Errorf("unknown schema command %d", s.Kind)
}

// showSchema answers SHOW INDEXES (kind) or SHOW CONSTRAINTS as the store does: a primary key
// is a constraint of type NODE_KEY and an index of type PRIMARY KEY, a secondary index one of
// type RANGE (always ONLINE here: the oracle has no index to build); rows by name.
func (g *Graph) showSchema(kind cypher.SchemaKind) *Result {
	res := &Result{Columns: []string{"name", "type", "entityType", "labelsOrTypes", "properties"}, Rows: [][]any{}}
	if kind == cypher.ShowIndexes {
		res.Columns = []string{"name", "state", "type", "entityType", "labelsOrTypes", "properties", "owningConstraint"}
		for _, x := range g.schema.indexes {
			res.Rows = append(res.Rows, []any{x.Name, "ONLINE", "RANGE", "NODE", []any{x.Label}, []any{x.Property}, nil})
		}
	}
	for _, c := range g.schema.constraints {
		if kind == cypher.ShowIndexes {
			res.Rows = append(res.Rows, []any{c.Name, "ONLINE", "PRIMARY KEY", "NODE", []any{c.Label}, []any{c.Property}, c.Name})
		} else {
			res.Rows = append(res.Rows, []any{c.Name, "NODE_KEY", "NODE", []any{c.Label}, []any{c.Property}})
		}
	}
	slices.SortFunc(res.Rows, func(a, b []any) int { return strings.Compare(a[0].(string), b[0].(string)) })
	return res
}

func (g *Graph) createIndex(s *cypher.Schema) error {
	ix := Index{Name: s.Name, Label: s.Label, Property: s.Property}
	if ix.Name == "" {
		ix.Name = "index_" + s.Label + "_" + s.Property
	}
	for _, have := range g.schema.indexes {
		if have.Name == ix.Name || have.Label == ix.Label && have.Property == ix.Property {
			if s.IfNotExists {
				return nil
			}
			return fmt.Errorf("an index %s on :%s(%s) already exists", have.Name, have.Label, have.Property)
		}
	}
	g.schema.indexes = append(g.schema.indexes, ix)
	return nil
}

func (g *Graph) dropIndex(s *cypher.Schema) error {
	i := slices.IndexFunc(g.schema.indexes, func(ix Index) bool {
		if s.Name != "" {
			return ix.Name == s.Name
		}
		return ix.Label == s.Label && ix.Property == s.Property
	})
	if i < 0 {
		if s.IfExists {
			return nil
		}
		if s.Name != "" {
			return fmt.Errorf("no index named %s", s.Name)
		}
		return fmt.Errorf("no index on :%s(%s)", s.Label, s.Property)
	}
	g.schema.indexes = slices.Delete(g.schema.indexes, i, i+1)
	return nil
}

// createConstraint declares a label's primary key. A label has at most one, and the
// graph's vertices must already satisfy it.
func (g *Graph) createConstraint(s *cypher.Schema) error {
	c := Constraint{Name: s.Name, Label: s.Label, Property: s.Property, NodeKey: s.Constraint == cypher.NodeKey}
	if c.Name == "" {
		c.Name = "pk_" + s.Label + "_" + s.Property
	}
	for _, have := range g.schema.constraints {
		if have.Name == c.Name || have.Label == c.Label {
			if s.IfNotExists && have == c {
				return nil
			}
			return fmt.Errorf("label %s already has the primary key %s (constraint %s)", have.Label, have.Property, have.Name)
		}
	}
	for _, id := range g.vertexIDs() {
		if err := checkConstraint(g, c, g.vertices[id]); err != nil {
			return fmt.Errorf("cannot create constraint %s: %w", c.Name, err)
		}
	}
	g.schema.constraints = append(g.schema.constraints, c)
	return nil
}

func (g *Graph) dropConstraint(s *cypher.Schema) error {
	i := slices.IndexFunc(g.schema.constraints, func(c Constraint) bool { return c.Name == s.Name })
	if i < 0 {
		if s.IfExists {
			return nil
		}
		return fmt.Errorf("no constraint named %s", s.Name)
	}
	g.schema.constraints = slices.Delete(g.schema.constraints, i, i+1)
	return nil
}

// checkConstraints says which constraint v (a vertex about to be written, not yet in the
// graph in this form) would violate, or returns nil.
func (g *Graph) checkConstraints(v *Vertex) error {
	for _, c := range g.schema.constraints {
		if err := checkConstraint(g, c, v); err != nil {
			return err
		}
	}
	return nil
}

// checkConstraint checks v against one constraint and every other vertex of the graph. It
// scans: the oracle favours obviousness over speed.
func checkConstraint(g *Graph, c Constraint, v *Vertex) error {
	if !slices.Contains(v.Labels, c.Label) {
		return nil
	}
	key, ok := v.Props[c.Property]
	if !ok {
		if c.NodeKey {
			return fmt.Errorf("node %d with label %s must have the property %s (constraint %s, NODE KEY)", v.ID, c.Label, c.Property, c.Name)
		}
		return nil
	}
	for _, id := range g.vertexIDs() {
		u := g.vertices[id]
		if id == v.ID || !slices.Contains(u.Labels, c.Label) {
			continue
		}
		if value.Equal(u.Props[c.Property], key) == true {
			return fmt.Errorf("node %d already has label %s and property %s = %v (constraint %s)", id, c.Label, c.Property, key, c.Name)
		}
	}
	return nil
}
