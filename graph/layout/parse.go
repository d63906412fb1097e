package layout

import (
	"bytes"
	"fmt"

	"github.com/torua/torua/graph/value"
	"github.com/torua/torua/internal/kv"
)

// EdgeHalf is what an edge key says about one half of an edge.
type EdgeHalf struct {
	// Dir is Out for the out-half (on Vertex's shard, Vertex the source) and In for the
	// in-half (Vertex the destination).
	Dir Direction `json:"dir"`
	// Vertex is the vertex whose shard holds this half; Other is the edge's other end.
	Vertex ID     `json:"vertex"`
	Other  ID     `json:"other"`
	Type   string `json:"type"`
	Edge   ID     `json:"edge"`
}

// Source and Target are the edge's ends, whichever half this is.
func (h EdgeHalf) Source() ID {
	if h.Dir == In {
		return h.Other
	}
	return h.Vertex
}

// Target is the edge's destination.
func (h EdgeHalf) Target() ID {
	if h.Dir == In {
		return h.Vertex
	}
	return h.Other
}

// Key is the key of this half.
func (h EdgeHalf) Key(graph string) []byte {
	return EdgeKey(graph, h.Dir, h.Vertex, h.Type, h.Other, h.Edge)
}

// ParseEdgeKey reads a key that EdgeKey built.
func ParseEdgeKey(graph string, key []byte) (EdgeHalf, error) {
	rest, kind, err := cutKind(graph, key)
	if err != nil {
		return EdgeHalf{}, err
	}
	if kind != kindOut && kind != kindIn {
		return EdgeHalf{}, fmt.Errorf("key %q is not an edge key", key)
	}
	h := EdgeHalf{Dir: Direction(kind)}
	if h.Vertex, err = parseID(rest); err != nil {
		return EdgeHalf{}, fmt.Errorf("edge key %q: %w", key, err)
	}
	rest = rest[idHexLen:]
	if len(rest) == 0 || rest[0] != '/' {
		return EdgeHalf{}, fmt.Errorf("edge key %q: no '/' after the vertex", key)
	}
	typ, rest, err := value.DecodeKey(rest[1:])
	if err != nil {
		return EdgeHalf{}, fmt.Errorf("edge key %q: type: %w", key, err)
	}
	var ok bool
	if h.Type, ok = typ.(string); !ok {
		return EdgeHalf{}, fmt.Errorf("edge key %q: the type is not a string", key)
	}
	if h.Other, err = parseID(rest); err != nil {
		return EdgeHalf{}, fmt.Errorf("edge key %q: %w", key, err)
	}
	if h.Edge, err = parseID(rest[idHexLen:]); err != nil {
		return EdgeHalf{}, fmt.Errorf("edge key %q: %w", key, err)
	}
	if err := checkTag(graph, h.Vertex, rest[2*idHexLen:]); err != nil {
		return EdgeHalf{}, fmt.Errorf("edge key %q: %w", key, err)
	}
	return h, nil
}

// ParseVertexKey reads a key that VertexKey built.
func ParseVertexKey(graph string, key []byte) (ID, error) {
	rest, kind, err := cutKind(graph, key)
	if err == nil && kind != kindVertex {
		err = fmt.Errorf("not a vertex key")
	}
	var id ID
	if err == nil {
		id, err = parseID(rest)
	}
	if err == nil {
		err = checkTag(graph, id, rest[idHexLen:])
	}
	if err != nil {
		return 0, fmt.Errorf("vertex key %q: %w", key, err)
	}
	return id, nil
}

// ParseLabelKey reads the vertex id of a key that LabelKey built for label.
func ParseLabelKey(graph, label string, key []byte) (ID, error) {
	return idAfter(graph, LabelPrefix(graph, label), key)
}

// ParseIndexKey reads the value and vertex id of a key that IndexKey built for label and prop.
func ParseIndexKey(graph, label, prop string, key []byte) (val any, id ID, err error) {
	p := IndexPrefix(graph, label, prop)
	if !bytes.HasPrefix(key, p) {
		return nil, 0, fmt.Errorf("key %q is not an entry of index :%s(%s)", key, label, prop)
	}
	val, rest, err := value.DecodeKey(key[len(p):])
	if err != nil {
		return nil, 0, fmt.Errorf("index key %q: %w", key, err)
	}
	if id, err = parseID(rest); err == nil {
		err = checkTag(graph, id, rest[idHexLen:])
	}
	if err != nil {
		return nil, 0, fmt.Errorf("index key %q: %w", key, err)
	}
	return val, id, nil
}

