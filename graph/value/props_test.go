package value

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"
)

// TestPropsRoundTrip: every property map CheckProperty allows decodes to what was encoded,
// NaN and the infinities included.
func TestPropsRoundTrip(t *testing.T) {
	for name, m := range map[string]map[string]any{
		"empty":   {},
		"scalars": {"name": "Ann", "age": int64(42), "score": 0.5, "ok": true, "": "empty key", "big": int64(math.MinInt64)},
		"floats":  {"nan": nan, "inf": inf, "ninf": ninf, "negzero": math.Copysign(0, -1), "max": math.MaxFloat64},
		"lists":   {"tags": l("a", "b"), "none": l(), "ints": l(int64(1), int64(-1)), "flags": l(true, false), "fs": l(1.5, 2.0)},
		"unicode": {"é😀": "{tag}|\x00"},
	} {
		b, err := EncodeProps(m)
		if err != nil {
			t.Fatalf("%s: EncodeProps: %v", name, err)
		}
		if b[0] != propsVersion {
			t.Errorf("%s: no version byte: %x", name, b)
		}
		got, err := DecodeProps(b)
		if err != nil {
			t.Fatalf("%s: DecodeProps(%x): %v", name, b, err)
		}
		if !sameValue(got, m) {
			t.Errorf("%s: DecodeProps gives %#v, want %#v", name, got, m)
		}
	}
	if b, err := EncodeProps(nil); err != nil || len(b) != 2 {
		t.Errorf("EncodeProps(nil) = %x, %v; want the version and a zero count", b, err)
	}
}

// sameValue is deep equality that tells INTEGER from FLOAT, -0.0 from 0.0 and takes NaN as
// equal to NaN: what a binary round trip must keep.
func sameValue(a, b any) bool {
	ea, erra := EncodeValue(a)
	eb, errb := EncodeValue(b)
	return erra == nil && errb == nil && bytes.Equal(ea, eb)
}

// TestPropsDeterministic: one map gives one encoding, whatever Go's map order (keys sorted).
func TestPropsDeterministic(t *testing.T) {
	m := map[string]any{}
	for _, k := range []string{"z", "a", "m", "b", "y", "c", "x", "d"} {
		m[k] = k
	}
	first, _ := EncodeProps(m)
	for range 50 {
		if b, _ := EncodeProps(m); !bytes.Equal(b, first) {
			t.Fatalf("EncodeProps gave %x then %x", first, b)
		}
	}
}

// TestEncodePropsRefuses: what CheckProperty refuses is not stored, and the error names the key.
func TestEncodePropsRefuses(t *testing.T) {
	for _, v := range []any{nil, l(int64(1), "a"), l(nil), map[string]any{}, n1, l(l())} {
		_, err := EncodeProps(map[string]any{"bad": v})
		if !errors.Is(err, ErrNotProperty) || !bytes.Contains([]byte(err.Error()), []byte(`"bad"`)) {
			t.Errorf("EncodeProps({bad: %s}) = %v, want ErrNotProperty naming the key", show(v), err)
		}
	}
}

