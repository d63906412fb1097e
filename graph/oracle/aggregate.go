package oracle

import (
	"fmt"
	"math"
	"math/big"
	"sort"

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
	percentile := fc.Name == "percentilecont" || fc.Name == "percentiledisc"
	if want := map[bool]int{false: 1, true: 2}[percentile]; len(fc.Args) != want {
		return nil, errAt(fc.Pos, "%s takes %d arguments", fc.Name, want)
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
	if percentile {
		if len(rows) == 0 {
			return nil, nil
		}
		pv, err := ev.eval(fc.Args[1], rows[0])
		if err != nil {
			return nil, err
		}
		v, err := percentileOf(fc.Name == "percentilecont", vals, pv)
		if err != nil {
			return nil, errAt(fc.Pos, "%s: %v", fc.Name, err)
		}
		return v, nil
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
	case "stdev", "stdevp":
		return stdev(name == "stdevp", vals)
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
			return nil, fmt.Errorf("expects numbers, found %s", value.WithArticle(v))
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

// stdev is the standard deviation of numbers, two passes (the mean, then the squares of the
// differences from it): of the sample (n-1) or the population (n); 0.0 when that divisor is
// not positive.
func stdev(population bool, vals []any) (any, error) {
	fs, err := numbers(vals)
	if err != nil {
		return nil, err
	}
	mean := 0.0
	for _, f := range fs {
		mean += f
	}
	div := len(fs) - 1
	if population {
		div = len(fs)
	}
	if div <= 0 {
		return 0.0, nil
	}
	mean /= float64(len(fs))
	sq := 0.0
	for _, f := range fs {
		sq += (f - mean) * (f - mean)
	}
	return math.Sqrt(sq / float64(div)), nil
}

// percentileOf is percentileDisc (cont false: the first value, in ascending order, whose
// 1-based rank is at least p×n) or percentileCont (the value at position p×(n-1) of the
// ascending values, counting from 0, interpolated linearly between its neighbours; a FLOAT);
// null of no values. p must be a number from 0 to 1.
func percentileOf(cont bool, vals []any, pv any) (any, error) {
	var p float64
	switch x := pv.(type) {
	case int64:
		p = float64(x)
	case float64:
		p = x
	default:
		return nil, fmt.Errorf("the percentile must be a number, found %s", value.WithArticle(pv))
	}
	if !(p >= 0 && p <= 1) {
		return nil, fmt.Errorf("the percentile must be from 0.0 to 1.0, found %v", p)
	}
	fs, err := numbers(vals)
	if err != nil {
		return nil, err
	}
	if len(vals) == 0 {
		return nil, nil
	}
	order := make([]int, len(vals))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return fs[order[a]] < fs[order[b]] })
	n := len(vals)
	if !cont {
		rank := 1
		for float64(rank) < p*float64(n) {
			rank++
		}
		return vals[order[rank-1]], nil
	}
	pos := p * float64(n-1)
	lo := int(pos)
	if float64(lo) == pos || lo == n-1 {
		return fs[order[lo]], nil
	}
	w := pos - float64(lo)
	return fs[order[lo]]*(1-w) + fs[order[lo+1]]*w, nil
}

// numbers are vals (INTEGERs and FLOATs) as FLOATs.
func numbers(vals []any) ([]float64, error) {
	fs := make([]float64, len(vals))
	for i, v := range vals {
		switch x := v.(type) {
		case int64:
			fs[i] = float64(x)
		case float64:
			fs[i] = x
		default:
			return nil, fmt.Errorf("expects numbers, found %s", value.WithArticle(v))
		}
	}
	return fs, nil
}
