package bench_test

// The runner is tested against clienttest.Router, an in-memory stand-in for the router's
// public API; the real router is tested in its own package.

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/torua/torua/router/client"
	"github.com/torua/torua/router/client/bench"
	"github.com/torua/torua/router/client/benchstore"
	"github.com/torua/torua/router/client/clienttest"
)

func newRunner(t *testing.T, url string, cfg bench.Config) *bench.Runner {
	t.Helper()
	c, err := client.New(url, client.WithMaxConnsPerHost(cfg.Concurrency))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	r, err := bench.NewRunner(benchstore.New(c), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPutByCount(t *testing.T) {
	fake := clienttest.NewRouter(t)
	cfg := bench.Config{Mode: bench.ModePut, Concurrency: 4, Keys: 10, ValueSize: 16, Count: 50, Prefix: "bench/"}
	r := newRunner(t, fake.URL, cfg)
	res := r.Run(context.Background())

	if res.Ops != 50 || res.ErrorCount != 0 || res.Misses != 0 {
		t.Fatalf("ops %d, errors %d, misses %d; want 50, 0, 0", res.Ops, res.ErrorCount, res.Misses)
	}
	if done, failed := r.Progress(); done != 50 || failed != 0 {
		t.Errorf("Progress() = %d, %d; want 50, 0", done, failed)
	}
	if n := len(fake.Requests()); n != 50 {
		t.Errorf("the server saw %d requests, want 50", n)
	}
	if res.Histogram.TotalCount() != 50 || res.Latency.Count != 50 || res.Latency.Max < res.Latency.P50 || res.Latency.P50 < 1 {
		t.Errorf("histogram: count %d, latency %+v", res.Histogram.TotalCount(), res.Latency)
	}
	if _, ok := res.ByOp["put"]; !ok || len(res.ByOp) != 1 {
		t.Errorf("ByOp = %+v, want only put", res.ByOp)
	}
	for _, req := range fake.Requests() {
		if req.Method != http.MethodPut || !strings.HasPrefix(req.Key, "bench/") || len(req.Key) != len("bench/0") {
			t.Fatalf("unexpected request %s %q", req.Method, req.Key)
		}
	}
	if v, _, ok := fake.Value(fake.Requests()[0].Key); !ok || len(v) != 16 {
		t.Errorf("stored value %q, want 16 bytes", v)
	}
}

func TestPreloadThenGet(t *testing.T) {
	fake := clienttest.NewRouter(t)
	cfg := bench.Config{Mode: bench.ModeGet, Concurrency: 3, Keys: 25, ValueSize: 8, Count: 40, Prefix: "p/", Stale: true}
	r := newRunner(t, fake.URL, cfg)
	if err := r.Preload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if done, _ := r.Progress(); done != 25 || fake.Len() != 25 {
		t.Fatalf("preload: progress %d, keys %d; want 25", done, fake.Len())
	}
	for i := range 25 {
		if _, _, ok := fake.Value(cfg.Key(i)); !ok {
			t.Fatalf("key %q not preloaded", cfg.Key(i))
		}
	}
	res := r.Run(context.Background())
	if res.Ops != 40 || res.Misses != 0 || res.ErrorCount != 0 || res.ByOp["get"].Count != 40 {
		t.Fatalf("result %+v", res)
	}
	reqs := fake.Requests()
	if last := reqs[len(reqs)-1]; last.Method != http.MethodGet || last.Query != "consistency=stale" {
		t.Errorf("last request %s ?%s, want a stale GET", last.Method, last.Query)
	}
}

func TestGetWithoutPreloadCountsMisses(t *testing.T) {
	fake := clienttest.NewRouter(t)
	r := newRunner(t, fake.URL, bench.Config{Mode: bench.ModeGet, Concurrency: 2, Keys: 5, Count: 10})
	res := r.Run(context.Background())
	if res.Ops != 10 || res.Misses != 10 || res.ErrorCount != 0 {
		t.Errorf("ops %d, misses %d, errors %d; want 10, 10, 0", res.Ops, res.Misses, res.ErrorCount)
	}
}

func TestMixedCountsErrorsByKind(t *testing.T) {
	fake := clienttest.NewRouter(t)
	var n atomic.Int64
	fake.SetIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if n.Add(1)%4 == 0 {
			clienttest.WriteError(w, http.StatusServiceUnavailable, "no owner")
			return true
		}
		return false
	})
	r := newRunner(t, fake.URL, bench.Config{Mode: bench.ModeMixed, ReadRatio: 0.5, Concurrency: 1, Keys: 3, Count: 40})
	res := r.Run(context.Background())
	if res.Ops+res.ErrorCount != 40 || res.Errors["unavailable"] != 10 || res.ErrorCount != 10 {
		t.Fatalf("ops %d, errors %v; want 30 ops and 10 unavailable", res.Ops, res.Errors)
	}
	if _, failed := r.Progress(); failed != 10 {
		t.Errorf("Progress failed = %d, want 10", failed)
	}
	if res.ByOp["get"].Count+res.ByOp["put"].Count != res.Ops || res.ByOp["get"].Count == 0 || res.ByOp["put"].Count == 0 {
		t.Errorf("ByOp %+v does not split %d ops between get and put", res.ByOp, res.Ops)
	}

	var out bytes.Buffer
	if err := res.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"mixed (50% reads)", "ops 30", "errors 10", "p99.9", "all", "get", "put", "unavailable"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back["ops"] != float64(30) || back["errors"].(map[string]any)["unavailable"] != float64(10) {
		t.Errorf("JSON %s", b)
	}
}