// ParseOutboxKey reads a key that OutboxKey built.
func ParseOutboxKey(graph string, key []byte) (e ID, side Direction, owner ID, err error) {
	rest, kind, err := cutKind(graph, key)
	if err == nil && kind != kindOutbox {
		err = fmt.Errorf("not an outbox key")
	}
	if err == nil {
		e, err = parseID(rest)
	}
	if err == nil {
		rest = rest[idHexLen:]
		if len(rest) < 2 || rest[0] != '/' || (rest[1] != kindOut && rest[1] != kindIn) {
			err = fmt.Errorf("no side after the edge id")
		}
	}
	if err == nil {
		side = Direction(rest[1])
		rest = rest[2:]
		if len(rest) < 2+len(graph)+1+idHexLen {
			err = fmt.Errorf("no hash tag")
		}
	}
	if err == nil {
		owner, err = parseID(rest[1+len(graph)+1:])
	}
	if err == nil {
		err = checkTag(graph, owner, rest)
	}
	if err != nil {
		return 0, 0, 0, fmt.Errorf("outbox key %q: %w", key, err)
	}
	return e, side, owner, nil
}

// GraphOf returns the graph name a graph key belongs to.
func GraphOf(key []byte) (string, error) {
	p := GraphsPrefix()
	if !bytes.HasPrefix(key, p) {
		return "", fmt.Errorf("key %q is not a graph key", key)
	}
	name, _, ok := bytes.Cut(key[len(p):], []byte{'/'})
	if !ok || CheckGraphName(string(name)) != nil {
		return "", fmt.Errorf("key %q names no valid graph", key)
	}
	return string(name), nil
}

// NextGraphAfter is the exclusive start of a listing that skips every key of graph: names
// hold no 0xFF byte, so graph's keys all sort before it.
func NextGraphAfter(graph string) []byte { return append(GraphPrefix(graph), 0xff) }

func cutKind(graph string, key []byte) (rest []byte, kind byte, err error) {
	// GraphPrefix(graph), compared in place: parsing runs once per key a hop reads.
	n := len(kv.ReservedPrefix) + 2 + len(graph) + 1
	ok := len(key) >= n+2 && string(key[:len(kv.ReservedPrefix)]) == kv.ReservedPrefix
	if ok {
		at := key[len(kv.ReservedPrefix):]
		ok = at[0] == 'g' && at[1] == '/' && string(at[2:2+len(graph)]) == graph && at[2+len(graph)] == '/' && key[n+1] == '/'
	}
	if !ok {
		return nil, 0, fmt.Errorf("key %q is not a key of graph %q", key, graph)
	}
	return key[n+2:], key[n], nil
}

func idAfter(graph string, prefix, key []byte) (ID, error) {
	if !bytes.HasPrefix(key, prefix) {
		return 0, fmt.Errorf("key %q does not start with %q", key, prefix)
	}
	rest := key[len(prefix):]
	id, err := parseID(rest)
	if err == nil {
		err = checkTag(graph, id, rest[idHexLen:])
	}
	if err != nil {
		return 0, fmt.Errorf("key %q: %w", key, err)
	}
	return id, nil
}

// checkTag checks that rest is exactly the hash tag of id in graph.
func checkTag(graph string, id ID, rest []byte) error {
	// appendTag(graph, id), compared in place.
	n := len(rest)
	ok := n == len(graph)+idHexLen+3 && rest[0] == '{' && string(rest[1:1+len(graph)]) == graph &&
		rest[1+len(graph)] == '/' && rest[n-1] == '}'
	if ok {
		tagged, err := parseID(rest[2+len(graph):])
		ok = err == nil && tagged == id
	}
	if !ok {
		return fmt.Errorf("ends with %q, want the hash tag %q", rest, appendTag(nil, graph, id))
	}
	return nil
}
