package oracle

import (
	"fmt"
	"math/big"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/value"
)

// aggregate computes an aggregate function over a group's rows. Every aggregate but
// count(*) skips nulls; DISTINCT keeps one of each set of equivalent values (value.Key, so
// 1 and 1.0 are one value).
//   - count(*): the rows; count(x): the non-null values.
//   - sum: 0 of no values; INTEGERs sum exactly (overflow is an error); with a FLOAT among
//     them, the sum is a FLOAT added in row order.
//   - avg: null of no values, else a FLOAT: of INTEGERs, their exact sum divided by their
//     number, rounded once; with a FLOAT among them, the FLOAT sum divided by the number.
//   - min, max: by value.Compare (openCypher's orderability, across types); null of none.
//   - collect: the list of the values, in row order.
func (ev *evaluator) aggregate(fc *cypher.FuncCall, rows []row) (any, error) {
	if fc.Star {
		if fc.Name != "count" {
			return nil, errAt(fc.Pos, "%s(*) is not a function: only count(*)", fc.Name)
		}
		return int64(len(rows)), nil
	}
	if len(fc.Args) != 1 {
		return nil, errAt(fc.Pos, "%s takes one argument", fc.Name)
	}
	var vals []any
	seen := map[string]bool{}
	for _, r := range rows {
		v, err := ev.eval(fc.Args[0], r)
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		if fc.Distinct {
			k := value.Key(v)
			if seen[k] {
				continue
			}
			seen[k] = true
		}
		vals = append(vals, v)
	}
	v, err := aggregateValues(fc.Name, vals)
	if err != nil {
		return nil, errAt(fc.Pos, "%s: %v", fc.Name, err)
	}
	return v, nil
}

func aggregateValues(name string, vals []any) (any, error) {
	switch name {
	case "count":
		return int64(len(vals)), nil
	case "collect":
		return append([]any{}, vals...), nil
	case "min", "max":
		var best any
		for i, v := range vals {
			c := value.Compare(v, best)
			if i == 0 || name == "min" && c < 0 || name == "max" && c > 0 {
				best = v
			}
		}
		return best, nil
	case "sum", "avg":
		return sumAvg(name, vals)
	}
	return nil, fmt.Errorf("unknown aggregate")
}

func sumAvg(name string, vals []any) (any, error) {
	exact := new(big.Int)
	fsum, floats := 0.0, false
	for _, v := range vals {
		switch x := v.(type) {
		case int64:
			exact.Add(exact, big.NewInt(x))
			fsum += float64(x)
		case float64:
			floats = true
			fsum += x
		default:
			return nil, fmt.Errorf("expects numbers, found a %s", value.TypeName(v))
		}
	}
	if name == "sum" {
		switch {
		case floats:
			return fsum, nil
		case !exact.IsInt64():
			return nil, fmt.Errorf("%w: the sum is %s", errOverflow, exact)
		}
		return exact.Int64(), nil
	}
	if len(vals) == 0 {
		return nil, nil
	}
	if floats {
		return fsum / float64(len(vals)), nil
	}
	q := new(big.Float).SetPrec(53).Quo(new(big.Float).SetInt(exact), new(big.Float).SetInt64(int64(len(vals))))
	f, _ := q.Float64()
	return f, nil
}
