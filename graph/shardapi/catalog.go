package shardapi

import "slices"

// Catalog is a graph's schema: its primary keys and indexes. Every shard holds its own copy
// (layout.CatalogKey); a vertex write on a shard computes its index entries from that shard's
// copy and is conditional on it, so an index is never missed by a write that raced a change of
// the catalog. The copies are changed shard by shard, always to a higher Version.
type Catalog struct {
	// Version grows with every change.
	Version uint64 `json:"version"`
	// PrimaryKeys are the labels that declare a primary-key property.
	PrimaryKeys []PrimaryKey `json:"primaryKeys,omitempty"`
	// Indexes are the secondary indexes.
	Indexes []Index `json:"indexes,omitempty"`
}

// PrimaryKey says that vertices with Label are identified by their Property: the vertex id is
// layout.PrimaryKeyID(graph, Label, value).
type PrimaryKey struct {
	Name     string `json:"name"`
	Label    string `json:"label"`
	Property string `json:"property"`
}

// IndexState is how far an index is built.
type IndexState string

const (
	// IndexBuilding indexes are maintained by every write but not complete: queries do not use
	// them yet.
	IndexBuilding IndexState = "building"
	// IndexReady indexes hold an entry for every vertex with the label and property: queries use
	// them.
	IndexReady IndexState = "ready"
)

// Index is a secondary index of the vertices with Label by their Property.
type Index struct {
	Name     string     `json:"name"`
	Label    string     `json:"label"`
	Property string     `json:"property"`
	State    IndexState `json:"state"`
}

// PrimaryKeyOf returns the primary-key property of label, if it declares one.
func (c *Catalog) PrimaryKeyOf(label string) (string, bool) {
	for _, pk := range c.PrimaryKeys {
		if pk.Label == label {
			return pk.Property, true
		}
	}
	return "", false
}

// IndexOn returns the index of label and prop, if there is one.
func (c *Catalog) IndexOn(label, prop string) (Index, bool) {
	for _, x := range c.Indexes {
		if x.Label == label && x.Property == prop {
			return x, true
		}
	}
	return Index{}, false
}

// Maintained returns the (label, property) pairs whose entries writes keep: every index,
// building or ready.
func (c *Catalog) Maintained(labels []string) []Index {
	var out []Index
	for _, x := range c.Indexes {
		if slices.Contains(labels, x.Label) {
			out = append(out, x)
		}
	}
	return out
}
