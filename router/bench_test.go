package router

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/internal/wire"
)

// benchTarget runs b.N operations from `clients` goroutines and reports ops/s and latency
// percentiles (µs) as custom metrics, so the comparisons cover the latency distribution,
// not only the mean. op(i) sends the i-th request and checks its answer.
func benchTarget(b *testing.B, clients int, op func(i int) error) {
	var mu sync.Mutex
	all := hdrhistogram.New(1, 60_000_000, 3)
	var wg sync.WaitGroup
	next := make(chan int, clients)
	b.ResetTimer()
	start := time.Now()
	for range clients {
		wg.Go(func() {
			h := hdrhistogram.New(1, 60_000_000, 3)
			for i := range next {
				t0 := time.Now()
				if err := op(i); err != nil {
					b.Error(err)
					return
				}
				_ = h.RecordValue(time.Since(t0).Microseconds())
			}
			mu.Lock()
			all.Merge(h)
			mu.Unlock()
		})
	}
	for i := range b.N {
		next <- i
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
	b.ReportMetric(float64(all.ValueAtQuantile(50)), "p50-µs")
	b.ReportMetric(float64(all.ValueAtQuantile(99)), "p99-µs")
}

// httpOp is a benchTarget op that sends the request req builds over keep-alive HTTP/1.1
// connections (one per client) and expects a 2xx answer.
func httpOp(clients int, req func(i int) (*http.Request, error)) func(i int) error {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients * 2}}
	return func(i int) error {
		r, err := req(i)
		if err != nil {
			return err
		}
		resp, err := c.Do(r)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode >= 300 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
}

// wireOp is a benchTarget op that sends the request req builds over one wire protocol
// connection to addr, shared by every client, and expects a 2xx answer.
func wireOp(b *testing.B, addr string, req func(i int) *wire.Request) func(i int) error {
	conn, err := wire.Dial(context.Background(), addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	return func(i int) error {
		resp, err := conn.Do(context.Background(), req(i))
		if err == nil && resp.Status >= 300 {
			err = fmt.Errorf("status %d: %s", resp.Status, resp.Body)
		}
		return err
	}
}

// BenchmarkGet compares GETs sent straight to the node with GETs through the router (one more
// loopback hop), at 1 and 32 clients, on one node with RF 1.
func BenchmarkGet(b *testing.B) {
	c := startCluster(b, 1, 1, nil)
	const keys = 1000
	for i := range keys {
		r := send(b, "PUT", dataURL(c.base, fmt.Sprintf("bench/%04d", i)), string(bytes.Repeat([]byte("v"), 128)), nil)
		if r.code != 204 {
			b.Fatalf("preload: %d %s", r.code, r.body)
		}
	}
	direct := "http://" + c.nodes[0].Addr() + "/store/"
	via := c.base + "/data/"
	// hop is the floor: a bare HTTP server answering 128 bytes, what one loopback hop costs
	// with no work behind it. The router adds one such hop to the direct path.
	hop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(bytes.Repeat([]byte("v"), 128))
	}))
	defer hop.Close()
	for _, clients := range []int{1, 32} {
		for _, target := range []struct{ name, base string }{{"hop", hop.URL + "/"}, {"direct", direct}, {"router", via}} {
			b.Run(fmt.Sprintf("%s/clients=%d", target.name, clients), func(b *testing.B) {
				benchTarget(b, clients, httpOp(clients, func(i int) (*http.Request, error) {
					return http.NewRequest("GET", target.base+httpx.EscapeKey(fmt.Sprintf("bench/%04d", i%keys)), nil)
				}))
			})
		}
		// The same GETs through the router over the wire protocol, one connection for all.
		b.Run(fmt.Sprintf("router-wire/clients=%d", clients), func(b *testing.B) {
			benchTarget(b, clients, wireOp(b, c.router.Addr(), func(i int) *wire.Request {
				return &wire.Request{Op: wire.OpGet, Key: fmt.Sprintf("bench/%04d", i%keys)}
			}))
		})
	}
}

// BenchmarkPut measures durable PUTs (fsynced before the answer, group-committed) at 1 and 32
// clients, straight to the node and through the router.
func BenchmarkPut(b *testing.B) {
	c := startCluster(b, 1, 1, nil)
	direct := "http://" + c.nodes[0].Addr() + "/store/"
	via := c.base + "/data/"
	value := bytes.Repeat([]byte("v"), 128)
	for _, clients := range []int{1, 32} {
		for _, target := range []struct{ name, base string }{{"direct", direct}, {"router", via}} {
			b.Run(fmt.Sprintf("%s/clients=%d", target.name, clients), func(b *testing.B) {
				benchTarget(b, clients, httpOp(clients, func(i int) (*http.Request, error) {
					return http.NewRequest("PUT", target.base+httpx.EscapeKey(fmt.Sprintf("bench/%06d", i%100000)), bytes.NewReader(value))
				}))
			})
		}
		b.Run(fmt.Sprintf("router-wire/clients=%d", clients), func(b *testing.B) {
			benchTarget(b, clients, wireOp(b, c.router.Addr(), func(i int) *wire.Request {
				return &wire.Request{Op: wire.OpPut, Key: fmt.Sprintf("bench/%06d", i%100000), Value: value}
			}))
		})
	}
}
