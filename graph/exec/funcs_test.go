package exec

import (
	"errors"
	"math"
	"regexp"
	"testing"
	"time"

	"github.com/torua/torua/graph/value"
)

func TestFuncEntities(t *testing.T) {
	runExprCases(t, []exprCase{
		{expr: "id(a)", want: int64(1)},
		{expr: "id(r)", want: int64(10)},
		{expr: "id(nul)", want: nil},
		{expr: "id(s)", err: "argument 1 of id() must be a NODE or RELATIONSHIP, not a STRING", col: 4},
		{expr: "labels(a)", want: []any{"Person", "Admin"}},
		{expr: "labels(nul)", want: nil},
		{expr: "labels(r)", err: "must be a NODE", col: 8},
		{expr: "type(r)", want: "KNOWS"},
		{expr: "type(a)", err: "must be a RELATIONSHIP", col: 6},
		{expr: "keys(a)", want: []any{"age", "name", "tags"}},
		{expr: "keys(r)", want: []any{"since"}},
		{expr: "keys(mp)", want: []any{"k", "z"}},
		{expr: "keys(nul)", want: nil},
		{expr: "keys(lst)", err: "must be a NODE, RELATIONSHIP or MAP", col: 6},
		{expr: "properties(r)", want: map[string]any{"since": int64(2020)}},
		{expr: "properties({x: 1})", want: map[string]any{"x": int64(1)}},
		{expr: "properties(i)", err: "must be a NODE, RELATIONSHIP or MAP", col: 12},
		{expr: "startNode(r)", want: alice},
		{expr: "endNode(r)", want: bob},
		{expr: "endNode(r).name", want: "Bob"},
		{expr: "startNode(nul)", want: nil},
		{expr: "startNode(a)", err: "must be a RELATIONSHIP", col: 11},
		{expr: "nodes(p)", want: []any{alice, bob}},
		{expr: "relationships(p)", want: []any{knows}},
		{expr: "nodes(nul)", want: nil},
		{expr: "nodes(lst)", err: "must be a PATH", col: 7},
		{expr: "length(p)", want: int64(1)},
		{expr: "length(lst)", want: int64(3)},
		{expr: "length('héllo')", want: int64(5)},
		{expr: "length(a)", err: "must be a PATH, LIST or STRING", col: 8},
		{expr: "size(lst)", want: int64(3)},
		{expr: "size('héllo')", want: int64(5)},
		{expr: "size(nul)", want: nil},
		{expr: "size(p)", err: "must be a LIST or STRING", col: 6},
		{expr: "exists(a.name)", want: true},
		{expr: "exists(a.nope)", want: false},
		{expr: "exists(mp.z)", want: false},
		{expr: "exists(nul.name)", want: nil},
		{expr: "exists(a)", err: "exists() takes a property access", col: 8},
		{expr: "exists(s.x)", err: "cannot read property x of a STRING", col: 9},
	})
}

// TestFuncStartNodeFetch covers startNode and endNode of a relationship whose nodes are not
// in the row: fetched through Env.FetchNode, an error without it. FetchNode is a stub here
// because fetching is the lead's code (graph/exec's MATCH) and the store does not exist in
// this package.
func TestFuncStartNodeFetch(t *testing.T) {
	x := parseExpr(t, "endNode(r).name")
	s := NewScope("r")
	row := Row{knows}
	if _, err := (&Env{}).Eval(x, s, row); err == nil {
		t.Fatal("endNode of an unbound node without FetchNode: no error")
	}
	env := &Env{FetchNode: func(id uint64) (*value.Node, error) {
		if id != 2 {
			t.Errorf("fetched node %d, want 2", id)
		}
		return bob, nil
	}}
	got, err := env.Eval(x, s, row)
	if err != nil || got != "Bob" {
		t.Fatalf("endNode(r).name = %v, %v; want Bob", got, err)
	}
	boom := errors.New("boom")
	env.FetchNode = func(uint64) (*value.Node, error) { return nil, boom }
	if _, err := env.Eval(x, s, row); !errors.Is(err, boom) {
		t.Fatalf("a failing fetch: error %v, want %v", err, boom)
	}
	// A node collected into a list is found without fetching.
	got, err = env.Eval(parseExpr(t, "startNode(r)"), NewScope("r", "ns"), Row{knows, []any{bob, alice}})
	if err != nil || got != alice {
		t.Fatalf("startNode(r) with the node in a list = %v, %v; want alice", got, err)
	}
}

