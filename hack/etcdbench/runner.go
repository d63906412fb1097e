package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Mode is the mix of operations a run sends, as in `torua bench --mode`.
type Mode string

const (
	// ModePut sends only PUTs.
	ModePut Mode = "put"
	// ModeGet sends only GETs (etcd Range requests of one key).
	ModeGet Mode = "get"
	// ModeMixed sends GETs with probability Config.ReadRatio and PUTs otherwise.
	ModeMixed Mode = "mixed"
)

// Histogram bounds in microseconds: the same as router/client/bench.
const (
	minLatencyUs = 1
	maxLatencyUs = 60_000_000
	sigFigs      = 3
)

// Config describes one run. It mirrors bench.Config of the torua module field for field;
// Serializable takes the place of Stale.
type Config struct {
	// Mode is put, get or mixed.
	Mode Mode
	// ReadRatio is the share of GETs in mixed mode, 0..1.
	ReadRatio float64
	// Concurrency is the number of workers, each with one request in flight.
	Concurrency int
	// Keys is the size of the key set; each operation picks a key uniformly at random.
	Keys int
	// ValueSize is the size in bytes of every value written.
	ValueSize int
	// Duration stops the run after this long (0: no time bound).
	Duration time.Duration
	// Count stops the run after this many operations, failed ones included (0: no count bound).
	Count int64
	// Prefix is put before every key ("bench/" gives "bench/0042").
	Prefix string
	// Timeout bounds each operation, as `torua bench --timeout` bounds each request (0: none).
	Timeout time.Duration
	// Serializable sends serializable GETs (answered by the member itself, possibly stale)
	// instead of linearizable ones: etcd's counterpart of torua's stale reads.
	Serializable bool
}

// Validate reports the first setting that makes no sense.
func (c *Config) Validate() error {
	switch {
	case c.Mode != ModePut && c.Mode != ModeGet && c.Mode != ModeMixed:
		return fmt.Errorf("mode %q: want put, get or mixed", c.Mode)
	case c.ReadRatio < 0 || c.ReadRatio > 1:
		return fmt.Errorf("read ratio %v: want 0..1", c.ReadRatio)
	case c.Concurrency < 1:
		return fmt.Errorf("concurrency %d: want at least 1", c.Concurrency)
	case c.Keys < 1:
		return fmt.Errorf("keys %d: want at least 1", c.Keys)
	case c.ValueSize < 0:
		return fmt.Errorf("value size %d: want 0 or more", c.ValueSize)
	case c.Duration < 0 || c.Count < 0 || c.Timeout < 0:
		return fmt.Errorf("duration, count and timeout must not be negative")
	case c.Duration == 0 && c.Count == 0:
		return fmt.Errorf("set a duration or a count: a run must be bounded")
	}
	return nil
}

// Key returns the i-th key of the key set, named exactly as `torua bench` names it: Prefix
// and i zero-padded to the width of Keys-1.
func (c *Config) Key(i int) string {
	width := len(strconv.Itoa(max(c.Keys-1, 0)))
	return fmt.Sprintf("%s%0*d", c.Prefix, width, i)
}

// Runner runs the phases of a benchmark against an etcd cluster with the load model of
// router/client/bench.Runner. Progress may be called from any goroutine while Preload or Run
// runs.
type Runner struct {
	cfg Config
	kv  clientv3.KV

	done   atomic.Int64 // operations finished in the current phase, failed ones included
	failed atomic.Int64 // operations failed in the current phase
}

// NewRunner returns a Runner for cfg that sends its requests through kv.
func NewRunner(kv clientv3.KV, cfg Config) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Runner{cfg: cfg, kv: kv}, nil
}

// Progress returns how many operations of the current phase have finished and how many of
// those failed.
func (r *Runner) Progress() (done, failed int64) { return r.done.Load(), r.failed.Load() }

