package value

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// The rules below are openCypher's (CIP2016-06-14 "Comparability and Equality, Orderability and
// Equivalence", as the openCypher 9 TCK tests them). Where the CIP and the TCK differ, the TCK
// wins, and the function's doc comment says so.

// Equal is openCypher's equality (`=`, `<>`, `IN`): true, false, or nil (null) when unknown.
//   - null on either side gives null.
//   - Numbers compare numerically across INTEGER and FLOAT, exactly (1 = 1.0 is true;
//     9007199254740993 = 9007199254740992.0 is false); NaN equals nothing, itself included.
//   - Values of different types are not equal (false, not null): '1' = 1 is false.
//   - Lists are equal if they have the same length and their elements are pairwise equal, maps if
//     they have the same keys (keys holding null included) and their values are pairwise equal;
//     the pairwise results combine as AND does in ternary logic: [1, null] = [2, null] is false,
//     [1, null] = [1, null] is null, {k: null} = {} is false.
//   - Nodes and relationships are equal when their ids are; paths when their nodes and
//     relationships are, in order. The TCK makes a path's traversal direction insignificant
//     (Comparison1 [14]), so Path does not record it.
//
// a and b must be values of the model (see Normalize); other Go types panic.
func Equal(a, b any) any {
	if a == nil || b == nil {
		return nil
	}
	switch x := a.(type) {
	case int64, float64:
		if !isNumber(b) {
			return false
		}
		c, ok := compareNumbers(a, b)
		return ok && c == 0
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		unknown := false
		for i := range x {
			switch Equal(x[i], y[i]) {
			case false:
				return false
			case nil:
				unknown = true
			}
		}
		return unknownOr(unknown, true)
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k := range x {
			if _, ok := y[k]; !ok {
				return false
			}
		}
		unknown := false
		for k, xv := range x {
			switch Equal(xv, y[k]) {
			case false:
				return false
			case nil:
				unknown = true
			}
		}
		return unknownOr(unknown, true)
	case *Node:
		y, ok := b.(*Node)
		return ok && x.ID == y.ID
	case *Relationship:
		y, ok := b.(*Relationship)
		return ok && x.ID == y.ID
	case *Path:
		y, ok := b.(*Path)
		return ok && comparePaths(x, y) == 0
	}
	panic(fmt.Sprintf("value.Equal: %s is not a value of the model", TypeName(a)))
}

// unknownOr returns nil if unknown is set, else v: the ternary result of an AND whose terms held
// no false.
func unknownOr(unknown bool, v any) any {
	if unknown {
		return nil
	}
	return v
}

// Less is openCypher's comparability (`<`; `a > b` is Less(b, a)): true, false, or nil (null)
// when the two values are incomparable.
//   - null on either side, or values of different types (INTEGER and FLOAT excepted), give null:
//     '1' < 1 is null.
//   - Numbers compare numerically across INTEGER and FLOAT, exactly, without rounding the
//     integer to a float. NaN compared with a number gives false (the TCK, Comparison2 [5]; the
//     CIP called it incomparable), and with a non-number null.
//   - Strings compare by Unicode code point (the byte order of UTF-8), a shorter prefix first:
//     'a' < 'aa'. Booleans: false < true.
//   - Lists compare lexicographically: the first pair of elements that are not equal decides
//     (with their Less), and if that pair's equality is unknown the result is null; a list that
//     is a prefix of the other is less. So [1, null] >= [1] is true, [1, 2] >= [1, null] null,
//     [1, 2] >= [3, null] false (Comparison2 [4]).
//   - Nodes and relationships compare by id; paths as the list of their nodes and relationships
//     alternately.
//   - Maps: the CIP leaves their comparison to implementations; Torua, as Neo4j does, answers
//     null.
//
// a and b must be values of the model; other Go types panic.
func Less(a, b any) any {
	if a == nil || b == nil {
		return nil
	}
	switch x := a.(type) {
	case int64, float64:
		if !isNumber(b) {
			return nil
		}
		c, ok := compareNumbers(a, b)
		return ok && c < 0
	case bool:
		if y, ok := b.(bool); ok {
			return !x && y
		}
		return nil
	case string:
		if y, ok := b.(string); ok {
			return x < y
		}
		return nil
	case []any:
		y, ok := b.([]any)
		if !ok {
			return nil
		}
		for i := range min(len(x), len(y)) {
			switch Equal(x[i], y[i]) {
			case true:
				continue
			case nil:
				return nil
			}
			return Less(x[i], y[i])
		}
		return len(x) < len(y)
	case map[string]any:
		return nil
	case *Node:
		if y, ok := b.(*Node); ok {
			return x.ID < y.ID
		}
		return nil
	case *Relationship:
		if y, ok := b.(*Relationship); ok {
			return x.ID < y.ID
		}
		return nil
	case *Path:
		if y, ok := b.(*Path); ok {
			return comparePaths(x, y) < 0
		}
		return nil
	}
	panic(fmt.Sprintf("value.Less: %s is not a value of the model", TypeName(a)))
}

// LessEqual is `<=` (`a >= b` is LessEqual(b, a)): Less(a, b) OR Equal(a, b) in ternary logic,
// which keeps `<=` aligned with `=` as the CIP requires (NaN <= NaN is false, 1 <= 1.0 true).
func LessEqual(a, b any) any {
	lt, eq := Less(a, b), Equal(a, b)
	if lt == true || eq == true {
		return true
	}
	if lt == nil || eq == nil {
		return nil
	}
	return false
}

