package value

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestTypeName(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{
		{nil, "NULL"}, {true, "BOOLEAN"}, {int64(1), "INTEGER"}, {1.0, "FLOAT"}, {"", "STRING"}, {l(), "LIST"},
		{map[string]any{}, "MAP"}, {n1, "NODE"}, {r7, "RELATIONSHIP"}, {p1, "PATH"}, {int32(1), "<int32>"}, {[]string{}, "<[]string>"},
	} {
		if got := TypeName(c.v); got != c.want {
			t.Errorf("TypeName(%#v) = %q, want %q", c.v, got, c.want)
		}
	}
}

// TestNormalize: Go clients' parameters become values of the model.
func TestNormalize(t *testing.T) {
	type myInt int16
	for _, c := range []struct {
		in, want any
	}{
		{nil, nil}, {true, true}, {"s", "s"}, {int64(-5), int64(-5)}, {2.5, 2.5},
		{7, int64(7)}, {int8(-8), int64(-8)}, {int16(16), int64(16)}, {int32(-32), int64(-32)}, {uint8(8), int64(8)},
		{uint16(16), int64(16)}, {uint32(math.MaxUint32), int64(math.MaxUint32)}, {uint(9), int64(9)},
		{uint64(math.MaxInt64), int64(math.MaxInt64)}, {float32(0.5), 0.5}, {myInt(3), int64(3)},
		{[]string{"a", "b"}, l("a", "b")}, {[2]int{1, 2}, l(int64(1), int64(2))}, {[]int(nil), l()},
		{map[string]string{"k": "v"}, map[string]any{"k": "v"}},
		{map[string][]float32{"k": {1.5}}, map[string]any{"k": l(1.5)}},
		{l(1, l(uint8(2)), map[string]int{"x": 3}), l(int64(1), l(int64(2)), map[string]any{"x": int64(3)})},
		{n1, n1}, {r7, r7}, {p12, p12},
	} {
		got, err := Normalize(c.in)
		if err != nil || Compare(got, c.want) != 0 || Key(got) != Key(c.want) || TypeName(got) != TypeName(c.want) {
			t.Errorf("Normalize(%#v) = %#v, %v; want %#v", c.in, got, err, c.want)
		}
	}
}

// TestNormalizeRefuses: anything without an openCypher type, with an error saying what and
// where.
func TestNormalizeRefuses(t *testing.T) {
	for _, c := range []struct {
		in   any
		want string
	}{
		{uint64(math.MaxInt64 + 1), "9223372036854775808 is out of the range of INTEGER"},
		{uint(math.MaxUint64), "out of the range of INTEGER"},
		{struct{}{}, "Go type struct {} has no openCypher type"},
		{make(chan int), "chan int"},
		{[]byte("x"), "[]uint8: bytes have no openCypher type"}, {json.RawMessage("1"), "json.RawMessage: bytes"},
		{map[int]string{1: "a"}, "map keys must be strings"},
		{(*Node)(nil), "nil *Node"}, {(*Relationship)(nil), "nil *Relationship"}, {(*Path)(nil), "nil *Path"},
		{l(int64(1), l(struct{}{})), "at [1][0]: Go type struct {}"},
		{map[string]any{"k": []any{complex(1, 1)}}, `at ["k"][0]: Go type complex128`},
	} {
		_, err := Normalize(c.in)
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Normalize(%#v) = %v, want ErrUnsupported with %q", c.in, err, c.want)
		}
	}
}

// TestCheckProperty: openCypher stores booleans, integers, floats, strings and homogeneous
// lists of them; never null.
func TestCheckProperty(t *testing.T) {
	for _, v := range []any{true, int64(1), 1.5, nan, inf, "", l(), l("a", "b"), l(int64(1)), l(1.0, 2.5), l(false)} {
		if err := CheckProperty(v); err != nil {
			t.Errorf("CheckProperty(%s) = %v, want nil", show(v), err)
		}
	}
	for _, c := range []struct {
		v    any
		want string
	}{
		{nil, "null is never stored"},
		{l(int64(1), nil), "cannot hold null (element 1)"},
		{l(int64(1), 2.0), "element 0 is an INTEGER and element 1 a FLOAT"},
		{l("a", true), "element 0 is a STRING and element 1 a BOOLEAN"},
		{l(l()), "element 0 is a LIST"},
		{l(map[string]any{}), "element 0 is a MAP"},
		{map[string]any{}, "a MAP cannot be stored"},
		{n1, "a NODE cannot be stored"}, {r7, "a RELATIONSHIP cannot be stored"}, {p1, "a PATH cannot be stored"},
		{1, "a <int> cannot be stored"},
	} {
		err := CheckProperty(c.v)
		if !errors.Is(err, ErrNotProperty) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("CheckProperty(%s) = %v, want ErrNotProperty with %q", show(c.v), err, c.want)
		}
	}
}