func TestUnreachableRouterIsCountedAndBounded(t *testing.T) {
	fake := clienttest.NewRouter(t)
	fake.Close()
	r := newRunner(t, fake.URL, bench.Config{Mode: bench.ModePut, Concurrency: 2, Keys: 3, Count: 6})
	res := r.Run(context.Background())
	if res.Ops != 0 || res.Errors["unreachable"] != 6 {
		t.Errorf("ops %d, errors %v; want 0 and 6 unreachable", res.Ops, res.Errors)
	}
}

func TestDurationBound(t *testing.T) {
	fake := clienttest.NewRouter(t)
	release := make(chan struct{})
	fake.SetIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		select { // hold every request until the run's context ends it
		case <-release:
		case <-r.Context().Done():
		}
		return true
	})
	t.Cleanup(func() { close(release) })
	r := newRunner(t, fake.URL, bench.Config{Mode: bench.ModeGet, Concurrency: 2, Keys: 3, Duration: 50 * time.Millisecond})
	res := r.Run(context.Background())
	if res.Ops != 0 || res.ErrorCount != 0 {
		t.Errorf("operations cut short by the deadline were counted: ops %d, errors %v", res.Ops, res.Errors)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := bench.Config{Mode: bench.ModeMixed, ReadRatio: 0.9, Concurrency: 1, Keys: 1, Count: 1}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*bench.Config){
		"mode":        func(c *bench.Config) { c.Mode = "scan" },
		"ratio":       func(c *bench.Config) { c.ReadRatio = 1.5 },
		"concurrency": func(c *bench.Config) { c.Concurrency = 0 },
		"keys":        func(c *bench.Config) { c.Keys = 0 },
		"unbounded":   func(c *bench.Config) { c.Count, c.Duration = 0, 0 },
	} {
		c := ok
		mut(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, c)
		}
	}
}

func TestKeyIsZeroPadded(t *testing.T) {
	c := bench.Config{Keys: 10000, Prefix: "bench/"}
	if got := c.Key(42); got != "bench/0042" {
		t.Errorf("Key(42) = %q", got)
	}
}

func TestFormatMicros(t *testing.T) {
	for us, want := range map[float64]string{87: "87µs", 1234: "1.23ms", 45_600: "45.6ms", 456_000: "456ms", 2_500_000: "2.50s"} {
		if got := bench.FormatMicros(us); got != want {
			t.Errorf("FormatMicros(%v) = %q, want %q", us, got, want)
		}
	}
}