// Families in the ascending global sort order of openCypher's orderability: regular maps,
// nodes, relationships, lists, paths, strings, booleans, numbers, null.
const (
	famMap = iota
	famNode
	famRel
	famList
	famPath
	famString
	famBool
	famNumber
	famNull
)

func family(v any) int {
	switch v.(type) {
	case map[string]any:
		return famMap
	case *Node:
		return famNode
	case *Relationship:
		return famRel
	case []any:
		return famList
	case *Path:
		return famPath
	case string:
		return famString
	case bool:
		return famBool
	case int64, float64:
		return famNumber
	case nil:
		return famNull
	}
	panic(fmt.Sprintf("value: %s is not a value of the model", TypeName(v)))
}

// Compare is openCypher's orderability, the total order of ORDER BY (ascending; descending is
// its reverse), and it returns -1, 0 or +1. Values of different types sort by the global order
// maps < nodes < relationships < lists < paths < strings < booleans < numbers < null. Within a
// type it follows Less, except that it is total and 0 means equivalent (see Key): null is
// equivalent to null and sorts last; NaN is equivalent to NaN and sorts after +Inf; 1 and 1.0
// are equivalent. Lists compare elementwise with Compare, a prefix first. Maps, whose order
// the CIP leaves to implementations, compare as the sequence of their entries sorted by key:
// key first (by code point), then value, a map whose entries are a prefix of the other's first
// ({} < {a: 1} < {a: 2} < {b: 0}).
//
// a and b must be values of the model; other Go types panic.
func Compare(a, b any) int {
	fa, fb := family(a), family(b)
	if fa != fb {
		return cmp.Compare(fa, fb)
	}
	switch x := a.(type) {
	case nil:
		return 0
	case int64, float64:
		if aNaN, bNaN := isNaN(a), isNaN(b); aNaN || bNaN {
			return boolCompare(aNaN, bNaN)
		}
		c, _ := compareNumbers(a, b)
		return c
	case bool:
		return boolCompare(x, b.(bool))
	case string:
		return strings.Compare(x, b.(string))
	case []any:
		y := b.([]any)
		for i := range min(len(x), len(y)) {
			if c := Compare(x[i], y[i]); c != 0 {
				return c
			}
		}
		return cmp.Compare(len(x), len(y))
	case map[string]any:
		y := b.(map[string]any)
		xk, yk := sortedKeys(x), sortedKeys(y)
		for i := range min(len(xk), len(yk)) {
			if c := strings.Compare(xk[i], yk[i]); c != 0 {
				return c
			}
			if c := Compare(x[xk[i]], y[yk[i]]); c != 0 {
				return c
			}
		}
		return cmp.Compare(len(xk), len(yk))
	case *Node:
		return cmp.Compare(x.ID, b.(*Node).ID)
	case *Relationship:
		return cmp.Compare(x.ID, b.(*Relationship).ID)
	case *Path:
		return comparePaths(x, b.(*Path))
	}
	panic("unreachable")
}

// comparePaths orders paths as the lists n0, r0, n1, r1, ... by ids, a prefix first.
func comparePaths(x, y *Path) int {
	for i := range min(len(x.Nodes), len(y.Nodes)) {
		if c := cmp.Compare(x.Nodes[i].ID, y.Nodes[i].ID); c != 0 {
			return c
		}
		if i < len(x.Rels) && i < len(y.Rels) {
			if c := cmp.Compare(x.Rels[i].ID, y.Rels[i].ID); c != 0 {
				return c
			}
		}
	}
	return cmp.Compare(len(x.Nodes)+len(x.Rels), len(y.Nodes)+len(y.Rels))
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func isNumber(v any) bool {
	switch v.(type) {
	case int64, float64:
		return true
	}
	return false
}

func isNaN(v any) bool {
	f, ok := v.(float64)
	return ok && math.IsNaN(f)
}

// compareNumbers compares two numbers (int64 or float64) exactly; ok is false if either is NaN.
func compareNumbers(a, b any) (c int, ok bool) {
	switch x := a.(type) {
	case int64:
		switch y := b.(type) {
		case int64:
			return cmp.Compare(x, y), true
		case float64:
			if math.IsNaN(y) {
				return 0, false
			}
			return compareIntFloat(x, y), true
		}
	case float64:
		if math.IsNaN(x) {
			return 0, false
		}
		switch y := b.(type) {
		case int64:
			return -compareIntFloat(y, x), true
		case float64:
			if math.IsNaN(y) {
				return 0, false
			}
			return cmp.Compare(x, y), true
		}
	}
	panic("value: compareNumbers on a non-number")
}

// twoTo63 is 2^63 as a float64: the smallest float above every int64.
const twoTo63 = float64(1 << 63)

// compareIntFloat compares i with f (not NaN) as exact numbers, as if both were big decimals:
// converting i to float64 would round above 2^53 and call 2^53+1 equal to 2^53.
func compareIntFloat(i int64, f float64) int {
	switch {
	case f >= twoTo63:
		return -1
	case f < -twoTo63:
		return 1
	}
	// f is in [-2^63, 2^63): its integer part fits an int64 exactly, and f - t is exact.
	t := math.Trunc(f)
	if c := cmp.Compare(i, int64(t)); c != 0 {
		return c
	}
	return cmp.Compare(0, f-t)
}
