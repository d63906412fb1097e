package oracle

import (
	"fmt"
	"maps"
	"slices"

	"github.com/torua/torua/graph/value"
)

// Vertex is a vertex of a Graph. ID is positive and unique in its graph; Labels are distinct
// and sorted (a vertex's labels are a set, so the graph keeps them in one canonical order);
// Props holds property values of graph/value's model (never null).
type Vertex struct {
	ID     int64
	Labels []string
	Props  map[string]any
}

// Edge is a directed, typed edge (a relationship) of a Graph from Start to End. ID is
// positive and unique among the graph's edges; Props as for Vertex.
type Edge struct {
	ID         int64
	Type       string
	Start, End int64
	Props      map[string]any
}

// Graph is an in-memory property graph. Every listing (Vertices, Edges, the evaluator's
// scans and expansions) is in ascending id order, so evaluation is deterministic. A Graph
// is not safe for concurrent use.
//
// Mutators check what the store would refuse: property values (graph/value's
// CheckProperty), dangling edge ends, and the UNIQUE and NODE KEY constraints of the schema
// (schema.go); a refused mutation changes nothing.
type Graph struct {
	vertices map[int64]*Vertex
	edges    map[int64]*Edge
	out, in  map[int64][]int64 // vertex id -> its out- (in-) edges' ids, ascending
	lastV    int64             // the highest vertex id ever used: new vertices get the next
	lastE    int64             // likewise for edges
	sorted   []int64           // every vertex id ascending; nil when stale
	schema   schema
}

// New returns an empty graph.
func New() *Graph {
	return &Graph{
		vertices: map[int64]*Vertex{},
		edges:    map[int64]*Edge{},
		out:      map[int64][]int64{},
		in:       map[int64][]int64{},
	}
}

// Clone returns a deep copy of g (its schema included).
func (g *Graph) Clone() *Graph {
	c := New()
	for id, v := range g.vertices {
		c.vertices[id] = cloneVertex(v)
	}
	for id, e := range g.edges {
		c.edges[id] = cloneEdge(e)
	}
	for id, ids := range g.out {
		c.out[id] = slices.Clone(ids)
	}
	for id, ids := range g.in {
		c.in[id] = slices.Clone(ids)
	}
	c.lastV, c.lastE = g.lastV, g.lastE
	c.schema = g.schema.clone()
	return c
}

// NumVertices returns the number of vertices.
func (g *Graph) NumVertices() int { return len(g.vertices) }

// NumEdges returns the number of edges.
func (g *Graph) NumEdges() int { return len(g.edges) }

// Vertex returns a copy of the vertex with the given id.
func (g *Graph) Vertex(id int64) (Vertex, bool) {
	v, ok := g.vertices[id]
	if !ok {
		return Vertex{}, false
	}
	return *cloneVertex(v), true
}

// Edge returns a copy of the edge with the given id.
func (g *Graph) Edge(id int64) (Edge, bool) {
	e, ok := g.edges[id]
	if !ok {
		return Edge{}, false
	}
	return *cloneEdge(e), true
}

// Vertices returns copies of every vertex in ascending id order, for loaders.
func (g *Graph) Vertices() []Vertex {
	out := make([]Vertex, 0, len(g.vertices))
	for _, id := range g.vertexIDs() {
		out = append(out, *cloneVertex(g.vertices[id]))
	}
	return out
}

// Edges returns copies of every edge in ascending id order, for loaders.
func (g *Graph) Edges() []Edge {
	ids := slices.Sorted(maps.Keys(g.edges))
	out := make([]Edge, 0, len(ids))
	for _, id := range ids {
		out = append(out, *cloneEdge(g.edges[id]))
	}
	return out
}

// AddVertex adds a vertex with the next free id (one above the highest id ever used) and
// returns the id. Null property values are left out, as openCypher's CREATE does.
func (g *Graph) AddVertex(labels []string, props map[string]any) (int64, error) {
	id := g.lastV + 1
	return id, g.AddVertexWithID(id, labels, props)
}

