package cypher

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

// precedenceCases: an expression and its structure, every compound in parentheses.
var precedenceCases = []struct{ expr, tree string }{
	{"1 + 2 * 3", "(1 + (2 * 3))"},
	{"1 - 2 - 3", "((1 - 2) - 3)"},
	{"1 / 2 * 3 % 4", "(((1 / 2) * 3) % 4)"},
	{"2 ^ 3 ^ 2", "((2 ^ 3) ^ 2)"},
	{"2 ^ (3 ^ 2)", "(2 ^ (3 ^ 2))"},
	{"-2 ^ 2 * 3", "((-2 ^ 2) * 3)"},
	{"a ^ b * c", "((a ^ b) * c)"},
	{"a * b ^ c", "(a * (b ^ c))"},
	{"-2 ^ 2", "(-2 ^ 2)"},
	{"-x ^ 2", "((- x) ^ 2)"},
	{"2 ^ -x", "(2 ^ (- x))"},
	{"- - 1", "1"},
	{"-(-1.5)", "1.5"},
	{"1 - -1", "(1 - -1)"},
	{"a * -b", "(a * (- b))"},
	{"+a", "(+ a)"},
	{"-n.x", "(- (n.x))"},
	{"a OR b AND c", "(a OR (b AND c))"},
	{"a OR b XOR c AND d", "(a OR (b XOR (c AND d)))"},
	{"a AND b OR c", "((a AND b) OR c)"},
	{"a XOR b XOR c", "((a XOR b) XOR c)"},
	{"NOT a AND b", "((NOT a) AND b)"},
	{"NOT a = b", "(NOT (a = b))"},
	{"NOT NOT a", "(NOT (NOT a))"},
	{"a = b OR c", "((a = b) OR c)"},
	{"a < b < c", "((a < b) AND (b < c))"},
	{"a = b <> c < d", "(((a = b) AND (b <> c)) AND (c < d))"},
	{"x = (a < b)", "(x = (a < b))"},
	{"(a = b) = c", "((a = b) = c)"},
	{"a + 1 IN list", "((a + 1) IN list)"},
	{"a IN b = c", "((a IN b) = c)"},
	{"a IN b IN c", "((a IN b) IN c)"},
	{"x IS NULL = true", "((x IS NULL) = true)"},
	{"a + b IS NOT NULL", "((a + b) IS NOT NULL)"},
	{"a STARTS WITH b + c", "(a STARTS WITH (b + c))"},
	{"a CONTAINS b IN c", "((a CONTAINS b) IN c)"},
	{"a ENDS WITH b IS NULL", "((a ENDS WITH b) IS NULL)"},
	{"a =~ b + c", "(a =~ (b + c))"},
	{"a =~ b IN c", "((a =~ b) IN c)"},
	{"a =~ b = c", "((a =~ b) = c)"},
	{"NOT a =~ b", "(NOT (a =~ b))"},
	{"a + b =~ c IS NULL", "(((a + b) =~ c) IS NULL)"},
	{"NOT a IS NULL", "(NOT (a IS NULL))"},
	{"n.a.b[0]", "(((n.a).b)[0])"},
	{"n:L AND m", "((n:L) AND m)"},
	{"n.x:L:M", "((n.x):L:M)"},
	{"(n:L).x", "((n:L).x)"},
	{"[1, 2][0] + 1", "(([1, 2][0]) + 1)"},
	{"a[1..2][0]", "((a[1..2])[0])"},
	{"(a OR b) AND c", "((a OR b) AND c)"},
	{"CASE WHEN a THEN b END + 1", "(CASE WHEN a THEN b END + 1)"},
	{"count(*) * 2", "(count(*) * 2)"},
	{"f(a + 1, b)", "f((a + 1), b)"},
	{"{k: a + 1}.k", "({k: (a + 1)}.k)"},
	{"-(a + b)", "(- (a + b))"},
	{"(a + b) * c", "((a + b) * c)"},
	{"a - (b - c)", "(a - (b - c))"},
	{"(2 ^ 3) ^ 2", "((2 ^ 3) ^ 2)"},
}

func TestParsePrecedence(t *testing.T) {
	for _, c := range precedenceCases {
		g := NewWithT(t)
		q, err := Parse("RETURN " + c.expr)
		g.Expect(err).NotTo(HaveOccurred(), c.expr)
		g.Expect(tree(q.Clauses[0].(*Return).Items[0].Expr)).To(Equal(c.tree), c.expr)
		expectRoundTrip(g, q)
	}
}

