package shardapi

import (
	"fmt"
	"slices"
	"time"

	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/value"
)

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
	// Loading, when not 0, is when a bulk load of the graph began (Unix nanoseconds): until
	// the load ends, the graph takes no write but the load's and answers no query.
	Loading int64 `json:"loading,omitempty"`
}

// LoadingError is the refusal of a query or write of a graph whose catalog says a bulk load is
// running (Loading), or never finished.
func (c *Catalog) LoadingError(graph string) string {
	return fmt.Sprintf("graph %q is being bulk-loaded (since %s): it answers once the load ends; "+
		"if the load was interrupted, drop the graph (DELETE /graph/%s) and load it again",
		graph, time.Unix(0, c.Loading).UTC().Format(time.RFC3339), graph)
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

// Entries are the keys that list vertex v of graph under this catalog: a label key for each of
// its labels, and an entry in each index kept (Maintained) of its labels whose property it has
// with a value an index holds (a scalar: a lookup of a list value scans). Their values are
// empty. An error means v's properties cannot be decoded.
func (c *Catalog) Entries(graph string, v *Vertex) ([][]byte, error) {
	keys := make([][]byte, 0, len(v.Labels))
	for _, l := range v.Labels {
		keys = append(keys, layout.LabelKey(graph, l, v.ID))
	}
	idx := c.Maintained(v.Labels)
	if len(idx) == 0 {
		return keys, nil
	}
	props, err := value.DecodeProps(v.Props)
	if err != nil {
		return nil, fmt.Errorf("vertex %d: %v", v.ID, err)
	}
	for _, x := range idx {
		val, ok := props[x.Property]
		if !ok || !indexable(val) {
			continue
		}
		k, err := layout.IndexKey(graph, x.Label, x.Property, val, v.ID)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// indexable reports whether an index holds entries for val: scalars.
func indexable(val any) bool {
	switch val.(type) {
	case bool, int64, float64, string:
		return true
	}
	return false
}

// CheckPrimaryKey checks that a vertex of graph with labels and props may have id: a vertex
// has at most one label that declares a primary key, needs that key's property, and then its
// id is the key's hash (layout.PrimaryKeyID).
func (c *Catalog) CheckPrimaryKey(graph string, id layout.ID, labels []string, props map[string]any) error {
	keyed := ""
	for _, l := range labels {
		pk, ok := c.PrimaryKeyOf(l)
		if !ok {
			continue
		}
		if keyed != "" {
			return fmt.Errorf("a vertex may have one label with a primary key, not :%s and :%s", keyed, l)
		}
		keyed = l
		val, ok := props[pk]
		if !ok {
			return fmt.Errorf("a :%s vertex needs its primary key %s", l, pk)
		}
		want, err := layout.PrimaryKeyID(graph, l, val)
		if err != nil {
			return err
		}
		if want != id {
			return fmt.Errorf("vertex %d is not the id of :%s {%s: %v} (%d)", id, l, pk, val, want)
		}
	}
	return nil
}
