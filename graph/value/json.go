package value

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ToJSON returns what encoding/json marshals for v in a query's results:
//   - null, booleans, strings, lists and maps as themselves (elements converted);
//   - an INTEGER as a JSON integer; a finite FLOAT as a JSON number that always has a fraction
//     or an exponent (1.0, not 1), so that FromJSON and clients can tell it from an INTEGER;
//   - NaN, +Inf and -Inf, which JSON cannot hold, as the strings "NaN", "Infinity" and
//     "-Infinity" (FromJSON reads them back as strings: the conversion is lossy there);
//   - a node as {"id": 1, "labels": [...], "properties": {...}}, a relationship as
//     {"id": 7, "type": "KNOWS", "start": 1, "end": 2, "properties": {...}}, a path as
//     {"nodes": [...], "relationships": [...]}. Ids are JSON integers (uint64; readers in
//     JavaScript lose precision above 2^53).
//
// A Go value outside the model is returned unchanged.
func ToJSON(v any) any {
	switch x := v.(type) {
	case float64:
		return floatJSON(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = ToJSON(e)
		}
		return out
	case map[string]any:
		return propsJSON(x)
	case *Node:
		return nodeJSON(x)
	case *Relationship:
		return relJSON(x)
	case *Path:
		nodes := make([]any, len(x.Nodes))
		for i, n := range x.Nodes {
			nodes[i] = nodeJSON(n)
		}
		rels := make([]any, len(x.Rels))
		for i, r := range x.Rels {
			rels[i] = relJSON(r)
		}
		return map[string]any{"nodes": nodes, "relationships": rels}
	}
	return v
}

func floatJSON(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return json.Number(s)
}

func propsJSON(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, e := range m {
		out[k] = ToJSON(e)
	}
	return out
}

func nodeJSON(n *Node) map[string]any {
	labels := n.Labels
	if labels == nil {
		labels = []string{}
	}
	return map[string]any{"id": n.ID, "labels": labels, "properties": propsJSON(n.Props)}
}

func relJSON(r *Relationship) map[string]any {
	return map[string]any{"id": r.ID, "type": r.Type, "start": r.Start, "end": r.End, "properties": propsJSON(r.Props)}
}

// FromJSON converts a query parameter from JSON into the model. x is either raw JSON
// (json.RawMessage or []byte holding one JSON value) or a value that encoding/json decoded
// with UseNumber (json.Number, string, bool, nil, []any, map[string]any). Numbers without a
// fraction or exponent become INTEGER (int64; out of its range is an error, never a silent
// FLOAT), numbers with one become FLOAT, arrays lists and objects maps. A float64 is refused:
// it means the JSON was decoded without UseNumber, which already lost integers above 2^53.
func FromJSON(x any) (any, error) {
	switch raw := x.(type) {
	case json.RawMessage:
		return fromRawJSON(raw)
	case []byte:
		return fromRawJSON(raw)
	}
	return fromJSON(x, "")
}

func fromRawJSON(raw []byte) (any, error) {
	if v, ok := plainJSON(raw); ok {
		return v, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("read JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("read JSON: more than one value")
	}
	return fromJSON(v, "")
}

// plainJSON reads raw when it is an integer literal in INTEGER's range or a string without
// escapes, as the decoder would, without one: an import's keys are such values, millions of
// them.
func plainJSON(raw []byte) (any, bool) {
	n := len(raw)
	switch {
	case n >= 2 && raw[0] == '"' && raw[n-1] == '"':
		for _, c := range raw[1 : n-1] {
			if c < 0x20 || c == '"' || c == '\\' {
				return nil, false
			}
		}
		if !utf8.Valid(raw[1 : n-1]) {
			return nil, false
		}
		return string(raw[1 : n-1]), true
	case n > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9'):
		digits := raw
		if raw[0] == '-' {
			digits = raw[1:]
		}
		if len(digits) == 0 || len(digits) > 18 || (digits[0] == '0' && len(digits) > 1) {
			return nil, false // none, a leading zero (not JSON), or perhaps out of range
		}
		var v int64
		for _, c := range digits {
			if c < '0' || c > '9' {
				return nil, false
			}
			v = v*10 + int64(c-'0')
		}
		if raw[0] == '-' {
			v = -v
		}
		return v, true
	}
	return nil, false
}

func fromJSON(x any, at string) (any, error) {
	switch y := x.(type) {
	case nil, bool, string:
		return y, nil
	case json.Number:
		return numberFromJSON(y, at)
	case []any:
		out := make([]any, len(y))
		for i, e := range y {
			v, err := fromJSON(e, "")
			if err != nil {
				// The element's place is named only now: formatting it for every element
				// cost more than reading the element.
				_, err = fromJSON(e, fmt.Sprintf("%s[%d]", at, i))
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(y))
		for k, e := range y {
			v, err := fromJSON(e, "")
			if err != nil {
				_, err = fromJSON(e, fmt.Sprintf("%s[%q]", at, k))
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	case float64:
		return nil, fmt.Errorf("%w%s: float64 %v: decode JSON parameters with UseNumber so that integers stay exact", ErrUnsupported, where(at), y)
	}
	return nil, fmt.Errorf("%w%s: Go type %T is not decoded JSON", ErrUnsupported, where(at), x)
}

func numberFromJSON(n json.Number, at string) (any, error) {
	s := string(n)
	if strings.ContainsAny(s, ".eE") {
		f, err := strconv.ParseFloat(s, 64)
		if errors.Is(err, strconv.ErrRange) {
			return nil, fmt.Errorf("%w%s: number %s is out of the range of FLOAT (64-bit)", ErrUnsupported, where(at), s)
		}
		if err != nil {
			return nil, fmt.Errorf("%w%s: %q is not a number", ErrUnsupported, where(at), s)
		}
		return f, nil
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, fmt.Errorf("%w%s: %q is not a number", ErrUnsupported, where(at), s)
	}
	if err != nil {
		return nil, fmt.Errorf("%w%s: integer %s is out of the range of INTEGER (64-bit signed, %d to %d); write it with a fraction or an exponent for a FLOAT",
			ErrUnsupported, where(at), s, int64(math.MinInt64), int64(math.MaxInt64))
	}
	return i, nil
}
