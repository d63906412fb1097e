//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/torua/torua/router/client"
	"github.com/torua/torua/shardmap"
	"github.com/torua/torua/test/kvhistory"
)

// routers hands out clients of the cluster's ready routers, found in the router Service's
// EndpointSlices (localkube has no Service virtual IPs, and in kind the suite is outside the
// cluster), refreshed every second: router pods come and go during rolling updates.
type routers struct {
	service string

	mu        sync.Mutex
	clients   map[string]*client.Client
	ready     []string
	refreshed time.Time
	next      int
}

func newRouters(service string) *routers {
	return &routers{service: service, clients: map[string]*client.Client{}}
}

// pick returns a client of a ready router, round robin.
func (r *routers) pick(ctx context.Context) (*client.Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ready) == 0 || time.Since(r.refreshed) > time.Second {
		if err := r.refresh(ctx); err != nil && len(r.ready) == 0 {
			return nil, err
		}
	}
	if len(r.ready) == 0 {
		return nil, fmt.Errorf("service %s has no ready router endpoint", r.service)
	}
	r.next++
	return r.clients[r.ready[r.next%len(r.ready)]], nil
}

// refresh reads the ready endpoints. Callers hold r.mu.
func (r *routers) refresh(ctx context.Context) error {
	r.refreshed = time.Now()
	slices, err := kube.DiscoveryV1().EndpointSlices(namespace).List(ctx, metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + r.service,
	})
	if err != nil {
		return err
	}
	var ready []string
	for _, s := range slices.Items {
		for _, ep := range s.Endpoints {
			if ptr.Deref(ep.Conditions.Ready, true) && !ptr.Deref(ep.Conditions.Terminating, false) && len(ep.Addresses) > 0 {
				ready = append(ready, "http://"+net.JoinHostPort(ep.Addresses[0], "8080"))
			}
		}
	}
	sort.Strings(ready)
	for _, u := range ready {
		if r.clients[u] == nil {
			c, err := client.New(u, client.WithHTTPClient(env.HTTPClient()))
			if err != nil {
				return err
			}
			r.clients[u] = c
		}
	}
	r.ready = ready
	return nil
}

// target returns a ready router as a kvhistory target.
func (r *routers) target(ctx context.Context) (kvhistory.Target, error) {
	c, err := r.pick(ctx)
	if err != nil {
		return kvhistory.Target{}, err
	}
	u := c.URL()
	return kvhistory.Target{Name: "router " + strings.TrimPrefix(u, "http://"), Base: u, Prefix: "/data/", Client: env.HTTPClient()}, nil
}

// get reads key through some ready router.
func (r *routers) get(ctx context.Context, key string) ([]byte, error) {
	c, err := r.pick(ctx)
	if err != nil {
		return nil, err
	}
	v, _, err := c.Get(ctx, key)
	r.check(err)
	return v, err
}

// put writes key through some ready router.
func (r *routers) put(ctx context.Context, key string, value []byte) error {
	c, err := r.pick(ctx)
	if err != nil {
		return err
	}
	_, err = c.Put(ctx, key, value)
	r.check(err)
	return err
}

// check makes the next pick read the endpoints again after a router could not be reached
// (it stopped in a rolling update before its endpoint was withdrawn).
func (r *routers) check(err error) {
	if errors.Is(err, client.ErrUnreachable) {
		r.refreshSoon()
	}
}

// refreshSoon makes the next pick read the endpoints again.
func (r *routers) refreshSoon() {
	r.mu.Lock()
	r.refreshed = time.Time{}
	r.mu.Unlock()
}

// ledger holds every acknowledged write of the suite: key -> value. Each key is written by
// one writer with one value, so a read after the acknowledgement must return exactly it.
type ledger struct {
	mu   sync.Mutex
	keys []string
	vals map[string]string
	// lost are keys an earlier scenario's check found missing or wrong; later checks report
	// them apart, so each loss fails the scenario that caused it.
	lost map[string]string
}

