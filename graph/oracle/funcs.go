package oracle

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/value"
)

// aggregates are the aggregate functions; their evaluation is in aggregate.go.
var aggregates = map[string]bool{"count": true, "sum": true, "min": true, "max": true, "avg": true, "collect": true,
	"stdev": true, "stdevp": true, "percentilecont": true, "percentiledisc": true}

// arity is each scalar function's number of arguments: [min, max].
var arity = map[string][2]int{
	"id": {1, 1}, "labels": {1, 1}, "type": {1, 1}, "length": {1, 1}, "size": {1, 1},
	"coalesce": {1, math.MaxInt}, "tointeger": {1, 1}, "tofloat": {1, 1}, "tostring": {1, 1},
	"startnode": {1, 1}, "endnode": {1, 1}, "nodes": {1, 1}, "relationships": {1, 1},
	"head": {1, 1}, "last": {1, 1}, "tail": {1, 1}, "range": {2, 3}, "keys": {1, 1},
	"properties": {1, 1}, "abs": {1, 1}, "tolower": {1, 1}, "toupper": {1, 1}, "exists": {1, 1},
	"trim": {1, 1}, "ltrim": {1, 1}, "rtrim": {1, 1}, "reverse": {1, 1}, "replace": {3, 3},
	"split": {2, 2}, "substring": {2, 3}, "left": {2, 2}, "right": {2, 2}, "toboolean": {1, 1},
	"sqrt": {1, 1}, "sign": {1, 1}, "ceil": {1, 1}, "floor": {1, 1}, "round": {1, 1},
}

func knownFunction(name string) bool { return aggregates[name] || arity[name] != [2]int{} }

func isAggregate(fc *cypher.FuncCall) bool { return aggregates[fc.Name] }

// call evaluates a scalar function. Each returns null for a null argument (coalesce and
// exists excepted) and fails on an argument of a type it does not take.
func (ev *evaluator) call(fc *cypher.FuncCall, r row) (any, error) {
	ar, ok := arity[fc.Name]
	if !ok {
		return nil, errAt(fc.Pos, "unknown function %s", fc.Name)
	}
	if fc.Star || fc.Distinct || len(fc.Args) < ar[0] || len(fc.Args) > ar[1] {
		return nil, errAt(fc.Pos, "wrong arguments to %s", fc.Name)
	}
	args := make([]any, len(fc.Args))
	for i, a := range fc.Args {
		v, err := ev.eval(a, r)
		if err != nil {
			return nil, err
		}
		args[i] = v
	}
	switch fc.Name {
	case "coalesce":
		for _, a := range args {
			if a != nil {
				return a, nil
			}
		}
		return nil, nil
	case "exists":
		return args[0] != nil, nil
	}
	for _, a := range args {
		if a == nil {
			return nil, nil
		}
	}
	v, err := ev.scalar(fc.Name, args)
	if err != nil {
		return nil, errAt(fc.Pos, "%s: %v", fc.Name, err)
	}
	return v, nil
}

// typeErr is a function's complaint about an argument's type.
type typeErr struct{ arg any }

func (e typeErr) Error() string { return "does not take " + value.WithArticle(e.arg) }

