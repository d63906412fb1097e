package value

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math"
)

// The binary encoding of stored property maps (EncodeProps) and of any value sent between the
// router and the nodes (EncodeValue). Both start with a format version byte; what follows is
//
//	props  = count (string value)*               count = uvarint; keys strictly ascending
//	value  = 0x00 null | 0x01 false | 0x02 true
//	       | 0x03 varint                         INTEGER, zig-zag
//	       | 0x04 8 bytes                        FLOAT, IEEE 754 bits little-endian
//	       | 0x05 string                         string = uvarint length, UTF-8 bytes
//	       | 0x06 count value*                   LIST
//	       | 0x07 props                          MAP
//	       | 0x08 node | 0x09 rel | 0x0A path
//	node   = uvarint(id) count string* props     labels, in their order
//	rel    = uvarint(id) string uvarint(start) uvarint(end) props
//	path   = count node* rel*                    count nodes, count-1 relationships
//
// Encoding is deterministic (map keys sorted, varints minimal), and decoding accepts only what
// encoding writes, so a decodable input re-encodes to the same bytes. Decoding never trusts a
// count beyond the bytes left and limits nesting to maxDepth, so corrupt input costs no more
// memory than its size and never panics.
const (
	propsVersion = 1
	valueVersion = 1
	maxDepth     = 64
)

const (
	encNull = iota
	encFalse
	encTrue
	encInt
	encFloat
	encString
	encList
	encMap
	encNode
	encRel
	encPath
)

// EncodeProps encodes a node's or relationship's property map for storage: a version byte,
// then the entries sorted by key. It refuses a value that CheckProperty refuses (the error
// names the key). A nil or empty map encodes as no entries.
func EncodeProps(props map[string]any) ([]byte, error) {
	for k, v := range props {
		if err := CheckProperty(v); err != nil {
			return nil, fmt.Errorf("property %q: %w", k, err)
		}
	}
	return appendProps([]byte{propsVersion}, props, 0)
}

// DecodeProps decodes what EncodeProps wrote. It never panics: bytes that EncodeProps cannot
// have written (another version, a cut or trailing byte, unsorted keys, a value that is not a
// property) give an error wrapping ErrCorrupt. An encoding of no entries decodes to an empty,
// non-nil map.
func DecodeProps(b []byte) (map[string]any, error) {
	if len(b) == 0 || b[0] != propsVersion {
		return nil, fmt.Errorf("%w: property map: unknown format version", ErrCorrupt)
	}
	d := decoder{b: b[1:]}
	m := d.props(0, true)
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d bytes after the property map", len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	return m, nil
}

// EncodeValue encodes any value of the model (lists of mixed values, maps, nodes,
// relationships and paths included) behind a version byte. It refuses Go values outside the
// model and paths whose relationship count is not their node count less one (ErrUnsupported).
func EncodeValue(v any) ([]byte, error) {
	return appendValue([]byte{valueVersion}, v, 0)
}

// DecodeValue decodes what EncodeValue wrote; like DecodeProps it never panics and refuses
// what EncodeValue cannot have written. Maps, and nodes' and relationships' properties, decode
// as non-nil maps; a node without labels has nil Labels.
func DecodeValue(b []byte) (any, error) {
	if len(b) == 0 || b[0] != valueVersion {
		return nil, fmt.Errorf("%w: value: unknown format version", ErrCorrupt)
	}
	d := decoder{b: b[1:]}
	v := d.value(0, false)
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d bytes after the value", len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	return v, nil
}

func appendProps(dst []byte, m map[string]any, depth int) ([]byte, error) {
	dst = binary.AppendUvarint(dst, uint64(len(m)))
	for _, k := range sortedKeys(m) {
		dst = appendString(dst, k)
		var err error
		if dst, err = appendValue(dst, m[k], depth+1); err != nil {
			return nil, err
		}
	}
	return dst, nil
}

func appendString(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

func appendValue(dst []byte, v any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: values nest deeper than %d", ErrUnsupported, maxDepth)
	}
	var err error
	switch x := v.(type) {
	case nil:
		return append(dst, encNull), nil
	case bool:
		if x {
			return append(dst, encTrue), nil
		}
		return append(dst, encFalse), nil
	case int64:
		return binary.AppendVarint(append(dst, encInt), x), nil
	case float64:
		return binary.LittleEndian.AppendUint64(append(dst, encFloat), math.Float64bits(x)), nil
	case string:
		return appendString(append(dst, encString), x), nil
	case []any:
		dst = binary.AppendUvarint(append(dst, encList), uint64(len(x)))
		for _, e := range x {
			if dst, err = appendValue(dst, e, depth+1); err != nil {
				return nil, err
			}
		}
		return dst, nil
	case map[string]any:
		return appendProps(append(dst, encMap), x, depth)
	case *Node:
		if x == nil {
			return nil, fmt.Errorf("%w: nil *Node", ErrUnsupported)
		}
		return appendNode(append(dst, encNode), x, depth)
	case *Relationship:
		if x == nil {
			return nil, fmt.Errorf("%w: nil *Relationship", ErrUnsupported)
		}
		return appendRel(append(dst, encRel), x, depth)
	case *Path:
		if x == nil || len(x.Nodes) == 0 || len(x.Rels) != len(x.Nodes)-1 {
			return nil, fmt.Errorf("%w: a path needs one node more than relationships", ErrUnsupported)
		}
		dst = binary.AppendUvarint(append(dst, encPath), uint64(len(x.Nodes)))
		for _, n := range x.Nodes {
			if n == nil {
				return nil, fmt.Errorf("%w: nil *Node in a path", ErrUnsupported)
			}
			if dst, err = appendNode(dst, n, depth); err != nil {
				return nil, err
			}
		}
		for _, r := range x.Rels {
			if r == nil {
				return nil, fmt.Errorf("%w: nil *Relationship in a path", ErrUnsupported)
			}
			if dst, err = appendRel(dst, r, depth); err != nil {
				return nil, err
			}
		}
		return dst, nil
	}
	return nil, fmt.Errorf("%w: Go type %T has no openCypher type", ErrUnsupported, v)
}