func TestFuncLists(t *testing.T) {
	runExprCases(t, []exprCase{
		{expr: "coalesce(nul, null, 2, 3)", want: int64(2)},
		{expr: "coalesce(nul)", want: nil},
		{expr: "coalesce()", err: "takes at least 1 argument(s), got 0", col: 1},
		{expr: "head(lst)", want: int64(1)},
		{expr: "head([])", want: nil},
		{expr: "head(nul)", want: nil},
		{expr: "head(s)", err: "must be a LIST", col: 6},
		{expr: "last(lst)", want: int64(3)},
		{expr: "last([])", want: nil},
		{expr: "tail(lst)", want: []any{int64(2), int64(3)}},
		{expr: "tail([])", want: []any{}},
		{expr: "tail(nul)", want: nil},
		{expr: "range(1, 3)", want: []any{int64(1), int64(2), int64(3)}},
		{expr: "range(0, 10, 4)", want: []any{int64(0), int64(4), int64(8)}},
		{expr: "range(3, 1, -1)", want: []any{int64(3), int64(2), int64(1)}},
		{expr: "range(3, 1)", want: []any{}},
		{expr: "range(1, 3, -1)", want: []any{}},
		{expr: "range(5, 5)", want: []any{int64(5)}},
		{expr: "range(9223372036854775806, 9223372036854775807)", want: []any{int64(9223372036854775806), int64(9223372036854775807)}},
		{expr: "range(1, 3, 0)", err: "step must not be 0", col: 13},
		{expr: "range(1, 3.0)", err: "argument 2 of range() must be an INTEGER, not a FLOAT", col: 10},
		{expr: "range(nul, 3)", err: "argument 1 of range() must be an INTEGER, not a NULL", col: 7},
		{expr: "range(0, 9223372036854775807)", err: "more than the limit", col: 1},
		{expr: "range(1)", err: "takes 2 to 3 arguments, got 1", col: 1},
		{expr: "reverse(lst)", want: []any{int64(3), int64(2), int64(1)}},
		{expr: "reverse('abç')", want: "çba"},
		{expr: "reverse(nul)", want: nil},
		{expr: "reverse(i)", err: "must be a STRING or LIST", col: 9},
	})
}

