package exec

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/value"
)

// Env is what expressions are evaluated against besides a row: the query's parameters and,
// optionally, a way to fetch a vertex. An Env is only read while evaluating (but for its
// cache of compiled regular expressions, which is safe for concurrent use), so one Env may
// serve concurrent evaluations. Env must not be copied after first use.
type Env struct {
	// Params are the query's parameters by name (without the $). Values are Normalized
	// when read, so a Go client's int or []string is accepted.
	Params map[string]any
	// FetchNode, when set, reads a vertex by id: startNode(r) and endNode(r) call it when the
	// node is not already in the row (as a node, in a path or in a list). Nil means such a
	// call is a QueryError rather than a node without its labels and properties.
	FetchNode func(id uint64) (*value.Node, error)
	// Start is the query's start (timestamp()); zero means the time of the first call.
	Start     time.Time
	startOnce sync.Once
	// Ctx, when set, ends the loops of list comprehensions, list predicates and reduces once
	// it is done (the query's time limit, or its client gone), with its cause.
	Ctx context.Context
	// Deleted, when set, reports a node or relationship the query deleted: reading its
	// properties or labels is an error (openCypher's DeletedEntityAccess).
	Deleted func(v any) bool

	// regexps are the compiled constant patterns of =~, by expression (eval_regex.go).
	regexps sync.Map
	// scopes are the scopes of the bodies of list comprehensions, list predicates and
	// reduces, by enclosing scope and expression (eval_lists.go): a few per clause.
	scopes sync.Map
}

// start is the query's start time, fixed at the first call when Start is zero.
func (e *Env) start() time.Time {
	e.startOnce.Do(func() {
		if e.Start.IsZero() {
			e.Start = time.Now()
		}
	})
	return e.Start
}

// interrupted is the cause of Ctx's end once it is done, checked every 64th step of a loop.
func (e *Env) interrupted(step int) error {
	if step&63 != 0 || e.Ctx == nil || e.Ctx.Err() == nil {
		return nil
	}
	return context.Cause(e.Ctx)
}

// Eval evaluates x over row r, whose columns s names, with openCypher 9's semantics: null
// propagates through operators and most functions, comparisons follow graph/value (Equal,
// Less, LessEqual), AND, OR, XOR and NOT are three-valued, integers overflow into an error
// rather than wrapping, and integer division or modulo by zero is an error (float division by
// zero gives ±Inf or NaN). Both operands of AND, OR and XOR are always evaluated, so an error
// in either is reported whatever the other's value: the result does not depend on the order
// in which the planner splits and pushes down conjuncts. CASE evaluates only the branch it
// chooses.
//
// Faults of the query (an unknown variable, parameter or function, a type error, an
// overflow, an aggregate function where none may be) are *QueryError at the offending
// expression's position. Aggregate calls (count, sum, avg, min, max, collect) are evaluated
// by Project, never here.
func (e *Env) Eval(x cypher.Expr, s *Scope, r Row) (any, error) {
	c := evalCtx{env: e, s: s, r: r}
	return c.eval(x)
}

// evalCtx is one evaluation: the row it reads and, while Project computes an aggregating
// item, the aggregates' results.
type evalCtx struct {
	env  *Env
	s    *Scope
	r    Row
	aggs map[*cypher.FuncCall]any // nil except in an aggregating projection's items
	// known maps the subexpressions of an ORDER BY or WHERE of WITH or RETURN that are
	// written as one of the items to the item's column in r: there they read the item's value
	// (ORDER BY a.name + 'C' after WITH a.name AS name, count(*) AS c). nil elsewhere.
	known map[cypher.Expr]int
}

