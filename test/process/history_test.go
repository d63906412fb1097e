package process

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/torua/torua/test/kvhistory"
)

// The recorded operations, the register model and the checks are test/kvhistory's, shared with
// the e2e suite; these names keep the tests' vocabulary.
type (
	kvInput  = kvhistory.Input
	kvOutput = kvhistory.Output
	kvRecord = kvhistory.Record
	kvTarget = kvhistory.Target
)

const (
	opGet = kvhistory.OpGet
	opPut = kvhistory.OpPut
	opCAS = kvhistory.OpCAS

	resOK       = kvhistory.ResOK
	resNotFound = kvhistory.ResNotFound
	resFailed   = kvhistory.ResFailed
	resUnknown  = kvhistory.ResUnknown
	resNone     = kvhistory.ResNone
)

// kvHistory records the operations of every client of one test, with one clock
// (kvhistory.History).
type kvHistory struct{ *kvhistory.History }

// newHistory returns an empty history whose clock starts now.
func newHistory() *kvHistory { return &kvHistory{kvhistory.New()} }

func (h *kvHistory) now() int64                             { return h.Now() }
func (h *kvHistory) newClient() int                         { return h.NewClient() }
func (h *kvHistory) add(r kvRecord)                         { h.Add(r) }
func (h *kvHistory) ackedWrites(keep func(string) bool) int { return h.AckedWrites(keep) }
func (h *kvHistory) summary() string                        { return h.Summary() }
func (h *kvHistory) summaryVia(via string) string           { return h.SummaryVia(via) }

// routerTarget is the router of c.
func routerTarget(c *cluster) kvTarget {
	return kvTarget{Name: "router", Base: c.routerURL, Prefix: "/data/"}
}

// nodeTarget is node n, addressed directly.
func nodeTarget(n *node) kvTarget {
	return kvTarget{Name: n.id, Base: "http://" + n.addr, Prefix: "/store/"}
}

// staleTarget is node n, addressed directly, reading its local replica (?consistency=stale).
// Its reads are not linearizable: they must not enter a history.
func staleTarget(n *node) kvTarget {
	return kvTarget{Name: n.id + " stale", Base: "http://" + n.addr, Prefix: "/store/", Query: "?consistency=stale"}
}

// kvDo sends in to target and classifies the answer (kvhistory.Do).
func kvDo(ctx context.Context, h *kvHistory, target kvTarget, in kvInput) kvOutput {
	return kvhistory.Do(ctx, h.History, target, in)
}

