package value

import (
	"bytes"
	"fmt"
	"math"
)

// The order-preserving encoding (index entries: AppendKey, EqualityPrefix, DecodeKey) and the
// canonical encoding of equivalence (Key) share one layout, byte for byte:
//
//	value   = tag payload
//	tag     = 0x10 map | 0x20 node | 0x28 relationship | 0x30 list | 0x38 path |
//	          0x40 string | 0x50 boolean | 0x60 number | 0x70 null
//	          (ascending in openCypher's global sort order)
//	map     = (0x01 string-body value)* 0x00           entries sorted by key
//	node    = fixed64(id)        relationship = fixed64(id)
//	list    = value* 0x00        path = node-value (rel-value node-value)* 0x00
//	string  = string-body        string-body = escaped bytes, then 0x00
//	boolean = 0x01 false | 0x02 true
//	number  = class [suffix]
//	class   = 0x01 fixed64(^bits)                 a float below -2^63, -Inf included
//	        | 0x02 fixed64(t ^ 2^63) fraction     t = the integer part (truncated), in int64
//	        | 0x03 fixed64(bits)                  a float at or above 2^63, +Inf included
//	        | 0x04                                NaN (every NaN)
//	fraction= 0x01 fixed64(^bits(r)) | 0x02 | 0x03 fixed64(bits(r))   r = x - t <0, =0, >0
//	suffix  = 0x01 INTEGER | 0x02 FLOAT           AppendKey only; Key leaves it out
//	fixed64 = 8 bytes big-endian, each escaped as below
//
// Escaping keeps the hash-tag braces '{' (0x7B) and '}' (0x7D) out of every encoding and keeps
// byte order: 0x7B, 0x7C, 0x7D become 0x7C 0x01, 0x7C 0x02, 0x7C 0x03; in a string-body 0x00
// and 0x01 also become 0x01 0x01 and 0x01 0x02, so that the terminator 0x00 sorts before any
// byte. Every value's encoding is prefix-free, so encodings concatenate.
//
// Numbers: x is split into its integer part t = trunc(x) and fraction r = x - t (exact for a
// float64, with r's sign x's); (t, r) in lexicographic order is numeric order, because the
// values with one t fill (t-1, t] for t < 0, (-1, 1) for t = 0 and [t, t+1) for t > 0. An
// INTEGER and a FLOAT of equal value therefore share class and fraction and differ only in the
// suffix: 1 sorts just before 1.0, and EqualityPrefix (the encoding without the suffix) finds
// both. The same bytes without suffixes make Key treat them as one, as equivalence does.
const (
	tagMap    = 0x10
	tagNode   = 0x20
	tagRel    = 0x28
	tagList   = 0x30
	tagPath   = 0x38
	tagString = 0x40
	tagBool   = 0x50
	tagNumber = 0x60
	tagNull   = 0x70

	term      = 0x00 // ends a string-body, list, map or path
	mapEntry  = 0x01
	boolFalse = 0x01
	boolTrue  = 0x02

	numLow  = 0x01
	numMid  = 0x02
	numHigh = 0x03
	numNaN  = 0x04

	fracNeg  = 0x01
	fracZero = 0x02
	fracPos  = 0x03

	suffixInt   = 0x01
	suffixFloat = 0x02

	braceEsc = 0x7C // '|', the escape of 0x7B..0x7D; itself escaped
	strEsc   = 0x01 // the escape of 0x00 and 0x01 in a string-body
)

// AppendKey appends the order-preserving encoding of a scalar v (BOOLEAN, INTEGER, FLOAT,
// STRING) to dst, for index entries. Contract:
//   - for values a, b whose Compare is not 0, bytes.Compare of their encodings has the same
//     sign; this holds across INTEGER and FLOAT (numerically, exactly) and across types (in the
//     global sort order);
//   - values that Compare calls 0 (1 and 1.0) have different encodings that share
//     EqualityPrefix(v), and no other value's encoding starts with that prefix;
//   - the encoding never contains the bytes '{' or '}', and is prefix-free, so anything may
//     follow it (DecodeKey returns the rest);
//   - DecodeKey gives back v with its type.
//
// null, lists, maps and graph values are refused (ErrUnsupported): null is never stored, and
// equality of lists holding 1 and 1.0 would need a prefix per element.
func AppendKey(dst []byte, v any) ([]byte, error) {
	return appendScalar(dst, v, false)
}

// EqualityPrefix returns the bytes that begin the AppendKey encoding of every value equal to v
// (for a number, of the INTEGER and the FLOAT of its value) and of no other value: an equality
// lookup scans the keys with this prefix. For NaN it is the prefix of every NaN, which `=`
// never matches; the caller answers NaN = x itself. It refuses what AppendKey refuses.
func EqualityPrefix(v any) ([]byte, error) {
	return appendScalar(nil, v, true)
}

