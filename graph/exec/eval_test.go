package exec

import (
	"errors"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/value"
)

// The fixture every expression test reads: a small graph a-[r:KNOWS]->b, a path over it,
// and a few plain values, bound as variables.
var (
	alice = &value.Node{ID: 1, Labels: []string{"Person", "Admin"}, Props: map[string]any{"name": "Alice", "age": int64(30), "tags": []any{"x", "y"}}}
	bob   = &value.Node{ID: 2, Labels: []string{"Person"}, Props: map[string]any{"name": "Bob"}}
	knows = &value.Relationship{ID: 10, Type: "KNOWS", Start: 1, End: 2, Props: map[string]any{"since": int64(2020)}}
	path  = &value.Path{Nodes: []*value.Node{alice, bob}, Rels: []*value.Relationship{knows}}

	fixtureScope = NewScope("a", "b", "r", "p", "nul", "lst", "mp", "s", "i", "f", "t")
	fixtureRow   = Row{alice, bob, knows, path, nil, []any{int64(1), int64(2), int64(3)}, map[string]any{"k": int64(1), "z": nil}, "hello", int64(42), 1.5, true}
	fixtureEnv   = &Env{Params: map[string]any{"p": int64(7), "name": "Alice", "goInt": 3, "list": []string{"x", "y"}, "nul": nil}}
)

// exprCase is an expression, written as it would follow RETURN, and either its value or
// the error it gives: a message fragment and the column of the error in the expression
// (1 is its first character).
type exprCase struct {
	expr string
	want any
	err  string
	col  int
}

// parseExpr parses expr as a RETURN item (the real parser: positions are those a user
// sees, offset by "RETURN ").
func parseExpr(t *testing.T, expr string) cypher.Expr {
	t.Helper()
	q, err := cypher.Parse("RETURN " + expr)
	if err != nil {
		t.Fatalf("parse %q: %v", expr, err)
	}
	return q.Clauses[0].(*cypher.Return).Items[0].Expr
}

func runExprCases(t *testing.T, cases []exprCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			x := parseExpr(t, tc.expr)
			got, err := fixtureEnv.Eval(x, fixtureScope, fixtureRow)
			if tc.err == "" {
				if err != nil {
					t.Fatalf("Eval(%s): %v", tc.expr, err)
				}
				if !sameValue(got, tc.want) {
					t.Fatalf("Eval(%s) = %#v (%s), want %#v (%s)", tc.expr, got, value.TypeName(got), tc.want, value.TypeName(tc.want))
				}
				return
			}
			var qe *QueryError
			if !errors.As(err, &qe) {
				t.Fatalf("Eval(%s) = %#v, %v; want a QueryError containing %q", tc.expr, got, err, tc.err)
			}
			if !strings.Contains(qe.Msg, tc.err) {
				t.Errorf("Eval(%s): error %q does not contain %q", tc.expr, qe.Msg, tc.err)
			}
			if want := (cypher.Pos{Line: 1, Column: len("RETURN ") + tc.col}); qe.Pos != want {
				t.Errorf("Eval(%s): error at %v, want %v (%s)", tc.expr, qe.Pos, want, qe.Msg)
			}
		})
	}
}

// sameValue is deep equality with exact types (1 is not 1.0), where NaN is NaN and the
// sign of a float zero counts.
func sameValue(a, b any) bool {
	fa, aok := a.(float64)
	fb, bok := b.(float64)
	if aok && bok {
		return fa == fb && math.Signbit(fa) == math.Signbit(fb) || math.IsNaN(fa) && math.IsNaN(fb)
	}
	la, aok := a.([]any)
	lb, bok := b.([]any)
	if aok && bok {
		return slices.EqualFunc(la, lb, sameValue)
	}
	return reflect.DeepEqual(a, b)
}