// TestDecodePropsRefuses: input EncodeProps cannot have written is corrupt.
func TestDecodePropsRefuses(t *testing.T) {
	good, _ := EncodeProps(map[string]any{"a": int64(1), "b": "x"})
	mapValue, _ := EncodeValue(map[string]any{"a": map[string]any{}})
	nullValue, _ := EncodeValue(map[string]any{"a": nil})
	for name, b := range map[string][]byte{
		"empty":              {},
		"other version":      {2, 0},
		"cut":                good[:len(good)-1],
		"trailing":           append(append([]byte{}, good...), 0),
		"keys out of order":  {propsVersion, 2, 1, 'b', encTrue, 1, 'a', encTrue},
		"duplicate key":      {propsVersion, 2, 1, 'a', encTrue, 1, 'a', encTrue},
		"huge count":         {propsVersion, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"non-minimal varint": {propsVersion, 0x81, 0x00, 1, 'a', encTrue},
		"map value":          append([]byte{propsVersion}, mapValue[2:]...),
		"null value":         append([]byte{propsVersion}, nullValue[2:]...),
		"mixed list":         {propsVersion, 1, 1, 'a', encList, 2, encTrue, encInt, 2},
		"unknown type":       {propsVersion, 1, 1, 'a', 0x20},
		"float cut":          {propsVersion, 1, 1, 'a', encFloat, 0, 0},
		"string cut":         {propsVersion, 1, 1, 'a', encString, 5, 'x'},
	} {
		if m, err := DecodeProps(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: DecodeProps(%x) = %v, %v; want ErrCorrupt", name, b, m, err)
		}
	}
}

// TestValueRoundTrip: any value of the model, graph values and nesting included.
func TestValueRoundTrip(t *testing.T) {
	deep := any(int64(1))
	for range maxDepth {
		deep = l(deep)
	}
	for name, v := range map[string]any{
		"null":         nil,
		"mixed list":   l(int64(1), "a", nil, 2.5, l(true), map[string]any{"k": nil}),
		"map":          map[string]any{"a": l(), "b": map[string]any{"c": nil}},
		"node":         &Node{ID: 42, Labels: []string{"Person", "Admin"}, Props: map[string]any{"name": "Ann"}},
		"relationship": &Relationship{ID: 1 << 60, Type: "KNOWS", Start: 1, End: 2, Props: map[string]any{"since": int64(2001)}},
		"path":         &Path{Nodes: []*Node{{ID: 1, Props: map[string]any{}}, {ID: 2, Props: map[string]any{}}}, Rels: []*Relationship{{ID: 9, Type: "T", Start: 2, End: 1, Props: map[string]any{}}}},
		"deep":         deep,
	} {
		b, err := EncodeValue(v)
		if err != nil {
			t.Fatalf("%s: EncodeValue: %v", name, err)
		}
		got, err := DecodeValue(b)
		if err != nil {
			t.Fatalf("%s: DecodeValue(%x): %v", name, b, err)
		}
		if again, _ := EncodeValue(got); !bytes.Equal(again, b) || Compare(got, v) != 0 || TypeName(got) != TypeName(v) {
			t.Errorf("%s: DecodeValue gives %#v, want %#v", name, got, v)
		}
	}
	n := &Node{ID: 3, Labels: []string{"A"}, Props: map[string]any{"x": int64(1)}}
	got, _ := EncodeValue(n)
	back, _ := DecodeValue(got)
	if bn := back.(*Node); bn.ID != 3 || len(bn.Labels) != 1 || bn.Labels[0] != "A" || bn.Props["x"] != int64(1) {
		t.Errorf("node decodes as %#v", bn)
	}
}

// TestValueRandomRoundTrip: random values of the model survive EncodeValue and DecodeValue
// byte for byte, and random property maps EncodeProps and DecodeProps.
func TestValueRandomRoundTrip(t *testing.T) {
	g := newGen(t, 3)
	for range 3000 {
		v := g.value(3)
		b, err := EncodeValue(v)
		if err != nil {
			t.Fatalf("EncodeValue(%s): %v", show(v), err)
		}
		got, err := DecodeValue(b)
		if err != nil {
			t.Fatalf("DecodeValue(EncodeValue(%s)): %v", show(v), err)
		}
		if again, _ := EncodeValue(got); !bytes.Equal(again, b) || Compare(got, v) != 0 {
			t.Fatalf("%s round trips to %s", show(v), show(got))
		}

		m := map[string]any{}
		for range g.r.IntN(5) {
			m[g.string()] = g.property()
		}
		pb, err := EncodeProps(m)
		if err != nil {
			t.Fatalf("EncodeProps(%v): %v", m, err)
		}
		if pm, err := DecodeProps(pb); err != nil || !sameValue(pm, m) {
			t.Fatalf("props %v round trip to %v, %v", m, pm, err)
		}
	}
}

// TestEncodeValueRefuses: Go values outside the model, malformed paths and nesting deeper than
// the decoder accepts.
func TestEncodeValueRefuses(t *testing.T) {
	deep := any(int64(1))
	for range maxDepth + 1 {
		deep = l(deep)
	}
	for name, v := range map[string]any{
		"int":            1,
		"nested int":     l(map[string]any{"a": int32(1)}),
		"nil node":       (*Node)(nil),
		"nil rel":        (*Relationship)(nil),
		"nil path":       (*Path)(nil),
		"empty path":     &Path{},
		"path counts":    &Path{Nodes: []*Node{n1, n2}},
		"nil path node":  &Path{Nodes: []*Node{nil}},
		"nil path rel":   &Path{Nodes: []*Node{n1, n2}, Rels: []*Relationship{nil}},
		"too deep":       deep,
		"bad node props": &Node{ID: 1, Props: map[string]any{"a": struct{}{}}},
	} {
		if _, err := EncodeValue(v); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: EncodeValue = %v, want ErrUnsupported", name, err)
		}
	}
}

// TestDecodeValueRefuses: input EncodeValue cannot have written is corrupt.
func TestDecodeValueRefuses(t *testing.T) {
	nest := []byte{valueVersion}
	for range maxDepth + 2 {
		nest = append(nest, encList, 1)
	}
	nest = append(nest, encNull)
	for name, b := range map[string][]byte{
		"empty":           {},
		"other version":   {9, encNull},
		"nothing":         {valueVersion},
		"trailing":        {valueVersion, encNull, encNull},
		"unknown type":    {valueVersion, 0x0B},
		"path of nothing": {valueVersion, encPath, 0},
		"path cut":        {valueVersion, encPath, 2, 1, 0, 0},
		"too deep":        nest,
		"varint overflow": {valueVersion, encInt, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"list count":      {valueVersion, encList, 5, encNull},
	} {
		if v, err := DecodeValue(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: DecodeValue(%x) = %v, %v; want ErrCorrupt", name, b, v, err)
		}
	}
}

func TestChangeProps(t *testing.T) {
	props := map[string]any{"a": int64(1), "b": "x", "c": true}
	got := ChangeProps(props, false, map[string]any{"a": int64(2), "b": nil, "d": 1.5}, []string{"c"})
	if !reflect.DeepEqual(got, map[string]any{"a": int64(2), "d": 1.5}) {
		t.Errorf("merge: %v", got)
	}
	if got := ChangeProps(props, true, map[string]any{"z": "new", "y": nil}, nil); !reflect.DeepEqual(got, map[string]any{"z": "new"}) {
		t.Errorf("replace: %v", got)
	}
	if !reflect.DeepEqual(props, map[string]any{"a": int64(1), "b": "x", "c": true}) {
		t.Errorf("the map changed was not copied: %v", props)
	}
}
