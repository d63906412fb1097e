package layout

import (
	"bytes"
	"fmt"

	"github.com/torua/torua/graph/value"
	"github.com/torua/torua/internal/kv"
)

// Kinds of graph keys: the byte after the graph name's '/'.
const (
	kindVertex  = 'v'
	kindLabel   = 'l'
	kindOut     = 'o'
	kindIn      = 'i'
	kindIndex   = 'x'
	kindOutbox  = 'q'
	kindBundle  = 'b'
	kindCatalog = 'c'
	kindTomb    = 't'
	kindAdj     = 'a'
)

// Recurring reports whether key is one that a shard's writes come back to: a vertex, its
// adjacency version, a graph's catalog, and every key that is not a graph's. An edge's
// half, a label or index entry, an outbox record or bundle and a tombstone are written
// once and then mostly left alone (an import writes millions): a node's write cache keeps
// only recurring keys (engine.Options.Remember), which the others would crowd out.
func Recurring(key []byte) bool {
	rest, ok := bytes.CutPrefix(key, graphsPrefix)
	if !ok {
		return true
	}
	i := bytes.IndexByte(rest, '/')
	if i < 0 || i+1 >= len(rest) {
		return true
	}
	switch rest[i+1] {
	case kindOut, kindIn, kindLabel, kindIndex, kindOutbox, kindBundle, kindTomb:
		return false
	}
	return true
}

// Loadable reports whether key is one of graph's data keys that a bulk load writes: a vertex
// record, a label or index entry, an edge half or an adjacency version (not the catalog, an
// outbox record or bundle, or a tombstone, which only the store's writes make).
func Loadable(graph string, key []byte) bool {
	p := GraphPrefix(graph)
	if !bytes.HasPrefix(key, p) || len(key) < len(p)+2 || key[len(p)+1] != '/' {
		return false
	}
	switch key[len(p)] {
	case kindVertex, kindLabel, kindIndex, kindOut, kindIn, kindAdj:
		return true
	}
	return false
}

// graphsPrefix is GraphsPrefix, not to be changed.
var graphsPrefix = GraphsPrefix()

// Direction selects a vertex's out-adjacency or in-adjacency.
type Direction byte

const (
	// Out is the adjacency of edges that leave the vertex.
	Out Direction = kindOut
	// In is the adjacency of edges that enter the vertex.
	In Direction = kindIn
)

func (d Direction) String() string {
	if d == In {
		return "in"
	}
	return "out"
}

// MarshalText writes "out" or "in".
func (d Direction) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads "out" or "in".
func (d *Direction) UnmarshalText(b []byte) error {
	switch string(b) {
	case "out":
		*d = Out
	case "in":
		*d = In
	default:
		return fmt.Errorf("direction %q is neither out nor in", b)
	}
	return nil
}

// Reverse is the other direction.
func (d Direction) Reverse() Direction {
	if d == In {
		return Out
	}
	return In
}

// GraphPrefix is the prefix of every key of graph: dropping a graph deletes it on every shard.
func GraphPrefix(graph string) []byte {
	// Room for what the keys built on it append (kind, ids, the routing tag with the graph's
	// name again, a type): one allocation per key, where growing took three.
	b := make([]byte, 0, 80+2*len(graph))
	b = append(b, kv.ReservedPrefix...)
	b = append(b, 'g', '/')
	b = append(b, graph...)
	return append(b, '/')
}

// GraphsPrefix is the prefix of every graph key of every graph: listing graphs reads it.
func GraphsPrefix() []byte { return []byte(kv.ReservedPrefix + "g/") }

func kindPrefix(graph string, kind byte) []byte {
	return append(GraphPrefix(graph), kind, '/')
}

func appendTag(b []byte, graph string, id ID) []byte {
	b = append(b, '{')
	b = append(b, graph...)
	b = append(b, '/')
	b = appendID(b, id)
	return append(b, '}')
}

// VertexKey is the key of vertex id's record.
func VertexKey(graph string, id ID) []byte {
	b := appendID(kindPrefix(graph, kindVertex), id)
	return appendTag(b, graph, id)
}

// VertexPrefix is the prefix of every vertex record of graph (on each shard, that shard's).
func VertexPrefix(graph string) []byte { return kindPrefix(graph, kindVertex) }

// AdjacencyVersionKey is vertex id's adjacency version: every change of the vertex's halves
// writes it, and a delete of the vertex is conditional on it, so that an edge that arrives
// while the vertex is deleted is seen.
func AdjacencyVersionKey(graph string, id ID) []byte {
	return appendTag(appendID(kindPrefix(graph, kindAdj), id), graph, id)
}

