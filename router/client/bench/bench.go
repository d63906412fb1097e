package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	mathrand "math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Store is what a run loads: Torua through its router (router/client/benchstore) or another
// system to compare with (hack/etcdbench). Its methods are called from every worker at once.
type Store interface {
	// Put writes value under key.
	Put(ctx context.Context, key string, value []byte) error
	// Get reads key, linearizably unless stale is set; found is false when the key does
	// not exist (a correct answer, counted as a miss).
	Get(ctx context.Context, key string, stale bool) (found bool, err error)
	// ErrorKind names the kind of a failed operation, as Result.Errors counts them
	// ("unavailable", "timeout", ...).
	ErrorKind(err error) string
	// Transient reports whether a failed write changed nothing for sure or may be sent
	// again harmlessly (no leader yet, an election): Preload sends such writes again.
	Transient(err error) bool
}

// Mode is the mix of operations a run sends.
type Mode string

const (
	// ModePut sends only PUTs.
	ModePut Mode = "put"
	// ModeGet sends only GETs.
	ModeGet Mode = "get"
	// ModeMixed sends GETs with probability Config.ReadRatio and PUTs otherwise.
	ModeMixed Mode = "mixed"
)

// Histogram bounds, in microseconds.
const (
	minLatencyUs = 1
	maxLatencyUs = 60_000_000
	sigFigs      = 3
)

// Config describes one run.
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
	// At least one of Duration and Count must be set.
	Count int64
	// Prefix is put before every key ("bench/" gives "bench/00000042").
	Prefix string
	// Stale asks for GETs that any replica may answer (Torua's ?consistency=stale, etcd's
	// serializable reads).
	Stale bool
	// Timeout bounds each operation (0: only the store's own bound).
	Timeout time.Duration
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
		return fmt.Errorf("duration and count must not be negative")
	case c.Duration == 0 && c.Count == 0:
		return fmt.Errorf("set a duration or a count: a run must be bounded")
	}
	return nil
}

// Key returns the i-th key of the key set: Prefix and i zero-padded to the width of Keys-1,
// so that keys sort in numeric order.
func (c *Config) Key(i int) string {
	width := len(strconv.Itoa(max(c.Keys-1, 0)))
	return fmt.Sprintf("%s%0*d", c.Prefix, width, i)
}

// Runner runs the phases of a benchmark against one Store. Progress may be called from any
// goroutine while Preload or Run runs.
type Runner struct {
	cfg   Config
	store Store

	done   atomic.Int64 // operations finished in the current phase, failed ones included
	failed atomic.Int64 // operations failed in the current phase
}

// NewRunner returns a Runner for cfg that sends its requests to store. A store over a
// connection pool should hold at least cfg.Concurrency connections.
func NewRunner(store Store, cfg Config) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Runner{cfg: cfg, store: store}, nil
}

// Progress returns how many operations of the current phase have finished and how many of
// those failed.
func (r *Runner) Progress() (done, failed int64) { return r.done.Load(), r.failed.Load() }

// Preload writes every key of the key set once, Concurrency at a time, so that a get run
// finds them. A write that failed transiently (Store.Transient: an election, a write whose
// outcome is unknown) is sent again, up to preloadAttempts times: writing the same value twice
// is harmless. It stops at the first other error.
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
				var err error
				for range preloadAttempts {
					if err = r.put(ctx, key, value); err == nil || !r.store.Transient(err) || ctx.Err() != nil {
						break
					}
				}
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

// preloadAttempts bounds how often Preload sends one key's write.
const preloadAttempts = 5

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
	elapsed := time.Since(start)
	return r.result(workers, elapsed)
}

func (r *Runner) work(ctx context.Context, seed uint64, issued *atomic.Int64, st *workerStats) {
	rng := mathrand.New(mathrand.NewPCG(seed, uint64(time.Now().UnixNano())))
	value := randomValue(r.cfg.ValueSize)
	for ctx.Err() == nil {
		if r.cfg.Count > 0 && issued.Add(1) > r.cfg.Count {
			return
		}
		key := r.cfg.Key(rng.IntN(r.cfg.Keys))
		op := opPut
		if r.cfg.Mode == ModeGet || (r.cfg.Mode == ModeMixed && rng.Float64() < r.cfg.ReadRatio) {
			op = opGet
		}
		t0 := time.Now()
		var err error
		found := true
		if op == opGet {
			found, err = r.get(ctx, key)
		} else {
			err = r.put(ctx, key, value)
		}
		lat := time.Since(t0)
		if err != nil && ctx.Err() != nil {
			return // cut short by the end of the run
		}
		if err != nil {
			st.errors[r.store.ErrorKind(err)]++
			r.failed.Add(1)
			r.done.Add(1)
			continue
		}
		if !found {
			st.misses++ // a correct answer: the key was never written
		}
		st.record(op, lat)
		r.done.Add(1)
	}
}

func (r *Runner) put(ctx context.Context, key string, value []byte) error {
	ctx, cancel := r.opContext(ctx)
	defer cancel()
	return r.store.Put(ctx, key, value)
}

func (r *Runner) get(ctx context.Context, key string) (bool, error) {
	ctx, cancel := r.opContext(ctx)
	defer cancel()
	return r.store.Get(ctx, key, r.cfg.Stale)
}

// opContext bounds one operation by Config.Timeout.
func (r *Runner) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.cfg.Timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, r.cfg.Timeout)
}

func randomValue(n int) []byte {
	v := make([]byte, n)
	_, _ = rand.Read(v)
	return v
}

type op int

const (
	opGet op = iota
	opPut
	numOps
)

func (o op) String() string { return [...]string{"get", "put"}[o] }

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
