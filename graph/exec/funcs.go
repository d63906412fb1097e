package exec

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/value"
)

// maxRangeLen bounds the list range() builds: a larger one is a QueryError, before any
// memory is spent on it.
const maxRangeLen = 1 << 20

// function is a scalar function: its arity and its body, which gets the evaluated
// arguments. With nullIn, a null argument makes the result null without calling fn.
type function struct {
	minArgs, maxArgs int
	nullIn           bool
	fn               func(c *evalCtx, call *cypher.FuncCall, args []any) (any, error)
}

// functions are the scalar functions by (lower-case) name; exists() is evaluated apart, as it
// reads its argument unevaluated.
var functions = map[string]function{
	"id":            {1, 1, true, fnID},
	"labels":        {1, 1, true, fnLabels},
	"type":          {1, 1, true, fnType},
	"keys":          {1, 1, true, fnKeys},
	"properties":    {1, 1, true, fnProperties},
	"startnode":     {1, 1, true, relNode(false)},
	"endnode":       {1, 1, true, relNode(true)},
	"nodes":         {1, 1, true, fnNodes},
	"relationships": {1, 1, true, fnRelationships},
	"length":        {1, 1, true, fnLength},
	"size":          {1, 1, true, fnSize},
	"coalesce":      {1, math.MaxInt, false, fnCoalesce},
	"head":          {1, 1, true, listEnd(false)},
	"last":          {1, 1, true, listEnd(true)},
	"tail":          {1, 1, true, fnTail},
	"range":         {2, 3, false, fnRange},
	"tointeger":     {1, 1, true, fnToInteger},
	"tofloat":       {1, 1, true, fnToFloat},
	"tostring":      {1, 1, true, fnToString},
	"toboolean":     {1, 1, true, fnToBoolean},
	"abs":           {1, 1, true, fnAbs},
	"ceil":          {1, 1, true, floatFn(math.Ceil)},
	"floor":         {1, 1, true, floatFn(math.Floor)},
	"round":         {1, 1, true, floatFn(roundHalfUp)},
	"sqrt":          {1, 1, true, floatFn(math.Sqrt)},
	"sign":          {1, 1, true, fnSign},
	"tolower":       {1, 1, true, stringFn(strings.ToLower)},
	"toupper":       {1, 1, true, stringFn(strings.ToUpper)},
	"trim":          {1, 1, true, stringFn(strings.TrimSpace)},
	"ltrim":         {1, 1, true, stringFn(func(s string) string { return strings.TrimLeftFunc(s, unicode.IsSpace) })},
	"rtrim":         {1, 1, true, stringFn(func(s string) string { return strings.TrimRightFunc(s, unicode.IsSpace) })},
	"replace":       {3, 3, true, fnReplace},
	"substring":     {2, 3, false, fnSubstring},
	"split":         {2, 2, true, fnSplit},
	"left":          {2, 2, false, fnLeft},
	"right":         {2, 2, false, fnRight},
	"reverse":       {1, 1, true, fnReverse},
	"e":             {0, 0, false, constFn(math.E)},
	"pi":            {0, 0, false, constFn(math.Pi)},
	"exp":           {1, 1, true, floatFn(math.Exp)},
	"log":           {1, 1, true, floatFn(math.Log)},
	"log10":         {1, 1, true, floatFn(math.Log10)},
	"sin":           {1, 1, true, floatFn(math.Sin)},
	"cos":           {1, 1, true, floatFn(math.Cos)},
	"tan":           {1, 1, true, floatFn(math.Tan)},
	"asin":          {1, 1, true, floatFn(math.Asin)},
	"acos":          {1, 1, true, floatFn(math.Acos)},
	"atan":          {1, 1, true, floatFn(math.Atan)},
	"atan2":         {2, 2, true, fnAtan2},
	"degrees":       {1, 1, true, floatFn(func(x float64) float64 { return x * 180 / math.Pi })},
	"radians":       {1, 1, true, floatFn(func(x float64) float64 { return x * math.Pi / 180 })},
	"rand":          {0, 0, false, fnRand},
	"randomuuid":    {0, 0, false, fnRandomUUID},
	"timestamp":     {0, 0, false, fnTimestamp},
}

