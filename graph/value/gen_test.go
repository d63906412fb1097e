package value

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// gen draws random values of the model from a seeded source, biased towards the edges the
// rules care about: numbers around 0, 2^53 and 2^63 in both types, NaN and the infinities,
// strings holding the escaped bytes (0x00, 0x01, '{', '|', '}') and multi-byte UTF-8.
type gen struct{ r *rand.Rand }

func newGen(t testing.TB, seed uint64) gen {
	t.Helper()
	t.Logf("seed %d", seed)
	return gen{rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

var edgeInts = []int64{0, 1, -1, 2, 1 << 53, 1<<53 + 1, -(1 << 53) - 1, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1, 123, 0x7B, 0x7D}

var edgeFloats = []float64{0, math.Copysign(0, -1), 1, -1, 0.5, -0.5, 1.5, -1.5, 1 << 53, 1<<53 + 2, -(1 << 53),
	1 << 63, -(1 << 63), 1<<63 - 1024, -(1 << 63) - 2048, math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64,
	-math.SmallestNonzeroFloat64, math.Inf(1), math.Inf(-1), math.NaN(), 1e-300, -1e-300, 0.1, 123.0, 1e300}

func (g gen) int() int64 {
	switch g.r.IntN(3) {
	case 0:
		return edgeInts[g.r.IntN(len(edgeInts))]
	case 1:
		return g.r.Int64N(200) - 100
	}
	return int64(g.r.Uint64())
}

func (g gen) float() float64 {
	switch g.r.IntN(5) {
	case 0:
		return edgeFloats[g.r.IntN(len(edgeFloats))]
	case 1:
		return float64(g.r.Int64N(200)-100) / 4
	case 2:
		return float64(g.int()) // an integer-valued float, often equal to some int
	case 3:
		return math.Float64frombits(g.r.Uint64())
	}
	return g.r.NormFloat64() * math.Pow(10, float64(g.r.IntN(40)-20))
}

var alphabet = []string{"a", "b", "z", "{", "}", "|", "\x00", "\x01", "\x02", "é", "😀", "A", " ", "\xff", "~"}

func (g gen) string() string {
	var b strings.Builder
	for range g.r.IntN(6) {
		b.WriteString(alphabet[g.r.IntN(len(alphabet))])
	}
	return b.String()
}

// scalar draws a non-null BOOLEAN, INTEGER, FLOAT or STRING.
func (g gen) scalar() any {
	switch g.r.IntN(4) {
	case 0:
		return g.r.IntN(2) == 0
	case 1:
		return g.int()
	case 2:
		return g.float()
	}
	return g.string()
}

// value draws any value of the model, nesting at most depth levels.
func (g gen) value(depth int) any {
	n := 8
	if depth <= 0 {
		n = 5
	}
	switch g.r.IntN(n) {
	case 0, 1, 2, 3:
		return g.scalar()
	case 4:
		return nil
	case 5:
		l := make([]any, g.r.IntN(4))
		for i := range l {
			l[i] = g.value(depth - 1)
		}
		return l
	case 6:
		m := map[string]any{}
		for range g.r.IntN(4) {
			m[g.string()] = g.value(depth - 1)
		}
		return m
	}
	switch g.r.IntN(3) {
	case 0:
		return g.node()
	case 1:
		return g.rel()
	}
	p := &Path{Nodes: []*Node{g.node()}}
	for range g.r.IntN(3) {
		p.Rels = append(p.Rels, g.rel())
		p.Nodes = append(p.Nodes, g.node())
	}
	return p
}

func (g gen) node() *Node {
	n := &Node{ID: g.r.Uint64N(5), Props: map[string]any{"k": g.scalar()}}
	if g.r.IntN(2) == 0 {
		n.Labels = []string{"Person"}
	}
	return n
}

func (g gen) rel() *Relationship {
	return &Relationship{ID: g.r.Uint64N(5), Type: "KNOWS", Start: g.r.Uint64N(5), End: g.r.Uint64N(5), Props: map[string]any{}}
}

// property draws a value CheckProperty accepts.
func (g gen) property() any {
	if g.r.IntN(4) > 0 {
		return g.scalar()
	}
	proto := g.scalar()
	l := make([]any, g.r.IntN(4))
	for i := range l {
		for {
			if e := g.scalar(); TypeName(e) == TypeName(proto) {
				l[i] = e
				break
			}
		}
	}
	return l
}