// Preload writes every key of the key set once, Concurrency at a time, so that a get run
// finds them. It stops at the first error.
func (r *Runner) Preload(ctx context.Context) error {
	r.done.Store(0)
	r.failed.Store(0)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(r.cfg.Concurrency, r.cfg.Keys) {
		wg.Go(func() {
			value := randomValue(r.cfg.ValueSize)
			for {
				i := int(next.Add(1) - 1)
				if i >= r.cfg.Keys || ctx.Err() != nil {
					return
				}
				key := r.cfg.Key(i)
				opCtx, cancelOp := r.opContext(ctx)
				_, err := r.kv.Put(opCtx, key, value)
				cancelOp()
				if err != nil {
					r.failed.Add(1)
					cancel(fmt.Errorf("preload %q: %w", key, err))
					return
				}
				r.done.Add(1)
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// Run sends operations until Count of them have finished or Duration has passed, whichever
// comes first, or ctx is done; it then waits for the operations in flight. An operation cut
// short by the end of the run is not counted. Failed operations are counted in the Result,
// never returned.
func (r *Runner) Run(ctx context.Context) *Result {
	r.done.Store(0)
	r.failed.Store(0)
	if r.cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.cfg.Duration)
		defer cancel()
	}
	var issued atomic.Int64
	workers := make([]*workerStats, r.cfg.Concurrency)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		st := newWorkerStats()
		workers[w] = st
		wg.Go(func() { r.work(ctx, uint64(w), &issued, st) })
	}
	wg.Wait()
	return r.result(workers, time.Since(start))
}

func (r *Runner) work(ctx context.Context, seed uint64, issued *atomic.Int64, st *workerStats) {
	rng := mathrand.New(mathrand.NewPCG(seed, uint64(time.Now().UnixNano())))
	value := randomValue(r.cfg.ValueSize)
	var getOpts []clientv3.OpOption
	if r.cfg.Serializable {
		getOpts = append(getOpts, clientv3.WithSerializable())
	}
	for ctx.Err() == nil {
		if r.cfg.Count > 0 && issued.Add(1) > r.cfg.Count {
			return
		}
		key := r.cfg.Key(rng.IntN(r.cfg.Keys))
		o := opPut
		if r.cfg.Mode == ModeGet || (r.cfg.Mode == ModeMixed && rng.Float64() < r.cfg.ReadRatio) {
			o = opGet
		}
		opCtx, cancelOp := r.opContext(ctx)
		t0 := time.Now()
		var err error
		miss := false
		if o == opGet {
			var resp *clientv3.GetResponse
			resp, err = r.kv.Get(opCtx, key, getOpts...)
			miss = err == nil && len(resp.Kvs) == 0
		} else {
			_, err = r.kv.Put(opCtx, key, value)
		}
		lat := time.Since(t0)
		cancelOp()
		if err != nil && ctx.Err() != nil {
			return // cut short by the end of the run
		}
		if err != nil {
			st.errors[ErrorKind(err)]++
			r.failed.Add(1)
			r.done.Add(1)
			continue
		}
		if miss {
			st.misses++ // a correct answer: the key was never written
		}
		st.record(o, lat)
		r.done.Add(1)
	}
}

// opContext returns the context of one operation: ctx bounded by Config.Timeout.
func (r *Runner) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.cfg.Timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, r.cfg.Timeout)
}

// ErrorKind names the kind of a failed operation, as Result.Errors counts them, in the words
// `torua bench` uses where they mean the same: "unavailable" (no leader, or no connection),
// "timeout", otherwise "grpc_" and the lower-case gRPC code ("grpc_resourceexhausted").
func ErrorKind(err error) string {
	code := codes.Unknown
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		code = ee.Code()
	} else if s, ok := status.FromError(err); ok {
		code = s.Code()
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded) || code == codes.DeadlineExceeded:
		return "timeout"
	case code == codes.Unavailable:
		return "unavailable"
	default:
		return "grpc_" + strings.ToLower(code.String())
	}
}

// randomValue returns n random bytes as a string, the type the etcd client takes.
func randomValue(n int) string {
	v := make([]byte, n)
	_, _ = rand.Read(v)
	return string(v)
}

type op int

const (
	opGet op = iota
	opPut
	numOps
)

func (o op) String() string { return [...]string{"get", "put"}[o] }

// workerStats is what one worker records: no locks, merged after the run.
type workerStats struct {
	hists  [numOps]*hdrhistogram.Histogram
	misses int64
	errors map[string]int64
}

func newWorkerStats() *workerStats {
	st := &workerStats{errors: map[string]int64{}}
	for i := range st.hists {
		st.hists[i] = newHistogram()
	}
	return st
}

func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(minLatencyUs, maxLatencyUs, sigFigs)
}

func (st *workerStats) record(o op, d time.Duration) {
	us := min(max(d.Microseconds(), minLatencyUs), maxLatencyUs)
	_ = st.hists[o].RecordValue(us) // in range by construction
}