// isAggregate reports whether x is a call of an aggregate function, which only Project
// evaluates.
func isAggregate(x cypher.Expr) bool { return cypher.IsAggregate(x) }

func (c *evalCtx) call(x *cypher.FuncCall) (any, error) {
	if cypher.IsAggregate(x) {
		if v, ok := c.aggs[x]; ok {
			return v, nil
		}
		return nil, errorf(x.Pos, "aggregate function %s() is not allowed here", x.Shown())
	}
	if x.Name == "exists" {
		return c.exists(x)
	}
	f, ok := functions[x.Name]
	if !ok {
		return nil, errorf(x.Pos, "unknown function %s", x.Shown())
	}
	switch {
	case x.Star:
		return nil, errorf(x.Pos, "%s(*) is not allowed: only count takes *", x.Shown())
	case x.Distinct:
		return nil, errorf(x.Pos, "DISTINCT is only allowed in aggregate functions, not in %s()", x.Shown())
	case len(x.Args) < f.minArgs || len(x.Args) > f.maxArgs:
		return nil, arityError(x, f.minArgs, f.maxArgs)
	}
	args := make([]any, len(x.Args))
	null := false
	for i, a := range x.Args {
		v, err := c.eval(a)
		if err != nil {
			return nil, err
		}
		args[i] = v
		null = null || v == nil
	}
	if f.nullIn && null {
		return nil, nil
	}
	switch x.Name {
	case "labels", "keys", "properties":
		if err := c.readable(x.Pos, args[0]); err != nil {
			return nil, err
		}
	}
	return f.fn(c, x, args)
}

func arityError(x *cypher.FuncCall, minArgs, maxArgs int) error {
	switch {
	case minArgs == maxArgs:
		return errorf(x.Pos, "function %s() takes %d argument(s), got %d", x.Shown(), minArgs, len(x.Args))
	case maxArgs == math.MaxInt:
		return errorf(x.Pos, "function %s() takes at least %d argument(s), got %d", x.Shown(), minArgs, len(x.Args))
	}
	return errorf(x.Pos, "function %s() takes %d to %d arguments, got %d", x.Shown(), minArgs, maxArgs, len(x.Args))
}

// argError is a type error in argument i (from 0) of call.
func argError(call *cypher.FuncCall, i int, want string, got any) error {
	return errorf(call.Args[i].Position(), "type error: argument %d of %s() must be %s, not %s", i+1, call.Shown(), want, value.WithArticle(got))
}

// exists(x.key) is whether the property is set: null for a null x.
func (c *evalCtx) exists(x *cypher.FuncCall) (any, error) {
	if len(x.Args) != 1 || x.Star || x.Distinct {
		return nil, arityError(x, 1, 1)
	}
	p, ok := x.Args[0].(*cypher.Property)
	if !ok {
		return nil, errorf(x.Args[0].Position(), "exists() takes a property access such as n.prop")
	}
	v, err := c.eval(p.Expr)
	if err != nil || v == nil {
		return nil, err
	}
	pv, err := property(p.Pos, v, p.Key)
	if err != nil {
		return nil, err
	}
	return pv != nil, nil
}

func fnID(_ *evalCtx, call *cypher.FuncCall, args []any) (any, error) {
	switch v := args[0].(type) {
	case *value.Node:
		return int64(v.ID), nil
	case *value.Relationship:
		return int64(v.ID), nil
	}
	return nil, argError(call, 0, "a NODE or RELATIONSHIP", args[0])
}

func fnLabels(_ *evalCtx, call *cypher.FuncCall, args []any) (any, error) {
	n, ok := args[0].(*value.Node)
	if !ok {
		return nil, argError(call, 0, "a NODE", args[0])
	}
	return strList(n.Labels), nil
}

func fnType(_ *evalCtx, call *cypher.FuncCall, args []any) (any, error) {
	r, ok := args[0].(*value.Relationship)
	if !ok {
		return nil, argError(call, 0, "a RELATIONSHIP", args[0])
	}
	return r.Type, nil
}