func newLedger() *ledger {
	return &ledger{vals: map[string]string{}, lost: map[string]string{}}
}

func (l *ledger) ack(key, value string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.vals[key]; !ok {
		l.keys = append(l.keys, key)
	}
	l.vals[key] = value
}

func (l *ledger) random(rng *rand.Rand) (key, value string, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.keys) == 0 {
		return "", "", false
	}
	key = l.keys[rng.IntN(len(l.keys))]
	return key, l.vals[key], true
}

func (l *ledger) snapshot() map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]string, len(l.vals))
	for k, v := range l.vals {
		out[k] = v
	}
	return out
}

func (l *ledger) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, k := range l.keys {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}

// load is concurrent clients working through the routers until stopped: writers of new
// keys, readers of acknowledged ones, and register clients that read, write and
// compare-and-set a few keys with every operation recorded in a history (kvhistory) that is
// checked for linearizability at the end. Every operation is retried (retry policy below) and
// every attempt is accounted in avail, for the scenario's budget.
type load struct {
	name    string
	cancel  context.CancelFunc
	writers sync.WaitGroup
	readers sync.WaitGroup
	seq     atomic.Int64
	limit   int64 // keys to write in all; 0: until stopped

	avail *availability
	// history records the register clients' operations on registerKeys.
	history      *kvhistory.History
	registerKeys []string
	stopped      time.Time

	acked, reads atomic.Int64

	mu         sync.Mutex
	violations []string // reads of an acknowledged key that returned 404 or another value
}

// loadOptions shape a load.
type loadOptions struct {
	writers, readers int
	// registers is the number of register clients, working on registerKeys.
	registers    int
	registerKeys []string
	// keys is how many keys to write in all (0: until stopped).
	keys int
	// interval paces each client (0: as fast as answers come).
	interval time.Duration
}

// startLoad starts clients writing keys "<name>/<writer>/<n>", reading random acknowledged
// keys of the ledger and working on the register keys.
func startLoad(name string, routers *routers, data *ledger, o loadOptions) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{name: name, cancel: cancel, limit: int64(o.keys), avail: newAvailability(),
		history: kvhistory.New(), registerKeys: o.registerKeys}
	for w := range o.writers {
		l.writers.Go(func() { l.write(ctx, w, routers, data, o.interval) })
	}
	for r := range o.readers {
		l.readers.Go(func() { l.read(ctx, r, routers, data, o.interval) })
	}
	if len(o.registerKeys) > 0 {
		for r := range o.registers {
			l.readers.Go(func() { l.register(ctx, r, routers, o.interval) })
		}
	}
	return l
}

func (l *load) write(ctx context.Context, w int, routers *routers, data *ledger, interval time.Duration) {
	pace := newPacer(interval)
	defer pace.stop()
	for ctx.Err() == nil {
		n := l.seq.Add(1) - 1
		if l.limit > 0 && n >= l.limit {
			return
		}
		key := fmt.Sprintf("%s/%02d/%06d", l.name, w, n)
		value := "value of " + key
		// Every attempt writes the same value: one that failed after it was sent and was
		// applied all the same leaves the key as the next attempt does.
		l.avail.operation(ctx, classWriters, key, func(ctx context.Context) (bool, string) {
			err := routers.put(ctx, key, []byte(value))
			if err != nil {
				return false, fmt.Sprintf("PUT %s: %v", key, err)
			}
			data.ack(key, value)
			l.acked.Add(1)
			return true, ""
		})
		if !pace.wait(ctx) {
			return
		}
	}
}

