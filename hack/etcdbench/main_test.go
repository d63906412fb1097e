package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/torua/torua/router/client/bench"
)

// fakeKV is an in-memory clientv3.KV with Put and Get only; every failEvery-th call fails
// with "no leader" when failEvery > 0.
type fakeKV struct {
	clientv3.KV // nil: the other methods are not used
	mu          sync.Mutex
	data        map[string]string
	calls       atomic.Int64
	serializ    atomic.Int64 // serializable GETs seen
	failEvery   int64
}

func newFakeKV() *fakeKV { return &fakeKV{data: map[string]string{}} }

func (f *fakeKV) fail() bool {
	n := f.calls.Add(1)
	return f.failEvery > 0 && n%f.failEvery == 0
}

func (f *fakeKV) Put(_ context.Context, key, val string, _ ...clientv3.OpOption) (*clientv3.PutResponse, error) {
	if f.fail() {
		return nil, rpctypes.ErrNoLeader
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.data[key] = val
	return &clientv3.PutResponse{}, nil
}

func (f *fakeKV) Get(_ context.Context, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	if f.fail() {
		return nil, rpctypes.ErrNoLeader
	}
	if op := clientv3.OpGet(key, opts...); op.IsSerializable() {
		f.serializ.Add(1)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &clientv3.GetResponse{}
	if v, ok := f.data[key]; ok {
		resp.Kvs = []*mvccpb.KeyValue{{Key: []byte(key), Value: []byte(v)}}
	}
	return resp, nil
}

// TestPreloadThenSerializableGet: stale runs send serializable Ranges; preloaded keys are found.
func TestPreloadThenSerializableGet(t *testing.T) {
	kv := newFakeKV()
	cfg := bench.Config{Mode: bench.ModeGet, Concurrency: 3, Keys: 25, ValueSize: 8, Count: 40, Prefix: "p/", Stale: true}
	r, err := bench.NewRunner(etcdStore{kv: kv}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Preload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(kv.data) != 25 || len(kv.data["p/07"]) != 8 {
		t.Fatalf("preload wrote %d keys (p/07 = %q), want 25 of 8 bytes", len(kv.data), kv.data["p/07"])
	}
	res := r.Run(context.Background())
	if res.Ops != 40 || res.Misses != 0 || res.ErrorCount != 0 || res.ByOp["get"].Count != 40 || !res.Stale {
		t.Fatalf("result %+v", res)
	}
	if n := kv.serializ.Load(); n != 40 {
		t.Errorf("%d serializable GETs, want 40", n)
	}
}

func TestMixedCountsMissesAndErrors(t *testing.T) {
	kv := newFakeKV()
	kv.failEvery = 4
	r, err := bench.NewRunner(etcdStore{kv: kv}, bench.Config{Mode: bench.ModeMixed, ReadRatio: 0.5, Concurrency: 1, Keys: 1000, Count: 40})
	if err != nil {
		t.Fatal(err)
	}
	res := r.Run(context.Background())
	if res.Ops != 30 || res.ErrorCount != 10 || res.Errors["unavailable"] != 10 {
		t.Fatalf("ops %d, errors %v; want 30 ops and 10 unavailable", res.Ops, res.Errors)
	}
	if res.Misses == 0 || res.ByOp["get"].Count+res.ByOp["put"].Count != 30 {
		t.Errorf("misses %d, byOp %+v", res.Misses, res.ByOp)
	}
	var out bytes.Buffer
	if err := res.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"mode mixed (50% reads), 1 clients", "ops 30,", "unavailable", "p99"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestCompare(t *testing.T) {
	dir := t.TempDir()
	// torua-x.json as `torua bench --json` writes it: bench.Result flattened beside "url".
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("torua-x.json", `{"url":"http://127.0.0.1:1","mode":"get","concurrency":32,"keys":10,"valueSize":128,"stale":true,
		"opsPerSec":1500,"latency":{"p50Us":2000,"p99Us":9000}}`)
	write("etcd-x.json", `{"endpoints":["127.0.0.1:2"],"mode":"get","concurrency":32,"keys":10,"valueSize":128,"stale":true,
		"opsPerSec":3000,"latency":{"p50Us":1000,"p99Us":3000}}`)
	write("etcd-y.json", `{"mode":"put","concurrency":1,"keys":10,"valueSize":128}`)
	var out bytes.Buffer
	if err := compare(&out, []string{dir, "x", "y"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GET stale / serializable, 32 clients", "1,500 / 3,000 (0.50×)",
		"2.00ms / 1.00ms (2.00×)", "9.00ms / 3.00ms (3.00×)", "torua failed, etcd ok"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	write("torua-y.json", `{"mode":"put","concurrency":32,"keys":10,"valueSize":128}`)
	if err := compare(&out, []string{dir, "y"}); err == nil {
		t.Error("compare of different loads: no error")
	}
}

func TestVariants(t *testing.T) {
	dir := t.TempDir()
	body := `{"url":"http://127.0.0.1:1","protocol":"http","mode":"put","concurrency":32,"keys":10,"valueSize":128,
		"opsPerSec":1234.5,"latency":{"p50Us":2000,"p99Us":9000}}`
	if err := os.WriteFile(filepath.Join(dir, "variant-put-32-http.json"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := variants(&out, []string{dir, "put-32-http", "gone"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| put-32-http | PUT, 32 clients | 1,234 | 2.00ms | 9.00ms | 0 |", "| gone | failed"} {
		if !strings.Contains(strings.Join(strings.Fields(out.String()), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}
