package shardapi

import (
	"fmt"
	"strings"

	"github.com/torua/torua/graph/value"
)

// Op is a comparison a pushed-down predicate makes.
type Op string

// The predicates a node evaluates on a property; anything else stays in the router.
const (
	OpEq         Op = "="
	OpNe         Op = "<>"
	OpLt         Op = "<"
	OpLe         Op = "<="
	OpGt         Op = ">"
	OpGe         Op = ">="
	OpIn         Op = "IN"
	OpIsNull     Op = "IS NULL"
	OpIsNotNull  Op = "IS NOT NULL"
	OpStartsWith Op = "STARTS WITH"
	OpEndsWith   Op = "ENDS WITH"
	OpContains   Op = "CONTAINS"
)

// Pred is one predicate on a property: `prop Op Value`.
type Pred struct {
	Key   string     `json:"key"`
	Op    Op         `json:"op"`
	Value value.Wire `json:"value"`
}

// eval gives the predicate's three-valued result on props (nil: null, which a filter counts as
// false, as WHERE does).
func (p Pred) eval(props map[string]any) (any, error) {
	x := props[p.Key]
	switch p.Op {
	case OpIsNull:
		return x == nil, nil
	case OpIsNotNull:
		return x != nil, nil
	case OpEq:
		return value.Equal(x, p.Value.V), nil
	case OpNe:
		return not(value.Equal(x, p.Value.V)), nil
	case OpLt:
		return value.Less(x, p.Value.V), nil
	case OpGt:
		return value.Less(p.Value.V, x), nil
	case OpLe:
		return or(value.Less(x, p.Value.V), value.Equal(x, p.Value.V)), nil
	case OpGe:
		return or(value.Less(p.Value.V, x), value.Equal(x, p.Value.V)), nil
	case OpIn:
		list, ok := p.Value.V.([]any)
		if !ok {
			return nil, fmt.Errorf("IN needs a list, got %s", value.TypeName(p.Value.V))
		}
		// openCypher: true if any element equals, else null if any comparison was null.
		var res any = false
		for _, e := range list {
			switch value.Equal(x, e) {
			case true:
				return true, nil
			case nil:
				res = nil
			}
		}
		return res, nil
	case OpStartsWith, OpEndsWith, OpContains:
		s, ok1 := x.(string)
		sub, ok2 := p.Value.V.(string)
		if !ok1 || !ok2 {
			return nil, nil
		}
		switch p.Op {
		case OpStartsWith:
			return strings.HasPrefix(s, sub), nil
		case OpEndsWith:
			return strings.HasSuffix(s, sub), nil
		}
		return strings.Contains(s, sub), nil
	}
	return nil, fmt.Errorf("unknown predicate operator %q", p.Op)
}

func not(v any) any {
	if b, ok := v.(bool); ok {
		return !b
	}
	return nil
}

func or(a, b any) any {
	if a == true || b == true {
		return true
	}
	if a == nil || b == nil {
		return nil
	}
	return false
}

// PropFilter is a conjunction of predicates on a property map. A nil filter passes all.
type PropFilter struct {
	Preds []Pred `json:"preds,omitempty"`
}

// Match reports whether the encoded property map props passes every predicate.
func (f *PropFilter) Match(props []byte) (bool, error) {
	if f == nil || len(f.Preds) == 0 {
		return true, nil
	}
	m, err := value.DecodeProps(props)
	if err != nil {
		return false, err
	}
	return f.matchMap(m)
}

func (f *PropFilter) matchMap(m map[string]any) (bool, error) {
	for _, p := range f.Preds {
		r, err := p.eval(m)
		if err != nil || r != true {
			return false, err
		}
	}
	return true, nil
}

// VertexFilter keeps the vertices that have every one of Labels and pass Props.
type VertexFilter struct {
	Labels []string   `json:"labels,omitempty"`
	Props  PropFilter `json:"props"`
}

// Match reports whether v passes the filter; a nil filter passes all.
func (f *VertexFilter) Match(v *Vertex) (bool, error) {
	if f == nil {
		return true, nil
	}
	for _, l := range f.Labels {
		if !v.HasLabel(l) {
			return false, nil
		}
	}
	return f.Props.Match(v.Props)
}

// Range selects index entries: those equal to Eq when it is set, else those between Lower and
// Upper (either may be nil: unbounded), inclusive where said. Values of another type than the
// bounds never match, as openCypher's comparisons of different types are null.
type Range struct {
	Eq             value.Wire `json:"eq"`
	Lower          value.Wire `json:"lower"`
	Upper          value.Wire `json:"upper"`
	LowerInclusive bool       `json:"lowerInclusive,omitempty"`
	UpperInclusive bool       `json:"upperInclusive,omitempty"`
}

// Contains reports whether v is in the range.
func (rg Range) Contains(v any) bool {
	if rg.Eq.V != nil {
		return value.Equal(v, rg.Eq.V) == true
	}
	if rg.Lower.V != nil {
		if c := value.Less(rg.Lower.V, v); c != true && !(rg.LowerInclusive && value.Equal(rg.Lower.V, v) == true) {
			return false
		}
	}
	if rg.Upper.V != nil {
		if c := value.Less(v, rg.Upper.V); c != true && !(rg.UpperInclusive && value.Equal(rg.Upper.V, v) == true) {
			return false
		}
	}
	return true
}