func appendNode(dst []byte, n *Node, depth int) ([]byte, error) {
	dst = binary.AppendUvarint(dst, n.ID)
	dst = binary.AppendUvarint(dst, uint64(len(n.Labels)))
	for _, l := range n.Labels {
		dst = appendString(dst, l)
	}
	return appendProps(dst, n.Props, depth)
}

func appendRel(dst []byte, r *Relationship, depth int) ([]byte, error) {
	dst = binary.AppendUvarint(dst, r.ID)
	dst = appendString(dst, r.Type)
	dst = binary.AppendUvarint(dst, r.Start)
	dst = binary.AppendUvarint(dst, r.End)
	return appendProps(dst, r.Props, depth)
}

// decoder reads the binary encoding; its first error sticks and every later read returns a
// zero value, so the decoding functions check d.err once at the end.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail("cut short")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	u, n := binary.Uvarint(d.b)
	if n <= 0 || n != len(binary.AppendUvarint(nil, u)) {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return u
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	i, n := binary.Varint(d.b)
	if n <= 0 || n != len(binary.AppendVarint(nil, i)) {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return i
}

// count reads a count of items that take at least one byte each, so a count larger than the
// bytes left is corrupt rather than a reason to allocate.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("count %d exceeds the %d bytes left", n, len(d.b))
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.fail("string of %d bytes in %d", n, len(d.b))
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// props reads a count and that many entries; property restricts the values to what
// CheckProperty accepts.
func (d *decoder) props(depth int, property bool) map[string]any {
	n := d.count()
	m := make(map[string]any, n)
	prev := ""
	for i := range n {
		k := d.string()
		if d.err == nil && i > 0 && k <= prev {
			d.fail("map keys out of order: %q after %q", k, prev)
		}
		v := d.value(depth+1, property)
		if d.err != nil {
			return nil
		}
		if property {
			if err := CheckProperty(v); err != nil {
				d.fail("property %q: %v", k, err)
				return nil
			}
		}
		m[k], prev = v, k
	}
	return m
}

func (d *decoder) value(depth int, property bool) any {
	if depth > maxDepth {
		d.fail("values nest deeper than %d", maxDepth)
	}
	switch tag := d.byte(); {
	case d.err != nil:
		return nil
	case tag == encNull:
		return nil
	case tag == encFalse || tag == encTrue:
		return tag == encTrue
	case tag == encInt:
		return d.varint()
	case tag == encFloat:
		if len(d.b) < 8 {
			d.fail("float cut short")
			return nil
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
		d.b = d.b[8:]
		return f
	case tag == encString:
		return d.string()
	case tag == encList:
		n := d.count()
		l := make([]any, n)
		for i := range l {
			l[i] = d.value(depth+1, false)
		}
		return l
	case property:
		d.fail("type 0x%02x in a property value", tag)
		return nil
	case tag == encMap:
		return d.props(depth, false)
	case tag == encNode:
		return d.node(depth)
	case tag == encRel:
		return d.rel(depth)
	case tag == encPath:
		n := d.count()
		if d.err == nil && n == 0 {
			d.fail("path without nodes")
		}
		p := &Path{Nodes: make([]*Node, n)}
		for i := range p.Nodes {
			p.Nodes[i] = d.node(depth)
		}
		if n > 0 {
			p.Rels = make([]*Relationship, n-1)
			for i := range p.Rels {
				p.Rels[i] = d.rel(depth)
			}
		}
		return p
	default:
		d.fail("unknown type 0x%02x", tag)
		return nil
	}
}

func (d *decoder) node(depth int) *Node {
	n := &Node{ID: d.uvarint()}
	if c := d.count(); c > 0 {
		n.Labels = make([]string, c)
		for i := range n.Labels {
			n.Labels[i] = d.string()
		}
	}
	n.Props = d.props(depth, false)
	return n
}

func (d *decoder) rel(depth int) *Relationship {
	r := &Relationship{ID: d.uvarint(), Type: d.string(), Start: d.uvarint(), End: d.uvarint()}
	r.Props = d.props(depth, false)
	return r
}

// ChangeProps returns a new map: props changed as SET and REMOVE change them. Without
// replace it starts as a copy of props, with it empty; then set's values are set (a null
// value removes its key) and remove's keys removed.
func ChangeProps(props map[string]any, replace bool, set map[string]any, remove []string) map[string]any {
	out := make(map[string]any, len(props)+len(set))
	if !replace {
		maps.Copy(out, props)
	}
	for k, v := range set {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	for _, k := range remove {
		delete(out, k)
	}
	return out
}