func (ev *evaluator) scalar(name string, args []any) (any, error) {
	x := args[0]
	switch name {
	case "id":
		switch e := x.(type) {
		case *value.Node:
			return int64(e.ID), nil
		case *value.Relationship:
			return int64(e.ID), nil
		}
	case "labels":
		if n, ok := x.(*value.Node); ok {
			v, err := ev.vertexOf(n)
			if err != nil {
				return nil, err
			}
			return strList(v.Labels), nil
		}
	case "type":
		if rel, ok := x.(*value.Relationship); ok {
			e, err := ev.edgeOf(rel)
			if err != nil {
				return nil, err
			}
			return e.Type, nil
		}
	case "length", "size":
		switch e := x.(type) {
		case *value.Path:
			if name == "length" {
				return int64(len(e.Rels)), nil
			}
		case []any:
			return int64(len(e)), nil
		case string:
			return int64(utf8.RuneCountInString(e)), nil
		}
	case "tointeger":
		return toInteger(x)
	case "tofloat":
		return toFloatFn(x)
	case "tostring":
		return toStringFn(x)
	case "startnode", "endnode":
		if rel, ok := x.(*value.Relationship); ok {
			e, err := ev.edgeOf(rel)
			if err != nil {
				return nil, err
			}
			if name == "startnode" {
				return nodeRef(e.Start), nil
			}
			return nodeRef(e.End), nil
		}
	case "nodes", "relationships":
		if p, ok := x.(*value.Path); ok {
			out := []any{}
			if name == "nodes" {
				for _, n := range p.Nodes {
					out = append(out, n)
				}
			} else {
				for _, rel := range p.Rels {
					out = append(out, rel)
				}
			}
			return out, nil
		}
	case "head", "last", "tail":
		if l, ok := x.([]any); ok {
			switch {
			case name == "tail" && len(l) == 0:
				return []any{}, nil
			case name == "tail":
				return append([]any{}, l[1:]...), nil
			case len(l) == 0:
				return nil, nil
			case name == "head":
				return l[0], nil
			}
			return l[len(l)-1], nil
		}
	case "range":
		return rangeFn(args)
	case "keys", "properties":
		props, err := ev.propsOf(x)
		if err != nil || props == nil {
			return nil, err
		}
		if name == "properties" {
			return props, nil
		}
		return strList(slices.Sorted(maps.Keys(props))), nil
	case "abs":
		switch n := x.(type) {
		case int64:
			if n == math.MinInt64 {
				return nil, errOverflow
			}
			if n < 0 {
				return -n, nil
			}
			return n, nil
		case float64:
			return math.Abs(n), nil
		}
	case "tolower", "toupper":
		if s, ok := x.(string); ok {
			if name == "tolower" {
				return strings.ToLower(s), nil
			}
			return strings.ToUpper(s), nil
		}
	case "trim", "ltrim", "rtrim", "reverse", "replace", "split", "substring", "left", "right":
		return text(name, args)
	case "toboolean":
		switch b := x.(type) {
		case bool:
			return b, nil
		case string:
			switch strings.ToLower(b) {
			case "true":
				return true, nil
			case "false":
				return false, nil
			}
			return nil, nil
		}
	case "sqrt", "sign", "ceil", "floor", "round":
		return numeric(name, x)
	}
	return nil, typeErr{x}
}

// text is the string functions, over characters (runes): trim and its sides remove
// whitespace; reverse also reverses a list; replace replaces every occurrence; split cuts at
// every occurrence; substring(s, start[, length]), left(s, n) and right(s, n) clip their
// counts to the string, and refuse a negative one.
func text(name string, args []any) (any, error) {
	if l, ok := args[0].([]any); ok && name == "reverse" {
		out := make([]any, len(l))
		for i, v := range l {
			out[len(l)-1-i] = v
		}
		return out, nil
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, typeErr{args[0]}
	}
	strArg := func(i int) (string, error) {
		if a, ok := args[i].(string); ok {
			return a, nil
		}
		return "", typeErr{args[i]}
	}
	count := func(i int) (int, error) {
		n, ok := args[i].(int64)
		if !ok {
			return 0, typeErr{args[i]}
		}
		if n < 0 {
			return 0, fmt.Errorf("a negative count %d", n)
		}
		return int(min(n, math.MaxInt32)), nil
	}
	rs := []rune(s)
	switch name {
	case "trim":
		return strings.TrimFunc(s, unicode.IsSpace), nil
	case "ltrim":
		return strings.TrimLeftFunc(s, unicode.IsSpace), nil
	case "rtrim":
		return strings.TrimRightFunc(s, unicode.IsSpace), nil
	case "reverse":
		out := make([]rune, len(rs))
		for i, r := range rs {
			out[len(rs)-1-i] = r
		}
		return string(out), nil
	case "replace":
		from, err := strArg(1)
		if err != nil {
			return nil, err
		}
		to, err := strArg(2)
		if err != nil {
			return nil, err
		}
		return strings.ReplaceAll(s, from, to), nil
	case "split":
		sep, err := strArg(1)
		if err != nil {
			return nil, err
		}
		return strList(strings.Split(s, sep)), nil
	case "left", "right":
		n, err := count(1)
		if err != nil {
			return nil, err
		}
		n = min(n, len(rs))
		if name == "left" {
			return string(rs[:n]), nil
		}
		return string(rs[len(rs)-n:]), nil
	default: // substring
		start, err := count(1)
		if err != nil {
			return nil, err
		}
		start = min(start, len(rs))
		end := len(rs)
		if len(args) == 3 {
			n, err := count(2)
			if err != nil {
				return nil, err
			}
			end = min(end, start+min(n, len(rs)))
		}
		return string(rs[start:end]), nil
	}
}

