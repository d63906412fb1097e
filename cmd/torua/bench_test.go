package main

// torua bench runs here against clienttest.Router, an in-memory stand-in for the router's
// HTTP API (hence --protocol http); the real router, and the wire protocol, are tested in
// the router package and by TestLocalBenchOverWire.

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/torua/torua/router/client/clienttest"
)

func TestBenchJSON(t *testing.T) {
	fake := clienttest.NewRouter(t)
	out, errOut, err := runCLI(t, "", "bench", "--url", fake.URL, "--mode", "get", "--preload",
		"--keys", "8", "--count", "30", "--concurrency", "3", "--prefix", "b/", "--consistency", "stale", "--protocol", "http", "--json")
	if err != nil {
		t.Fatalf("bench: %v\nstderr: %s", err, errOut)
	}
	var res struct {
		URL      string           `json:"url"`
		Protocol string           `json:"protocol"`
		Mode     string           `json:"mode"`
		Ops      int64            `json:"ops"`
		Misses   int64            `json:"misses"`
		Errors   map[string]int64 `json:"errors"`
		Stale    bool             `json:"stale"`
		Latency  struct {
			Count int64 `json:"count"`
			P99   int64 `json:"p99Us"`
			Max   int64 `json:"maxUs"`
		} `json:"latency"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if res.URL != fake.URL || res.Protocol != "http" || res.Mode != "get" || res.Ops != 30 || res.Misses != 0 || len(res.Errors) != 0 ||
		!res.Stale || res.Latency.Count != 30 || res.Latency.Max < res.Latency.P99 {
		t.Errorf("result %+v", res)
	}
	if fake.Len() != 8 {
		t.Errorf("preload wrote %d keys, want 8", fake.Len())
	}
}

func TestBenchTable(t *testing.T) {
	fake := clienttest.NewRouter(t)
	out, _, err := runCLI(t, "", "bench", "--url", fake.URL, "--mode", "mixed", "--read-ratio", "0.5",
		"--keys", "4", "--count", "20", "--concurrency", "2", "--protocol", "http")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"router " + fake.URL + " (http)", "mixed (50% reads)", "ops 20", "p50", "p99.9", "max"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestBenchErrors(t *testing.T) {
	fake := clienttest.NewRouter(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--mode", "scan"}, `mode "scan"`},
		{[]string{"--consistency", "strong"}, "--consistency"},
		{[]string{"--mode", "put", "--read-ratio", "0.5"}, "--read-ratio"},
		{[]string{"--concurrency", "0"}, "concurrency"},
		{[]string{"--duration", "0s"}, "bounded"},
		{[]string{"--protocol", "grpc"}, "--protocol"},
	} {
		_, _, err := runCLI(t, "", append([]string{"bench", "--url", fake.URL}, tt.args...)...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("bench %q: %v, want an error about %s", tt.args, err, tt.want)
		}
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d requests were sent by invalid runs", n)
	}

	// Every operation failing is a failed run.
	fake.SetIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/cluster" {
			return false
		}
		clienttest.WriteError(w, http.StatusServiceUnavailable, "no owner")
		return true
	})
	out, _, err := runCLI(t, "", "bench", "--url", fake.URL, "--count", "5", "--concurrency", "1", "--protocol", "http")
	if err == nil || err.Error() != "all 5 operations failed" || !strings.Contains(out, "unavailable") {
		t.Errorf("bench against a failing router: %v\n%s", err, out)
	}

	fake.Close()
	_, _, err = runCLI(t, "", "bench", "--url", fake.URL, "--count", "5", "--concurrency", "1")
	if want := "cannot reach router at " + fake.URL + ": connection refused"; err == nil || err.Error() != want {
		t.Errorf("bench against a closed router: %v, want %q", err, want)
	}
}
