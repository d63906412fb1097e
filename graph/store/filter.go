package store

import (
	"fmt"
	"math"

	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/shardapi"
	"github.com/torua/torua/graph/value"
)

// indexBounds returns the prefix to scan, where to start and where to stop (nil: the prefix's end).
func indexBounds(rg shardapi.Range, graph, label, prop string) (prefix, start, stop []byte, err error) {
	if rg.Eq.V != nil {
		p, err := layout.IndexEqualPrefix(graph, label, prop, rg.Eq.V)
		return p, nil, nil, err
	}
	prefix = layout.IndexPrefix(graph, label, prop)
	from := rg.Lower.V
	if from == nil {
		// The first value of the upper bound's type family.
		switch rg.Upper.V.(type) {
		case int64, float64:
			from = math.Inf(-1)
		case string:
			from = ""
		case bool:
			from = false
		case nil:
			return prefix, nil, nil, nil
		default:
			return nil, nil, nil, fmt.Errorf("an index range cannot be bounded by %s", value.WithArticle(rg.Upper.V))
		}
	}
	start, err = value.AppendKey(append([]byte(nil), prefix...), from)
	return prefix, start, nil, err
}