// numeric is sqrt, sign, ceil, floor and round (half away from -Inf: round(-2.5) is -2.0,
// as openCypher's reference implementation, Java's Math.round, gives); all but sign give a
// FLOAT.
func numeric(name string, x any) (any, error) {
	var f float64
	switch n := x.(type) {
	case int64:
		if name == "sign" {
			return int64(cmpSign(n)), nil
		}
		f = float64(n)
	case float64:
		f = n
	default:
		return nil, typeErr{x}
	}
	switch name {
	case "sqrt":
		return math.Sqrt(f), nil
	case "sign":
		switch {
		case f > 0:
			return int64(1), nil
		case f < 0:
			return int64(-1), nil
		}
		return int64(0), nil
	case "ceil":
		return math.Ceil(f), nil
	case "floor":
		return math.Floor(f), nil
	}
	r := math.Floor(f)
	if f-r >= 0.5 {
		r++
	}
	return r, nil
}

func cmpSign(n int64) int {
	switch {
	case n > 0:
		return 1
	case n < 0:
		return -1
	}
	return 0
}

// propsOf returns the properties of a node or relationship, or a map itself (copied).
func (ev *evaluator) propsOf(x any) (map[string]any, error) {
	switch e := x.(type) {
	case map[string]any:
		return maps.Clone(e), nil
	case *value.Node:
		v, err := ev.vertexOf(e)
		if err != nil {
			return nil, err
		}
		return maps.Clone(v.Props), nil
	case *value.Relationship:
		ed, err := ev.edgeOf(e)
		if err != nil {
			return nil, err
		}
		return maps.Clone(ed.Props), nil
	}
	return nil, typeErr{x}
}

// toInteger: INTEGER as is; FLOAT truncated toward zero (null outside the INTEGER range or
// NaN); a STRING holding an integer or a float, parsed (null if it holds neither); BOOLEAN
// as 1 or 0.
func toInteger(x any) (any, error) {
	switch v := x.(type) {
	case int64:
		return v, nil
	case float64:
		return floatToInt(v), nil
	case bool:
		if v {
			return int64(1), nil
		}
		return int64(0), nil
	case string:
		s := strings.TrimSpace(v)
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return floatToInt(f), nil
		}
		return nil, nil
	}
	return nil, typeErr{x}
}

func floatToInt(f float64) any {
	t := math.Trunc(f)
	if math.IsNaN(t) || t < -(1<<63) || t >= 1<<63 {
		return nil
	}
	return int64(t)
}

// toFloatFn: numbers as FLOAT; a STRING holding a number, parsed (null if it does not).
func toFloatFn(x any) (any, error) {
	switch v := x.(type) {
	case int64:
		return float64(v), nil
	case float64:
		return v, nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return nil, nil
		}
		return f, nil
	}
	return nil, typeErr{x}
}

// toStringFn: INTEGER in decimal; FLOAT as Cypher prints it (plain digits between 1e-6 and
// 1e21 with at least one decimal, "1.0"; an exponent otherwise, "1e+21"; NaN, Infinity,
// -Infinity); BOOLEAN as true or false; STRING as is.
func toStringFn(x any) (any, error) {
	switch v := x.(type) {
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		switch {
		case math.IsNaN(v):
			return "NaN", nil
		case math.IsInf(v, 1):
			return "Infinity", nil
		case math.IsInf(v, -1):
			return "-Infinity", nil
		}
		if a := math.Abs(v); a != 0 && (a < 1e-6 || a >= 1e21) {
			return strconv.FormatFloat(v, 'g', -1, 64), nil
		}
		s := strconv.FormatFloat(v, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s, nil
	case bool:
		return strconv.FormatBool(v), nil
	case string:
		return v, nil
	}
	return nil, typeErr{x}
}

// rangeFn is range(start, end[, step]): the INTEGERs from start to end inclusive.
func rangeFn(args []any) (any, error) {
	ints := make([]int64, 3)
	ints[2] = 1
	for i, a := range args {
		n, ok := a.(int64)
		if !ok {
			return nil, typeErr{a}
		}
		ints[i] = n
	}
	start, end, step := ints[0], ints[1], ints[2]
	if step == 0 {
		return nil, errStepZero
	}
	out := []any{}
	for i := start; step > 0 && i <= end || step < 0 && i >= end; i += step {
		if out = append(out, i); len(out) > maxRange {
			return nil, errTooLong
		}
		if step > 0 && i > math.MaxInt64-step || step < 0 && i < math.MinInt64-step {
			break // the next step would overflow, and would be past end anyway
		}
	}
	return out, nil
}

// maxRange bounds range()'s list: the oracle holds everything in memory.
const maxRange = 10_000_000

var (
	errStepZero = errors.New("the step must not be 0")
	errTooLong  = fmt.Errorf("the list would hold more than %d elements", maxRange)
)

func strList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
