package oracle

import (
	"errors"
	"fmt"
	"math"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/value"
)

// errOverflow: an INTEGER result outside the 64-bit range is an error, never a wrap.
var errOverflow = errors.New("integer overflow")

// arith is + - * / % ^ after openCypher: null of a null operand; INTEGER op INTEGER is an
// INTEGER (/ truncates toward zero, % takes the dividend's sign; a zero divisor and overflow
// are errors) except ^, which is always a FLOAT; an INTEGER with a FLOAT is computed in
// FLOAT (IEEE: 1.0/0 is Infinity). + also concatenates strings and lists, and adds an element
// to either end of a list.
func arith(op cypher.BinaryOp, a, b any) (any, error) {
	if op == cypher.OpAdd {
		la, aList := a.([]any)
		lb, bList := b.([]any)
		switch {
		case aList && bList:
			return append(append([]any{}, la...), lb...), nil
		case aList:
			return append(append([]any{}, la...), b), nil
		case bList:
			return append([]any{a}, lb...), nil
		}
	}
	if a == nil || b == nil {
		return nil, nil
	}
	if op == cypher.OpAdd {
		sa, ok1 := a.(string)
		sb, ok2 := b.(string)
		if ok1 && ok2 {
			return sa + sb, nil
		}
	}
	ia, aInt := a.(int64)
	ib, bInt := b.(int64)
	if aInt && bInt && op != cypher.OpPow {
		return intArith(op, ia, ib)
	}
	fa, ok1 := toFloat(a)
	fb, ok2 := toFloat(b)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("cannot compute %s %s %s", value.TypeName(a), op, value.TypeName(b))
	}
	switch op {
	case cypher.OpAdd:
		return fa + fb, nil
	case cypher.OpSub:
		return fa - fb, nil
	case cypher.OpMul:
		return fa * fb, nil
	case cypher.OpDiv:
		return fa / fb, nil
	case cypher.OpMod:
		return math.Mod(fa, fb), nil
	case cypher.OpPow:
		return math.Pow(fa, fb), nil
	}
	return nil, fmt.Errorf("unknown operator %s", op)
}

func intArith(op cypher.BinaryOp, a, b int64) (any, error) {
	switch op {
	case cypher.OpAdd:
		s := a + b
		if a > 0 && b > 0 && s < 0 || a < 0 && b < 0 && s >= 0 {
			return nil, fmt.Errorf("%w: %d + %d", errOverflow, a, b)
		}
		return s, nil
	case cypher.OpSub:
		d := a - b
		if a >= 0 && b < 0 && d < 0 || a < 0 && b > 0 && d >= 0 {
			return nil, fmt.Errorf("%w: %d - %d", errOverflow, a, b)
		}
		return d, nil
	case cypher.OpMul:
		if a == 0 || b == 0 {
			return int64(0), nil
		}
		p := a * b
		if p/b != a || a == -1 && b == math.MinInt64 || b == -1 && a == math.MinInt64 {
			return nil, fmt.Errorf("%w: %d * %d", errOverflow, a, b)
		}
		return p, nil
	case cypher.OpDiv, cypher.OpMod:
		if b == 0 {
			return nil, fmt.Errorf("division by zero: %d %s 0", a, op)
		}
		if op == cypher.OpMod {
			return a % b, nil
		}
		if a == math.MinInt64 && b == -1 {
			return nil, fmt.Errorf("%w: %d / -1", errOverflow, a)
		}
		return a / b, nil
	}
	return nil, fmt.Errorf("unknown operator %s", op)
}

// neg is -x for an INTEGER; -MinInt64 overflows.
func neg(x int64, pos cypher.Pos) (any, error) {
	if x == math.MinInt64 {
		return nil, errAt(pos, "%v: -(%d)", errOverflow, x)
	}
	return -x, nil
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}
