package exec

import (
	"testing"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/shardapi"
)

// SHOW INDEXES lists secondary indexes (POPULATING until built) and primary keys, by name;
// SHOW CONSTRAINTS the primary keys.
func TestShowSchema(t *testing.T) {
	g := NewWithT(t)
	cat := &shardapi.Catalog{
		PrimaryKeys: []shardapi.PrimaryKey{{Name: "person_id", Label: "Person", Property: "id"}},
		Indexes: []shardapi.Index{
			{Name: "city_name", Label: "City", Property: "name", State: shardapi.IndexReady},
			{Name: "age", Label: "Person", Property: "age", State: shardapi.IndexBuilding},
		},
	}
	res := showSchema(cypher.ShowIndexes, cat)
	g.Expect(res.Columns).To(Equal([]string{"name", "state", "type", "entityType", "labelsOrTypes", "properties", "owningConstraint"}))
	g.Expect(res.Rows).To(Equal([]Row{
		{"age", "POPULATING", "RANGE", "NODE", []any{"Person"}, []any{"age"}, nil},
		{"city_name", "ONLINE", "RANGE", "NODE", []any{"City"}, []any{"name"}, nil},
		{"person_id", "ONLINE", "PRIMARY KEY", "NODE", []any{"Person"}, []any{"id"}, "person_id"},
	}))
	res = showSchema(cypher.ShowConstraints, cat)
	g.Expect(res.Columns).To(Equal([]string{"name", "type", "entityType", "labelsOrTypes", "properties"}))
	g.Expect(res.Rows).To(Equal([]Row{{"person_id", "NODE_KEY", "NODE", []any{"Person"}, []any{"id"}}}))
	g.Expect(showSchema(cypher.ShowConstraints, &shardapi.Catalog{}).Rows).To(BeEmpty())
}