// LabelKey is the key that lists vertex id under label (a shard-local label scan).
func LabelKey(graph, label string, id ID) []byte {
	return appendTag(appendID(LabelPrefix(graph, label), id), graph, id)
}

// LabelPrefix is the prefix of every LabelKey of label.
func LabelPrefix(graph, label string) []byte {
	return appendString(kindPrefix(graph, kindLabel), label)
}

// EdgeKey is the key of one half of edge e of type typ between v and other: the out-half on
// v's shard when dir is Out (v is the source), the in-half on v's shard when dir is In (v is the
// destination).
func EdgeKey(graph string, dir Direction, v ID, typ string, other, e ID) []byte {
	b := AdjacencyPrefix(graph, dir, v, typ)
	b = appendID(b, other)
	b = appendID(b, e)
	return appendTag(b, graph, v)
}

// AdjacencyPrefix is the prefix of v's halves in direction dir, of type typ only when typ is
// not empty (types are never empty).
func AdjacencyPrefix(graph string, dir Direction, v ID, typ string) []byte {
	b := appendID(kindPrefix(graph, byte(dir)), v)
	b = append(b, '/')
	if typ != "" {
		b = appendString(b, typ)
	}
	return b
}

// IndexKey is vertex id's entry in the index of label and prop, for the property's value val.
func IndexKey(graph, label, prop string, val any, id ID) ([]byte, error) {
	b, err := value.AppendKey(IndexPrefix(graph, label, prop), val)
	if err != nil {
		return nil, err
	}
	b = appendID(b, id)
	return appendTag(b, graph, id), nil
}

// IndexPrefix is the prefix of every entry of the index of label and prop.
func IndexPrefix(graph, label, prop string) []byte {
	return appendString(appendString(kindPrefix(graph, kindIndex), label), prop)
}

// IndexEqualPrefix is the prefix of the entries whose value equals val (42 and 42.0 alike).
func IndexEqualPrefix(graph, label, prop string, val any) ([]byte, error) {
	enc, err := value.EqualityPrefix(val)
	if err != nil {
		return nil, err
	}
	return append(IndexPrefix(graph, label, prop), enc...), nil
}

// OutboxKey is the outbox record, on owner's shard, for the half of edge e on the other
// vertex's shard: side is the direction of that remote half.
func OutboxKey(graph string, e ID, side Direction, owner ID) []byte {
	b := appendID(kindPrefix(graph, kindOutbox), e)
	b = append(b, '/', byte(side))
	return appendTag(b, graph, owner)
}

// OutboxPrefix is the prefix of every outbox record of graph (on each shard, that shard's).
func OutboxPrefix(graph string) []byte { return kindPrefix(graph, kindOutbox) }

// BundleKey is an outbox bundle, on owner's shard: the outbox records of one write that
// changed several edges across shards (owner is one of its vertices), seq a number that tells
// the shard's bundles apart.
func BundleKey(graph string, seq ID, owner ID) []byte {
	b := appendID(kindPrefix(graph, kindBundle), seq)
	return appendTag(b, graph, owner)
}

// BundlePrefix is the prefix of every outbox bundle of graph (on each shard, that shard's).
func BundlePrefix(graph string) []byte { return kindPrefix(graph, kindBundle) }

// TombstoneKey lists the tombstone of half h, deleted at deletedAt (Unix seconds), on h's
// vertex's shard: tombstones sort by age, so removing the old ones reads only them.
func TombstoneKey(graph string, deletedAt int64, h EdgeHalf) []byte {
	b := appendID(kindPrefix(graph, kindTomb), ID(deletedAt))
	b = appendID(b, h.Edge)
	b = append(b, '/', byte(h.Dir))
	return appendTag(b, graph, h.Vertex)
}

// TombstonePrefix is the prefix of every TombstoneKey of graph.
func TombstonePrefix(graph string) []byte { return kindPrefix(graph, kindTomb) }

// TombstoneBefore is the exclusive end of the TombstoneKeys of tombstones deleted before t.
func TombstoneBefore(graph string, t int64) []byte {
	return appendID(kindPrefix(graph, kindTomb), ID(t))
}

// CatalogKey is the key of graph's catalog. Every shard holds its own copy: it is written to
// each shard by the graph layer, never placed by hashing.
func CatalogKey(graph string) []byte {
	return append(GraphPrefix(graph), kindCatalog)
}

func appendString(b []byte, s string) []byte {
	b, _ = value.AppendKey(b, s) // a string always encodes
	return b
}
