package exec

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/torua/torua/graph/cypher"
)

func TestEvalListComprehension(t *testing.T) {
	runExprCases(t, []exprCase{
		{expr: "[x IN lst]", want: []any{int64(1), int64(2), int64(3)}},
		{expr: "[x IN lst WHERE x > 1]", want: []any{int64(2), int64(3)}},
		{expr: "[x IN lst | x * 10]", want: []any{int64(10), int64(20), int64(30)}},
		{expr: "[x IN lst WHERE x <> 2 | x + i]", want: []any{int64(43), int64(45)}},
		{expr: "[x IN [1, null, 3] WHERE x > 1]", want: []any{int64(3)}}, // null is not true
		{expr: "[x IN [] | x]", want: []any{}},
		{expr: "[x IN nul | x]", want: nil},
		{expr: "[x IN a.tags | toUpper(x)]", want: []any{"X", "Y"}},
		// The variable shadows a column inside only: s is "hello" outside.
		{expr: "[s IN lst | s + 1] + [s]", want: []any{int64(2), int64(3), int64(4), "hello"}},
		{expr: "[x IN [[1, 2], [3]] | [y IN x | y * 2]]", want: []any{[]any{int64(2), int64(4)}, []any{int64(6)}}},
		{expr: "[x IN [1, 2] | [x IN [x, 10] | x + 1]]", want: []any{[]any{int64(2), int64(11)}, []any{int64(3), int64(11)}}},
		{expr: "size([x IN range(1, 10) WHERE x % 3 = 0])", want: int64(3)},
		{expr: "[x IN 5 | x]", err: "type error: a list comprehension iterates over a LIST, not an INTEGER", col: 7},
		{expr: "[x IN lst WHERE x | x]", err: "type error: WHERE in a list comprehension expects a BOOLEAN, got an INTEGER", col: 17},
		{expr: "[x IN lst | y]", err: "variable y is not defined", col: 13},
		{expr: "[x IN lst | count(*)]", err: "aggregate function count() is not allowed here", col: 13},
	})
}

// TestEvalListPredicates checks all, any, none and single on every mix of true, false and
// null values, against openCypher's three-valued definitions.
func TestEvalListPredicates(t *testing.T) {
	cases := []struct {
		list                   string
		all, any, none, single any
	}{
		{"[]", true, false, true, false},
		{"[true]", true, true, false, true},
		{"[false]", false, false, true, false},
		{"[null]", nil, nil, nil, nil},
		{"[true, true]", true, true, false, false},
		{"[true, false]", false, true, false, true},
		{"[false, false]", false, false, true, false},
		{"[true, null]", nil, true, false, nil},
		{"[false, null]", false, nil, nil, nil},
		{"[true, true, null]", nil, true, false, false},
		{"[true, false, null]", false, true, false, nil},
		{"[null, null]", nil, nil, nil, nil},
	}
	var exprs []exprCase
	for _, c := range cases {
		for _, q := range []struct {
			name string
			want any
		}{{"all", c.all}, {"any", c.any}, {"none", c.none}, {"single", c.single}} {
			exprs = append(exprs, exprCase{expr: q.name + "(x IN " + c.list + " WHERE x)", want: q.want})
		}
	}
	exprs = append(exprs,
		exprCase{expr: "any(x IN nul WHERE x)", want: nil},
		exprCase{expr: "all(x IN lst WHERE x > 0)", want: true},
		exprCase{expr: "single(x IN lst WHERE x = i - 40)", want: true},
		exprCase{expr: "none(x IN a.tags WHERE x STARTS WITH 'z')", want: true},
		exprCase{expr: "any(x IN [1, 2] WHERE x = 1) AND all(x IN [1] WHERE x = 1)", want: true},
		exprCase{expr: "all(x IN 'abc' WHERE true)", err: "type error: all() iterates over a LIST, not a STRING", col: 10},
		exprCase{expr: "any(x IN lst WHERE x + 1)", err: "type error: WHERE in any() expects a BOOLEAN, got an INTEGER", col: 22},
		// Every element is evaluated: the error in the last is reported though the first decides.
		exprCase{expr: "any(x IN [1, 0] WHERE 1 / x = 1)", err: "division by zero", col: 25},
	)
	runExprCases(t, exprs)
}