func (l *load) read(ctx context.Context, r int, routers *routers, data *ledger, interval time.Duration) {
	rng := rand.New(rand.NewPCG(uint64(r), uint64(time.Now().UnixNano())))
	pace := newPacer(interval)
	defer pace.stop()
	for ctx.Err() == nil {
		if !pace.wait(ctx) {
			return
		}
		key, want, ok := data.random(rng)
		if !ok {
			continue
		}
		l.avail.operation(ctx, classReaders, key, func(ctx context.Context) (bool, string) {
			got, err := routers.get(ctx, key)
			switch {
			case errors.Is(err, client.ErrNotFound):
				l.violation("GET %s after its write was acknowledged: not found", key)
			case err != nil:
				return false, fmt.Sprintf("GET %s: %v", key, err)
			case !bytes.Equal(got, []byte(want)):
				l.violation("GET %s after its write was acknowledged: %q, want %q", key, got, want)
			default:
				l.reads.Add(1)
			}
			return true, ""
		})
	}
}

// register is one register client: half reads, a quarter blind writes, a quarter
// compare-and-sets (If-Match) on the revision it last saw of the key, as test/process's
// clients do. Each attempt is one operation of the history, with a value of its own; a client
// whose write ended with an unknown outcome takes a new client ID, since that write stays
// open until the end of the history.
func (l *load) register(ctx context.Context, r int, routers *routers, interval time.Duration) {
	h := l.history
	id := h.NewClient()
	rng := rand.New(rand.NewPCG(uint64(r)+100, uint64(time.Now().UnixNano())))
	seen := map[string]uint64{} // key -> last revision this client saw
	pace := newPacer(interval)
	defer pace.stop()
	for n := 0; ctx.Err() == nil; {
		if !pace.wait(ctx) {
			return
		}
		key := l.registerKeys[rng.IntN(len(l.registerKeys))]
		op, match := kvhistory.OpPut, uint64(0)
		switch x := rng.IntN(4); {
		case x < 2:
			op = kvhistory.OpGet
		case x == 2 && seen[key] > 0:
			op, match = kvhistory.OpCAS, seen[key]
		}
		l.avail.operation(ctx, classRegisters, key, func(actx context.Context) (bool, string) {
			in := kvhistory.Input{Op: op, Key: key, Match: match}
			if op != kvhistory.OpGet {
				in.Value = fmt.Sprintf("c%d.%d", id, n)
				n++
			}
			target, err := routers.target(actx)
			if err != nil {
				return false, fmt.Sprintf("%s %s: %v", op, key, err) // nothing was sent
			}
			call := h.Now()
			out := kvhistory.Do(actx, h, target, in)
			ret := h.Now()
			if out.Result == kvhistory.ResNone && ctx.Err() != nil {
				return false, "" // stopped: nothing happened
			}
			h.Add(kvhistory.Record{Client: id, Via: target.Name, In: in, Out: out, Call: call, Return: ret})
			switch out.Result {
			case kvhistory.ResOK:
				seen[key] = out.Rev
			case kvhistory.ResUnknown:
				id = h.NewClient()
			}
			if !out.Result.Definite() {
				routers.refreshSoon() // in case the router is going away
				return false, fmt.Sprintf("%s %s via %s: %s (%s)", op, key, target.Name, out.Result, out.Detail)
			}
			return true, ""
		})
	}
}

func (l *load) violation(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.violations = append(l.violations, fmt.Sprintf(format, args...))
}

// stop stops the clients and returns what they saw. It may be called more than once.
func (l *load) stop() loadReport {
	l.mu.Lock()
	if l.stopped.IsZero() {
		l.stopped = time.Now()
	}
	l.mu.Unlock()
	l.cancel()
	l.writers.Wait()
	l.readers.Wait()
	return l.report()
}

// wait waits for the writers of a load with a key limit to finish, then stops the readers.
func (l *load) wait() loadReport {
	l.writers.Wait()
	return l.stop()
}

func (l *load) report() loadReport {
	l.mu.Lock()
	defer l.mu.Unlock()
	return loadReport{
		name: l.name, acked: l.acked.Load(), reads: l.reads.Load(),
		violations: slices.Clone(l.violations), budget: l.avail.figures(l.stopped),
	}
}

