package value

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"testing"
)

// FuzzDecodeKey: DecodeKey never panics, and what it decodes re-encodes to exactly the bytes
// it consumed (DecodeKey accepts only canonical encodings), without a brace.
func FuzzDecodeKey(f *testing.F) {
	for _, v := range []any{true, int64(0), int64(math.MinInt64), -0.5, 1e300, math.Inf(-1), math.NaN(), "", "a{b}\x00\x01|é"} {
		k, _ := AppendKey(nil, v)
		f.Add(k)
	}
	f.Add([]byte{tagNumber, numMid})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, rest, err := DecodeKey(b)
		if err != nil {
			return
		}
		k, err := AppendKey(nil, v)
		if err != nil {
			t.Fatalf("DecodeKey(%x) gave %s, which AppendKey refuses: %v", b, show(v), err)
		}
		if consumed := b[:len(b)-len(rest)]; !bytes.Equal(k, consumed) {
			t.Fatalf("DecodeKey(%x) gave %s, whose key is %x, not %x", b, show(v), k, consumed)
		}
		if bytes.ContainsAny(k, "{}") {
			t.Fatalf("key %x holds a brace", k)
		}
	})
}

// FuzzDecodeProps: DecodeProps never panics, and a decodable input is exactly EncodeProps of
// what it decodes to.
func FuzzDecodeProps(f *testing.F) {
	for _, m := range []map[string]any{{}, {"a": int64(-1), "b": "x", "c": l(1.5, nan), "d": true, "e": l()}} {
		b, _ := EncodeProps(m)
		f.Add(b)
	}
	f.Add([]byte{propsVersion, 2, 1, 'b', encTrue, 1, 'a', encTrue})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeProps(b)
		if err != nil {
			return
		}
		again, err := EncodeProps(m)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("DecodeProps(%x) = %v, which encodes to %x, %v", b, m, again, err)
		}
	})
}

// FuzzDecodeValue: DecodeValue never panics, and a decodable input is exactly EncodeValue of
// what it decodes to.
func FuzzDecodeValue(f *testing.F) {
	for _, v := range []any{nil, l(int64(1), "a", nil, l(2.5)), map[string]any{"k": map[string]any{}}, n1, r7, p12} {
		b, _ := EncodeValue(v)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeValue(b)
		if err != nil {
			return
		}
		again, err := EncodeValue(v)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("DecodeValue(%x) = %s, which encodes to %x, %v", b, show(v), again, err)
		}
	})
}

// FuzzPlainJSON: the decoder-free reading of plain integers and strings (plainJSON) gives what
// the decoder gives, whenever it reads the input at all.
func FuzzPlainJSON(f *testing.F) {
	for _, s := range []string{`0`, `-0`, `7`, `-42`, `999999999999999999`, `-999999999999999999`, `01`, `-`, `1.5`, `1e3`,
		`""`, `"abc"`, `"é"`, `"a\"b"`, `"a\\nb"`, "\"\xff\"", "\"\x01\"", `"`, `true`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		v, ok := plainJSON(raw)
		if !ok {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var x any
		if err := dec.Decode(&x); err != nil {
			t.Fatalf("plainJSON(%q) = %#v, but it is not JSON: %v", raw, v, err)
		}
		if _, err := dec.Token(); err != io.EOF {
			t.Fatalf("plainJSON(%q) = %#v, but it is more than one value", raw, v)
		}
		want, err := fromJSON(x, "")
		if err != nil {
			t.Fatalf("plainJSON(%q) = %#v, but the decoder refuses it: %v", raw, v, err)
		}
		if want != v {
			t.Fatalf("plainJSON(%q) = %#v, the decoder %#v", raw, v, want)
		}
	})
}
