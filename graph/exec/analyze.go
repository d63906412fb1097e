package exec

import (
	"slices"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/shardapi"
	"github.com/torua/torua/graph/value"
)

// The planner's view of expressions: which WHERE conjuncts a node can evaluate (pushdown),
// and which variables later clauses read as more than an identity.

// readsWhole reports whether e reads variable name as more than its identity: anything but
// id(name), count(name), count(DISTINCT name), length(name) (of a path: its relationships are
// known) and name IS [NOT] NULL. A node that no later
// expression reads whole need not be loaded.
func readsWhole(e cypher.Expr, name string) bool {
	if outer, inner, names, ok := cypher.Binds(e); ok {
		if slices.Contains(names, name) {
			inner = nil // name is the comprehension's own there
		}
		for _, x := range append(outer, inner...) {
			if readsWhole(x, name) {
				return true
			}
		}
		return false
	}
	switch e := e.(type) {
	case nil:
		return false
	case *cypher.Variable:
		return e.Name == name
	case *cypher.FuncCall:
		if (e.Name == "id" || e.Name == "count" || e.Name == "length") && len(e.Args) == 1 {
			if v, ok := e.Args[0].(*cypher.Variable); ok && v.Name == name {
				return false
			}
		}
	case *cypher.IsNull:
		if v, ok := e.X.(*cypher.Variable); ok && v.Name == name {
			return false
		}
	case *cypher.PatternPredicate:
		// Its patterns need their vertices' identities only.
		return slices.ContainsFunc(predicateExprs(e), func(x cypher.Expr) bool { return readsWhole(x, name) })
	}
	for _, c := range children(e) {
		if readsWhole(c, name) {
			return true
		}
	}
	return false
}

// laterReadsWhole reports whether any clause after the running one (or extra, the running
// MATCH's own residual WHERE) reads name whole; in a FOREACH's body, the clauses after the
// FOREACH too. Patterns of later clauses that name it need
// only its identity, except in CREATE/MERGE property maps, which are expressions.
func (r *run) laterReadsWhole(name string, extra ...cypher.Expr) bool {
	for _, e := range extra {
		if readsWhole(e, name) {
			return true
		}
	}
	later := slices.Clone(r.clauses[r.at+1:])
	for _, f := range r.outer {
		later = append(later, f.clauses[f.at+1:]...)
	}
	for _, c := range later {
		for _, e := range clauseExprs(c) {
			if readsWhole(e, name) {
				return true
			}
		}
		if p, ok := c.(*cypher.With); ok && p.Star || isReturnStar(c) {
			return true
		}
	}
	return false
}

func isReturnStar(c cypher.Clause) bool {
	r, ok := c.(*cypher.Return)
	return ok && r.Star
}

// clauseExprs lists the expressions of a clause.
func clauseExprs(c cypher.Clause) []cypher.Expr {
	var out []cypher.Expr
	proj := func(p *cypher.Projection) {
		for _, it := range p.Items {
			out = append(out, it.Expr)
		}
		for _, s := range p.OrderBy {
			out = append(out, s.Expr)
		}
	}
	patterns := func(ps ...*cypher.Pattern) {
		for _, p := range ps {
			for _, n := range p.Nodes() {
				out = append(out, n.Props)
			}
			for _, rel := range p.Rels() {
				out = append(out, rel.Props)
			}
		}
	}
	setItems := func(items []cypher.SetItem) {
		for _, it := range items {
			switch it := it.(type) {
			case *cypher.SetProperty:
				out = append(out, it.Value)
			case *cypher.SetProperties:
				out = append(out, it.Value)
				if !it.Merge {
					out = append(out, &cypher.Variable{Name: it.Var}) // replaces: reads its labels
				}
			}
		}
	}
	switch c := c.(type) {
	case *cypher.Match:
		patterns(c.Patterns...)
		out = append(out, c.Where)
	case *cypher.Unwind:
		out = append(out, c.Expr)
	case *cypher.With:
		proj(&c.Projection)
		out = append(out, c.Where)
	case *cypher.Return:
		proj(&c.Projection)
	case *cypher.Create:
		patterns(c.Patterns...)
	case *cypher.Merge:
		patterns(c.Pattern)
		setItems(c.OnCreate)
		setItems(c.OnMatch)
	case *cypher.Set:
		setItems(c.Items)
	case *cypher.Delete:
		// DELETE needs identities only (and a relationship's ends, which hops know).
	case *cypher.Foreach:
		out = append(out, c.List)
		for _, b := range c.Body {
			out = append(out, clauseExprs(b)...)
		}
	}
	return out
}