func TestFuncConversions(t *testing.T) {
	runExprCases(t, []exprCase{
		{expr: "toInteger(42)", want: int64(42)},
		{expr: "toInteger(82.9)", want: int64(82)},
		{expr: "toInteger(-82.9)", want: int64(-82)},
		{expr: "toInteger('42')", want: int64(42)},
		{expr: "toInteger('-42')", want: int64(-42)},
		{expr: "toInteger('42.9')", want: int64(42)},
		{expr: "toInteger('4.2e1')", want: int64(42)},
		{expr: "toInteger('foo')", want: nil},
		{expr: "toInteger('')", want: nil},
		{expr: "toInteger(' 42')", want: nil},
		{expr: "toInteger('NaN')", want: nil},
		{expr: "toInteger('0x10')", want: nil},
		{expr: "toInteger('1e30')", want: nil},
		{expr: "toInteger(1e30)", want: nil},
		{expr: "toInteger(0.0 / 0.0)", want: nil},
		{expr: "toInteger(nul)", want: nil},
		{expr: "toInteger(true)", err: "must be a number or a STRING, not a BOOLEAN", col: 11},
		{expr: "toInteger([])", err: "not a LIST", col: 11},
		{expr: "toFloat(1)", want: 1.0},
		{expr: "toFloat(1.5)", want: 1.5},
		{expr: "toFloat('1.5')", want: 1.5},
		{expr: "toFloat('.5')", want: 0.5},
		{expr: "toFloat('1e400')", want: math.Inf(1)},
		{expr: "toFloat('x')", want: nil},
		{expr: "toFloat('Inf')", want: nil},
		{expr: "toFloat(a)", err: "not a NODE", col: 9},
		{expr: "toString(42)", want: "42"},
		{expr: "toString(1.0)", want: "1.0"},
		{expr: "toString(0.1)", want: "0.1"},
		{expr: "toString(-2.5)", want: "-2.5"},
		{expr: "toString(1e21)", want: "1.0E21"},
		{expr: "toString(1.5e-7)", want: "1.5E-7"},
		{expr: "toString(12345678.0)", want: "1.2345678E7"},
		{expr: "toString(0.0 / 0.0)", want: "NaN"},
		{expr: "toString(-1 / 0.0)", want: "-Infinity"},
		{expr: "toString(true)", want: "true"},
		{expr: "toString('x')", want: "x"},
		{expr: "toString(nul)", want: nil},
		{expr: "toString(lst)", err: "not a LIST", col: 10},
		{expr: "toBoolean('true')", want: true},
		{expr: "toBoolean('FALSE')", want: false},
		{expr: "toBoolean(' tru ')", want: nil},
		{expr: "toBoolean(false)", want: false},
		{expr: "toBoolean(nul)", want: nil},
		{expr: "toBoolean(1)", err: "must be a STRING or BOOLEAN, not an INTEGER", col: 11},
	})
}

func TestFuncMath(t *testing.T) {
	runExprCases(t, []exprCase{
		{expr: "abs(-3)", want: int64(3)},
		{expr: "abs(3)", want: int64(3)},
		{expr: "abs(-2.5)", want: 2.5},
		{expr: "abs(nul)", want: nil},
		{expr: "abs(-9223372036854775807 - 1)", err: "integer overflow", col: 1},
		{expr: "abs('x')", err: "must be a number, not a STRING", col: 5},
		{expr: "ceil(1.1)", want: 2.0},
		{expr: "ceil(1)", want: 1.0},
		{expr: "floor(-1.1)", want: -2.0},
		{expr: "floor(nul)", want: nil},
		{expr: "round(2.5)", want: 3.0},
		{expr: "round(-2.5)", want: -2.0},
		{expr: "round(-1.5)", want: -1.0},
		{expr: "round(1.4)", want: 1.0},
		{expr: "round(0.49999999999999994)", want: 0.0},
		{expr: "round(3)", want: 3.0},
		{expr: "round('x')", err: "must be a number", col: 7},
		{expr: "sqrt(16)", want: 4.0},
		{expr: "sqrt(-1)", want: math.NaN()},
		{expr: "sign(-5)", want: int64(-1)},
		{expr: "sign(0)", want: int64(0)},
		{expr: "sign(2.5)", want: int64(1)},
		{expr: "sign(nul)", want: nil},
		{expr: "e()", want: math.E},
		{expr: "pi()", want: math.Pi},
		{expr: "exp(0)", want: 1.0},
		{expr: "log(e())", want: 1.0},
		{expr: "log10(1000)", want: 3.0},
		{expr: "log(0)", want: math.Inf(-1)},
		{expr: "sin(0)", want: 0.0},
		{expr: "cos(0)", want: 1.0},
		{expr: "atan2(1, 1) * 4", want: math.Pi},
		{expr: "atan2(nul, 1)", want: nil},
		{expr: "atan2(1, 'x')", err: "must be a number", col: 10},
		{expr: "degrees(pi())", want: 180.0},
		{expr: "radians(180)", want: math.Pi},
		{expr: "pi(1)", err: "takes 0 argument(s), got 1", col: 1},
	})
}