// strList returns ss as a list value.
func strList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// propsOf returns the properties of a node or relationship, or a map itself.
func propsOf(v any) (map[string]any, bool) {
	switch v := v.(type) {
	case *value.Node:
		return v.Props, true
	case *value.Relationship:
		return v.Props, true
	case map[string]any:
		return v, true
	}
	return nil, false
}

// fnKeys lists the keys in code-point order: maps have no order of their own, and a result
// must not depend on Go's map iteration.
func fnKeys(_ *evalCtx, call *cypher.FuncCall, args []any) (any, error) {
	m, ok := propsOf(args[0])
	if !ok {
		return nil, argError(call, 0, "a NODE, RELATIONSHIP or MAP", args[0])
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return strList(keys), nil
}

func fnProperties(_ *evalCtx, call *cypher.FuncCall, args []any) (any, error) {
	m, ok := propsOf(args[0])
	if !ok {
		return nil, argError(call, 0, "a NODE, RELATIONSHIP or MAP", args[0])
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out, nil
}

// relNode is startNode (end false) or endNode (end true).
func relNode(end bool) func(*evalCtx, *cypher.FuncCall, []any) (any, error) {
	return func(c *evalCtx, call *cypher.FuncCall, args []any) (any, error) {
		r, ok := args[0].(*value.Relationship)
		if !ok {
			return nil, argError(call, 0, "a RELATIONSHIP", args[0])
		}
		if end {
			return c.node(call, r.End)
		}
		return c.node(call, r.Start)
	}
}

// node finds the vertex id in the row (a node, a path's node, a node in a list), else
// fetches it with Env.FetchNode.
func (c *evalCtx) node(call *cypher.FuncCall, id uint64) (any, error) {
	for _, v := range c.r {
		if n := findNode(v, id, true); n != nil {
			return n, nil
		}
	}
	if c.env.FetchNode == nil {
		return nil, errorf(call.Pos, "%s(): node %d is not bound in this row and cannot be fetched here", call.Shown(), id)
	}
	n, err := c.env.FetchNode(id)
	if err != nil {
		return nil, err
	}
	return n, nil
}

// findNode finds node id in v. A node whose Props is nil is the executor's reference by id (a
// vertex a MATCH reached but did not read): it does not count.
func findNode(v any, id uint64, inLists bool) *value.Node {
	switch v := v.(type) {
	case *value.Node:
		if v.ID == id && v.Props != nil {
			return v
		}
	case *value.Path:
		for _, n := range v.Nodes {
			if n.ID == id && n.Props != nil {
				return n
			}
		}
	case []any:
		if inLists {
			for _, e := range v {
				if n := findNode(e, id, false); n != nil {
					return n
				}
			}
		}
	}
	return nil
}

func fnNodes(_ *evalCtx, call *cypher.FuncCall, args []any) (any, error) {
	p, ok := args[0].(*value.Path)
	if !ok {
		return nil, argError(call, 0, "a PATH", args[0])
	}
	out := make([]any, len(p.Nodes))
	for i, n := range p.Nodes {
		out[i] = n
	}
	return out, nil
}

func fnRelationships(_ *evalCtx, call *cypher.FuncCall, args []any) (any, error) {
	p, ok := args[0].(*value.Path)
	if !ok {
		return nil, argError(call, 0, "a PATH", args[0])
	}
	out := make([]any, len(p.Rels))
	for i, r := range p.Rels {
		out[i] = r
	}
	return out, nil
}

// fnLength is a path's number of relationships; on lists and strings, their size (older
// Cypher allowed it, and queries still use it).
func fnLength(_ *evalCtx, call *cypher.FuncCall, args []any) (any, error) {
	switch v := args[0].(type) {
	case *value.Path:
		return int64(len(v.Rels)), nil
	case []any:
		return int64(len(v)), nil
	case string:
		return int64(len([]rune(v))), nil
	}
	return nil, argError(call, 0, "a PATH, LIST or STRING", args[0])
}

// fnSize counts a list's elements or a string's characters (Unicode code points).
func fnSize(_ *evalCtx, call *cypher.FuncCall, args []any) (any, error) {
	switch v := args[0].(type) {
	case []any:
		return int64(len(v)), nil
	case string:
		return int64(len([]rune(v))), nil
	}
	return nil, argError(call, 0, "a LIST or STRING", args[0])
}

func fnCoalesce(_ *evalCtx, _ *cypher.FuncCall, args []any) (any, error) {
	for _, a := range args {
		if a != nil {
			return a, nil
		}
	}
	return nil, nil
}

func listArg(call *cypher.FuncCall, args []any, i int) ([]any, error) {
	l, ok := args[i].([]any)
	if !ok {
		return nil, argError(call, i, "a LIST", args[i])
	}
	return l, nil
}

// listEnd is head (last false) or last (last true): null for an empty list.
func listEnd(last bool) func(*evalCtx, *cypher.FuncCall, []any) (any, error) {
	return func(_ *evalCtx, call *cypher.FuncCall, args []any) (any, error) {
		l, err := listArg(call, args, 0)
		if err != nil || len(l) == 0 {
			return nil, err
		}
		if last {
			return l[len(l)-1], nil
		}
		return l[0], nil
	}
}

func fnTail(_ *evalCtx, call *cypher.FuncCall, args []any) (any, error) {
	l, err := listArg(call, args, 0)
	if err != nil {
		return nil, err
	}
	if len(l) == 0 {
		return []any{}, nil
	}
	return append([]any(nil), l[1:]...), nil
}

// fnRange is range(start, end[, step]): the integers from start to end inclusive by step
// (1 by default; 0 is an error), empty when end is behind start.
func fnRange(_ *evalCtx, call *cypher.FuncCall, args []any) (any, error) {
	var n [3]int64
	n[2] = 1
	for i, a := range args {
		v, ok := a.(int64)
		if !ok {
			return nil, argError(call, i, "an INTEGER", a)
		}
		n[i] = v
	}
	start, end, step := n[0], n[1], n[2]
	if step == 0 {
		return nil, errorf(call.Args[2].Position(), "range() step must not be 0")
	}
	// Counted in uint64, where end-start and -step cannot overflow.
	var count uint64
	switch {
	case step > 0 && start <= end:
		count = (uint64(end)-uint64(start))/uint64(step) + 1
	case step < 0 && start >= end:
		count = (uint64(start)-uint64(end))/(-uint64(step)) + 1
	}
	if count > maxRangeLen {
		return nil, errorf(call.Pos, "range() would make %d elements, more than the limit of %d", count, maxRangeLen)
	}
	out := make([]any, count)
	v := start
	for i := range out {
		out[i] = v
		v += step // NB: may wrap after the last element, which is never read
	}
	return out, nil
}

// decimal is the number syntax toInteger and toFloat accept in a string: strconv would also
// take "Inf", "NaN", hexadecimal and underscores.
var decimal = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

// fnToInteger converts a number (floats truncate toward zero) or a string holding one; a
// string that is not a number, and a float that is not finite or out of INTEGER's range,
// give null.
func fnToInteger(_ *evalCtx, call *cypher.FuncCall, args []any) (any, error) {
	switch v := args[0].(type) {
	case int64:
		return v, nil
	case float64:
		return truncate(v), nil
	case string:
		if i, err := strconv.ParseInt(v, 10, 64); err == nil {
			return i, nil
		}
		if !decimal.MatchString(v) {
			return nil, nil
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, nil
		}
		return truncate(f), nil
	}
	return nil, argError(call, 0, "a number or a STRING", args[0])
}

// truncate is f's integer part as an int64, or null.
func truncate(f float64) any {
	const twoTo63 = float64(1 << 63)
	if math.IsNaN(f) || f >= twoTo63 || f < -twoTo63 {
		return nil
	}
	return int64(f)
}

func fnToFloat(_ *evalCtx, call *cypher.FuncCall, args []any) (any, error) {
	switch v := args[0].(type) {
	case int64:
		return float64(v), nil
	case float64:
		return v, nil
	case string:
		if !decimal.MatchString(v) {
			return nil, nil
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil && !math.IsInf(f, 0) { // a too large number parses to ±Inf, as in Java
			return nil, nil
		}
		return f, nil
	}
	return nil, argError(call, 0, "a number or a STRING", args[0])
}

func fnToString(_ *evalCtx, call *cypher.FuncCall, args []any) (any, error) {
	switch v := args[0].(type) {
	case string:
		return v, nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return formatFloat(v), nil
	case bool:
		return strconv.FormatBool(v), nil
	}
	return nil, argError(call, 0, "a STRING, number or BOOLEAN", args[0])
}

// formatFloat prints a float as openCypher implementations do (Java's Double.toString):
// always with a fraction or an exponent so that it reads back as a float, plain digits for
// magnitudes in [1e-3, 1e7), else d.dddE±n.
func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	if a := math.Abs(f); a == 0 || a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±nn
	mant, exp, _ := strings.Cut(s, "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}

func fnToBoolean(_ *evalCtx, call *cypher.FuncCall, args []any) (any, error) {
	switch v := args[0].(type) {
	case bool:
		return v, nil
	case string:
		switch strings.ToLower(v) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, nil
	}
	return nil, argError(call, 0, "a STRING or BOOLEAN", args[0])
}

func fnAbs(_ *evalCtx, call *cypher.FuncCall, args []any) (any, error) {
	switch v := args[0].(type) {
	case int64:
		if v == math.MinInt64 {
			return nil, errorf(call.Pos, "integer overflow: abs(%d) is out of the range of INTEGER", v)
		}
		if v < 0 {
			return -v, nil
		}
		return v, nil
	case float64:
		return math.Abs(v), nil
	}
	return nil, argError(call, 0, "a number", args[0])
}

// floatFn is a numeric function that always answers a float (ceil, floor, round, sqrt).
func constFn(x float64) func(*evalCtx, *cypher.FuncCall, []any) (any, error) {
	return func(*evalCtx, *cypher.FuncCall, []any) (any, error) { return x, nil }
}

func fnAtan2(_ *evalCtx, call *cypher.FuncCall, args []any) (any, error) {
	y, ok := toFloat(args[0])
	if !ok {
		return nil, argError(call, 0, "a number", args[0])
	}
	x, ok := toFloat(args[1])
	if !ok {
		return nil, argError(call, 1, "a number", args[1])
	}
	return math.Atan2(y, x), nil
}

// fnRand is a float in [0, 1), drawn anew at each call.
func fnRand(*evalCtx, *cypher.FuncCall, []any) (any, error) { return rand.Float64(), nil }

// fnRandomUUID is a random (version 4) UUID as a string.
func fnRandomUUID(*evalCtx, *cypher.FuncCall, []any) (any, error) {
	var b [16]byte
	for i := range 2 {
		binary.BigEndian.PutUint64(b[8*i:], rand.Uint64())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// fnTimestamp is the milliseconds since the Unix epoch at the query's start: the same value
// at every call in one query, as Neo4j gives.
func fnTimestamp(c *evalCtx, _ *cypher.FuncCall, _ []any) (any, error) {
	return c.env.start().UnixMilli(), nil
}

func floatFn(f func(float64) float64) func(*evalCtx, *cypher.FuncCall, []any) (any, error) {
	return func(_ *evalCtx, call *cypher.FuncCall, args []any) (any, error) {
		x, ok := toFloat(args[0])
		if !ok {
			return nil, argError(call, 0, "a number", args[0])
		}
		return f(x), nil
	}
}

// roundHalfUp rounds to the nearest integer, ties toward +Inf (round(-1.5) is -1.0), as
// openCypher's reference implementation does. floor(x+0.5) would be wrong for the float just
// below 0.5, where x+0.5 rounds up to 1.
func roundHalfUp(x float64) float64 {
	t := math.Floor(x)
	if x-t >= 0.5 { // exact: x and its floor are within one unit of each other
		return t + 1
	}
	return t
}

// fnSign is -1, 0 or 1 as an INTEGER for integers and floats alike (0 for NaN).
func fnSign(_ *evalCtx, call *cypher.FuncCall, args []any) (any, error) {
	x, ok := toFloat(args[0])
	if !ok {
		return nil, argError(call, 0, "a number", args[0])
	}
	switch {
	case x > 0:
		return int64(1), nil
	case x < 0:
		return int64(-1), nil
	}
	return int64(0), nil
}

// stringFn is a function of one string.
func stringFn(f func(string) string) func(*evalCtx, *cypher.FuncCall, []any) (any, error) {
	return func(_ *evalCtx, call *cypher.FuncCall, args []any) (any, error) {
		s, ok := args[0].(string)
		if !ok {
			return nil, argError(call, 0, "a STRING", args[0])
		}
		return f(s), nil
	}
}

func stringArgs(call *cypher.FuncCall, args []any) ([]string, error) {
	out := make([]string, len(args))
	for i, a := range args {
		s, ok := a.(string)
		if !ok {
			return nil, argError(call, i, "a STRING", a)
		}
		out[i] = s
	}
	return out, nil
}

func fnReplace(_ *evalCtx, call *cypher.FuncCall, args []any) (any, error) {
	s, err := stringArgs(call, args)
	if err != nil {
		return nil, err
	}
	return strings.ReplaceAll(s[0], s[1], s[2]), nil
}

func fnSplit(_ *evalCtx, call *cypher.FuncCall, args []any) (any, error) {
	s, err := stringArgs(call, args)
	if err != nil {
		return nil, err
	}
	return strList(strings.Split(s[0], s[1])), nil
}

// countArg is argument i of call as a count of characters: a non-negative INTEGER (null is an
// error: only the string argument of left, right and substring may be null).
func countArg(call *cypher.FuncCall, args []any, i int) (int64, error) {
	n, ok := args[i].(int64)
	if !ok {
		return 0, argError(call, i, "an INTEGER", args[i])
	}
	if n < 0 {
		return 0, errorf(call.Args[i].Position(), "argument %d of %s() must not be negative, got %d", i+1, call.Shown(), n)
	}
	return n, nil
}

// textArgs reads the string and counts of substring, left and right (in characters): a null
// string gives null (ok false).
func textArgs(call *cypher.FuncCall, args []any) (runes []rune, counts []int64, ok bool, err error) {
	for i := 1; i < len(args); i++ {
		n, err := countArg(call, args, i)
		if err != nil {
			return nil, nil, false, err
		}
		counts = append(counts, n)
	}
	if args[0] == nil {
		return nil, nil, false, nil
	}
	s, isStr := args[0].(string)
	if !isStr {
		return nil, nil, false, argError(call, 0, "a STRING", args[0])
	}
	return []rune(s), counts, true, nil
}

// fnSubstring is substring(s, start[, length]), start from 0, in characters; past the end it
// is empty or shorter.
func fnSubstring(_ *evalCtx, call *cypher.FuncCall, args []any) (any, error) {
	r, n, ok, err := textArgs(call, args)
	if !ok {
		return nil, err
	}
	start := min(n[0], int64(len(r)))
	end := int64(len(r))
	if len(n) == 2 {
		end = min(start+min(n[1], int64(len(r))), end)
	}
	return string(r[start:end]), nil
}

func fnLeft(_ *evalCtx, call *cypher.FuncCall, args []any) (any, error) {
	r, n, ok, err := textArgs(call, args)
	if !ok {
		return nil, err
	}
	return string(r[:min(n[0], int64(len(r)))]), nil
}

func fnRight(_ *evalCtx, call *cypher.FuncCall, args []any) (any, error) {
	r, n, ok, err := textArgs(call, args)
	if !ok {
		return nil, err
	}
	return string(r[int64(len(r))-min(n[0], int64(len(r))):]), nil
}

func fnReverse(_ *evalCtx, call *cypher.FuncCall, args []any) (any, error) {
	switch v := args[0].(type) {
	case string:
		r := []rune(v)
		slices.Reverse(r)
		return string(r), nil
	case []any:
		out := slices.Clone(v)
		slices.Reverse(out)
		return out, nil
	}
	return nil, argError(call, 0, "a STRING or LIST", args[0])
}