func TestEvalReduce(t *testing.T) {
	runExprCases(t, []exprCase{
		{expr: "reduce(acc = 0, x IN lst | acc + x)", want: int64(6)},
		{expr: "reduce(acc = 0, x IN [] | acc + x)", want: int64(0)},
		{expr: "reduce(acc = '', x IN a.tags | acc + x)", want: "xy"},
		{expr: "reduce(acc = [], x IN lst | [x] + acc)", want: []any{int64(3), int64(2), int64(1)}},
		{expr: "reduce(acc = 1.0, x IN lst | acc * x)", want: 6.0},
		{expr: "reduce(acc = 0, x IN nul | acc + x)", want: nil},
		{expr: "reduce(acc = null, x IN lst | coalesce(acc, 0) + x)", want: int64(6)},
		// Both variables shadow columns (i is 42, s "hello") inside only.
		{expr: "reduce(i = 0, s IN lst | i + s) + i", want: int64(48)},
		{expr: "reduce(acc = 0, x IN lst | acc + reduce(b = 0, y IN range(1, x) | b + y))", want: int64(10)},
		{expr: "reduce(acc = 0, x IN s | acc)", err: "type error: reduce() iterates over a LIST, not a STRING", col: 22},
		{expr: "reduce(acc = 0, x IN ['a'] | acc + x)", err: "type error: cannot apply + to an INTEGER and a STRING", col: 34},
	})
}

func TestEvalRegexMatch(t *testing.T) {
	runExprCases(t, []exprCase{
		{expr: "s =~ 'h.*o'", want: true},
		{expr: "s =~ 'ell'", want: false}, // the whole string must match
		{expr: "s =~ 'h|hello'", want: true},
		{expr: "s =~ 'hell|hello'", want: true},
		{expr: "s =~ '(?i)HELLO'", want: true},
		{expr: "s =~ '^hello$'", want: true},
		{expr: "'a\\nb' =~ 'a.b'", want: false},
		{expr: "'a\\nb' =~ '(?s)a.b'", want: true},
		{expr: "'' =~ 'x*'", want: true},
		{expr: "'ab' =~ '\\\\Qab'", want: true},
		{expr: "$name =~ 'Al.*'", want: true},
		{expr: "a.name =~ a.name", want: true},
		{expr: "nul =~ 'x'", want: nil},
		{expr: "s =~ nul", want: nil},
		{expr: "i =~ '42'", want: nil},
		{expr: "s =~ 1", want: nil},
		{expr: "nul =~ '('", want: nil},
		{expr: "s =~ 'a('", err: "invalid regular expression 'a(': missing closing )", col: 6},
		{expr: "s =~ 'a' + '('", err: "invalid regular expression 'a(': missing closing )", col: 10},
		{expr: "s =~ '(?=a)b'", err: "invalid regular expression '(?=a)b': invalid or unsupported Perl syntax", col: 6},
	})
}

// TestRegexCompiledOncePerQuery: a constant pattern is compiled once per Env (the cache
// keeps it); a pattern read from the row is compiled on each use and not kept.
func TestRegexCompiledOncePerQuery(t *testing.T) {
	env := &Env{Params: map[string]any{"re": "b.*"}}
	scope := NewScope("s", "p")
	for _, tc := range []struct {
		expr   string
		cached bool
	}{{"s =~ 'b.*'", true}, {"s =~ $re", true}, {"s =~ p", false}} {
		x := parseExpr(t, tc.expr)
		var first any
		for i, row := range []Row{{"bob", "b.*"}, {"ann", "a.*"}, {"bea", "b.*"}} {
			v, err := env.Eval(x, scope, row)
			if err != nil {
				t.Fatalf("%s: %v", tc.expr, err)
			}
			if want := tc.cached && i != 1 || !tc.cached; v != want {
				t.Errorf("%s on row %d = %v, want %v", tc.expr, i, v, want)
			}
			re, ok := env.regexps.Load(x.(*cypher.RegexMatch))
			if ok != tc.cached {
				t.Fatalf("%s: cached %v, want %v", tc.expr, ok, tc.cached)
			}
			if i == 0 {
				first = re
			} else if re != first {
				t.Errorf("%s: compiled again on row %d", tc.expr, i)
			}
		}
	}
}