func TestEvalLiteralsVariablesParameters(t *testing.T) {
	runExprCases(t, []exprCase{
		{expr: "null", want: nil},
		{expr: "true", want: true},
		{expr: "-5", want: int64(-5)},
		{expr: "2.5", want: 2.5},
		{expr: "'x'", want: "x"},
		{expr: "[1, 'a', null]", want: []any{int64(1), "a", nil}},
		{expr: "[]", want: []any{}},
		{expr: "{a: 1, b: [i]}", want: map[string]any{"a": int64(1), "b": []any{int64(42)}}},
		{expr: "{}", want: map[string]any{}},
		{expr: "a", want: alice},
		{expr: "nul", want: nil},
		{expr: "nope", err: "variable nope is not defined", col: 1},
		{expr: "1 + nope", err: "variable nope is not defined", col: 5},
		{expr: "$p", want: int64(7)},
		{expr: "$goInt", want: int64(3)},
		{expr: "$list", want: []any{"x", "y"}},
		{expr: "$nul", want: nil},
		{expr: "$missing", err: "missing parameter $missing", col: 1},
		{expr: "[1, $missing]", err: "missing parameter $missing", col: 5},
	})
}

func TestEvalPropertyIndexSlice(t *testing.T) {
	runExprCases(t, []exprCase{
		{expr: "a.name", want: "Alice"},
		{expr: "a.missing", want: nil},
		{expr: "r.since", want: int64(2020)},
		{expr: "mp.k", want: int64(1)},
		{expr: "mp.z", want: nil},
		{expr: "{x: {y: 2}}.x.y", want: int64(2)},
		{expr: "nul.name", want: nil},
		{expr: "s.name", err: "cannot read property name of a STRING", col: 2},
		{expr: "p.name", err: "cannot read property name of a PATH", col: 2},
		{expr: "lst[0]", want: int64(1)},
		{expr: "lst[2]", want: int64(3)},
		{expr: "lst[-1]", want: int64(3)},
		{expr: "lst[-3]", want: int64(1)},
		{expr: "lst[3]", want: nil},
		{expr: "lst[-4]", want: nil},
		{expr: "lst[nul]", want: nil},
		{expr: "nul[0]", want: nil},
		{expr: "lst['a']", err: "list index must be an INTEGER, not a STRING", col: 5},
		{expr: "lst[1.0]", err: "list index must be an INTEGER, not a FLOAT", col: 5},
		{expr: "mp['k']", want: int64(1)},
		{expr: "mp['nope']", want: nil},
		{expr: "mp[1]", err: "MAP is indexed by a STRING, not an INTEGER", col: 4},
		{expr: "a['name']", want: "Alice"},
		{expr: "r['since']", want: int64(2020)},
		{expr: "s[0]", err: "cannot index a STRING", col: 2},
		{expr: "lst[1..]", want: []any{int64(2), int64(3)}},
		{expr: "lst[..2]", want: []any{int64(1), int64(2)}},
		{expr: "lst[-2..]", want: []any{int64(2), int64(3)}},
		{expr: "lst[0..-1]", want: []any{int64(1), int64(2)}},
		{expr: "lst[2..1]", want: []any{}},
		{expr: "lst[-10..10]", want: []any{int64(1), int64(2), int64(3)}},
		{expr: "lst[5..]", want: []any{}},
		{expr: "lst[nul..2]", want: nil},
		{expr: "lst[1..nul]", want: nil},
		{expr: "nul[1..2]", want: nil},
		{expr: "lst[1..'x']", err: "slice bound must be an INTEGER", col: 8},
		{expr: "s[1..2]", err: "cannot slice a STRING", col: 2},
	})
}

func TestEvalLogic(t *testing.T) {
	runExprCases(t, []exprCase{
		{expr: "true AND true", want: true},
		{expr: "true AND false", want: false},
		{expr: "false AND null", want: false},
		{expr: "null AND false", want: false},
		{expr: "true AND null", want: nil},
		{expr: "null AND null", want: nil},
		{expr: "true OR null", want: true},
		{expr: "null OR true", want: true},
		{expr: "false OR null", want: nil},
		{expr: "false OR false", want: false},
		{expr: "true XOR false", want: true},
		{expr: "true XOR true", want: false},
		{expr: "true XOR null", want: nil},
		{expr: "NOT true", want: false},
		{expr: "NOT null", want: nil},
		{expr: "NOT 1", err: "cannot apply NOT to an INTEGER", col: 1},
		{expr: "1 AND true", err: "AND expects BOOLEAN operands, got an INTEGER", col: 3},
		// Both operands are evaluated: a decisive left side does not hide a type error.
		{expr: "false AND 'x'", err: "AND expects BOOLEAN operands, got a STRING", col: 7},
		{expr: "true OR 1 / 0 = 1", err: "division by zero", col: 11},
		{expr: "null XOR 2", err: "XOR expects BOOLEAN operands", col: 6},
	})
}