// conjuncts splits e at its top-level ANDs.
func conjuncts(e cypher.Expr) []cypher.Expr {
	if b, ok := e.(*cypher.Binary); ok && b.Op == cypher.OpAnd {
		return append(conjuncts(b.L), conjuncts(b.R)...)
	}
	if e == nil {
		return nil
	}
	return []cypher.Expr{e}
}

// constant reports whether e reads no variable (literals and parameters only).
func constant(e cypher.Expr) bool {
	if _, ok := e.(*cypher.Variable); ok {
		return false
	}
	if f, ok := e.(*cypher.FuncCall); ok && (f.Name == "rand" || f.Name == "randomuuid" || f.Name == "timestamp") {
		return false // evaluated per row (rand and randomUUID give a new value at each call)
	}
	if _, ok := e.(*cypher.PatternPredicate); ok {
		return false
	}
	for _, c := range children(e) {
		if !constant(c) {
			return false
		}
	}
	return true
}

// pushed is a conjunct a node evaluates: on variable Var, either a label test or a predicate.
type pushed struct {
	Var    string
	Labels []string
	Pred   *shardapi.Pred
}

var flipped = map[cypher.BinaryOp]shardapi.Op{
	cypher.OpEq: shardapi.OpEq, cypher.OpNe: shardapi.OpNe,
	cypher.OpLt: shardapi.OpGt, cypher.OpGt: shardapi.OpLt, cypher.OpLe: shardapi.OpGe, cypher.OpGe: shardapi.OpLe,
}

var direct = map[cypher.BinaryOp]shardapi.Op{
	cypher.OpEq: shardapi.OpEq, cypher.OpNe: shardapi.OpNe,
	cypher.OpLt: shardapi.OpLt, cypher.OpGt: shardapi.OpGt, cypher.OpLe: shardapi.OpLe, cypher.OpGe: shardapi.OpGe,
}

var stringOps = map[cypher.StringOpKind]shardapi.Op{
	cypher.OpStartsWith: shardapi.OpStartsWith, cypher.OpEndsWith: shardapi.OpEndsWith, cypher.OpContains: shardapi.OpContains,
}

// pushable returns the conjunct as a node-side check when it has one of the forms a node
// evaluates exactly as openCypher does: v:Label, v.p OP const, const OP v.p, v.p IN const,
// v.p STARTS WITH/ENDS WITH/CONTAINS const, v.p IS [NOT] NULL. Constants are evaluated here.
func (r *run) pushable(e cypher.Expr) (*pushed, bool, error) {
	prop := func(x cypher.Expr) (string, string, bool) {
		p, ok := x.(*cypher.Property)
		if !ok {
			return "", "", false
		}
		v, ok := p.Expr.(*cypher.Variable)
		if !ok {
			return "", "", false
		}
		return v.Name, p.Key, true
	}
	pred := func(v, key string, op shardapi.Op, c cypher.Expr) (*pushed, bool, error) {
		var val any
		if c != nil {
			var err error
			if val, err = r.env.Eval(c, NewScope(), nil); err != nil {
				return nil, false, err
			}
		}
		if _, err := value.EncodeValue(val); err != nil {
			return nil, false, nil // not a value the wire carries: keep it in the router
		}
		if _, isList := val.([]any); op == shardapi.OpIn && !isList {
			return nil, false, nil // x IN null, or a type error: the router's evaluation says which
		}
		return &pushed{Var: v, Pred: &shardapi.Pred{Key: key, Op: op, Value: value.Wire{V: val}}}, true, nil
	}
	switch e := e.(type) {
	case *cypher.LabelTest:
		if v, ok := e.X.(*cypher.Variable); ok {
			return &pushed{Var: v.Name, Labels: e.Labels}, true, nil
		}
	case *cypher.Binary:
		if op, ok := direct[e.Op]; ok {
			if v, key, ok := prop(e.L); ok && constant(e.R) {
				return pred(v, key, op, e.R)
			}
			if v, key, ok := prop(e.R); ok && constant(e.L) {
				return pred(v, key, flipped[e.Op], e.L)
			}
		}
	case *cypher.In:
		if v, key, ok := prop(e.X); ok && constant(e.List) {
			return pred(v, key, shardapi.OpIn, e.List)
		}
	case *cypher.StringOp:
		if v, key, ok := prop(e.L); ok && constant(e.R) {
			return pred(v, key, stringOps[e.Op], e.R)
		}
	case *cypher.IsNull:
		if v, key, ok := prop(e.X); ok {
			op := shardapi.OpIsNull
			if e.Not {
				op = shardapi.OpIsNotNull
			}
			return pred(v, key, op, nil)
		}
	}
	return nil, false, nil
}