// TestFuncRandomAndTime: rand() is in [0, 1), randomUUID() a version 4 UUID (a new one each
// call), timestamp() the query's start in milliseconds, the same at each call.
func TestFuncRandomAndTime(t *testing.T) {
	env := &Env{}
	eval := func(expr string) any {
		t.Helper()
		v, err := env.Eval(parseExpr(t, expr), fixtureScope, fixtureRow)
		if err != nil {
			t.Fatalf("Eval(%s): %v", expr, err)
		}
		return v
	}
	for range 100 {
		if r := eval("rand()").(float64); r < 0 || r >= 1 {
			t.Fatalf("rand() = %v", r)
		}
	}
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a, b := eval("randomUUID()").(string), eval("randomUUID()").(string)
	if !uuid.MatchString(a) || a == b {
		t.Fatalf("randomUUID() gave %q then %q", a, b)
	}
	before := time.Now().UnixMilli()
	first := eval("timestamp()").(int64)
	if first < before-1 || first > time.Now().UnixMilli() {
		t.Fatalf("timestamp() = %d, not now (%d)", first, before)
	}
	if again := eval("timestamp()").(int64); again != first {
		t.Fatalf("timestamp() changed within one query: %d then %d", first, again)
	}
}

func TestFuncStrings(t *testing.T) {
	runExprCases(t, []exprCase{
		{expr: "toLower('HeLLo')", want: "hello"},
		{expr: "toUpper(s)", want: "HELLO"},
		{expr: "toUpper(nul)", want: nil},
		{expr: "toUpper(1)", err: "argument 1 of toUpper() must be a STRING, not an INTEGER", col: 9},
		{expr: "trim('  x y  ')", want: "x y"},
		{expr: "ltrim('  x  ')", want: "x  "},
		{expr: "rtrim('  x  ')", want: "  x"},
		{expr: "replace(s, 'l', 'L')", want: "heLLo"},
		{expr: "replace(s, nul, 'L')", want: nil},
		{expr: "replace(s, 1, 'L')", err: "argument 2 of replace() must be a STRING", col: 12},
		{expr: "substring(s, 1)", want: "ello"},
		{expr: "substring(s, 1, 3)", want: "ell"},
		{expr: "substring(s, 1, 100)", want: "ello"},
		{expr: "substring(s, 10)", want: ""},
		{expr: "substring('héllo', 1, 2)", want: "él"},
		{expr: "substring(nul, 1)", want: nil},
		{expr: "substring(s, -1)", err: "argument 2 of substring() must not be negative", col: 14},
		{expr: "substring(s, 0, -1)", err: "argument 3 of substring() must not be negative", col: 17},
		{expr: "substring(s, nul)", err: "argument 2 of substring() must be an INTEGER, not a NULL", col: 14},
		{expr: "substring(s)", err: "takes 2 to 3 arguments, got 1", col: 1},
		{expr: "split('a,b,,c,', ',')", want: []any{"a", "b", "", "c", ""}},
		{expr: "split(s, nul)", want: nil},
		{expr: "left(s, 2)", want: "he"},
		{expr: "left(s, 10)", want: "hello"},
		{expr: "left(nul, 2)", want: nil},
		{expr: "left(s, nul)", err: "argument 2 of left() must be an INTEGER", col: 9},
		{expr: "left(s, -1)", err: "must not be negative", col: 9},
		{expr: "right(s, 3)", want: "llo"},
		{expr: "right('héllo', 4)", want: "éllo"},
		{expr: "right(s, 0)", want: ""},
		{expr: "right(1, 0)", err: "argument 1 of right() must be a STRING", col: 7},
	})
}

func TestFuncCallErrors(t *testing.T) {
	runExprCases(t, []exprCase{
		{expr: "nosuch(1)", err: "unknown function nosuch", col: 1},
		{expr: "1 + Frobnicate()", err: "unknown function Frobnicate", col: 5},
		{expr: "toUpper('a', 'b')", err: "function toUpper() takes 1 argument(s), got 2", col: 1},
		{expr: "id()", err: "takes 1 argument(s), got 0", col: 1},
		{expr: "toUpper(DISTINCT 'a')", err: "DISTINCT is only allowed in aggregate functions, not in toUpper()", col: 1},
		{expr: "size(nosuch(1))", err: "unknown function nosuch", col: 6},
	})
}
