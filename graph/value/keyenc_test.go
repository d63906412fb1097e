package value

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"testing"
)

func mustKey(t *testing.T, v any) []byte {
	t.Helper()
	b, err := AppendKey(nil, v)
	if err != nil {
		t.Fatalf("AppendKey(%s): %v", show(v), err)
	}
	return b
}

// sameScalar: a DecodeKey result is the value encoded, type included; -0.0 comes back as 0.0
// and every NaN as the one NaN (the key is of the value, and they are equal or equivalent).
func sameScalar(a, b any) bool {
	fa, aok := a.(float64)
	fb, bok := b.(float64)
	if aok && bok {
		return math.IsNaN(fa) && math.IsNaN(fb) || fa == fb
	}
	return TypeName(a) == TypeName(b) && a == b
}

// TestKeyOrderTable: the encodings of these scalars sort as the values do (each strictly
// before the next: one type family after another, in the global sort order; numbers across
// INTEGER and FLOAT numerically, and 1 just before 1.0).
func TestKeyOrderTable(t *testing.T) {
	ascending := []any{
		"", "\x00", "\x00\x00", "\x01", "\x02", "a", "a\x00", "aa", "a{", "a|", "a}", "z", "{", "|", "}", "~", "é", "😀", "\xff",
		false, true,
		ninf, -math.MaxFloat64, -float64(1<<63) * 2, -float64(1 << 63), int64(math.MinInt64 + 1), int64(-124), -123.5, int64(-123),
		-123.0, int64(-1), -1.0, -0.5, -1e-300, int64(0), 0.0, 1e-300, 0.5, 0.75, int64(1), 1.0, 1.5, int64(0x7B), int64(0x7D),
		float64(1 << 53), int64(1<<53 + 1), int64(math.MaxInt64 - 1), int64(math.MaxInt64), float64(1 << 63), math.MaxFloat64, inf, nan,
	}
	keys := make([][]byte, len(ascending))
	for i, v := range ascending {
		keys[i] = mustKey(t, v)
	}
	for i := 1; i < len(keys); i++ {
		if bytes.Compare(keys[i-1], keys[i]) >= 0 {
			t.Errorf("key of %s (%x) is not before key of %s (%x)", show(ascending[i-1]), keys[i-1], show(ascending[i]), keys[i])
		}
	}
}

// TestEqualityPrefix: 1 and 1.0 encode differently (DecodeKey gives each back) but share
// EqualityPrefix, which begins no other value's key.
func TestEqualityPrefix(t *testing.T) {
	for _, c := range [][2]any{
		{int64(1), 1.0}, {int64(0), math.Copysign(0, -1)}, {int64(-7), -7.0}, {int64(math.MinInt64), -float64(1 << 63)},
		{int64(1 << 53), float64(1 << 53)},
	} {
		ki, kf := mustKey(t, c[0]), mustKey(t, c[1])
		pi, _ := EqualityPrefix(c[0])
		pf, _ := EqualityPrefix(c[1])
		if bytes.Equal(ki, kf) || !bytes.Equal(pi, pf) || !bytes.HasPrefix(ki, pi) || !bytes.HasPrefix(kf, pi) {
			t.Errorf("%s and %s: keys %x, %x; prefixes %x, %x", show(c[0]), show(c[1]), ki, kf, pi, pf)
		}
	}
	p, _ := EqualityPrefix(int64(1 << 53))
	if k := mustKey(t, int64(1<<53+1)); bytes.HasPrefix(k, p) {
		t.Errorf("2^53+1's key %x starts with 2^53's equality prefix %x", k, p)
	}
	p, _ = EqualityPrefix("ab")
	if k := mustKey(t, "abc"); bytes.HasPrefix(k, p) {
		t.Errorf("'abc' key %x starts with the equality prefix of 'ab' %x", k, p)
	}
}

