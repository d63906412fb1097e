package value

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
)

// Node is a vertex as a query sees it. ID is the vertex's internal id, unique in its graph and
// stable for the vertex's life; equality and order of nodes are by ID alone.
type Node struct {
	ID     uint64
	Labels []string
	Props  map[string]any
}

// Relationship is an edge as a query sees it. ID is the edge id, unique in its graph; Start and
// End are the ids of its source and destination vertices. Equality and order are by ID alone.
type Relationship struct {
	ID         uint64
	Type       string
	Start, End uint64
	Props      map[string]any
}

// Path is a walk through the graph: Nodes[0], Rels[0], Nodes[1], ... with
// len(Rels) == len(Nodes)-1. A path of one node and no relationship is a path of length 0.
type Path struct {
	Nodes []*Node
	Rels  []*Relationship
}

// Sentinel errors, declared together; the functions wrap them with what was refused and why.
var (
	// ErrUnsupported: a Go value that has no place in the value model (Normalize, encoders).
	ErrUnsupported = errors.New("unsupported value")
	// ErrNotProperty: a value that openCypher does not let a node or relationship store.
	ErrNotProperty = errors.New("not a property value")
	// ErrCorrupt: bytes that no encoder of this package wrote.
	ErrCorrupt = errors.New("corrupt encoding")
)

// WithArticle returns TypeName(v) after its indefinite article, for messages: "an INTEGER",
// "a STRING".
func WithArticle(v any) string {
	name := TypeName(v)
	if strings.ContainsRune("AEIOU", rune(name[0])) {
		return "an " + name
	}
	return "a " + name
}

// TypeName returns the openCypher name of v's type: NULL, BOOLEAN, INTEGER, FLOAT, STRING,
// LIST, MAP, NODE, RELATIONSHIP or PATH. A Go value outside the model is named by its Go type
// in angle brackets (e.g. "<int32>"), for error messages.
func TypeName(v any) string {
	switch v.(type) {
	case nil:
		return "NULL"
	case bool:
		return "BOOLEAN"
	case int64:
		return "INTEGER"
	case float64:
		return "FLOAT"
	case string:
		return "STRING"
	case []any:
		return "LIST"
	case map[string]any:
		return "MAP"
	case *Node:
		return "NODE"
	case *Relationship:
		return "RELATIONSHIP"
	case *Path:
		return "PATH"
	}
	return fmt.Sprintf("<%T>", v)
}

// Normalize converts a Go value into the model: signed and unsigned integers to int64 (an
// unsigned one above math.MaxInt64 is refused), float32 to float64, slices and arrays of any
// element type to []any, maps with string keys to map[string]any, recursively; model values
// pass through (containers are copied). Anything else (structs, channels, []byte, a map with
// non-string keys, a nil *Node, ...) is refused with an error wrapping ErrUnsupported that
// names the Go type and where it was. Go clients' query parameters go through it.
func Normalize(v any) (any, error) {
	return normalize(v, "")
}

func normalize(v any, at string) (any, error) {
	switch x := v.(type) {
	case nil, bool, int64, float64, string:
		return x, nil
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint:
		return normalizeUint(uint64(x), at)
	case uint64:
		return normalizeUint(x, at)
	case float32:
		return float64(x), nil
	case *Node:
		if x == nil {
			return nil, fmt.Errorf("%w%s: nil *Node", ErrUnsupported, where(at))
		}
		return x, nil
	case *Relationship:
		if x == nil {
			return nil, fmt.Errorf("%w%s: nil *Relationship", ErrUnsupported, where(at))
		}
		return x, nil
	case *Path:
		if x == nil {
			return nil, fmt.Errorf("%w%s: nil *Path", ErrUnsupported, where(at))
		}
		return x, nil
	}
	// Named types (type Age int, type Tags []string) by their kind.
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return normalizeUint(rv.Uint(), at)
	case reflect.Float32, reflect.Float64:
		return rv.Float(), nil
	case reflect.String:
		return rv.String(), nil
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return nil, fmt.Errorf("%w%s: %T: bytes have no openCypher type (use a string or a list of integers)", ErrUnsupported, where(at), v)
		}
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return []any{}, nil
		}
		out := make([]any, rv.Len())
		for i := range out {
			e, err := normalize(rv.Index(i).Interface(), fmt.Sprintf("%s[%d]", at, i))
			if err != nil {
				return nil, err
			}
			out[i] = e
		}
		return out, nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return nil, fmt.Errorf("%w%s: %T: map keys must be strings", ErrUnsupported, where(at), v)
		}
		out := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			k := it.Key().String()
			e, err := normalize(it.Value().Interface(), fmt.Sprintf("%s[%q]", at, k))
			if err != nil {
				return nil, err
			}
			out[k] = e
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w%s: Go type %T has no openCypher type", ErrUnsupported, where(at), v)
}

func normalizeUint(u uint64, at string) (any, error) {
	if u > math.MaxInt64 {
		return nil, fmt.Errorf("%w%s: %d is out of the range of INTEGER (64-bit signed)", ErrUnsupported, where(at), u)
	}
	return int64(u), nil
}

// where renders the position of a nested value in an error ("" at the top).
func where(at string) string {
	if at == "" {
		return ""
	}
	return " at " + at
}

// CheckProperty says why v cannot be a node's or relationship's property value, or returns nil
// if it can. openCypher stores only booleans, integers, floats, strings and lists of one of
// those types (empty lists included); null is never stored (setting a property to null removes
// it), and lists hold neither nulls nor mixed types. The error wraps ErrNotProperty.
func CheckProperty(v any) error {
	switch x := v.(type) {
	case nil:
		return fmt.Errorf("%w: null is never stored (setting a property to null removes it)", ErrNotProperty)
	case bool, int64, float64, string:
		return nil
	case []any:
		for i, e := range x {
			switch e.(type) {
			case nil:
				return fmt.Errorf("%w: a list property cannot hold null (element %d)", ErrNotProperty, i)
			case bool, int64, float64, string:
			default:
				return fmt.Errorf("%w: a list property holds only booleans, integers, floats or strings; element %d is %s", ErrNotProperty, i, WithArticle(e))
			}
			if TypeName(e) != TypeName(x[0]) {
				return fmt.Errorf("%w: a list property holds one type; element 0 is %s and element %d %s", ErrNotProperty, WithArticle(x[0]), i, WithArticle(e))
			}
		}
		return nil
	}
	return fmt.Errorf("%w: %s cannot be stored as a property", ErrNotProperty, WithArticle(v))
}