func appendScalar(dst []byte, v any, canonical bool) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return dst, fmt.Errorf("%w: null has no key encoding (null is never stored)", ErrUnsupported)
	case bool, string:
		return appendValueKey(dst, x, true), nil
	case int64, float64:
		return appendNumber(dst, x, canonical), nil
	}
	return dst, fmt.Errorf("%w: %s has no key encoding (only booleans, integers, floats and strings)", ErrUnsupported, WithArticle(v))
}

// DecodeKey decodes the AppendKey encoding at the start of b and returns the value and the
// bytes after it. Bytes that AppendKey would not have written (a bad tag or escape, a
// non-canonical number, a missing terminator) give an error wrapping ErrCorrupt. The key holds
// a number's value and type, not its bits: -0.0 decodes as 0.0 and every NaN as math.NaN().
func DecodeKey(b []byte) (v any, rest []byte, err error) {
	if len(b) == 0 {
		return nil, b, fmt.Errorf("%w: empty key", ErrCorrupt)
	}
	switch b[0] {
	case tagBool:
		if len(b) < 2 || (b[1] != boolFalse && b[1] != boolTrue) {
			return nil, b, fmt.Errorf("%w: bad boolean", ErrCorrupt)
		}
		return b[1] == boolTrue, b[2:], nil
	case tagString:
		s, rest, err := readStringBody(b[1:])
		return s, rest, err
	case tagNumber:
		return decodeNumber(b)
	}
	return nil, b, fmt.Errorf("%w: key tag 0x%02x is not a scalar's", ErrCorrupt, b[0])
}

// Key returns the canonical encoding of v for DISTINCT and grouping: Key(a) == Key(b) exactly
// when a and b are equivalent in openCypher's sense, which is equality except that null is
// equivalent to null and NaN to NaN, inside lists and maps too. So 1 and 1.0 share a key (the
// CIP defines equivalence as equality, and 1 = 1.0), [null] and [null] share one, {k: null}
// and {} do not (different keys), and nodes, relationships and paths are keyed by their ids.
// Moreover the keys sort as the values do: bytes.Compare(Key(a), Key(b)) == Compare(a, b).
//
// v must be a value of the model; other Go types panic.
func Key(v any) string {
	return string(appendValueKey(nil, v, true))
}

// appendValueKey appends the encoding of any model value; canonical leaves out the number
// suffixes (Key); AppendKey's scalars keep them.
func appendValueKey(dst []byte, v any, canonical bool) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, tagNull)
	case bool:
		if x {
			return append(dst, tagBool, boolTrue)
		}
		return append(dst, tagBool, boolFalse)
	case int64, float64:
		return appendNumber(dst, x, canonical)
	case string:
		return appendStringBody(append(dst, tagString), x)
	case []any:
		dst = append(dst, tagList)
		for _, e := range x {
			dst = appendValueKey(dst, e, canonical)
		}
		return append(dst, term)
	case map[string]any:
		dst = append(dst, tagMap)
		for _, k := range sortedKeys(x) {
			dst = appendStringBody(append(dst, mapEntry), k)
			dst = appendValueKey(dst, x[k], canonical)
		}
		return append(dst, term)
	case *Node:
		return appendFixed64(append(dst, tagNode), x.ID)
	case *Relationship:
		return appendFixed64(append(dst, tagRel), x.ID)
	case *Path:
		dst = append(dst, tagPath)
		for i, n := range x.Nodes {
			if i > 0 && i-1 < len(x.Rels) {
				dst = appendFixed64(append(dst, tagRel), x.Rels[i-1].ID)
			}
			dst = appendFixed64(append(dst, tagNode), n.ID)
		}
		return append(dst, term)
	}
	panic(fmt.Sprintf("value.Key: %s is not a value of the model", TypeName(v)))
}

func appendNumber(dst []byte, v any, canonical bool) []byte {
	dst = append(dst, tagNumber)
	suffix := byte(suffixFloat)
	switch x := v.(type) {
	case int64:
		suffix = suffixInt
		dst = appendFixed64(append(dst, numMid), uint64(x)^(1<<63))
		dst = append(dst, fracZero)
	case float64:
		switch {
		case math.IsNaN(x):
			dst = append(dst, numNaN)
		case x < -twoTo63:
			dst = appendFixed64(append(dst, numLow), ^math.Float64bits(x))
		case x >= twoTo63:
			dst = appendFixed64(append(dst, numHigh), math.Float64bits(x))
		default:
			t := math.Trunc(x)
			r := x - t
			dst = appendFixed64(append(dst, numMid), uint64(int64(t))^(1<<63))
			switch {
			case r < 0:
				dst = appendFixed64(append(dst, fracNeg), ^math.Float64bits(r))
			case r > 0:
				dst = appendFixed64(append(dst, fracPos), math.Float64bits(r))
			default: // 0 and -0
				dst = append(dst, fracZero)
			}
		}
	}
	if canonical {
		return dst
	}
	return append(dst, suffix)
}