func (c *evalCtx) eval(x cypher.Expr) (any, error) {
	if col, ok := c.known[x]; ok {
		return c.r[col], nil
	}
	switch x := x.(type) {
	case *cypher.Literal:
		return x.Value, nil
	case *cypher.ListLit:
		out := make([]any, len(x.Elems))
		for i, el := range x.Elems {
			v, err := c.eval(el)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case *cypher.MapLit:
		out := make(map[string]any, len(x.Items))
		for _, it := range x.Items {
			v, err := c.eval(it.Value)
			if err != nil {
				return nil, err
			}
			out[it.Key] = v
		}
		return out, nil
	case *cypher.Parameter:
		return c.env.param(x)
	case *cypher.Variable:
		return c.variable(x)
	case *cypher.PatternPredicate:
		return c.patternPredicate(x)
	case *cypher.Property:
		v, err := c.eval(x.Expr)
		if err != nil {
			return nil, err
		}
		if err := c.readable(x.Pos, v); err != nil {
			return nil, err
		}
		return property(x.Pos, v, x.Key)
	case *cypher.Index:
		return c.index(x)
	case *cypher.Slice:
		return c.slice(x)
	case *cypher.Binary:
		return c.binary(x)
	case *cypher.Unary:
		return c.unary(x)
	case *cypher.In:
		return c.in(x)
	case *cypher.StringOp:
		return c.stringOp(x)
	case *cypher.RegexMatch:
		return c.regexMatch(x)
	case *cypher.IsNull:
		v, err := c.eval(x.X)
		if err != nil {
			return nil, err
		}
		return (v == nil) != x.Not, nil
	case *cypher.LabelTest:
		return c.labelTest(x)
	case *cypher.FuncCall:
		return c.call(x)
	case *cypher.Case:
		return c.caseExpr(x)
	case *cypher.ListComprehension:
		return c.comprehension(x)
	case *cypher.ListPredicate:
		return c.listPredicate(x)
	case *cypher.Reduce:
		return c.reduce(x)
	case *cypher.MapProjection:
		return c.mapProjection(x)
	}
	return nil, fmt.Errorf("exec: cannot evaluate an expression of type %T", x)
}

func (e *Env) param(x *cypher.Parameter) (any, error) {
	v, ok := e.Params[x.Name]
	if !ok {
		return nil, errorf(x.Pos, "missing parameter $%s", x.Name)
	}
	v, err := value.Normalize(v)
	if err != nil {
		return nil, errorf(x.Pos, "parameter $%s: %v", x.Name, err)
	}
	return v, nil
}

func (c *evalCtx) variable(x *cypher.Variable) (any, error) {
	i, ok := c.s.Index(x.Name)
	if !ok {
		return nil, errorf(x.Pos, "variable %s is not defined", x.Name)
	}
	if i >= len(c.r) {
		return nil, fmt.Errorf("exec: a row of %d values for a scope of %d columns", len(c.r), c.s.Len())
	}
	return c.r[i], nil
}

// property reads key of v: a node's or relationship's property, a map's entry; null for a
// missing key or a null v.
// readable refuses to read a node or relationship the query deleted (Env.Deleted).
func (c *evalCtx) readable(pos cypher.Pos, v any) error {
	if c.env.Deleted == nil || !c.env.Deleted(v) {
		return nil
	}
	if n, ok := v.(*value.Node); ok {
		return errorf(pos, "node %d was deleted by this query: its properties and labels cannot be read", n.ID)
	}
	return errorf(pos, "relationship %d was deleted by this query: its properties cannot be read", v.(*value.Relationship).ID)
}

func property(pos cypher.Pos, v any, key string) (any, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case *value.Node:
		return v.Props[key], nil
	case *value.Relationship:
		return v.Props[key], nil
	case map[string]any:
		return v[key], nil
	}
	return nil, errorf(pos, "type error: cannot read property %s of %s", key, value.WithArticle(v))
}