func TestEvalComparison(t *testing.T) {
	runExprCases(t, []exprCase{
		{expr: "1 = 1.0", want: true},
		{expr: "1 = '1'", want: false},
		{expr: "1 = null", want: nil},
		{expr: "null = null", want: nil},
		{expr: "1 <> 2", want: true},
		{expr: "1 <> null", want: nil},
		{expr: "[1, null] = [1, null]", want: nil},
		{expr: "[1, null] = [2, null]", want: false},
		{expr: "a = a", want: true},
		{expr: "a = b", want: false},
		{expr: "1 < 2", want: true},
		{expr: "2 < 1", want: false},
		{expr: "1 < 1.5", want: true},
		{expr: "'a' < 'b'", want: true},
		{expr: "'a' < 1", want: nil},
		{expr: "1 > 0", want: true},
		{expr: "1 <= 1.0", want: true},
		{expr: "2 >= 3", want: false},
		{expr: "null >= 1", want: nil},
		{expr: "1 < 2 < 3", want: true},
		{expr: "3 > 2 > 2", want: false},
		{expr: "0.0 / 0.0 = 0.0 / 0.0", want: false},
		{expr: "{a: 1} < {a: 2}", want: nil},
	})
}

func TestEvalArithmetic(t *testing.T) {
	runExprCases(t, []exprCase{
		{expr: "1 + 2", want: int64(3)},
		{expr: "1 + 2.0", want: 3.0},
		{expr: "1.5 + 1", want: 2.5},
		{expr: "1 + null", want: nil},
		{expr: "null - 1", want: nil},
		{expr: "5 - 7", want: int64(-2)},
		{expr: "3 * 4", want: int64(12)},
		{expr: "3 * 0.5", want: 1.5},
		{expr: "7 / 2", want: int64(3)},
		{expr: "-7 / 2", want: int64(-3)},
		{expr: "7 / 2.0", want: 3.5},
		{expr: "7 % 3", want: int64(1)},
		{expr: "-7 % 3", want: int64(-1)},
		{expr: "7.5 % 2", want: 1.5},
		{expr: "2 ^ 3", want: 8.0},
		{expr: "2 ^ -1", want: 0.5},
		{expr: "2 ^ 3 ^ 2", want: 64.0}, // left to right, as openCypher groups it
		{expr: "2 ^ (3 ^ 2)", want: 512.0},
		{expr: "1 / 0", err: "division by zero", col: 3},
		{expr: "1 % 0", err: "modulo by zero", col: 3},
		{expr: "1 / 0.0", want: math.Inf(1)},
		{expr: "-1 / 0.0", want: math.Inf(-1)},
		{expr: "0 / 0.0", want: math.NaN()},
		{expr: "1.0 % 0", want: math.NaN()},
		{expr: "9223372036854775807 + 1", err: "integer overflow", col: 21},
		{expr: "-9223372036854775807 - 2", err: "integer overflow", col: 22},
		{expr: "9223372036854775807 * 2", err: "integer overflow", col: 21},
		{expr: "(-9223372036854775807 - 1) * -1", err: "integer overflow", col: 28},
		{expr: "-1 * (-9223372036854775807 - 1)", err: "integer overflow", col: 4},
		{expr: "(-9223372036854775807 - 1) / -1", err: "integer overflow", col: 28},
		{expr: "(-9223372036854775807 - 1) % -1", want: int64(0)},
		{expr: "-(-9223372036854775807 - 1)", err: "integer overflow", col: 1},
		{expr: "9223372036854775807 + 1.0", want: 9223372036854775808.0},
		{expr: "-(i)", want: int64(-42)},
		{expr: "-f", want: -1.5},
		{expr: "+i", want: int64(42)},
		{expr: "-nul", want: nil},
		{expr: "-s", err: "cannot apply - to a STRING", col: 1},
		{expr: "+t", err: "cannot apply + to a BOOLEAN", col: 1},
		{expr: "'a' + 'b'", want: "ab"},
		{expr: "'a' + 1", err: "cannot apply + to a STRING and an INTEGER", col: 5},
		{expr: "true + 1", err: "cannot apply + to a BOOLEAN and an INTEGER", col: 6},
		{expr: "'a' - 'b'", err: "cannot apply - to a STRING and a STRING", col: 5},
		{expr: "[1] + [2, 3]", want: []any{int64(1), int64(2), int64(3)}},
		{expr: "[1] + 2", want: []any{int64(1), int64(2)}},
		{expr: "0 + [1]", want: []any{int64(0), int64(1)}},
		{expr: "[1] + [[2]]", want: []any{int64(1), []any{int64(2)}}},
		{expr: "[1] + null", want: nil},
		{expr: "[] + []", want: []any{}},
	})
}

