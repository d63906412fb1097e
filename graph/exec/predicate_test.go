package exec

import (
	"testing"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/graph/cypher"
)

// predicateOf parses a WHERE condition and returns its first pattern predicate.
func predicateOf(t *testing.T, where string) *cypher.PatternPredicate {
	t.Helper()
	q, err := cypher.Parse("MATCH (a)-[r]->(b) WITH a, b, r, 1 AS i WHERE " + where + " RETURN a")
	if err != nil {
		t.Fatalf("parse %q: %v", where, err)
	}
	preds := patternPredicates(nil, q.Clauses[1].(*cypher.With).Where)
	if len(preds) == 0 {
		t.Fatalf("%q holds no pattern predicate", where)
	}
	return preds[0]
}

// TestPatternPredicateAnchors: a predicate starts from the nodes the row binds; a pattern
// that names none of them (nor a node of an earlier pattern), or names a relationship the
// row binds, is refused where it is written.
func TestPatternPredicateAnchors(t *testing.T) {
	s := NewScope("a", "b", "r", "i")
	for _, tc := range []struct {
		where string
		bound []string
		err   string
	}{
		{where: "(a)-->()", bound: []string{"a"}},
		{where: "NOT (a)-->(b)", bound: []string{"a", "b"}},
		{where: "EXISTS { MATCH (x)<--(b), (x)-->(y), (y)--(a) }", bound: []string{"b", "a"}},
		{where: "COUNT { (c)-->(d) } > 0", err: "line 1, column 55: COUNT { } must start from a node the row binds, and (c)-->(d) names none"},
		{where: "EXISTS { MATCH (a)-->(x), (y)-->(z) }", err: "line 1, column 73: EXISTS { } must start from a node the row binds, and (y)-->(z) names none"},
		{where: "(a)-[r]->()", err: "line 1, column 50: relationship variable r is bound outside a pattern predicate: its relationships are its own"},
	} {
		g := NewWithT(t)
		bound, err := anchors(predicateOf(t, tc.where), s)
		if tc.err != "" {
			g.Expect(err).To(MatchError(tc.err), tc.where)
			continue
		}
		g.Expect(err).NotTo(HaveOccurred(), tc.where)
		g.Expect(bound).To(Equal(tc.bound), tc.where)
	}
}

// TestPatternPredicateEval: Eval reads a predicate's value from its hidden column, which the
// executor fills for the whole batch beforehand; without the column it is a QueryError.
func TestPatternPredicateEval(t *testing.T) {
	g := NewWithT(t)
	x := predicateOf(t, "NOT (a)-[:T]->(b) AND i = 1")
	where := &cypher.Binary{Op: cypher.OpAnd, L: &cypher.Unary{Op: cypher.OpNot, X: x}, R: &cypher.Literal{Value: true}}
	s, _ := NewScope("a", "b").With(predVar(x))
	env := &Env{}
	for _, c := range [][2]any{{true, false}, {false, true}, {nil, nil}} {
		got, err := env.Eval(where, s, Row{alice, bob, c[0]})
		g.Expect(err).NotTo(HaveOccurred())
		if c[1] == nil {
			g.Expect(got).To(BeNil(), "NOT null")
		} else {
			g.Expect(got).To(Equal(c[1]), "NOT %v", c[0])
		}
	}
	_, err := env.Eval(where, NewScope("a", "b"), Row{alice, bob})
	g.Expect(err).To(MatchError(ContainSubstring("line 1, column 51: a pattern predicate is evaluated in WHERE, WITH and RETURN only")))

	// The planner sees the predicate's variables and what it reads of them.
	g.Expect(References(x)).To(Equal([]string{"a", "b"}))
	y := predicateOf(t, "EXISTS { MATCH (a)-->(c) WHERE c.x > b.y }")
	g.Expect(readsWhole(y, "a")).To(BeFalse(), "the pattern needs a's identity only")
	g.Expect(readsWhole(y, "b")).To(BeTrue(), "the WHERE reads b's properties")
	g.Expect(constant(y)).To(BeFalse())

	// A comprehension's expression is read like its WHERE.
	z := predicateOf(t, "size([(a)-->(c) WHERE c.x > 0 | b.name]) > i")
	g.Expect(predicateName(z)).To(Equal("a pattern comprehension"))
	g.Expect(z.EveryMatch()).To(BeTrue())
	g.Expect(readsWhole(z, "a")).To(BeFalse(), "the pattern needs a's identity only")
	g.Expect(readsWhole(z, "b")).To(BeTrue(), "the expression reads b's properties")
}

// TestMatchKey: a comprehension's matches are ordered by the ids of what they bind, lists
// of relationships (variable length) element by element.
func TestMatchKey(t *testing.T) {
	g := NewWithT(t)
	k := func(vals ...any) string { return string(matchKey(nil, vals)) }
	g.Expect(k(alice, 1, nil) < k(bob)).To(Equal(alice.ID < bob.ID))
	g.Expect(k([]any{alice}) < k([]any{alice, alice})).To(BeTrue())
	g.Expect(k("x", 1.5)).To(BeEmpty(), "values other than entities do not order matches")
}

// TestPatternPredicateEntityKey: rows are matched once per identity of the entities a
// predicate reads; a row that holds another kind of value there is never merged.
func TestPatternPredicateEntityKey(t *testing.T) {
	g := NewWithT(t)
	key := func(row Row, cols ...int) (string, bool) {
		b, ok := entityKey(nil, row, cols)
		return string(b), ok
	}
	k1, ok1 := key(Row{alice, knows, int64(1)}, 0, 1)
	k2, ok2 := key(Row{alice, knows, int64(2)}, 0, 1)
	g.Expect(ok1 && ok2).To(BeTrue())
	g.Expect(k1).To(Equal(k2), "column 2 is not read")
	k3, _ := key(Row{bob, knows}, 0, 1)
	g.Expect(k3).NotTo(Equal(k1))
	k4, _ := key(Row{nil, knows}, 0, 1)
	g.Expect(k4).NotTo(Equal(k1))
	_, ok := key(Row{alice, int64(1)}, 0, 1)
	g.Expect(ok).To(BeFalse())
}
