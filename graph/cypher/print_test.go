package cypher

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	. "github.com/onsi/gomega"
)

// TestPrintRoundTripProperty: any expression tree the parser can produce prints as
// Cypher that parses back to the same tree, whatever its nesting: the printer puts
// parentheses exactly where precedence, associativity and comparison chains need them,
// and quotes names exactly where the lexer needs it.
func TestPrintRoundTripProperty(t *testing.T) {
	for seed := range uint64(3000) {
		g := NewWithT(t)
		gen := exprGen{rand.New(rand.NewPCG(seed, 18))}
		e := gen.expr(4)
		text := "RETURN " + e.String()
		q, err := Parse(text)
		g.Expect(err).NotTo(HaveOccurred(), "seed %d: %s", seed, text)
		got := q.Clauses[0].(*Return).Items[0].Expr
		zeroAt(reflect.ValueOf(&got))
		g.Expect(got).To(Equal(e), "seed %d: %s", seed, text)
	}
}

// exprGen makes random expressions in the form the parser produces: positions zero, a
// minus sign before a number folded into it, function names lower case.
type exprGen struct{ r *rand.Rand }

var (
	genNames = []string{"a", "b", "n", "x_1", "é", "match", "END", "count", "a b", "x`y", "Order", "exists"}
	genFuncs = []string{"f", "count", "size", "coalesce", "exists", "all", "any", "tolower", "in"}
)

func (g exprGen) name() string { return genNames[g.r.IntN(len(genNames))] }

func (g exprGen) leaf() Expr {
	switch g.r.IntN(9) {
	case 0:
		return &Literal{}
	case 1:
		return &Literal{Value: g.r.IntN(2) == 0}
	case 2:
		return &Literal{Value: g.r.Int64N(2000) - 1000}
	case 3:
		return &Literal{Value: []float64{0.5, -2.25, 1e300, -1e-9, 3.0, math.Copysign(0, -1)}[g.r.IntN(6)]}
	case 4:
		return &Literal{Value: []string{"", "it's", "a\\b\n", "é\u0001", "/* x */"}[g.r.IntN(5)]}
	case 5:
		return &Parameter{Name: []string{"p", "0", "x_y"}[g.r.IntN(3)]}
	default:
		return &Variable{Name: g.name()}
	}
}

func (g exprGen) exprs(depth, max int) []Expr {
	var es []Expr // nil when empty, as the parser leaves it
	for range g.r.IntN(max + 1) {
		es = append(es, g.expr(depth))
	}
	return es
}

func (g exprGen) opt(depth int) Expr {
	if g.r.IntN(3) == 0 {
		return nil
	}
	return g.expr(depth)
}