// finalRegisterReads reads every register key through the routers after the clients
// stopped, until each read gets an answer (or ctx ends), and records the reads in the
// history: they are what the lost-write check compares the acknowledged writes with.
func (l *load) finalRegisterReads(ctx context.Context, routers *routers) (map[string]kvhistory.Output, error) {
	h := l.history
	final := map[string]kvhistory.Output{}
	for _, key := range l.registerKeys {
		id := h.NewClient()
		for {
			in := kvhistory.Input{Op: kvhistory.OpGet, Key: key}
			target, err := routers.target(ctx)
			out := kvhistory.Output{Result: kvhistory.ResNone}
			if err == nil {
				rctx, cancel := context.WithTimeout(ctx, attemptTimeout)
				call := h.Now()
				out = kvhistory.Do(rctx, h, target, in)
				ret := h.Now()
				cancel()
				if out.Result != kvhistory.ResNone {
					h.Add(kvhistory.Record{Client: id, Via: "final " + target.Name, In: in, Out: out, Call: call, Return: ret})
					out.Detail = ""
					final[key] = out
					break
				}
			}
			if !backoff(ctx, 200*time.Millisecond) {
				return final, fmt.Errorf("final read of register %s: %w (last: %v %s)", key, ctx.Err(), err, out.Detail)
			}
		}
	}
	return final, nil
}

// registerKeys returns one register key per shard of m for a scenario's register clients, so
// that every shard group (those that move and those that do not) serves some of them. Keys are
// new for each scenario: a history starts with every key absent.
func registerKeys(m *shardmap.Map, scenario string) []string {
	keys := make([]string, m.Shards)
	for i, found := 0, 0; found < m.Shards; i++ {
		k := fmt.Sprintf("reg/%s/%d", scenario, i)
		if s := m.ShardFor([]byte(k)); keys[s] == "" {
			keys[s] = k
			found++
		}
	}
	return keys
}

type loadReport struct {
	name         string
	acked, reads int64
	violations   []string
	budget       budgetFigures
}

func (r loadReport) String() string {
	return fmt.Sprintf("load %q: %d writes acknowledged, %d reads checked, %d wrong; %d operations, %d failed after retries",
		r.name, r.acked, r.reads, len(r.violations), r.budget.total.ops, r.budget.total.failed)
}

// backoff waits d before a retry, or until ctx is done (false).
func backoff(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// pacer paces a client loop with a ticker (it does not synchronise anything).
type pacer struct{ t *time.Ticker }

func newPacer(d time.Duration) pacer {
	if d <= 0 {
		return pacer{}
	}
	return pacer{t: time.NewTicker(d)}
}

func (p pacer) wait(ctx context.Context) bool {
	if p.t == nil {
		return ctx.Err() == nil
	}
	select {
	case <-ctx.Done():
		return false
	case <-p.t.C:
		return true
	}
}

func (p pacer) stop() {
	if p.t != nil {
		p.t.Stop()
	}
}

// readBack reads every key of want through the routers, 16 at a time, and returns the keys
// that are missing or hold another value (problems) and those whose read failed otherwise
// (errs: unreachable, 5xx; worth another try).
func readBack(ctx context.Context, routers *routers, want map[string]string) (problems, errs map[string]string) {
	problems, errs = map[string]string{}, map[string]string{}
	var mu sync.Mutex
	keys := make(chan string)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for key := range keys {
				rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				got, err := routers.get(rctx, key)
				cancel()
				mu.Lock()
				switch {
				case errors.Is(err, client.ErrNotFound):
					problems[key] = "not found"
				case err != nil:
					errs[key] = err.Error()
				case string(got) != want[key]:
					problems[key] = fmt.Sprintf("holds %q, want %q", got, want[key])
				}
				mu.Unlock()
			}
		})
	}
	for key := range want {
		keys <- key
	}
	close(keys)
	wg.Wait()
	return problems, errs
}

// summarize lists up to n entries of m, sorted, one a line.
func summarize(m map[string]string, n int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i == n {
			b.WriteString("  ... and " + strconv.Itoa(len(keys)-n) + " more\n")
			break
		}
		fmt.Fprintf(&b, "  %s: %s\n", k, m[k])
	}
	return b.String()
}
