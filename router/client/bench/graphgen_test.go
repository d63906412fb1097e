package bench_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/torua/torua/router/client/bench"
)

func TestGenerateGraphIsDeterministic(t *testing.T) {
	spec := bench.GraphSpec{Vertices: 5000, Edges: 40000, Seed: 7}
	a, err := bench.GenerateGraph(spec)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := bench.GenerateGraph(spec)
	if !slices.Equal(a.Edges, b.Edges) {
		t.Fatal("the same spec gave two different graphs")
	}
	spec.Seed = 8
	c, _ := bench.GenerateGraph(spec)
	if slices.Equal(a.Edges, c.Edges) {
		t.Fatal("seeds 7 and 8 gave the same graph")
	}
	// Pinned: a change of the generator changes every published figure, so it must be on
	// purpose (update these and say so in docs/benchmarks.md).
	if got, want := a.Edges[:3], []bench.Edge{{Src: 804, Dst: 3210}, {Src: 0, Dst: 4}, {Src: 290, Dst: 1061}}; !slices.Equal(got, want) {
		t.Errorf("first edges of seed 7: %v, want %v", got, want)
	}
}

// TestGenerateGraphCountsAreExact: every spec, tiny and dense ones included, gets exactly its
// edges, simple (no self-loop, no repeated edge) and between its vertices.
func TestGenerateGraphCountsAreExact(t *testing.T) {
	for _, spec := range []bench.GraphSpec{
		{Vertices: 2, Edges: 0},
		{Vertices: 2, Edges: 0, Seed: 3},
		{Vertices: 4, Edges: 3, Seed: 1},
		{Vertices: 10, Edges: 22, Seed: 2},
		{Vertices: 100, Edges: 2475, Seed: 3}, // the density bound exactly
		{Vertices: 1000, Edges: 10000, Seed: 4},
		{Vertices: 1025, Edges: 20000, Seed: 5}, // just past a power of two: most draws fall outside
	} {
		g, err := bench.GenerateGraph(spec)
		if err != nil {
			t.Fatalf("%+v: %v", spec, err)
		}
		if len(g.Edges) != spec.Edges || g.Spec != spec {
			t.Fatalf("%+v: %d edges", spec, len(g.Edges))
		}
		seen := map[bench.Edge]bool{}
		for _, e := range g.Edges {
			if e.Src == e.Dst || e.Src < 0 || e.Dst < 0 || int(e.Src) >= spec.Vertices || int(e.Dst) >= spec.Vertices || seen[e] {
				t.Fatalf("%+v: bad or repeated edge %v", spec, e)
			}
			seen[e] = true
		}
	}
}

// TestGenerateGraphIsHeavyTailed: degrees follow a heavy tail, as a power-law graph's do: the
// busiest vertex has far more edges than the mean and the top 1% of vertices hold a large
// share of them (in a uniform random graph of this size: a maximum near 2× the mean, and
// about 2% of the edge ends).
func TestGenerateGraphIsHeavyTailed(t *testing.T) {
	spec := bench.GraphSpec{Vertices: 10000, Edges: 100000, Seed: 1}
	g, err := bench.GenerateGraph(spec)
	if err != nil {
		t.Fatal(err)
	}
	out, in := g.OutDegrees(), g.InDegrees()
	total := make([]int, len(out))
	for v := range out {
		total[v] = out[v] + in[v]
	}
	mean := 2 * float64(spec.Edges) / float64(spec.Vertices)
	slices.Sort(total)
	slices.Reverse(total)
	if maxDeg := float64(total[0]); maxDeg < 50*mean {
		t.Errorf("max degree %v, want at least 50× the mean %v", maxDeg, mean)
	}
	if maxOut, maxIn := slices.Max(out), slices.Max(in); float64(maxOut) < 25*mean/2 || float64(maxIn) < 25*mean/2 {
		t.Errorf("max out-degree %d, in-degree %d: want both heavy-tailed", maxOut, maxIn)
	}
	top := 0
	for _, d := range total[:len(total)/100] {
		top += d
	}
	if share := float64(top) / float64(2*spec.Edges); share < 0.2 {
		t.Errorf("the top 1%% of vertices hold %.2f of the edge ends, want at least 0.2", share)
	}
	// The tail is long, not a few outliers: vertices exist at every power of two of degree
	// from the mean to a tenth of the maximum.
	for d := int(mean); d <= total[0]/10; d *= 2 {
		if !slices.ContainsFunc(total, func(x int) bool { return x >= d && x < 2*d }) {
			t.Errorf("no vertex of degree in [%d, %d)", d, 2*d)
		}
	}
}

func TestGraphSpecValidate(t *testing.T) {
	for _, tt := range []struct {
		spec bench.GraphSpec
		want string
	}{
		{bench.GraphSpec{Vertices: 1, Edges: 0}, "vertices 1"},
		{bench.GraphSpec{Vertices: 10, Edges: -1}, "edges -1"},
		{bench.GraphSpec{Vertices: 10, Edges: 23}, "at most 22"},
	} {
		if _, err := bench.GenerateGraph(tt.spec); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want an error about %q", tt.spec, err, tt.want)
		}
	}
}