func TestEvalPredicates(t *testing.T) {
	runExprCases(t, []exprCase{
		{expr: "2 IN lst", want: true},
		{expr: "2.0 IN lst", want: true},
		{expr: "5 IN lst", want: false},
		{expr: "5 IN [1, null]", want: nil},
		{expr: "1 IN [1, null]", want: true},
		{expr: "null IN []", want: false},
		{expr: "null IN [1]", want: nil},
		{expr: "1 IN null", want: nil},
		{expr: "[1] IN [[1], [2]]", want: true},
		{expr: "1 IN 1", err: "IN expects a LIST on its right, got an INTEGER", col: 3},
		{expr: "s STARTS WITH 'he'", want: true},
		{expr: "s STARTS WITH 'lo'", want: false},
		{expr: "s ENDS WITH 'lo'", want: true},
		{expr: "s CONTAINS 'ell'", want: true},
		{expr: "s CONTAINS ''", want: true},
		{expr: "s CONTAINS 'x'", want: false},
		{expr: "s STARTS WITH null", want: nil},
		{expr: "nul ENDS WITH 'x'", want: nil},
		{expr: "i CONTAINS '4'", want: nil},
		{expr: "nul IS NULL", want: true},
		{expr: "nul IS NOT NULL", want: false},
		{expr: "a.missing IS NULL", want: true},
		{expr: "a.name IS NOT NULL", want: true},
		{expr: "a:Person", want: true},
		{expr: "a:Person:Admin", want: true},
		{expr: "b:Person:Admin", want: false},
		{expr: "b:Robot", want: false},
		{expr: "nul:Person", want: nil},
		// A relationship's type is its label.
		{expr: "r:KNOWS", want: true},
		{expr: "r:LIKES", want: false},
		{expr: "r:KNOWS:LIKES", want: false},
		{expr: "i:Person", err: "label test needs a NODE or a RELATIONSHIP, got an INTEGER", col: 2},
	})
}

func TestEvalCase(t *testing.T) {
	runExprCases(t, []exprCase{
		{expr: "CASE i WHEN 1 THEN 'one' WHEN 42 THEN 'answer' ELSE 'other' END", want: "answer"},
		{expr: "CASE i WHEN 42.0 THEN 'float' END", want: "float"},
		{expr: "CASE i WHEN 1 THEN 'one' END", want: nil},
		{expr: "CASE i WHEN 1 THEN 'one' ELSE 'other' END", want: "other"},
		{expr: "CASE nul WHEN null THEN 'null' ELSE 'no' END", want: "no"},
		{expr: "CASE WHEN i > 50 THEN 'big' WHEN i > 10 THEN 'medium' ELSE 'small' END", want: "medium"},
		{expr: "CASE WHEN null THEN 1 ELSE 2 END", want: int64(2)},
		{expr: "CASE WHEN false THEN 1 END", want: nil},
		// Only the chosen branch is evaluated.
		{expr: "CASE WHEN true THEN 1 ELSE 1 / 0 END", want: int64(1)},
		{expr: "CASE WHEN 1 THEN 1 END", err: "WHEN expects a BOOLEAN, got an INTEGER", col: 11},
		{expr: "CASE WHEN false THEN 1 ELSE nope END", err: "variable nope is not defined", col: 29},
	})
}

