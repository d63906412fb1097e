package exec

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/value"
)

// Four people (Di has no city) as rows of one column n, in this order.
var (
	ann    = &value.Node{ID: 101, Labels: []string{"P"}, Props: map[string]any{"name": "Ann", "city": "Oslo", "age": int64(30)}}
	bo     = &value.Node{ID: 102, Labels: []string{"P"}, Props: map[string]any{"name": "Bo", "city": "Oslo", "age": int64(40)}}
	cy     = &value.Node{ID: 103, Labels: []string{"P"}, Props: map[string]any{"name": "Cy", "city": "Rome", "age": int64(25)}}
	di     = &value.Node{ID: 104, Labels: []string{"P"}, Props: map[string]any{"name": "Di", "age": int64(35)}}
	people = column(ann, bo, cy, di)
)

// column returns one single-column row per value.
func column(vs ...any) []Row {
	rows := make([]Row, len(vs))
	for i, v := range vs {
		rows[i] = Row{v}
	}
	return rows
}

// rowsOf builds rows from values given row by row, n per row.
func rowsOf(n int, vs ...any) []Row {
	var rows []Row
	for i := 0; i < len(vs); i += n {
		rows = append(rows, Row(vs[i:i+n]))
	}
	return rows
}

type projectCase struct {
	name    string
	query   string // a RETURN, or a WITH [WHERE] (the test appends RETURN 1 to parse it)
	scope   []string
	rows    []Row
	params  map[string]any
	maxRows int

	cols    []string
	want    []Row
	err     string // a fragment of the QueryError
	tooMany bool   // an error wrapping ErrTooManyRows
}

func parseProjection(t *testing.T, query string) (*cypher.Projection, cypher.Expr) {
	t.Helper()
	if strings.HasPrefix(query, "WITH") {
		q, err := cypher.Parse(query + " RETURN 1")
		if err != nil {
			t.Fatalf("parse %q: %v", query, err)
		}
		w := q.Clauses[0].(*cypher.With)
		return &w.Projection, w.Where
	}
	q, err := cypher.Parse(query)
	if err != nil {
		t.Fatalf("parse %q: %v", query, err)
	}
	return &q.Clauses[0].(*cypher.Return).Projection, nil
}

