package value

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

// TestToJSON: what a query result's values marshal to.
func TestToJSON(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{
		{nil, `null`}, {true, `true`}, {int64(-42), `-42`}, {int64(math.MaxInt64), `9223372036854775807`},
		{1.0, `1.0`}, {0.5, `0.5`}, {-2.0, `-2.0`}, {math.Copysign(0, -1), `-0.0`}, {1e21, `1e+21`}, {1e-7, `1e-07`},
		{nan, `"NaN"`}, {inf, `"Infinity"`}, {ninf, `"-Infinity"`},
		{"a\"b", `"a\"b"`}, {l(int64(1), 2.0, nil), `[1,2.0,null]`}, {map[string]any{"k": l(nan)}, `{"k":["NaN"]}`},
		{&Node{ID: 1}, `{"id":1,"labels":[],"properties":{}}`},
		{&Node{ID: 2, Labels: []string{"Person"}, Props: map[string]any{"name": "Ann", "w": 60.0}}, `{"id":2,"labels":["Person"],"properties":{"name":"Ann","w":60.0}}`},
		{&Relationship{ID: 7, Type: "KNOWS", Start: 1, End: 2, Props: map[string]any{"since": int64(2001)}}, `{"end":2,"id":7,"properties":{"since":2001},"start":1,"type":"KNOWS"}`},
		{p12, `{"nodes":[{"id":1,"labels":["A"],"properties":{}},{"id":2,"labels":[],"properties":{}}],"relationships":[{"end":2,"id":7,"properties":{},"start":1,"type":"T"}]}`},
	} {
		b, err := json.Marshal(ToJSON(c.v))
		if err != nil || string(b) != c.want {
			t.Errorf("ToJSON(%s) marshals to %s, %v; want %s", show(c.v), b, err, c.want)
		}
	}
}

// TestFromJSON: query parameters: integers stay INTEGER, numbers with a fraction or exponent
// are FLOAT, arrays lists, objects maps.
func TestFromJSON(t *testing.T) {
	for _, c := range []struct {
		in   string
		want any
	}{
		{`null`, nil}, {`true`, true}, {`"s"`, "s"}, {`42`, int64(42)}, {`-0`, int64(0)},
		{`9223372036854775807`, int64(math.MaxInt64)}, {`-9223372036854775808`, int64(math.MinInt64)},
		{`9007199254740993`, int64(1<<53 + 1)}, {`1.0`, 1.0}, {`1e3`, 1000.0}, {`2E-1`, 0.2}, {` 1.5 `, 1.5},
		{`[1, 2.0, "x", null, [true]]`, l(int64(1), 2.0, "x", nil, l(true))},
		{`{"a": 1, "b": {"c": [1.5]}}`, map[string]any{"a": int64(1), "b": map[string]any{"c": l(1.5)}}},
	} {
		got, err := FromJSON(json.RawMessage(c.in))
		if err != nil || !sameValue(got, c.want) {
			t.Errorf("FromJSON(%s) = %#v, %v; want %#v", c.in, got, err, c.want)
		}
		if b, err := FromJSON([]byte(c.in)); err != nil || !sameValue(b, c.want) {
			t.Errorf("FromJSON([]byte %s) = %#v, %v", c.in, b, err)
		}
	}
	// Already decoded with UseNumber, as an HTTP handler decoding a whole request body has it.
	dec := json.NewDecoder(strings.NewReader(`{"params": {"id": 42, "w": 0.5}}`))
	dec.UseNumber()
	var body struct{ Params map[string]any }
	if err := dec.Decode(&body); err != nil {
		t.Fatal(err)
	}
	got, err := FromJSON(body.Params)
	if want := map[string]any{"id": int64(42), "w": 0.5}; err != nil || !sameValue(got, want) {
		t.Errorf("FromJSON(decoded) = %#v, %v; want %#v", got, err, want)
	}
}

// TestJSONRoundTrip: ToJSON then FromJSON keeps every value but NaN and the infinities, which
// JSON cannot hold (they come back as strings).
func TestJSONRoundTrip(t *testing.T) {
	g := newGen(t, 4)
	for range 2000 {
		v := g.property()
		if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			continue
		}
		if lst, ok := v.([]any); ok && len(lst) > 0 {
			if f, ok := lst[0].(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
				continue
			}
		}
		b, err := json.Marshal(ToJSON(v))
		if err != nil {
			t.Fatalf("marshal %s: %v", show(v), err)
		}
		got, err := FromJSON(b)
		// Strings with invalid UTF-8 become U+FFFD in JSON: compare what JSON can carry.
		if err != nil || (Equal(got, v) != true && !strings.Contains(string(b), `\ufffd`)) {
			t.Fatalf("%s through %s gives %s, %v", show(v), b, show(got), err)
		}
	}
}

func TestFromJSONRefuses(t *testing.T) {
	for _, c := range []struct {
		in   any
		want string
	}{
		{json.RawMessage(`9223372036854775808`), "integer 9223372036854775808 is out of the range of INTEGER"},
		{json.RawMessage(`[-9223372036854775809]`), "at [0]: integer -9223372036854775809 is out of the range"},
		{json.RawMessage(`{"a": 1e400}`), `at ["a"]: number 1e400 is out of the range of FLOAT`},
		{json.RawMessage(`1 2`), "more than one value"},
		{json.RawMessage(`{`), "read JSON"},
		{json.RawMessage(``), "read JSON"},
		{json.Number("x1"), `"x1" is not a number`},
		{json.Number("1.x"), `"1.x" is not a number`},
		{1.5, "decode JSON parameters with UseNumber"},
		{map[string]any{"k": int64(1)}, `at ["k"]: Go type int64 is not decoded JSON`},
	} {
		_, err := FromJSON(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("FromJSON(%#v) = %v, want an error with %q", c.in, err, c.want)
		}
		if _, isRaw := c.in.(json.RawMessage); !isRaw && !errors.Is(err, ErrUnsupported) {
			t.Errorf("FromJSON(%#v) = %v, want ErrUnsupported", c.in, err)
		}
	}
}