// mapProjection is v {.key, .*, var, key: expr}: a map of the properties of the node or
// relationship v (or the entries of the map v), null for a null v. .* takes every
// property, whatever its place among the items; the other items are then set in order,
// a later one overwriting an earlier one of the same key; .key of a missing property is
// null.
func (c *evalCtx) mapProjection(x *cypher.MapProjection) (any, error) {
	v, err := c.variable(x.Var)
	if err != nil || v == nil {
		return nil, err
	}
	props, ok := propsOf(v)
	if !ok {
		return nil, errorf(x.Pos, "type error: a map projection needs a NODE, RELATIONSHIP or MAP, not %s", value.WithArticle(v))
	}
	out := make(map[string]any, len(x.Items))
	for _, it := range x.Items {
		if it.Kind == cypher.ProjectAll {
			for k, pv := range props {
				out[k] = pv
			}
			break
		}
	}
	for _, it := range x.Items {
		switch it.Kind {
		case cypher.ProjectProperty:
			out[it.Key] = props[it.Key]
		case cypher.ProjectVariable, cypher.ProjectEntry:
			if out[it.Key], err = c.eval(it.Value); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// index is list[i] (negative i counts from the end; out of range is null), map[key] and
// node['key'] or rel['key'] (dynamic property access).
func (c *evalCtx) index(x *cypher.Index) (any, error) {
	v, err := c.eval(x.Expr)
	if err != nil {
		return nil, err
	}
	i, err := c.eval(x.Index)
	if err != nil {
		return nil, err
	}
	if v == nil || i == nil {
		return nil, nil
	}
	switch v := v.(type) {
	case []any:
		n, ok := i.(int64)
		if !ok {
			return nil, errorf(x.Index.Position(), "type error: a list index must be an INTEGER, not %s", value.WithArticle(i))
		}
		if n < 0 {
			n += int64(len(v))
		}
		if n < 0 || n >= int64(len(v)) {
			return nil, nil
		}
		return v[n], nil
	case map[string]any, *value.Node, *value.Relationship:
		k, ok := i.(string)
		if !ok {
			return nil, errorf(x.Index.Position(), "type error: %s is indexed by a STRING, not %s", value.WithArticle(v), value.WithArticle(i))
		}
		return property(x.Pos, v, k)
	}
	return nil, errorf(x.Pos, "type error: cannot index %s", value.WithArticle(v))
}

// slice is list[from..to]: bounds count from the end when negative, are clamped to the list,
// and an omitted bound is the list's start or end; a null bound gives null.
func (c *evalCtx) slice(x *cypher.Slice) (any, error) {
	v, err := c.eval(x.Expr)
	if err != nil {
		return nil, err
	}
	bound := func(b cypher.Expr) (n int64, null bool, err error) {
		if b == nil {
			return 0, false, nil
		}
		bv, err := c.eval(b)
		if err != nil || bv == nil {
			return 0, bv == nil, err
		}
		n, ok := bv.(int64)
		if !ok {
			return 0, false, errorf(b.Position(), "type error: a slice bound must be an INTEGER, not %s", value.WithArticle(bv))
		}
		return n, false, nil
	}
	from, fromNull, err := bound(x.From)
	if err != nil {
		return nil, err
	}
	to, toNull, err := bound(x.To)
	if err != nil {
		return nil, err
	}
	if v == nil || fromNull || toNull {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, errorf(x.Pos, "type error: cannot slice %s", value.WithArticle(v))
	}
	n := int64(len(list))
	if x.To == nil {
		to = n
	}
	from, to = clampIndex(from, n), clampIndex(to, n)
	if from >= to {
		return []any{}, nil
	}
	return append([]any(nil), list[from:to]...), nil
}

// clampIndex turns a slice bound (negative from the end) into a position in [0, n].
func clampIndex(i, n int64) int64 {
	if i < 0 {
		i += n
	}
	return min(max(i, 0), n)
}

func (c *evalCtx) binary(x *cypher.Binary) (any, error) {
	l, err := c.eval(x.L)
	if err != nil {
		return nil, err
	}
	r, err := c.eval(x.R)
	if err != nil {
		return nil, err
	}
	switch x.Op {
	case cypher.OpOr, cypher.OpXor, cypher.OpAnd:
		return logic(x, l, r)
	case cypher.OpEq:
		return value.Equal(l, r), nil
	case cypher.OpNe:
		return not(value.Equal(l, r)), nil
	case cypher.OpLt:
		return value.Less(l, r), nil
	case cypher.OpGt:
		return value.Less(r, l), nil
	case cypher.OpLe:
		return value.LessEqual(l, r), nil
	case cypher.OpGe:
		return value.LessEqual(r, l), nil
	}
	return arith(x.Pos, x.Op, l, r)
}

// not is ternary NOT of a boolean or null.
func not(v any) any {
	if b, ok := v.(bool); ok {
		return !b
	}
	return nil
}

// logic is ternary AND, OR and XOR: null is "unknown", so false AND null is false and
// true OR null is true; XOR with a null is null.
func logic(x *cypher.Binary, l, r any) (any, error) {
	for _, v := range [2]any{l, r} {
		if _, ok := v.(bool); !ok && v != nil {
			return nil, errorf(x.Pos, "type error: %s expects BOOLEAN operands, got %s", x.Op, value.WithArticle(v))
		}
	}
	lb, lok := l.(bool)
	rb, rok := r.(bool)
	switch x.Op {
	case cypher.OpAnd:
		if lok && !lb || rok && !rb {
			return false, nil
		}
		if lok && rok {
			return true, nil
		}
	case cypher.OpOr:
		if lok && lb || rok && rb {
			return true, nil
		}
		if lok && rok {
			return false, nil
		}
	case cypher.OpXor:
		if lok && rok {
			return lb != rb, nil
		}
	}
	return nil, nil
}

// arith is + - * / % ^ after openCypher: null with anything is null; two integers give an
// integer (an overflow is an error, division truncates toward zero, division or modulo by
// zero is an error); a float on either side makes the operation a float one; ^ is always a
// float. + also concatenates strings and lists and adds an element to either end of a list.
func arith(pos cypher.Pos, op cypher.BinaryOp, l, r any) (any, error) {
	if l == nil || r == nil {
		return nil, nil
	}
	if op == cypher.OpAdd {
		ll, lList := l.([]any)
		rl, rList := r.([]any)
		switch {
		case lList && rList:
			return append(append(make([]any, 0, len(ll)+len(rl)), ll...), rl...), nil
		case lList:
			return append(append(make([]any, 0, len(ll)+1), ll...), r), nil
		case rList:
			return append(append(make([]any, 0, len(rl)+1), l), rl...), nil
		}
		ls, lStr := l.(string)
		rs, rStr := r.(string)
		if lStr && rStr {
			return ls + rs, nil
		}
	}
	li, lInt := l.(int64)
	ri, rInt := r.(int64)
	if lInt && rInt && op != cypher.OpPow {
		return intArith(pos, op, li, ri)
	}
	lf, lok := toFloat(l)
	rf, rok := toFloat(r)
	if !lok || !rok {
		return nil, errorf(pos, "type error: cannot apply %s to %s and %s", op, value.WithArticle(l), value.WithArticle(r))
	}
	switch op {
	case cypher.OpAdd:
		return lf + rf, nil
	case cypher.OpSub:
		return lf - rf, nil
	case cypher.OpMul:
		return lf * rf, nil
	case cypher.OpDiv:
		return lf / rf, nil
	case cypher.OpMod:
		return math.Mod(lf, rf), nil
	case cypher.OpPow:
		return math.Pow(lf, rf), nil
	}
	return nil, fmt.Errorf("exec: unknown binary operator %v", op)
}

// toFloat widens a number to float64.
func toFloat(v any) (float64, bool) {
	switch v := v.(type) {
	case int64:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}

func intArith(pos cypher.Pos, op cypher.BinaryOp, a, b int64) (any, error) {
	switch op {
	case cypher.OpAdd:
		s := a + b
		if (a > 0 && b > 0 && s < 0) || (a < 0 && b < 0 && s >= 0) {
			return nil, overflow(pos, a, op, b)
		}
		return s, nil
	case cypher.OpSub:
		d := a - b
		if (b < 0 && d < a) || (b > 0 && d > a) {
			return nil, overflow(pos, a, op, b)
		}
		return d, nil
	case cypher.OpMul:
		p := a * b
		// NB: MinInt64 * -1 wraps to MinInt64 and MinInt64 / -1 is MinInt64 again in Go, so
		// the division check alone would miss it.
		if a != 0 && (p/a != b || a == -1 && b == math.MinInt64) {
			return nil, overflow(pos, a, op, b)
		}
		return p, nil
	case cypher.OpDiv:
		if b == 0 {
			return nil, errorf(pos, "division by zero: %d / 0", a)
		}
		if a == math.MinInt64 && b == -1 {
			return nil, overflow(pos, a, op, b)
		}
		return a / b, nil
	case cypher.OpMod:
		if b == 0 {
			return nil, errorf(pos, "modulo by zero: %d %% 0", a)
		}
		return a % b, nil // Go's % truncates, as openCypher's does; MinInt64 % -1 is 0
	}
	return nil, fmt.Errorf("exec: unknown integer operator %v", op)
}

func overflow(pos cypher.Pos, a any, op fmt.Stringer, b any) error {
	return errorf(pos, "integer overflow: %v %s %v is out of the range of INTEGER", a, op, b)
}

func (c *evalCtx) unary(x *cypher.Unary) (any, error) {
	v, err := c.eval(x.X)
	if err != nil || v == nil {
		return nil, err
	}
	switch x.Op {
	case cypher.OpNot:
		if b, ok := v.(bool); ok {
			return !b, nil
		}
	case cypher.OpNeg:
		switch n := v.(type) {
		case int64:
			if n == math.MinInt64 {
				return nil, errorf(x.Pos, "integer overflow: -(%d) is out of the range of INTEGER", n)
			}
			return -n, nil
		case float64:
			return -n, nil
		}
	case cypher.OpPlus:
		switch v.(type) {
		case int64, float64:
			return v, nil
		}
	}
	return nil, errorf(x.Pos, "type error: cannot apply %s to %s", x.Op, value.WithArticle(v))
}

// in is x IN list, three-valued: true if an element equals x, else null if an element's
// equality with x is unknown (x null and the list not empty, or a null element), else false.
func (c *evalCtx) in(x *cypher.In) (any, error) {
	v, err := c.eval(x.X)
	if err != nil {
		return nil, err
	}
	lv, err := c.eval(x.List)
	if err != nil || lv == nil {
		return nil, err
	}
	list, ok := lv.([]any)
	if !ok {
		return nil, errorf(x.Pos, "type error: IN expects a LIST on its right, got %s", value.WithArticle(lv))
	}
	unknown := false
	for _, el := range list {
		switch value.Equal(v, el) {
		case true:
			return true, nil
		case nil:
			unknown = true
		}
	}
	if unknown {
		return nil, nil
	}
	return false, nil
}

// truth checks the value v of condition x (of a WHERE, a WHEN, ... as what names it):
// true, false or null, anything else a type error.
func truth(x cypher.Expr, v any, what string) error {
	if _, ok := v.(bool); !ok && v != nil {
		return errorf(x.Position(), "type error: %s expects a BOOLEAN, got %s", what, value.WithArticle(v))
	}
	return nil
}

// twoStrings evaluates l and r; ok is false unless both are strings (the operators over
// strings are null then).
func (c *evalCtx) twoStrings(l, r cypher.Expr) (ls, rs string, ok bool, err error) {
	lv, err := c.eval(l)
	if err != nil {
		return "", "", false, err
	}
	rv, err := c.eval(r)
	if err != nil {
		return "", "", false, err
	}
	ls, lok := lv.(string)
	rs, rok := rv.(string)
	return ls, rs, lok && rok, nil
}

// stringOp is STARTS WITH, ENDS WITH and CONTAINS: null unless both sides are strings.
func (c *evalCtx) stringOp(x *cypher.StringOp) (any, error) {
	ls, rs, ok, err := c.twoStrings(x.L, x.R)
	if err != nil || !ok {
		return nil, err
	}
	switch x.Op {
	case cypher.OpStartsWith:
		return strings.HasPrefix(ls, rs), nil
	case cypher.OpEndsWith:
		return strings.HasSuffix(ls, rs), nil
	case cypher.OpContains:
		return strings.Contains(ls, rs), nil
	}
	return nil, fmt.Errorf("exec: unknown string operator %v", x.Op)
}

func (c *evalCtx) labelTest(x *cypher.LabelTest) (any, error) {
	v, err := c.eval(x.X)
	if err != nil || v == nil {
		return nil, err
	}
	if r, ok := v.(*value.Relationship); ok {
		// A relationship's one type is its label: r:T tests it (openCypher).
		for _, want := range x.Labels {
			if r.Type != want {
				return false, nil
			}
		}
		return true, nil
	}
	n, ok := v.(*value.Node)
	if !ok {
		return nil, errorf(x.Pos, "type error: a label test needs a NODE or a RELATIONSHIP, got %s", value.WithArticle(v))
	}
	for _, want := range x.Labels {
		if !hasLabel(n, want) {
			return false, nil
		}
	}
	return true, nil
}

func hasLabel(n *value.Node, label string) bool {
	for _, l := range n.Labels {
		if l == label {
			return true
		}
	}
	return false
}

// caseExpr is CASE: with a subject, the first WHEN equal to it (=, so a null subject matches
// nothing); without, the first WHEN that is true (null counts as false). Only the chosen
// result is evaluated.
func (c *evalCtx) caseExpr(x *cypher.Case) (any, error) {
	var subject any
	if x.Subject != nil {
		var err error
		if subject, err = c.eval(x.Subject); err != nil {
			return nil, err
		}
	}
	for _, w := range x.Whens {
		cond, err := c.eval(w.Cond)
		if err != nil {
			return nil, err
		}
		var hit bool
		if x.Subject != nil {
			hit = value.Equal(subject, cond) == true
		} else {
			if err := truth(w.Cond, cond, "WHEN"); err != nil {
				return nil, err
			}
			hit = cond == true
		}
		if hit {
			return c.eval(w.Result)
		}
	}
	if x.Else == nil {
		return nil, nil
	}
	return c.eval(x.Else)
}

// References returns the variables x reads from its row, each once, in the order they
// first appear (inside aggregate calls too, but not the variables a list comprehension,
// list predicate or reduce binds, where they are bound): the planner pushes a predicate down
// to where they are all bound.
func References(x cypher.Expr) []string {
	var names []string
	var visit func(x cypher.Expr, bound []string)
	visit = func(x cypher.Expr, bound []string) {
		if v, ok := x.(*cypher.Variable); ok {
			if !slices.Contains(bound, v.Name) && !slices.Contains(names, v.Name) {
				names = append(names, v.Name)
			}
			return
		}
		if outer, inner, locals, ok := cypher.Binds(x); ok {
			for _, o := range outer {
				visit(o, bound)
			}
			inBound := append(slices.Clone(bound), locals...)
			for _, in := range inner {
				visit(in, inBound)
			}
			return
		}
		for _, ch := range children(x) {
			visit(ch, bound)
		}
	}
	visit(x, nil)
	return names
}

// HasAggregate reports whether x calls an aggregate function (count, sum, avg, min, max,
// collect) anywhere.
func HasAggregate(x cypher.Expr) bool {
	found := false
	walk(x, func(x cypher.Expr) bool {
		found = found || isAggregate(x)
		return !found
	})
	return found
}

// walk calls f on x and, while f returns true, on its subexpressions, depth first.
func walk(x cypher.Expr, f func(cypher.Expr) bool) {
	if x == nil || !f(x) {
		return
	}
	for _, ch := range children(x) {
		walk(ch, f)
	}
}

// children returns x's direct subexpressions in the order written; a pattern predicate's
// are predicateChildren.
func children(x cypher.Expr) []cypher.Expr {
	if p, ok := x.(*cypher.PatternPredicate); ok {
		return predicateChildren(p)
	}
	return cypher.Children(x)
}

func nonNil(xs ...cypher.Expr) []cypher.Expr {
	out := make([]cypher.Expr, 0, len(xs))
	for _, x := range xs {
		if x != nil {
			out = append(out, x)
		}
	}
	return out
}