func runProjectCases(t *testing.T, cases []projectCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, where := parseProjection(t, tc.query)
			env := &Env{Params: tc.params}
			scope := NewScope(tc.scope...)
			if tc.scope == nil {
				scope = NewScope("n")
			}
			got, s, err := env.Project(tc.rows, scope, p, where, tc.maxRows)
			switch {
			case tc.tooMany:
				if !errors.Is(err, ErrTooManyRows) || !strings.Contains(err.Error(), "limit of 3 rows") {
					t.Fatalf("%s: error %v, want ErrTooManyRows naming the limit of 3", tc.query, err)
				}
				return
			case tc.err != "":
				var qe *QueryError
				if !errors.As(err, &qe) || !strings.Contains(qe.Msg, tc.err) {
					t.Fatalf("%s: error %v, want a QueryError containing %q", tc.query, err, tc.err)
				}
				return
			case err != nil:
				t.Fatalf("%s: %v", tc.query, err)
			}
			if !slices.Equal(s.Names(), tc.cols) {
				t.Errorf("%s: columns %q, want %q", tc.query, s.Names(), tc.cols)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%s: %d rows %v, want %d %v", tc.query, len(got), got, len(tc.want), tc.want)
			}
			for i := range got {
				if !slices.EqualFunc(got[i], tc.want[i], sameValue) {
					t.Errorf("%s: row %d is %#v, want %#v", tc.query, i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestProjectItems(t *testing.T) {
	runProjectCases(t, []projectCase{
		{name: "property", query: "RETURN n.name", rows: people,
			cols: []string{"n.name"}, want: column("Ann", "Bo", "Cy", "Di")},
		{name: "aliases", query: "RETURN n.name AS name, n.age + 1 AS next", rows: people[:2],
			cols: []string{"name", "next"}, want: rowsOf(2, "Ann", int64(31), "Bo", int64(41))},
		{name: "star", query: "RETURN *", scope: []string{"n", "x"}, rows: rowsOf(2, ann, int64(1)),
			cols: []string{"n", "x"}, want: rowsOf(2, ann, int64(1))},
		{name: "star and items", query: "WITH *, n.age AS age", rows: people[:1],
			cols: []string{"n", "age"}, want: rowsOf(2, ann, int64(30))},
		{name: "star with an unusual name", query: "RETURN *", scope: []string{"my var"}, rows: column(int64(1)),
			cols: []string{"my var"}, want: column(int64(1))},
		{name: "no rows", query: "RETURN n.name AS name", rows: nil,
			cols: []string{"name"}, want: nil},
		{name: "column twice", query: "RETURN n.name AS x, n.age AS x", rows: people, err: "column x is projected twice"},
		{name: "star and the same variable", query: "RETURN *, n", rows: people, err: "column n is projected twice"},
		{name: "error in an item", query: "RETURN n.age / 0", rows: people, err: "division by zero"},
		{name: "parameter", query: "RETURN n.age > $min AS old", rows: people[:2], params: map[string]any{"min": 35},
			cols: []string{"old"}, want: column(false, true)},
	})
}

func TestProjectAggregation(t *testing.T) {
	abv := []string{"a", "b", "v"}
	runProjectCases(t, []projectCase{
		{name: "count star", query: "RETURN count(*)", rows: people,
			cols: []string{"count(*)"}, want: column(int64(4))},
		{name: "count star of nothing", query: "RETURN count(*) AS c", rows: nil,
			cols: []string{"c"}, want: column(int64(0))},
		{name: "numeric aggregates", query: "RETURN sum(n.age) AS s, avg(n.age) AS a, min(n.age) AS lo, max(n.age) AS hi", rows: people,
			cols: []string{"s", "a", "lo", "hi"}, want: rowsOf(4, int64(130), 32.5, int64(25), int64(40))},
		{name: "empty values of every aggregate", query: "RETURN count(n) AS c, sum(n.age) AS s, avg(n.age) AS a, min(n) AS lo, max(n) AS hi, collect(n) AS l", rows: nil,
			cols: []string{"c", "s", "a", "lo", "hi", "l"}, want: rowsOf(6, int64(0), int64(0), nil, nil, nil, []any{})},
		{name: "aggregates over nulls only", query: "RETURN count(n.x) AS c, sum(n.x) AS s, avg(n.x) AS a, max(n.x) AS hi, collect(n.x) AS l", rows: people,
			cols: []string{"c", "s", "a", "hi", "l"}, want: rowsOf(5, int64(0), int64(0), nil, nil, []any{})},
		{name: "group by one key in first-appearance order", query: "RETURN n.city AS city, count(*) AS c", rows: people,
			cols: []string{"city", "c"}, want: rowsOf(2, "Oslo", int64(2), "Rome", int64(1), nil, int64(1))},
		{name: "group by keys of no rows", query: "RETURN n.city AS city, count(*) AS c", rows: nil,
			cols: []string{"city", "c"}, want: nil},
		{name: "group by two keys", query: "RETURN a, b, sum(v) AS s", scope: abv,
			rows: rowsOf(3, int64(1), "x", int64(10), int64(1), "y", int64(20), int64(1), "x", int64(30), int64(2), "x", int64(40)),
			cols: []string{"a", "b", "s"}, want: rowsOf(3, int64(1), "x", int64(40), int64(1), "y", int64(20), int64(2), "x", int64(40))},
		{name: "key order differs from item order", query: "RETURN count(*) AS c, b", scope: abv,
			rows: rowsOf(3, int64(1), "x", nil, int64(2), "y", nil, int64(3), "x", nil),
			cols: []string{"c", "b"}, want: rowsOf(2, int64(2), "x", int64(1), "y")},
		{name: "1 and 1.0 group together, the first kept", query: "RETURN v, count(*) AS c", scope: []string{"v"},
			rows: column(int64(1), 1.0, int64(2), int64(1)), cols: []string{"v", "c"}, want: rowsOf(2, int64(1), int64(3), int64(2), int64(1))},
		{name: "1.0 first", query: "RETURN v, count(*) AS c", scope: []string{"v"},
			rows: column(1.0, int64(1)), cols: []string{"v", "c"}, want: rowsOf(2, 1.0, int64(2))},
		{name: "lists with nulls group together", query: "RETURN v, count(*) AS c", scope: []string{"v"},
			rows: column([]any{int64(1), nil}, []any{int64(1), nil}, []any{nil}), cols: []string{"v", "c"},
			want: rowsOf(2, []any{int64(1), nil}, int64(2), []any{nil}, int64(1))},
		{name: "count of a value skips nulls", query: "RETURN count(v) AS c, count(*) AS total", scope: []string{"v"},
			rows: column(int64(1), nil, int64(2)), cols: []string{"c", "total"}, want: rowsOf(2, int64(2), int64(3))},
		{name: "count distinct", query: "RETURN count(DISTINCT v) AS c", scope: []string{"v"},
			rows: column(int64(1), int64(1), int64(2), nil, 1.0), cols: []string{"c"}, want: column(int64(2))},
		{name: "collect drops nulls", query: "RETURN collect(v) AS l", scope: []string{"v"},
			rows: column(int64(1), nil, int64(2)), cols: []string{"l"}, want: column([]any{int64(1), int64(2)})},
		{name: "collect distinct keeps the first", query: "RETURN collect(DISTINCT v) AS l", scope: []string{"v"},
			rows: column(int64(1), 1.0, int64(2), int64(1)), cols: []string{"l"}, want: column([]any{int64(1), int64(2)})},
		// Neo4j's documented examples: ages 13, 33, 44 (and null, skipped).
		{name: "standard deviations", query: "RETURN stDev(v) AS s, stDevP(v) AS p", scope: []string{"v"},
			rows: column(int64(2), int64(4), int64(4), int64(4), int64(5), int64(5), int64(7), int64(9), nil), cols: []string{"s", "p"},
			want: rowsOf(2, math.Sqrt(32.0/7), 2.0)},
		{name: "standard deviations of one value and of none", query: "RETURN stDev(v) AS s, stDevP(v) AS p", scope: []string{"v"},
			rows: column(int64(3)), cols: []string{"s", "p"}, want: rowsOf(2, 0.0, 0.0)},
		{name: "percentiles", query: "RETURN percentileDisc(v, 0.5) AS d, percentileCont(v, 0.4) AS c, percentileDisc(v, 0) AS lo, percentileCont(v, 1) AS hi", scope: []string{"v"},
			rows: column(int64(44), int64(13), nil, int64(33)), cols: []string{"d", "c", "lo", "hi"},
			want: rowsOf(4, int64(33), 29.0, int64(13), 44.0)},
		{name: "percentile of distinct values", query: "RETURN percentileDisc(DISTINCT v, 0.5) AS d, percentileCont(DISTINCT v, 0.5) AS c", scope: []string{"v"},
			rows: column(int64(1), int64(1), int64(1), int64(5), int64(9)), cols: []string{"d", "c"}, want: rowsOf(2, int64(5), 5.0)},
		{name: "percentiles of no values", query: "RETURN percentileDisc(v, 0.5) AS d, percentileCont(v, 0.5) AS c", scope: []string{"v"},
			rows: column(nil), cols: []string{"d", "c"}, want: rowsOf(2, nil, nil)},
		{name: "sum distinct", query: "RETURN sum(DISTINCT v) AS s", scope: []string{"v"},
			rows: column(int64(1), int64(1), int64(2)), cols: []string{"s"}, want: column(int64(3))},
		{name: "sum turns float at the first float", query: "RETURN sum(v) AS s", scope: []string{"v"},
			rows: column(int64(1), 2.5, int64(1)), cols: []string{"s"}, want: column(4.5)},
		{name: "sum of floats", query: "RETURN sum(v) AS s", scope: []string{"v"},
			rows: column(0.5, 0.5), cols: []string{"s"}, want: column(1.0)},
		{name: "sum overflow", query: "RETURN sum(v) AS s", scope: []string{"v"},
			rows: column(int64(9223372036854775807), int64(1)), err: "integer overflow"},
		{name: "sum of a string", query: "RETURN sum(v) AS s", scope: []string{"v"},
			rows: column(int64(1), "x"), err: "sum() adds numbers, not a STRING"},
		{name: "avg", query: "RETURN avg(v) AS a, avg(DISTINCT v) AS d", scope: []string{"v"},
			rows: column(int64(1), int64(1), int64(4)), cols: []string{"a", "d"}, want: rowsOf(2, 2.0, 2.5)},
		{name: "avg of a boolean", query: "RETURN avg(v) AS a", scope: []string{"v"},
			rows: column(true), err: "avg() averages numbers, not a BOOLEAN"},
		{name: "min and max across types", query: "RETURN min(v) AS lo, max(v) AS hi", scope: []string{"v"},
			rows: column(int64(1), "a", nil, 0.5), cols: []string{"lo", "hi"}, want: rowsOf(2, "a", int64(1))},
		{name: "min and max of nodes and lists", query: "RETURN min(n) AS lo, max([n.age]) AS hi", rows: people,
			cols: []string{"lo", "hi"}, want: rowsOf(2, ann, []any{int64(40)})},
		{name: "aggregate inside an expression", query: "RETURN count(*) + 1 AS c, collect(n.name)[0] AS first", rows: people,
			cols: []string{"c", "first"}, want: rowsOf(2, int64(5), "Ann")},
		{name: "key expression beside an aggregate", query: "RETURN n.city AS c, n.city + ':' + toString(count(*)) AS label", rows: people[:3],
			cols: []string{"c", "label"}, want: rowsOf(2, "Oslo", "Oslo:2", "Rome", "Rome:1")},
		{name: "key variable beside an aggregate", query: "RETURN n, n.age * count(*) AS x", rows: column(ann, ann),
			cols: []string{"n", "x"}, want: rowsOf(2, ann, int64(60))},
		{name: "star is grouping keys", query: "WITH *, count(*) AS c", scope: []string{"v"}, rows: column("x", "y", "x"),
			cols: []string{"v", "c"}, want: rowsOf(2, "x", int64(2), "y", int64(1))},
		{name: "variable beside an aggregate not a key", query: "RETURN n.age + count(*) AS x", rows: people,
			err: "variable n is used beside an aggregate function but is not a grouping key"},
		{name: "nested aggregates", query: "RETURN count(count(*)) AS x", rows: people,
			err: "aggregate function count() cannot be used inside another aggregate function"},
		{name: "two arguments", query: "RETURN collect(n, n) AS x", rows: people, err: "takes 1 argument(s), got 2"},
		{name: "error in an aggregate's argument", query: "RETURN sum(n.age / 0) AS x", rows: people, err: "division by zero"},
	})
}

func TestProjectDistinctOrderSkipLimit(t *testing.T) {
	runProjectCases(t, []projectCase{
		{name: "distinct", query: "RETURN DISTINCT n.city AS c", rows: people,
			cols: []string{"c"}, want: column("Oslo", "Rome", nil)},
		{name: "distinct 1 and 1.0", query: "RETURN DISTINCT v", scope: []string{"v"}, rows: column(int64(1), 1.0, int64(2)),
			cols: []string{"v"}, want: column(int64(1), int64(2))},
		{name: "distinct whole rows", query: "RETURN DISTINCT a, b", scope: []string{"a", "b"},
			rows: rowsOf(2, int64(1), nil, int64(1), nil, int64(1), int64(2)), cols: []string{"a", "b"}, want: rowsOf(2, int64(1), nil, int64(1), int64(2))},
		{name: "order by alias descending", query: "RETURN n.name AS name ORDER BY name DESC", rows: people,
			cols: []string{"name"}, want: column("Di", "Cy", "Bo", "Ann")},
		{name: "order by an incoming variable", query: "RETURN n.name AS name ORDER BY n.age", rows: people,
			cols: []string{"name"}, want: column("Cy", "Ann", "Di", "Bo")},
		{name: "nulls last ascending", query: "RETURN n.city AS c ORDER BY c", rows: people,
			cols: []string{"c"}, want: column("Oslo", "Oslo", "Rome", nil)},
		{name: "nulls first descending", query: "RETURN n.city AS c ORDER BY c DESC", rows: people,
			cols: []string{"c"}, want: column(nil, "Rome", "Oslo", "Oslo")},
		{name: "two sort keys", query: "RETURN n.name AS name ORDER BY n.city, n.age DESC", rows: people,
			cols: []string{"name"}, want: column("Bo", "Ann", "Cy", "Di")},
		{name: "stable", query: "RETURN n.name AS name ORDER BY n.city", rows: column(bo, ann, cy),
			cols: []string{"name"}, want: column("Bo", "Ann", "Cy")},
		{name: "mixed types in orderability order", query: "RETURN v ORDER BY v", scope: []string{"v"},
			rows: column(int64(2), nil, "a", 1.5, true, []any{int64(1)}), cols: []string{"v"},
			want: column([]any{int64(1)}, "a", true, 1.5, int64(2), nil)},
		{name: "alias shadows an incoming variable", query: "WITH n.age AS n ORDER BY n", rows: people,
			cols: []string{"n"}, want: column(int64(25), int64(30), int64(35), int64(40))},
		{name: "order by a projected variable's property", query: "RETURN n ORDER BY n.age DESC", rows: people[:3],
			cols: []string{"n"}, want: column(bo, ann, cy)},
		{name: "order after aggregation by alias", query: "RETURN n.city AS city, count(*) AS c ORDER BY c, city", rows: people,
			cols: []string{"city", "c"}, want: rowsOf(2, "Rome", int64(1), nil, int64(1), "Oslo", int64(2))},
		{name: "order by a projected aggregate", query: "RETURN n.city AS city, count(*) AS c ORDER BY count(*) DESC, city", rows: people,
			cols: []string{"city", "c"}, want: rowsOf(2, "Oslo", int64(2), "Rome", int64(1), nil, int64(1))},
		{name: "order by a projected key expression", query: "RETURN n.city, count(*) AS c ORDER BY n.city DESC", rows: people,
			cols: []string{"n.city", "c"}, want: rowsOf(2, nil, int64(1), "Rome", int64(1), "Oslo", int64(2))},
		{name: "order by an aggregate not projected", query: "RETURN n.city AS city ORDER BY count(*)", rows: people,
			err: "ORDER BY can use an aggregate function only in one of the projected expressions"},
		{name: "order by an expression of projected aggregates and keys", query: "RETURN n.city AS city, count(*) AS c ORDER BY -count(*) + 0, n.city + '' DESC",
			rows: people, cols: []string{"city", "c"}, want: rowsOf(2, "Oslo", int64(2), nil, int64(1), "Rome", int64(1))}, // null + '' is null, first when descending
		{name: "order by a parameter and a projected aggregate", query: "RETURN avg(n.age) AS a ORDER BY $p + avg(n.age) - 1", rows: people,
			params: map[string]any{"p": 1}, cols: []string{"a"}, want: column(32.5)},
		{name: "order by an expression with an aggregate not projected", query: "RETURN n.city AS city, count(*) AS c ORDER BY c + sum(n.age)",
			rows: people, err: "ORDER BY can use an aggregate function only in one of the projected expressions: sum(n.age) is not one"},
		{name: "order by an incoming variable after aggregation", query: "RETURN n.city AS city, count(*) AS c ORDER BY n.age", rows: people,
			err: "variable n is not defined"},
		{name: "order by an incoming variable after DISTINCT", query: "RETURN DISTINCT n.city AS city ORDER BY n.age", rows: people,
			err: "variable n is not defined"},
		{name: "order by a projected expression after DISTINCT", query: "RETURN DISTINCT n.city AS city ORDER BY n.city DESC", rows: people,
			cols: []string{"city"}, want: column(nil, "Rome", "Oslo")},
		{name: "skip and limit", query: "RETURN n.name AS name ORDER BY name SKIP 1 LIMIT 2", rows: people,
			cols: []string{"name"}, want: column("Bo", "Cy")},
		{name: "skip and limit parameters", query: "RETURN n.name AS name SKIP $s LIMIT $l", rows: people, params: map[string]any{"s": 2, "l": int64(5)},
			cols: []string{"name"}, want: column("Cy", "Di")},
		{name: "limit 0", query: "RETURN n LIMIT 0", rows: people, cols: []string{"n"}, want: nil},
		{name: "skip past the end", query: "RETURN n SKIP 10", rows: people, cols: []string{"n"}, want: nil},
		{name: "negative limit", query: "RETURN n LIMIT $l", rows: people, params: map[string]any{"l": -1}, err: "LIMIT takes a non-negative INTEGER, not -1"},
		{name: "float skip", query: "RETURN n SKIP $s", rows: people, params: map[string]any{"s": 1.0}, err: "SKIP takes a non-negative INTEGER, not a FLOAT"},
		{name: "null limit", query: "RETURN n LIMIT $l", rows: people, params: map[string]any{"l": nil}, err: "LIMIT takes a non-negative INTEGER, not a NULL"},
		{name: "missing limit parameter", query: "RETURN n LIMIT $l", rows: people, err: "missing parameter $l"},
		{name: "skip and limit expressions", query: "RETURN n.name AS name SKIP toInteger(ceil(0.5)) LIMIT $l - 1", rows: people,
			params: map[string]any{"l": 3}, cols: []string{"name"}, want: column("Bo", "Cy")},
		{name: "a limit that reads a variable", query: "RETURN n LIMIT size(n.name)", rows: people,
			err: "LIMIT is evaluated once, before any row: it cannot read variable n"},
		{name: "a negative limit written", query: "RETURN n LIMIT -1", rows: people, err: "LIMIT takes a non-negative INTEGER, not -1"},
		{name: "distinct then order then limit", query: "RETURN DISTINCT n.city AS c ORDER BY c DESC LIMIT 2", rows: people,
			cols: []string{"c"}, want: column(nil, "Rome")},
	})
}

func TestProjectWhere(t *testing.T) {
	runProjectCases(t, []projectCase{
		{name: "where on projected columns", query: "WITH n.name AS name, n.age AS age WHERE age > 28", rows: people,
			cols: []string{"name", "age"}, want: rowsOf(2, "Ann", int64(30), "Bo", int64(40), "Di", int64(35))},
		{name: "where after limit", query: "WITH n.name AS name, n.age AS age ORDER BY age LIMIT 2 WHERE age > 28", rows: people,
			cols: []string{"name", "age"}, want: rowsOf(2, "Ann", int64(30))},
		{name: "where drops null", query: "WITH n.city AS city WHERE city STARTS WITH 'O'", rows: people,
			cols: []string{"city"}, want: column("Oslo", "Oslo")},
		{name: "where after aggregation", query: "WITH n.city AS city, count(*) AS c WHERE c > 1", rows: people,
			cols: []string{"city", "c"}, want: rowsOf(2, "Oslo", int64(2))},
		{name: "where not boolean", query: "WITH n.age AS age WHERE age", rows: people, err: "WHERE expects a BOOLEAN, got an INTEGER"},
		// WHERE sees the variables before WITH when each row comes from one (openCypher), and
		// reads an item's value where it writes the item's expression.
		{name: "where on a variable not projected", query: "WITH n.age AS age WHERE n.name = 'Ann'", rows: people,
			cols: []string{"age"}, want: column(int64(30))},
		{name: "where on a projected expression after DISTINCT", query: "WITH DISTINCT n.city AS city WHERE n.city STARTS WITH 'R'", rows: people,
			cols: []string{"city"}, want: column("Rome")},
		{name: "where on a grouping key after aggregation", query: "WITH n.city AS city, count(*) AS c WHERE n.city + '!' = 'Oslo!' AND count(*) = 2", rows: people,
			cols: []string{"city", "c"}, want: rowsOf(2, "Oslo", int64(2))},
		{name: "where on a variable not projected after DISTINCT", query: "WITH DISTINCT n.city AS city WHERE n.age > 1", rows: people,
			err: "variable n is not defined"},
		{name: "where with an aggregate", query: "WITH n.age AS age WHERE count(*) > 1", rows: people, err: "aggregate function count() is not allowed here"},
	})
}

func TestProjectMaxRows(t *testing.T) {
	runProjectCases(t, []projectCase{
		{name: "rows", query: "RETURN n", rows: people, maxRows: 3, tooMany: true},
		{name: "groups", query: "RETURN n.name, count(*)", rows: people, maxRows: 3, tooMany: true},
		{name: "collect", query: "RETURN collect(n.age) AS l", rows: people, maxRows: 3, tooMany: true},
		{name: "collect distinct under the limit", query: "RETURN collect(DISTINCT n.city) AS l", rows: people, maxRows: 3,
			cols: []string{"l"}, want: column([]any{"Oslo", "Rome"})},
		{name: "at the limit", query: "RETURN n.name AS name", rows: people, maxRows: 4,
			cols: []string{"name"}, want: column("Ann", "Bo", "Cy", "Di")},
		{name: "no limit", query: "RETURN n.name AS name LIMIT 1", rows: people, maxRows: 0,
			cols: []string{"name"}, want: column("Ann")},
	})
}

// TestProjectAggregateStar covers sum(*), which the parser refuses, built by hand: Project
// must refuse it too rather than sum a row marker.
func TestProjectAggregateStar(t *testing.T) {
	p := &cypher.Projection{Items: []*cypher.ProjectionItem{{Expr: &cypher.FuncCall{Name: "sum", Star: true}}}}
	_, _, err := (&Env{}).Project(people, NewScope("n"), p, nil, 0)
	var qe *QueryError
	if !errors.As(err, &qe) || !strings.Contains(qe.Msg, "only count takes *") {
		t.Fatalf("sum(*): error %v, want a QueryError about *", err)
	}
}

// TestProjectOrderProperty checks ORDER BY against its contract on random lists: the result is
// a permutation of the input, sorted by value.Compare, and stable.
func TestProjectOrderProperty(t *testing.T) {
	pool := []any{nil, int64(1), 1.0, int64(-3), 2.5, "a", "b", true, false, []any{int64(1)}, []any{}, map[string]any{"k": int64(1)}, ann, bo}
	p, _ := parseProjection(t, "RETURN v, i ORDER BY v DESC")
	seed := uint64(42)
	next := func() uint64 { // xorshift: a fixed, reproducible sequence
		seed ^= seed << 13
		seed ^= seed >> 7
		seed ^= seed << 17
		return seed
	}
	for iter := 0; iter < 200; iter++ {
		n := int(next() % 12)
		rows := make([]Row, n)
		for i := range rows {
			rows[i] = Row{pool[next()%uint64(len(pool))], int64(i)}
		}
		got, _, err := (&Env{}).Project(rows, NewScope("v", "i"), p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("%d rows in, %d out", n, len(got))
		}
		seen := make([]bool, n)
		for j, r := range got {
			seen[r[1].(int64)] = true
			if j == 0 {
				continue
			}
			prev := got[j-1]
			c := value.Compare(prev[0], r[0])
			if c < 0 || c == 0 && prev[1].(int64) > r[1].(int64) {
				t.Fatalf("rows %d and %d out of order: %v then %v", j-1, j, prev, r)
			}
		}
		if slices.Contains(seen, false) {
			t.Fatalf("not a permutation: %v", got)
		}
	}
}

func TestUnwind(t *testing.T) {
	parse := func(t *testing.T, q string) *cypher.Unwind {
		t.Helper()
		parsed, err := cypher.Parse(q + " RETURN 1")
		if err != nil {
			t.Fatalf("parse %q: %v", q, err)
		}
		return parsed.Clauses[0].(*cypher.Unwind)
	}
	for _, tc := range []struct {
		name    string
		query   string
		rows    []Row
		maxRows int
		want    []Row
		err     string
		tooMany bool
	}{
		{name: "list", query: "UNWIND [1, 2] AS x", rows: column("a"), want: rowsOf(2, "a", int64(1), "a", int64(2))},
		{name: "per row", query: "UNWIND range(1, k) AS x", rows: column(int64(1), int64(2)), want: rowsOf(2, int64(1), int64(1), int64(2), int64(1), int64(2), int64(2))},
		{name: "null", query: "UNWIND null AS x", rows: column("a"), want: nil},
		{name: "empty list", query: "UNWIND [] AS x", rows: column("a"), want: nil},
		{name: "scalar", query: "UNWIND k AS x", rows: column(int64(5)), want: rowsOf(2, int64(5), int64(5))},
		{name: "nested lists stay lists", query: "UNWIND [[1], null] AS x", rows: column("a"), want: rowsOf(2, "a", []any{int64(1)}, "a", nil)},
		{name: "bound variable", query: "UNWIND [1] AS k", rows: column("a"), err: "variable k is already defined"},
		{name: "error", query: "UNWIND [1 / 0] AS x", rows: column("a"), err: "division by zero"},
		{name: "row limit", query: "UNWIND [1, 2, 3, 4] AS x", rows: column("a"), maxRows: 3, tooMany: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, s, err := (&Env{}).Unwind(tc.rows, NewScope("k"), parse(t, tc.query), tc.maxRows)
			switch {
			case tc.tooMany:
				if !errors.Is(err, ErrTooManyRows) || !strings.Contains(err.Error(), "limit of 3 rows") {
					t.Fatalf("error %v, want ErrTooManyRows naming the limit", err)
				}
				return
			case tc.err != "":
				var qe *QueryError
				if !errors.As(err, &qe) || !strings.Contains(qe.Msg, tc.err) {
					t.Fatalf("error %v, want a QueryError containing %q", err, tc.err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if !slices.Equal(s.Names(), []string{"k", "x"}) {
				t.Errorf("scope %q, want [k x]", s.Names())
			}
			if len(got) != len(tc.want) {
				t.Fatalf("rows %v, want %v", got, tc.want)
			}
			for i := range got {
				if !slices.EqualFunc(got[i], tc.want[i], sameValue) {
					t.Errorf("row %d is %#v, want %#v", i, got[i], tc.want[i])
				}
			}
		})
	}
}