func (g exprGen) expr(depth int) Expr {
	if depth == 0 || g.r.IntN(5) == 0 {
		return g.leaf()
	}
	d := depth - 1
	switch g.r.IntN(19) {
	case 0, 1, 2:
		return &Binary{Op: BinaryOp(1 + g.r.IntN(int(OpPow))), L: g.expr(d), R: g.expr(d)}
	case 3:
		x := g.expr(d)
		op := UnaryOp(1 + g.r.IntN(3))
		if l, ok := x.(*Literal); ok && op == OpNeg {
			switch l.Value.(type) {
			case int64, float64:
				op = OpPlus // the parser folds -5 into a literal
			}
		}
		return &Unary{Op: op, X: x}
	case 4:
		return &In{X: g.expr(d), List: g.expr(d)}
	case 5:
		return &StringOp{Op: StringOpKind(1 + g.r.IntN(3)), L: g.expr(d), R: g.expr(d)}
	case 6:
		return &IsNull{X: g.expr(d), Not: g.r.IntN(2) == 0}
	case 7:
		return &Property{Expr: g.expr(d), Key: g.name()}
	case 8:
		if g.r.IntN(2) == 0 {
			return &Index{Expr: g.expr(d), Index: g.expr(d)}
		}
		return &Slice{Expr: g.expr(d), From: g.opt(d), To: g.opt(d)}
	case 9:
		return &LabelTest{X: g.expr(d), Labels: []string{g.name(), "L"}[:1+g.r.IntN(2)]}
	case 10:
		f := &FuncCall{Name: genFuncs[g.r.IntN(len(genFuncs))]}
		switch {
		case f.Name == "count" && g.r.IntN(3) == 0:
			f.Star = true
		case g.r.IntN(3) == 0:
			f.Distinct, f.Args = true, append(g.exprs(d, 2), g.expr(d))
		default:
			f.Args = g.exprs(d, 3)
		}
		return f
	case 11:
		if g.r.IntN(2) == 0 {
			return &ListLit{Elems: g.exprs(d, 3)}
		}
		m := &MapLit{}
		for _, k := range []string{"k", "END", "a b"}[:g.r.IntN(4)] {
			m.Items = append(m.Items, &MapItem{Key: k, Value: g.expr(d)})
		}
		return m
	case 14:
		return &RegexMatch{L: g.expr(d), R: g.expr(d)}
	case 15:
		return &ListComprehension{Var: g.name(), List: g.expr(d), Where: g.opt(d), Map: g.opt(d)}
	case 16:
		return &ListPredicate{Quantifier: Quantifier(1 + g.r.IntN(4)), Var: g.name(), List: g.expr(d), Where: g.expr(d)}
	case 17:
		r := &Reduce{Acc: g.name(), Init: g.expr(d), Var: g.name(), List: g.expr(d), Expr: g.expr(d)}
		if r.Var == r.Acc {
			r.Var += "2"
		}
		return r
	case 18:
		m := &MapProjection{Var: &Variable{Name: g.name()}}
		for range g.r.IntN(4) {
			it := &MapProjectionItem{Kind: MapProjectionKind(1 + g.r.IntN(4))}
			switch it.Kind {
			case ProjectProperty:
				it.Key = g.name()
			case ProjectVariable:
				it.Key = g.name()
				it.Value = &Variable{Name: it.Key}
			case ProjectEntry:
				it.Key, it.Value = g.name(), g.expr(d)
			}
			m.Items = append(m.Items, it)
		}
		return m
	default:
		if g.r.IntN(4) == 0 {
			return g.patternPredicate(d)
		}
		c := &Case{Subject: g.opt(d), Else: g.opt(d)}
		for range 1 + g.r.IntN(2) {
			c.Whens = append(c.Whens, &When{Cond: g.expr(d), Result: g.expr(d)})
		}
		return c
	}
}

// patternPredicate makes exists(pattern), EXISTS { }, COUNT { } or a pattern
// comprehension (a bare pattern is a value in RETURN, which the parser refuses), their
// WHERE a predicate or a bare pattern.
func (g exprGen) patternPredicate(depth int) Expr {
	some := func(names ...string) []string { // nil when empty, as the parser leaves it
		if n := g.r.IntN(len(names) + 1); n > 0 {
			return names[:n]
		}
		return nil
	}
	pat := func() *Pattern {
		return &Pattern{Elements: []Element{&NodePattern{Var: g.name()},
			&RelPattern{Types: some("T", "U"), Dir: Direction(g.r.IntN(3))}, &NodePattern{Labels: some("L")}}}
	}
	pp := &PatternPredicate{Form: PredicateForm(2 + g.r.IntN(4)), Patterns: []*Pattern{pat()}}
	if pp.Form == Comprehension {
		pp.Map = g.expr(depth)
		if g.r.IntN(2) == 0 {
			pp.Patterns[0].PathVar = g.name()
		}
	}
	if pp.Form != ExistsForm {
		switch g.r.IntN(3) {
		case 0:
			pp.Where = g.expr(depth)
		case 1:
			pp.Where = &Unary{Op: OpNot, X: &PatternPredicate{Form: PatternForm, Patterns: []*Pattern{pat()}}}
		}
	}
	return pp
}