// tree prints an expression with every compound in parentheses, to show its structure
// independently of the printer under test.
func tree(e Expr) string {
	switch e := e.(type) {
	case *Binary:
		return "(" + tree(e.L) + " " + e.Op.String() + " " + tree(e.R) + ")"
	case *Unary:
		return "(" + e.Op.String() + " " + tree(e.X) + ")"
	case *In:
		return "(" + tree(e.X) + " IN " + tree(e.List) + ")"
	case *StringOp:
		return "(" + tree(e.L) + " " + e.Op.String() + " " + tree(e.R) + ")"
	case *RegexMatch:
		return "(" + tree(e.L) + " =~ " + tree(e.R) + ")"
	case *IsNull:
		if e.Not {
			return "(" + tree(e.X) + " IS NOT NULL)"
		}
		return "(" + tree(e.X) + " IS NULL)"
	case *Property:
		return "(" + tree(e.Expr) + "." + e.Key + ")"
	case *Index:
		return "(" + tree(e.Expr) + "[" + tree(e.Index) + "])"
	case *Slice:
		return "(" + tree(e.Expr) + "[" + tree(e.From) + ".." + tree(e.To) + "])"
	case *LabelTest:
		return "(" + tree(e.X) + ":" + strings.Join(e.Labels, ":") + ")"
	case *FuncCall:
		args := make([]string, len(e.Args))
		for i, a := range e.Args {
			args[i] = tree(a)
		}
		if e.Star {
			return e.Name + "(*)"
		}
		return e.Name + "(" + strings.Join(args, ", ") + ")"
	case *MapLit:
		items := make([]string, len(e.Items))
		for i, it := range e.Items {
			items[i] = it.Key + ": " + tree(it.Value)
		}
		return "{" + strings.Join(items, ", ") + "}"
	case nil:
		return ""
	}
	return e.String() // atoms; CASE and lists print their parts canonically
}

// TestParseListsMapsAndRegex checks the trees of list comprehensions, list predicates,
// reduce, map projections and =~, positions included, and UNION's parts.
func TestParseListsMapsAndRegex(t *testing.T) {
	g := NewWithT(t)
	at := func(col int) At { return At{Pos{Line: 1, Column: col}} }
	item := func(q *Query, i int) Expr { return q.Clauses[0].(*Return).Items[i].Expr }

	q, err := Parse("RETURN [x IN l WHERE x > 1 | x], any(y IN l WHERE y), reduce(s = 0, z IN l | s + z)")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(item(q, 0)).To(Equal(&ListComprehension{At: at(8), Var: "x", List: &Variable{At: at(14), Name: "l"},
		Where: &Binary{At: at(24), Op: OpGt, L: &Variable{At: at(22), Name: "x"}, R: &Literal{At: at(26), Value: int64(1)}},
		Map:   &Variable{At: at(30), Name: "x"}}))
	g.Expect(item(q, 1)).To(Equal(&ListPredicate{At: at(34), Quantifier: QuantAny, Var: "y", List: &Variable{At: at(43), Name: "l"},
		Where: &Variable{At: at(51), Name: "y"}}))
	g.Expect(item(q, 2)).To(Equal(&Reduce{At: at(55), Acc: "s", Init: &Literal{At: at(66), Value: int64(0)}, Var: "z",
		List: &Variable{At: at(74), Name: "l"},
		Expr: &Binary{At: at(80), Op: OpAdd, L: &Variable{At: at(78), Name: "s"}, R: &Variable{At: at(82), Name: "z"}}}))

	q, err = Parse("RETURN n {.a, .*, m, k: 1}, n.s =~ 'x'")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(item(q, 0)).To(Equal(&MapProjection{At: at(10), Var: &Variable{At: at(8), Name: "n"}, Items: []*MapProjectionItem{
		{At: at(11), Kind: ProjectProperty, Key: "a"},
		{At: at(15), Kind: ProjectAll},
		{At: at(19), Kind: ProjectVariable, Key: "m", Value: &Variable{At: at(19), Name: "m"}},
		{At: at(22), Kind: ProjectEntry, Key: "k", Value: &Literal{At: at(25), Value: int64(1)}},
	}}))
	g.Expect(item(q, 1)).To(Equal(&RegexMatch{At: at(33),
		L: &Property{At: at(30), Expr: &Variable{At: at(29), Name: "n"}, Key: "s"}, R: &Literal{At: at(36), Value: "x"}}))

	q, err = Parse("RETURN 1 AS a UNION ALL RETURN 2 AS a")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(q.Clauses).To(HaveLen(1))
	g.Expect(q.Unions).To(HaveLen(1))
	g.Expect(q.Unions[0].Pos).To(Equal(Pos{Line: 1, Column: 15}))
	g.Expect(q.Unions[0].All).To(BeTrue())
	g.Expect(q.Unions[0].Clauses[0].String()).To(Equal("RETURN 2 AS a"))
}