// TestAppendKeyRefuses: null is never stored, and lists, maps and graph values are not index
// keys.
func TestAppendKeyRefuses(t *testing.T) {
	for _, v := range []any{nil, l(int64(1)), map[string]any{}, n1, r7, p1, 1} {
		if _, err := AppendKey(nil, v); !errors.Is(err, ErrUnsupported) {
			t.Errorf("AppendKey(%s) = %v, want ErrUnsupported", show(v), err)
		}
		if _, err := EqualityPrefix(v); !errors.Is(err, ErrUnsupported) {
			t.Errorf("EqualityPrefix(%s) = %v, want ErrUnsupported", show(v), err)
		}
	}
}

// TestDecodeKeyRefuses: bytes AppendKey never writes are corrupt, never another value.
func TestDecodeKeyRefuses(t *testing.T) {
	one := mustKey(t, int64(1))
	half := mustKey(t, 0.5)
	for name, b := range map[string][]byte{
		"empty":                      {},
		"unknown tag":                {0x11},
		"null tag":                   {tagNull},
		"bad boolean":                {tagBool, 0x03},
		"boolean cut":                {tagBool},
		"string not terminated":      {tagString, 'a'},
		"bad string escape":          {tagString, strEsc, 0x03, term},
		"brace in a string":          {tagString, '{', term},
		"bad brace escape":           {tagString, braceEsc, 0x04, term},
		"number cut":                 one[:5],
		"number class":               {tagNumber, 0x05},
		"no suffix":                  one[:len(one)-1],
		"bad suffix":                 append(slices.Clone(one[:len(one)-1]), 0x03),
		"integer with a fraction":    append(slices.Clone(half[:len(half)-1]), suffixInt),
		"fraction marker bad":        append(slices.Clone(one[:len(one)-2]), 0x04, suffixInt),
		"NaN as an integer":          {tagNumber, numNaN, suffixInt},
		"small number in high class": {tagNumber, numHigh, 0, 0, 0, 0, 0, 0, 0, 1, suffixFloat},
		"fraction of one":            append(append([]byte{tagNumber, numMid}, appendFixed64(nil, 1<<63)...), append(append([]byte{fracPos}, appendFixed64(nil, math.Float64bits(1))...), suffixFloat)...),
	} {
		if v, _, err := DecodeKey(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: DecodeKey(%x) = %v, %v; want ErrCorrupt", name, b, v, err)
		}
	}
}

// TestKeyProperties, on random scalars: order agreement with Compare, round trip through
// DecodeKey with whatever follows, no brace byte anywhere, and EqualityPrefix beginning
// exactly the keys of equal values.
func TestKeyProperties(t *testing.T) {
	g := newGen(t, 2)
	type entry struct {
		v          any
		key, equal []byte
	}
	es := make([]entry, 4000)
	for i := range es {
		v := g.scalar()
		k := mustKey(t, v)
		p, err := EqualityPrefix(v)
		if err != nil || !bytes.HasPrefix(k, p) {
			t.Fatalf("EqualityPrefix(%s) = %x, %v: not a prefix of %x", show(v), p, err, k)
		}
		if bytes.ContainsAny(k, "{}") {
			t.Fatalf("key of %s holds a brace: %x", show(v), k)
		}
		tail := []byte("{tag}")
		got, rest, err := DecodeKey(append(slices.Clone(k), tail...))
		if err != nil || !sameScalar(got, v) || !bytes.Equal(rest, tail) {
			t.Fatalf("DecodeKey(key of %s) = %s, %q, %v", show(v), show(got), rest, err)
		}
		es[i] = entry{v, k, p}
	}
	for range 40000 {
		a, b := es[g.r.IntN(len(es))], es[g.r.IntN(len(es))]
		c := Compare(a.v, b.v)
		if kc := bytes.Compare(a.key, b.key); c != 0 && kc != c {
			t.Fatalf("Compare(%s, %s) = %d, keys compare %d", show(a.v), show(b.v), c, kc)
		}
		if got := bytes.HasPrefix(b.key, a.equal); got != (c == 0) {
			t.Fatalf("key of %s starts with the equality prefix of %s: %v, but Compare = %d", show(b.v), show(a.v), got, c)
		}
	}
}