func TestEvalAggregateRefused(t *testing.T) {
	runExprCases(t, []exprCase{
		{expr: "count(*)", err: "aggregate function count() is not allowed here", col: 1},
		{expr: "1 + sum(i)", err: "aggregate function sum() is not allowed here", col: 5},
		{expr: "[collect(i)]", err: "aggregate function collect() is not allowed here", col: 2},
	})
}

func TestReferences(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{"1 + $p", nil},
		{"a.name = b.name AND a.age > $p", []string{"a", "b"}},
		{"CASE x WHEN y THEN z ELSE x END", []string{"x", "y", "z"}},
		{"count(n) + size(lst[i..j])", []string{"n", "lst", "i", "j"}},
		{"{k: [u IS NULL, v:L, w IN q, s STARTS WITH t]}", []string{"u", "v", "w", "q", "s", "t"}},
		{"NOT -m[0]", []string{"m"}},
	} {
		if got := References(parseExpr(t, tc.expr)); !slices.Equal(got, tc.want) {
			t.Errorf("References(%s) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

func TestHasAggregate(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want bool
	}{
		{"count(*)", true},
		{"COUNT(*) + 1", true},
		{"collect(x)[0]", true},
		{"CASE WHEN true THEN max(x) END", true},
		{"size(x) + toInteger('1')", false},
		{"x.count", false},
		{"{a: [avg(x)]}", true},
	} {
		if got := HasAggregate(parseExpr(t, tc.expr)); got != tc.want {
			t.Errorf("HasAggregate(%s) = %v, want %v", tc.expr, got, tc.want)
		}
	}
}

// TestEvalIntegerArithmeticProperty checks integer + - * / % against exact arithmetic on
// random operands, edges included: the result is the exact one when it fits an INTEGER (the
// quotient truncated toward zero, the remainder with the dividend's sign), and an error
// otherwise (overflow, or a zero divisor).
func TestEvalIntegerArithmeticProperty(t *testing.T) {
	edges := []int64{0, 1, -1, 2, -2, 3, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1, 1 << 32, -(1 << 32), 3037000499, 3037000500, -3037000500}
	seed := uint64(7)
	next := func() int64 { // xorshift: a fixed, reproducible sequence
		seed ^= seed << 13
		seed ^= seed >> 7
		seed ^= seed << 17
		if seed%3 == 0 {
			return edges[seed/3%uint64(len(edges))]
		}
		return int64(seed) >> (seed % 64)
	}
	ops := map[cypher.BinaryOp]func(z, x, y *big.Int) *big.Int{
		cypher.OpAdd: (*big.Int).Add,
		cypher.OpSub: (*big.Int).Sub,
		cypher.OpMul: (*big.Int).Mul,
		cypher.OpDiv: (*big.Int).Quo,
		cypher.OpMod: (*big.Int).Rem,
	}
	s := NewScope("a", "b")
	for op, exact := range ops {
		x := &cypher.Binary{Op: op, L: &cypher.Variable{Name: "a"}, R: &cypher.Variable{Name: "b"}}
		for range 2000 {
			a, b := next(), next()
			got, err := (&Env{}).Eval(x, s, Row{a, b})
			if (op == cypher.OpDiv || op == cypher.OpMod) && b == 0 {
				if err == nil {
					t.Fatalf("%d %s 0 = %v, want an error", a, op, got)
				}
				continue
			}
			want := exact(new(big.Int), big.NewInt(a), big.NewInt(b))
			if !want.IsInt64() {
				if err == nil {
					t.Fatalf("%d %s %d = %v, want an overflow error (exact %v)", a, op, b, got, want)
				}
				continue
			}
			if err != nil || got != want.Int64() {
				t.Fatalf("%d %s %d = %v, %v; want %v", a, op, b, got, err, want)
			}
		}
	}
}