// AddVertexWithID adds a vertex with the given id, which must be positive and unused.
func (g *Graph) AddVertexWithID(id int64, labels []string, props map[string]any) error {
	if id <= 0 {
		return fmt.Errorf("vertex id %d: ids are positive", id)
	}
	if _, ok := g.vertices[id]; ok {
		return fmt.Errorf("vertex id %d is in use", id)
	}
	p, err := checkProps(props)
	if err != nil {
		return fmt.Errorf("vertex %d: %w", id, err)
	}
	v := &Vertex{ID: id, Labels: labelSet(nil, labels), Props: p}
	if err := g.checkConstraints(v); err != nil {
		return err
	}
	g.vertices[id] = v
	g.lastV = max(g.lastV, id)
	g.sorted = nil
	return nil
}

// AddEdge adds an edge with the next free id from start to end and returns the id.
func (g *Graph) AddEdge(typ string, start, end int64, props map[string]any) (int64, error) {
	id := g.lastE + 1
	return id, g.AddEdgeWithID(id, typ, start, end, props)
}

// AddEdgeWithID adds an edge with the given id (positive, unused) from start to end, which
// must exist; typ must not be empty.
func (g *Graph) AddEdgeWithID(id int64, typ string, start, end int64, props map[string]any) error {
	switch {
	case id <= 0:
		return fmt.Errorf("edge id %d: ids are positive", id)
	case g.edges[id] != nil:
		return fmt.Errorf("edge id %d is in use", id)
	case typ == "":
		return fmt.Errorf("edge %d: a relationship has exactly one type", id)
	case g.vertices[start] == nil:
		return fmt.Errorf("edge %d: no vertex %d to start from", id, start)
	case g.vertices[end] == nil:
		return fmt.Errorf("edge %d: no vertex %d to end at", id, end)
	}
	p, err := checkProps(props)
	if err != nil {
		return fmt.Errorf("edge %d: %w", id, err)
	}
	g.edges[id] = &Edge{ID: id, Type: typ, Start: start, End: end, Props: p}
	g.out[start] = insertSorted(g.out[start], id)
	g.in[end] = insertSorted(g.in[end], id)
	g.lastE = max(g.lastE, id)
	return nil
}

// SetVertexProp sets a vertex's property; a null value removes it.
func (g *Graph) SetVertexProp(id int64, key string, val any) error {
	v, ok := g.vertices[id]
	if !ok {
		return fmt.Errorf("no vertex %d", id)
	}
	nv := cloneVertex(v)
	if err := setProp(nv.Props, key, val); err != nil {
		return fmt.Errorf("vertex %d: %w", id, err)
	}
	return g.replaceVertex(nv)
}

// ReplaceVertexProps replaces all of a vertex's properties (null values are left out).
func (g *Graph) ReplaceVertexProps(id int64, props map[string]any) error {
	v, ok := g.vertices[id]
	if !ok {
		return fmt.Errorf("no vertex %d", id)
	}
	p, err := checkProps(props)
	if err != nil {
		return fmt.Errorf("vertex %d: %w", id, err)
	}
	nv := cloneVertex(v)
	nv.Props = p
	return g.replaceVertex(nv)
}

// SetLabels adds (or, with remove, removes) labels of a vertex.
func (g *Graph) SetLabels(id int64, labels []string, remove bool) error {
	v, ok := g.vertices[id]
	if !ok {
		return fmt.Errorf("no vertex %d", id)
	}
	nv := cloneVertex(v)
	if remove {
		nv.Labels = slices.DeleteFunc(nv.Labels, func(l string) bool { return slices.Contains(labels, l) })
	} else {
		nv.Labels = labelSet(nv.Labels, labels)
	}
	return g.replaceVertex(nv)
}

func (g *Graph) replaceVertex(nv *Vertex) error {
	if err := g.checkConstraints(nv); err != nil {
		return err
	}
	g.vertices[nv.ID] = nv
	return nil
}