func TestEvalMapProjection(t *testing.T) {
	runExprCases(t, []exprCase{
		{expr: "a {.name, .age}", want: map[string]any{"name": "Alice", "age": int64(30)}},
		{expr: "a {.name, .missing}", want: map[string]any{"name": "Alice", "missing": nil}},
		{expr: "a {.*}", want: map[string]any{"name": "Alice", "age": int64(30), "tags": []any{"x", "y"}}},
		// .* first wherever written; later items overwrite earlier ones.
		{expr: "a {age: 1, .*}", want: map[string]any{"name": "Alice", "age": int64(1), "tags": []any{"x", "y"}}},
		{expr: "a {.name, name: 'x'}", want: map[string]any{"name": "x"}},
		{expr: "a {.name, s, i, twice: i * 2}", want: map[string]any{"name": "Alice", "s": "hello", "i": int64(42), "twice": int64(84)}},
		{expr: "r {.since, type: type(r)}", want: map[string]any{"since": int64(2020), "type": "KNOWS"}},
		{expr: "mp {.k, .z, .nope}", want: map[string]any{"k": int64(1), "z": nil, "nope": nil}},
		{expr: "mp {.*, k: 2}", want: map[string]any{"k": int64(2), "z": nil}},
		{expr: "a {}", want: map[string]any{}},
		{expr: "nul {.x}", want: nil},
		{expr: "a {.name}.name", want: "Alice"},
		{expr: "[x IN [a, b] | x {.name}]", want: []any{map[string]any{"name": "Alice"}, map[string]any{"name": "Bob"}}},
		{expr: "s {.x}", err: "type error: a map projection needs a NODE, RELATIONSHIP or MAP, not a STRING", col: 3},
		{expr: "zz {.x}", err: "variable zz is not defined", col: 1},
		{expr: "a {k: zz}", err: "variable zz is not defined", col: 7},
	})
}

// TestReferencesLocals: the variables a comprehension, list predicate or reduce binds are
// not references of the expression, except where they are read outside it.
func TestReferencesLocals(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{"[x IN lst WHERE x > y | x + z]", []string{"lst", "y", "z"}},
		{"[x IN lst | x] + x", []string{"lst", "x"}},
		{"[x IN x | x]", []string{"x"}},
		{"any(n IN ns WHERE n.a = m.a)", []string{"ns", "m"}},
		{"reduce(acc = init, e IN es | acc + e + k)", []string{"init", "es", "k"}},
		{"reduce(acc = acc, e IN e | acc)", []string{"acc", "e"}},
		{"n {.a, b, c: d}", []string{"n", "b", "d"}},
		{"s =~ p", []string{"s", "p"}},
	} {
		if got := References(parseExpr(t, tc.expr)); !slices.Equal(got, tc.want) {
			t.Errorf("References(%s) = %q, want %q", tc.expr, got, tc.want)
		}
	}
	for _, tc := range []struct {
		expr string
		want bool
	}{
		{"[n IN ns | n.name]", false},
		{"[x IN [n] | x.name]", true},
		{"any(x IN n.tags WHERE x = 'a')", true},
		{"reduce(s = 0, x IN [1] | s + id(n))", false},
		{"n {.name}", true},
	} {
		if got := readsWhole(parseExpr(t, tc.expr), "n"); got != tc.want {
			t.Errorf("readsWhole(%s, n) = %v, want %v", tc.expr, got, tc.want)
		}
	}
}

func TestProjectComprehensionsAndAggregates(t *testing.T) {
	runProjectCases(t, []projectCase{
		{name: "comprehension over collect", query: "RETURN [x IN collect(n.age) WHERE x > 35 | x + 1] AS olds", rows: people,
			cols: []string{"olds"}, want: column([]any{int64(41)})},
		{name: "grouped, its variable not a key", query: "RETURN n.name AS name, any(x IN collect(n.age) WHERE x > 35) AS old", rows: people[:2],
			cols: []string{"name", "old"}, want: rowsOf(2, "Ann", false, "Bo", true)},
		{name: "reduce over collect", query: "RETURN reduce(s = 0, x IN collect(n.age) | s + x) AS total", rows: people[:2],
			cols: []string{"total"}, want: column(int64(70))},
		{name: "aggregate in the body", query: "RETURN [x IN [1] | count(*)] AS c", rows: people,
			err: "aggregate function count() cannot be used inside a list comprehension"},
		{name: "aggregate in a predicate", query: "RETURN all(x IN [1] WHERE x < max(n.age)) AS c", rows: people,
			err: "aggregate function max() cannot be used inside all()"},
		{name: "aggregate in reduce", query: "RETURN reduce(s = 0, x IN [1] | s + sum(x)) AS c", rows: people,
			err: "aggregate function sum() cannot be used inside reduce()"},
		{name: "ungrouped variable in the body", query: "RETURN [x IN collect(n.age) | x + n.age] AS c", rows: people,
			err: "variable n is used beside an aggregate function but is not a grouping key"},
	})
}