// decodeNumber decodes a number key (tag included) and insists it is the one encoding of its
// value: it re-encodes what it read and compares, which rules out every malformed combination
// (an INTEGER with a fraction, a fraction of 1 or more, a FLOAT class holding a value of
// another class, ...) with one check.
func decodeNumber(b []byte) (any, []byte, error) {
	if len(b) < 2 {
		return nil, b, fmt.Errorf("%w: number cut short", ErrCorrupt)
	}
	rest := b[2:]
	var (
		u, fr uint64
		frac  byte
		err   error
	)
	switch b[1] {
	case numLow, numHigh:
		u, rest, err = readFixed64(rest)
	case numMid:
		if u, rest, err = readFixed64(rest); err != nil {
			break
		}
		if len(rest) == 0 {
			return nil, b, fmt.Errorf("%w: number fraction missing", ErrCorrupt)
		}
		frac, rest = rest[0], rest[1:]
		if frac == fracNeg || frac == fracPos {
			fr, rest, err = readFixed64(rest)
		}
	case numNaN:
	default:
		return nil, b, fmt.Errorf("%w: number class 0x%02x", ErrCorrupt, b[1])
	}
	if err != nil {
		return nil, b, err
	}
	if len(rest) == 0 {
		return nil, b, fmt.Errorf("%w: number type suffix missing", ErrCorrupt)
	}
	suffix := rest[0]
	rest = rest[1:]
	var v any
	switch {
	case suffix == suffixInt && b[1] == numMid && frac == fracZero:
		v = int64(u ^ (1 << 63))
	case suffix == suffixFloat:
		switch b[1] {
		case numLow:
			v = math.Float64frombits(^u)
		case numHigh:
			v = math.Float64frombits(u)
		case numNaN:
			v = math.NaN()
		default:
			f := float64(int64(u ^ (1 << 63)))
			switch frac {
			case fracNeg:
				f += math.Float64frombits(^fr)
			case fracPos:
				f += math.Float64frombits(fr)
			}
			v = f
		}
	default:
		return nil, b, fmt.Errorf("%w: number type suffix 0x%02x", ErrCorrupt, suffix)
	}
	if read := b[:len(b)-len(rest)]; !bytes.Equal(appendNumber(nil, v, false), read) {
		return nil, b, fmt.Errorf("%w: not the canonical encoding of a number", ErrCorrupt)
	}
	return v, rest, nil
}

// appendFixed64 appends u big-endian, each byte brace-escaped: fixed-length fields compare as
// their numbers because the escape preserves byte order and is prefix-free.
func appendFixed64(dst []byte, u uint64) []byte {
	for shift := 56; shift >= 0; shift -= 8 {
		dst = appendBraceEscaped(dst, byte(u>>shift))
	}
	return dst
}

func appendBraceEscaped(dst []byte, c byte) []byte {
	if c >= 0x7B && c <= 0x7D {
		return append(dst, braceEsc, c-0x7B+1)
	}
	return append(dst, c)
}

func readFixed64(b []byte) (uint64, []byte, error) {
	var u uint64
	for range 8 {
		c, rest, err := readBraceEscaped(b)
		if err != nil {
			return 0, b, err
		}
		u, b = u<<8|uint64(c), rest
	}
	return u, b, nil
}

func readBraceEscaped(b []byte) (byte, []byte, error) {
	switch {
	case len(b) == 0:
		return 0, b, fmt.Errorf("%w: cut short", ErrCorrupt)
	case b[0] == 0x7B || b[0] == 0x7D:
		return 0, b, fmt.Errorf("%w: brace byte 0x%02x", ErrCorrupt, b[0])
	case b[0] != braceEsc:
		return b[0], b[1:], nil
	case len(b) < 2 || b[1] < 1 || b[1] > 3:
		return 0, b, fmt.Errorf("%w: bad escape", ErrCorrupt)
	}
	return 0x7B + b[1] - 1, b[2:], nil
}

// appendStringBody appends s escaped and terminated (see the layout above).
func appendStringBody(dst []byte, s string) []byte {
	for i := range len(s) {
		switch c := s[i]; c {
		case 0x00, 0x01:
			dst = append(dst, strEsc, c+1)
		default:
			dst = appendBraceEscaped(dst, c)
		}
	}
	return append(dst, term)
}

func readStringBody(b []byte) (string, []byte, error) {
	var out []byte
	for {
		switch {
		case len(b) == 0:
			return "", b, fmt.Errorf("%w: string not terminated", ErrCorrupt)
		case b[0] == term:
			return string(out), b[1:], nil
		case b[0] == strEsc:
			if len(b) < 2 || b[1] < 1 || b[1] > 2 {
				return "", b, fmt.Errorf("%w: bad escape in a string", ErrCorrupt)
			}
			out, b = append(out, b[1]-1), b[2:]
		default:
			c, rest, err := readBraceEscaped(b)
			if err != nil {
				return "", b, err
			}
			out, b = append(out, c), rest
		}
	}
}
