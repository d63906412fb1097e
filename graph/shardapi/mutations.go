package shardapi

import (
	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/value"
)

// Mutation is one change to a graph on one shard: exactly one of its fields is set.
type Mutation struct {
	CreateVertex *CreateVertex `json:"createVertex,omitempty"`
	UpdateVertex *UpdateVertex `json:"updateVertex,omitempty"`
	DeleteVertex *DeleteVertex `json:"deleteVertex,omitempty"`
	CreateEdge   *CreateEdge   `json:"createEdge,omitempty"`
	UpdateEdge   *UpdateEdge   `json:"updateEdge,omitempty"`
	DeleteEdge   *DeleteEdge   `json:"deleteEdge,omitempty"`
}

// CreateVertex creates vertex ID. If it exists, Merge returns it unchanged; otherwise the
// write is refused (a random id that met another is retried by the caller with a new id).
type CreateVertex struct {
	ID     layout.ID     `json:"id"`
	Labels []string      `json:"labels,omitempty"`
	Props  value.WireMap `json:"props,omitempty"`
	Merge  bool          `json:"merge,omitempty"`
}

// UpdateVertex changes vertex ID's properties and labels: Replace drops every property
// first (`SET n = {...}`), then Set sets and Remove removes.
type UpdateVertex struct {
	ID           layout.ID     `json:"id"`
	Replace      bool          `json:"replace,omitempty"`
	Set          value.WireMap `json:"set,omitempty"`
	Remove       []string      `json:"remove,omitempty"`
	AddLabels    []string      `json:"addLabels,omitempty"`
	RemoveLabels []string      `json:"removeLabels,omitempty"`
}

// DeleteVertex deletes vertex ID; one that still has edges only with Detach, which deletes
// them too.
type DeleteVertex struct {
	ID     layout.ID `json:"id"`
	Detach bool      `json:"detach,omitempty"`
}

// CreateEdge creates edge ID of Type from Src (on this shard) to Dst, made for Dst's
// incarnation DstIncarnation (0: whatever vertex Dst is when the in-half is applied).
type CreateEdge struct {
	ID             layout.ID     `json:"id"`
	Src            layout.ID     `json:"src"`
	Dst            layout.ID     `json:"dst"`
	Type           string        `json:"type"`
	Props          value.WireMap `json:"props,omitempty"`
	DstIncarnation uint64        `json:"dstIncarnation,omitempty"`
}

// UpdateEdge changes the properties of edge ID (its out-half is on this shard).
type UpdateEdge struct {
	ID      layout.ID     `json:"id"`
	Src     layout.ID     `json:"src"`
	Dst     layout.ID     `json:"dst"`
	Type    string        `json:"type"`
	Replace bool          `json:"replace,omitempty"`
	Set     value.WireMap `json:"set,omitempty"`
	Remove  []string      `json:"remove,omitempty"`
}

// DeleteEdge deletes edge ID (its out-half is on this shard). Deleting an edge that is gone
// does nothing.
type DeleteEdge struct {
	ID   layout.ID `json:"id"`
	Src  layout.ID `json:"src"`
	Dst  layout.ID `json:"dst"`
	Type string    `json:"type"`
}

// Outcome is what one mutation did.
type Outcome struct {
	// Vertex is the vertex after a vertex mutation (nil after a delete).
	Vertex *Vertex `json:"vertex,omitempty"`
	// Found is true when a merge or an edge create found what it would create (and changed
	// nothing), and when a delete found what it deleted.
	Found bool `json:"found,omitempty"`
	// Half is the out-half after an edge mutation.
	Half *Half `json:"half,omitempty"`
	// Detached are the relationships a DETACH DELETE of a vertex removed with it, by id.
	Detached []layout.ID `json:"detached,omitempty"`
}

// ApplyResult is what the receiving shard did with an outbox record.
type ApplyResult struct {
	// Gone is true when the record asked for a half of a vertex that no longer exists (or is
	// another incarnation): the sender undoes its own half.
	Gone bool `json:"gone,omitempty"`
}