// TestUnion runs UNION and UNION ALL over queries that need no cluster.
func TestUnion(t *testing.T) {
	x := New(nil, Config{MaxRows: 5})
	for _, tc := range []struct {
		query string
		cols  []string
		want  [][]any
		err   string
	}{
		{query: "UNWIND [1, 2, 2] AS x RETURN x UNION ALL UNWIND [2, 3] AS x RETURN x",
			cols: []string{"x"}, want: [][]any{{int64(1)}, {int64(2)}, {int64(2)}, {int64(2)}, {int64(3)}}},
		{query: "UNWIND [1, 2, 2] AS x RETURN x UNION UNWIND [2, 3.0, 1.0] AS x RETURN x",
			cols: []string{"x"}, want: [][]any{{int64(1)}, {int64(2)}, {3.0}}},
		// Columns by name: the second part's are reordered to the first's.
		{query: "RETURN 1 AS a, 2 AS b UNION RETURN 2 AS b, 1 AS a UNION RETURN 3 AS b, 4 AS a",
			cols: []string{"a", "b"}, want: [][]any{{int64(1), int64(2)}, {int64(4), int64(3)}}},
		{query: "WITH 1 AS a RETURN * UNION ALL WITH 2 AS b RETURN *",
			err: "line 1, column 22: expected the same column names on both sides of UNION, found (a) before it and (b) after it"},
		{query: "UNWIND range(1, 3) AS x RETURN x UNION ALL UNWIND range(1, 3) AS x RETURN x", err: "row limit"},
		{query: "RETURN 1 AS x UNION RETURN 1 / 0 AS x", err: "division by zero"},
	} {
		q, err := cypher.Parse(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		r := x.newRun(context.Background(), "g", nil)
		res, err := r.single(q.Clauses)
		if err == nil {
			res, err = r.union(res, q.Unions)
		}
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one containing %q", tc.query, err, tc.err)
			}
			var qe *QueryError
			if strings.Contains(tc.err, "UNION") && !errors.As(err, &qe) {
				t.Errorf("%s: %v is not a QueryError", tc.query, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		if !slices.Equal(res.Columns, tc.cols) {
			t.Errorf("%s: columns %q, want %q", tc.query, res.Columns, tc.cols)
		}
		got := make([][]any, len(res.Rows))
		for i, row := range res.Rows {
			got[i] = row
		}
		if len(got) != len(tc.want) {
			t.Fatalf("%s: rows %v, want %v", tc.query, got, tc.want)
		}
		for i := range got {
			if !slices.EqualFunc(got[i], tc.want[i], sameValue) {
				t.Errorf("%s: row %d is %v, want %v", tc.query, i, got[i], tc.want[i])
			}
		}
	}
}

// TestListLoopsStopAtTheTimeLimit: a reduce that would take hours (each step copies the list
// built so far, a million steps) ends with the query's time-limit error once its context is
// done; so do comprehensions and list predicates.
func TestListLoopsStopAtTheTimeLimit(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("the query's time limit of 1ms")
	cancel(cause)
	env := &Env{Ctx: ctx}
	for _, expr := range []string{
		"reduce(s = [], x IN range(1, 1000000) | s + [x])",
		"[x IN range(1, 1000000) | [y IN range(1, 1000000) | y]]",
		"any(x IN range(1, 1000000) WHERE size([y IN range(1, 1000000) | y]) = 0)",
	} {
		_, err := env.Eval(parseExpr(t, expr), fixtureScope, fixtureRow)
		if !errors.Is(err, cause) {
			t.Errorf("Eval(%s) with its context done: %v, want the context's cause", expr, err)
		}
	}
}