// workload is a set of clients that run random reads, writes and compare-and-sets on a few
// keys through one target, recording everything in a history, until stopped.
type workload struct {
	h      *kvHistory
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// workloadConfig says what a workload's clients do.
type workloadConfig struct {
	target  kvTarget
	keys    []string
	clients int
	// timeout bounds each operation; an unanswered write is then of unknown outcome.
	timeout time.Duration
	// ops, if > 0, ends each client after that many operations.
	ops int
}

// startWorkload starts cfg.clients clients recording into h.
func startWorkload(h *kvHistory, cfg workloadConfig) *workload {
	ctx, cancel := context.WithCancel(context.Background())
	w := &workload{h: h, cancel: cancel}
	for range cfg.clients {
		w.wg.Go(func() { runClient(ctx, h, cfg) })
	}
	return w
}

// wait waits until every client has run its operations (workloadConfig.ops).
func (w *workload) wait() { w.wg.Wait() }

// stop ends the workload and waits for every client's last operation.
func (w *workload) stop() {
	w.cancel()
	w.wg.Wait()
}

// runClient is one client of a workload: half reads, a quarter blind writes, a quarter
// compare-and-sets on the revision it last saw for the key. Each value written is unique
// (client and sequence number), so a read names the write it saw. After a failure it backs
// off (up to 400ms) so that an outage does not fill the history with open writes, which
// cost the checker dearly.
func runClient(ctx context.Context, h *kvHistory, cfg workloadConfig) {
	id := h.newClient()
	rnd := rand.New(rand.NewPCG(uint64(id), uint64(time.Now().UnixNano())))
	seen := map[string]uint64{} // key -> last revision this client saw
	backoff := time.Duration(0)
	for n := 0; cfg.ops <= 0 || n < cfg.ops; n++ {
		if ctx.Err() != nil {
			return
		}
		key := cfg.keys[rnd.IntN(len(cfg.keys))]
		in := kvInput{Key: key, Value: fmt.Sprintf("c%d.%d", id, n)}
		switch r := rnd.IntN(4); {
		case r < 2:
			in = kvInput{Op: opGet, Key: key}
		case r == 2 && seen[key] > 0:
			in.Op, in.Match = opCAS, seen[key]
		default:
			in.Op = opPut
		}
		opCtx, cancel := context.WithTimeout(ctx, cfg.timeout)
		call := h.now()
		out := kvDo(opCtx, h, cfg.target, in)
		ret := h.now()
		cancel()
		if ctx.Err() != nil && out.Result == resNone {
			return
		}
		h.add(kvRecord{Client: id, Via: cfg.target.Name, In: in, Out: out, Call: call, Return: ret})
		switch out.Result {
		case resOK:
			seen[key] = out.Rev
			backoff = 0
			continue
		case resNotFound, resFailed:
			backoff = 0
			continue
		case resUnknown:
			id = h.newClient()
		}
		backoff = min(max(2*backoff, 10*time.Millisecond), 400*time.Millisecond)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
	}
}

// finalRead reads key through target until a read succeeds (or timeout passes) and
// records it; it returns the answer.
func finalRead(t *testing.T, h *kvHistory, target kvTarget, key string, timeout time.Duration) kvOutput {
	t.Helper()
	deadline := time.Now().Add(timeout)
	id := h.newClient()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		in := kvInput{Op: opGet, Key: key}
		call := h.now()
		out := kvDo(ctx, h, target, in)
		ret := h.now()
		cancel()
		if out.Result != resNone {
			h.add(kvRecord{Client: id, Via: "final " + target.Name, In: in, Out: out, Call: call, Return: ret})
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("final read of %q through %s failed for %s: %s", key, target.Name, timeout, out.Detail)
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-t.Context().Done():
			t.Fatalf("final read of %q: %v", key, t.Context().Err())
		}
	}
}

// artefactDirs holds each test's artefact directory (*testing.T -> string).
var artefactDirs sync.Map

// artefacts returns a directory that outlives the test (unlike t.TempDir) for what a failed
// test leaves to look at: visualisations, histories, logs. It is the same directory for
// every call of one test.
func artefacts(t *testing.T) string {
	t.Helper()
	if dir, ok := artefactDirs.Load(t); ok {
		return dir.(string)
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	dir, err := os.MkdirTemp("", "torua-"+name+"-")
	if err != nil {
		t.Fatalf("artefact directory: %v", err)
	}
	artefactDirs.Store(t, dir)
	return dir
}

// check runs the linearizability checker over h (which must hold the final reads too) and
// checks that no acknowledged write was lost: each final read names a write that no
// acknowledged write followed in real time, and a key reads absent only if no write to it
// was acknowledged. On failure it writes the porcupine visualisation and the history under
// an artefact directory and names them.
func (h *kvHistory) check(t *testing.T, final map[string]kvOutput) {
	t.Helper()
	v := h.Check(final, 90*time.Second)
	for _, s := range v.Contract {
		t.Errorf("API contract broken: %s", s)
	}
	for _, s := range v.Lost {
		t.Errorf("acknowledged write lost: %s", s)
	}
	t.Logf("linearizability: %s over %s, checked in %s", v.Result, v.Summary, v.Took.Round(time.Millisecond))
	if v.Result == porcupine.Ok && len(v.Lost) == 0 {
		return
	}
	vis, hist, err := h.WriteArtefacts(v, artefacts(t))
	if err != nil {
		t.Errorf("%v", err)
	}
	switch v.Result {
	case porcupine.Illegal:
		t.Errorf("the history is NOT linearizable; visualisation: %s (history: %s)", vis, hist)
	case porcupine.Unknown:
		t.Errorf("the linearizability check did not finish in time; partial visualisation: %s (history: %s)", vis, hist)
	default:
		t.Errorf("lost writes; visualisation: %s (history: %s)", vis, hist)
	}
}