// SetEdgeProp sets an edge's property; a null value removes it.
func (g *Graph) SetEdgeProp(id int64, key string, val any) error {
	e, ok := g.edges[id]
	if !ok {
		return fmt.Errorf("no edge %d", id)
	}
	p := maps.Clone(e.Props)
	if err := setProp(p, key, val); err != nil {
		return fmt.Errorf("edge %d: %w", id, err)
	}
	e.Props = p
	return nil
}

// ReplaceEdgeProps replaces all of an edge's properties (null values are left out).
func (g *Graph) ReplaceEdgeProps(id int64, props map[string]any) error {
	e, ok := g.edges[id]
	if !ok {
		return fmt.Errorf("no edge %d", id)
	}
	p, err := checkProps(props)
	if err != nil {
		return fmt.Errorf("edge %d: %w", id, err)
	}
	e.Props = p
	return nil
}

// DeleteEdge removes an edge; removing a missing edge does nothing.
func (g *Graph) DeleteEdge(id int64) {
	e, ok := g.edges[id]
	if !ok {
		return
	}
	delete(g.edges, id)
	g.out[e.Start] = slices.DeleteFunc(g.out[e.Start], func(x int64) bool { return x == id })
	g.in[e.End] = slices.DeleteFunc(g.in[e.End], func(x int64) bool { return x == id })
}

// DeleteVertex removes a vertex; with detach its edges go too, without it a vertex that has
// edges is refused (openCypher's DELETE). Removing a missing vertex does nothing.
func (g *Graph) DeleteVertex(id int64, detach bool) error {
	if _, ok := g.vertices[id]; !ok {
		return nil
	}
	edges := g.incident(id)
	if len(edges) > 0 && !detach {
		return fmt.Errorf("cannot delete node %d: it still has %d relationship(s) (use DETACH DELETE)", id, len(edges))
	}
	for _, e := range edges {
		g.DeleteEdge(e)
	}
	delete(g.vertices, id)
	delete(g.out, id)
	delete(g.in, id)
	g.sorted = nil
	return nil
}

// incident returns the ids of the edges that start or end at the vertex, ascending, each once.
func (g *Graph) incident(id int64) []int64 {
	ids := append(slices.Clone(g.out[id]), g.in[id]...)
	slices.Sort(ids)
	return slices.Compact(ids)
}

// vertexIDs returns every vertex id ascending (cached until the vertex set changes).
func (g *Graph) vertexIDs() []int64 {
	if g.sorted == nil {
		g.sorted = slices.Sorted(maps.Keys(g.vertices))
	}
	return g.sorted
}

// checkProps returns a copy of props without null values, or why a value cannot be stored.
func checkProps(props map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(props))
	for k, v := range props {
		if err := setProp(out, k, v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// setProp sets p[key] = val after normalising and checking val; null deletes the key.
func setProp(p map[string]any, key string, val any) error {
	v, err := value.Normalize(val)
	if err != nil {
		return fmt.Errorf("property %q: %w", key, err)
	}
	if v == nil {
		delete(p, key)
		return nil
	}
	if err := value.CheckProperty(v); err != nil {
		return fmt.Errorf("property %q: %w", key, err)
	}
	p[key] = v
	return nil
}

// labelSet returns have with add merged in, distinct and sorted.
func labelSet(have, add []string) []string {
	out := append(slices.Clone(have), add...)
	slices.Sort(out)
	return slices.Compact(out)
}

func insertSorted(ids []int64, id int64) []int64 {
	i, _ := slices.BinarySearch(ids, id)
	return slices.Insert(ids, i, id)
}

func cloneVertex(v *Vertex) *Vertex {
	return &Vertex{ID: v.ID, Labels: slices.Clone(v.Labels), Props: maps.Clone(v.Props)}
}

func cloneEdge(e *Edge) *Edge {
	c := *e
	c.Props = maps.Clone(e.Props)
	return &c
}
