package oracle

import (
	"math"
	"slices"
	"testing"
)

// checkGenerated checks what every generated graph promises: n vertices with ids 1..n and
// the property id equal to the id, m edges with ids 1..m, the options' limits, and floats
// that are multiples of 1/8.
func checkGenerated(t *testing.T, g *Graph, n, m int, o Options) {
	t.Helper()
	vs, es := g.Vertices(), g.Edges()
	if len(vs) != n || len(es) != m {
		t.Fatalf("%d vertices and %d edges, want %d and %d", len(vs), len(es), n, m)
	}
	eighths := func(p map[string]any) {
		for k, v := range p {
			if f, ok := v.(float64); ok && f*8 != math.Trunc(f*8) {
				t.Fatalf("property %s = %v is not a multiple of 1/8", k, f)
			}
		}
	}
	for i, v := range vs {
		if v.ID != int64(i+1) || v.Props["id"] != v.ID {
			t.Fatalf("vertex %d: id %d, property id %v", i+1, v.ID, v.Props["id"])
		}
		eighths(v.Props)
	}
	type pair struct{ s, t int64 }
	seen := map[pair]bool{}
	for i, e := range es {
		if e.ID != int64(i+1) {
			t.Fatalf("edge %d has id %d", i+1, e.ID)
		}
		if e.Start == e.End && !o.SelfLoops {
			t.Fatalf("edge %d is a self-loop", e.ID)
		}
		if seen[pair{e.Start, e.End}] && !o.Parallel {
			t.Fatalf("edge %d is parallel to another", e.ID)
		}
		seen[pair{e.Start, e.End}] = true
		eighths(e.Props)
	}
}

func TestGenerators(t *testing.T) {
	for _, tc := range []struct {
		name string
		gen  func(seed uint64, n, m int, o Options) *Graph
		n, m int
		o    Options
	}{
		{"random", Random, 200, 1000, Options{}},
		{"random dense with self-loops", Random, 6, 36, Options{SelfLoops: true}},
		{"random multigraph", Random, 3, 50, Options{Parallel: true, SelfLoops: true}},
		{"random own vocabulary", Random, 50, 100, Options{Labels: []string{"A"}, Types: []string{"T"}}},
		{"power law", PowerLaw, 500, 2500, Options{}},
		{"power law, every pair", PowerLaw, 8, 28, Options{}},
		{"power law with self-loops", PowerLaw, 8, 36, Options{SelfLoops: true}},
		{"power law multigraph", PowerLaw, 10, 200, Options{Parallel: true}},
		{"empty", PowerLaw, 0, 0, Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.gen(7, tc.n, tc.m, tc.o)
			checkGenerated(t, g, tc.n, tc.m, tc.o)
			if again := tc.gen(7, tc.n, tc.m, tc.o); again.CreateQuery() != g.CreateQuery() {
				t.Fatal("the same seed gave another graph")
			}
			if tc.m > 50 && tc.gen(8, tc.n, tc.m, tc.o).CreateQuery() == g.CreateQuery() {
				t.Fatal("another seed gave the same graph")
			}
			if len(tc.o.Labels) > 0 {
				for _, v := range g.Vertices() {
					for _, l := range v.Labels {
						if !slices.Contains(tc.o.Labels, l) {
							t.Fatalf("vertex %d has label %s", v.ID, l)
						}
					}
				}
			}
		})
	}
}

func TestGeneratorsRefuseTooManyEdges(t *testing.T) {
	for name, f := range map[string]func(){
		"random":          func() { Random(1, 3, 7, Options{}) },
		"random one":      func() { Random(1, 1, 1, Options{Parallel: true}) },
		"power law":       func() { PowerLaw(1, 4, 7, Options{}) },
		"power law loops": func() { PowerLaw(1, 2, 4, Options{SelfLoops: true}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// degrees returns each vertex's in+out degree.
func degrees(g *Graph) []int {
	d := make([]int, g.NumVertices()+1)
	for _, e := range g.Edges() {
		d[e.Start]++
		d[e.End]++
	}
	return d[1:]
}

// PowerLaw's degrees are heavy-tailed and Random's are not: on the same n and m the hubs of
// the first are many times the mean degree, those of the second a few.
func TestPowerLawIsHeavyTailed(t *testing.T) {
	const n, m = 3000, 15000
	mean := 2.0 * m / n
	pl, er := slices.Max(degrees(PowerLaw(1, n, m, Options{}))), slices.Max(degrees(Random(1, n, m, Options{})))
	if float64(pl) < 8*mean {
		t.Errorf("power law: max degree %d, want at least 8x the mean %.0f", pl, mean)
	}
	if float64(er) > 3*mean {
		t.Errorf("random: max degree %d, want at most 3x the mean %.0f", er, mean)
	}
	// The tail: some vertices far above the mean, in both directions.
	in, out := map[int64]int{}, map[int64]int{}
	for _, e := range PowerLaw(1, n, m, Options{}).Edges() {
		out[e.Start]++
		in[e.End]++
	}
	maxIn, maxOut := 0, 0
	for _, d := range in {
		maxIn = max(maxIn, d)
	}
	for _, d := range out {
		maxOut = max(maxOut, d)
	}
	if float64(maxIn) < 4*mean || float64(maxOut) < 4*mean {
		t.Errorf("power law: max in-degree %d, out-degree %d, want both at least 4x the mean %.0f", maxIn, maxOut, mean)
	}
}
