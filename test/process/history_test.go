package process

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/torua/torua/internal/httpx"
)

// kvOpKind is the kind of a recorded operation.
type kvOpKind string

const (
	opGet kvOpKind = "get"
	opPut kvOpKind = "put"
	// opCAS is a PUT with If-Match: "<rev>".
	opCAS kvOpKind = "cas"
)

// kvResult is how an operation ended, as far as the client can tell.
type kvResult string

const (
	// resOK: a read found the key, or a write was acknowledged (with its new revision).
	resOK kvResult = "ok"
	// resNotFound: a read answered 404. Definite.
	resNotFound kvResult = "absent"
	// resFailed: a compare-and-set answered 412: it was not applied. Definite.
	resFailed kvResult = "412"
	// resUnknown: a write whose effect is unknown (5xx, timeout, connection lost): it may
	// take effect at any time after its call, so it is pending until the end of the history.
	resUnknown kvResult = "unknown"
	// resNone: nothing happened that a model must explain (a read that failed, a write that
	// was refused before it could be applied: 421, 429, a refused connection). Not recorded.
	resNone kvResult = "none"
)

// kvInput is an operation's request: its kind, key, the value written and, for opCAS, the
// revision the key must have.
type kvInput struct {
	Op    kvOpKind
	Key   string
	Value string
	Match uint64
}

// kvOutput is an operation's answer: the result, and for resOK the value read and the
// revision read or written.
type kvOutput struct {
	Result kvResult
	Value  string
	Rev    uint64
	// Detail says why an operation ended resUnknown or resNone (status and message, or error);
	// it is not part of the model, only of the visualisation and the failure output.
	Detail string
}

// kvRecord is one operation of a history: who ran it, against which server, the
// request, the answer, and its invocation and completion times (nanoseconds since the
// history started).
type kvRecord struct {
	Client int
	Via    string
	In     kvInput
	Out    kvOutput
	Call   int64
	Return int64
}

// kvState is the model's state of one key. Revisions are per shard, so a key's next
// revision cannot be predicted from its own history: the model keeps the revision when it is
// known (Rev > 0) and otherwise a floor that it lies above. Every write's revision is greater
// than Floor; when Rev is known, Floor == Rev.
type kvState struct {
	Exists bool
	Value  string
	Rev    uint64
	Floor  uint64
}

// kvStep returns every state the key can be in after op, from s, given its output (none:
// the output is impossible from s). Writes of unknown outcome are pending until the end of
// the history, so they always take effect where they are linearized: linearizing one last
// is how the checker says it never happened.
func kvStep(s kvState, in kvInput, out kvOutput) []kvState {
	switch in.Op {
	case opGet:
		switch out.Result {
		case resNotFound:
			if s.Exists {
				return nil
			}
			return []kvState{s}
		case resOK:
			if !s.Exists || s.Value != out.Value {
				return nil
			}
			if s.Rev != 0 {
				if s.Rev != out.Rev {
					return nil
				}
				return []kvState{s}
			}
			if out.Rev <= s.Floor {
				return nil
			}
			return []kvState{{Exists: true, Value: s.Value, Rev: out.Rev, Floor: out.Rev}}
		}
	case opPut:
		switch out.Result {
		case resOK:
			if out.Rev <= s.Floor {
				return nil
			}
			return []kvState{{Exists: true, Value: in.Value, Rev: out.Rev, Floor: out.Rev}}
		case resUnknown:
			return []kvState{{Exists: true, Value: in.Value, Floor: s.Floor}}
		}
	case opCAS:
		// matches: the key is at revision in.Match for certain; may: it could be.
		matches := s.Exists && s.Rev != 0 && s.Rev == in.Match
		may := s.Exists && (matches || (s.Rev == 0 && in.Match > s.Floor))
		switch out.Result {
		case resOK:
			if !may || out.Rev <= in.Match {
				return nil
			}
			return []kvState{{Exists: true, Value: in.Value, Rev: out.Rev, Floor: out.Rev}}
		case resFailed:
			if matches {
				return nil
			}
			return []kvState{s}
		case resUnknown:
			applied := kvState{Exists: true, Value: in.Value, Floor: in.Match}
			switch {
			case matches:
				return []kvState{applied}
			case may:
				return []kvState{s, applied}
			default:
				return []kvState{s}
			}
		}
	}
	return nil
}

// kvModel is the porcupine model of the store: a register per key, with revisions, partitioned
// by key.
var kvModel = (&porcupine.NondeterministicModel{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(kvInput).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() []any { return []any{kvState{}} },
	Step: func(state, input, output any) []any {
		next := kvStep(state.(kvState), input.(kvInput), output.(kvOutput))
		out := make([]any, len(next))
		for i, s := range next {
			out[i] = s
		}
		return out
	},
	Hash: func(state any) uint64 {
		s := state.(kvState)
		h := fnv.New64a()
		_, _ = fmt.Fprintf(h, "%t|%s|%d|%d", s.Exists, s.Value, s.Rev, s.Floor)
		return h.Sum64()
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(kvInput), output.(kvOutput)
		var res string
		switch out.Result {
		case resOK:
			if in.Op == opGet {
				res = fmt.Sprintf("%q@%d", out.Value, out.Rev)
			} else {
				res = fmt.Sprintf("@%d", out.Rev)
			}
		case resUnknown:
			res = "? (" + out.Detail + ")"
		default:
			res = string(out.Result)
		}
		switch in.Op {
		case opGet:
			return fmt.Sprintf("get(%s) -> %s", in.Key, res)
		case opCAS:
			return fmt.Sprintf("cas(%s, %q, if @%d) -> %s", in.Key, in.Value, in.Match, res)
		default:
			return fmt.Sprintf("put(%s, %q) -> %s", in.Key, in.Value, res)
		}
	},
	DescribeState: func(state any) string {
		s := state.(kvState)
		if !s.Exists {
			return fmt.Sprintf("absent (revisions > %d)", s.Floor)
		}
		if s.Rev == 0 {
			return fmt.Sprintf("%q@? (> %d)", s.Value, s.Floor)
		}
		return fmt.Sprintf("%q@%d", s.Value, s.Rev)
	},
	DescribeOperationMetadata: func(info any) string {
		if info == nil {
			return ""
		}
		return fmt.Sprint(info)
	},
}).ToModel()

// kvHistory records the operations of every client of one test, with one clock.
type kvHistory struct {
	start time.Time

	mu      sync.Mutex
	ops     []kvRecord
	clients int
	acked   map[string]int // acknowledged writes per key
	dropped map[string]int // operations not recorded (resNone), per target
	odd     []string       // answers that break the API contract
}

// newHistory returns an empty history whose clock starts now.
func newHistory() *kvHistory {
	return &kvHistory{start: time.Now(), acked: map[string]int{}, dropped: map[string]int{}}
}

// now returns the history's clock: monotonic nanoseconds since it started.
func (h *kvHistory) now() int64 { return int64(time.Since(h.start)) }

// newClient returns a fresh client ID. A client whose operation ended with an unknown
// outcome takes a new ID: that operation stays open until the end of the history, and one
// client ID must not have two open operations.
func (h *kvHistory) newClient() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.clients++
	return h.clients - 1
}

// add records r unless nothing happened (resNone), which it only counts.
func (h *kvHistory) add(r kvRecord) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.Out.Result == resNone {
		h.dropped[r.Via]++
		return
	}
	h.ops = append(h.ops, r)
	if r.In.Op != opGet && r.Out.Result == resOK {
		h.acked[r.In.Key]++
	}
}

// contract records an answer that breaks the API contract; check fails the test with it.
func (h *kvHistory) contract(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.odd = append(h.odd, fmt.Sprintf(format, args...))
}

// ackedWrites returns the number of acknowledged writes to the keys for which keep is true.
func (h *kvHistory) ackedWrites(keep func(key string) bool) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for k, c := range h.acked {
		if keep(k) {
			n += c
		}
	}
	return n
}

// summary counts the history's operations by kind and result.
func (h *kvHistory) summary() string { return h.summaryVia("") }

// summaryVia counts the operations sent through the named target (every one if via is "")
// by kind and result.
func (h *kvHistory) summaryVia(via string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	counts := map[string]int{}
	n := 0
	for _, r := range h.ops {
		if via == "" || r.Via == via {
			counts[string(r.In.Op)+" "+string(r.Out.Result)]++
			n++
		}
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, counts[k])
	}
	dropped := 0
	for v, c := range h.dropped {
		if via == "" || v == via {
			dropped += c
		}
	}
	return fmt.Sprintf("%d operations (%s; %d refused writes and failed reads not recorded)", n, strings.Join(parts, ", "), dropped)
}

// operations returns the history for porcupine. Operations of unknown outcome complete at
// the end of the history: after every other operation, so that they may be linearized
// anywhere after their call, including never (last).
func (h *kvHistory) operations() []porcupine.Operation {
	h.mu.Lock()
	defer h.mu.Unlock()
	var end int64
	for _, r := range h.ops {
		end = max(end, r.Call, r.Return)
	}
	ops := make([]porcupine.Operation, len(h.ops))
	for i, r := range h.ops {
		ret := r.Return
		if r.Out.Result == resUnknown {
			ret = end + 1
		}
		ops[i] = porcupine.Operation{ClientId: r.Client, Input: r.In, Call: r.Call, Output: r.Out, Return: ret, Metadata: r.Via}
	}
	return ops
}

// kvTarget is a server the recording client talks to: the router (/data/) or one node
// (/store/).
type kvTarget struct {
	name   string
	base   string // http://host:port
	prefix string // "/data/" or "/store/"
	query  string // added to every request's URL, e.g. "?consistency=stale"
}

// routerTarget is the router of c.
func routerTarget(c *cluster) kvTarget {
	return kvTarget{name: "router", base: c.routerURL, prefix: "/data/"}
}

// nodeTarget is node n, addressed directly.
func nodeTarget(n *node) kvTarget {
	return kvTarget{name: n.id, base: "http://" + n.addr, prefix: "/store/"}
}

// staleTarget is node n, addressed directly, reading its local replica (?consistency=stale).
// Its reads are not linearizable: they must not enter a history.
func staleTarget(n *node) kvTarget {
	return kvTarget{name: n.id + " stale", base: "http://" + n.addr, prefix: "/store/", query: "?consistency=stale"}
}

// kvHTTP is the recording client's HTTP client: no overall timeout (each operation has
// its context), enough idle connections for every worker.
var kvHTTP = &http.Client{
	Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// kvDo sends in to target and classifies the answer. Raw net/http rather than router/client:
// the same code must address nodes (/store/) and tell apart every status that decides
// whether a write's outcome is known.
func kvDo(ctx context.Context, h *kvHistory, target kvTarget, in kvInput) kvOutput {
	u := target.base + target.prefix + httpx.EscapeKey(in.Key) + target.query
	method, body := http.MethodGet, io.Reader(nil)
	if in.Op != opGet {
		method, body = http.MethodPut, strings.NewReader(in.Value)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		h.contract("%s %s: %v", method, u, err)
		return kvOutput{Result: resNone}
	}
	if in.Op == opCAS {
		req.Header.Set("If-Match", httpx.ETag(in.Match))
	}
	resp, err := kvHTTP.Do(req)
	if err != nil {
		if in.Op == opGet || isDialError(err) {
			// A failed read changes nothing; a write whose connection was refused was not sent.
			return kvOutput{Result: resNone, Detail: err.Error()}
		}
		return kvOutput{Result: resUnknown, Detail: shortErr(ctx, err)}
	}
	defer func() { _ = resp.Body.Close() }()
	data, readErr := io.ReadAll(io.LimitReader(resp.Body, 2<<20))
	code := resp.StatusCode
	detail := fmt.Sprintf("%d %s", code, bytes.TrimSpace(data))
	if readErr != nil {
		if in.Op == opGet {
			return kvOutput{Result: resNone, Detail: readErr.Error()}
		}
		detail += ": " + readErr.Error()
	}
	switch {
	case code == http.StatusOK && in.Op == opGet && readErr == nil:
		rev, err := httpx.ParseETag(resp.Header.Get("ETag"))
		if err != nil || rev == 0 {
			h.contract("%s %s answered 200 with ETag %q", method, u, resp.Header.Get("ETag"))
			return kvOutput{Result: resNone}
		}
		return kvOutput{Result: resOK, Value: string(data), Rev: rev}
	case code == http.StatusNotFound && in.Op == opGet:
		return kvOutput{Result: resNotFound}
	case in.Op == opGet:
		return kvOutput{Result: resNone, Detail: detail}
	case code/100 == 2:
		rev, err := httpx.ParseETag(resp.Header.Get("ETag"))
		if err != nil || rev == 0 {
			h.contract("%s %s answered %d with ETag %q", method, u, code, resp.Header.Get("ETag"))
			return kvOutput{Result: resUnknown, Detail: "no ETag"}
		}
		return kvOutput{Result: resOK, Rev: rev}
	case code == http.StatusPreconditionFailed && in.Op == opCAS:
		return kvOutput{Result: resFailed}
	case code == http.StatusMisdirectedRequest, code == http.StatusTooManyRequests:
		// Refused before being applied: not the leader, or overloaded.
		return kvOutput{Result: resNone, Detail: detail}
	case code >= 500:
		return kvOutput{Result: resUnknown, Detail: detail}
	default:
		h.contract("%s %s (%s) answered %s", method, u, in.Op, detail)
		return kvOutput{Result: resUnknown, Detail: detail}
	}
}

// isDialError reports whether err happened while connecting: the request was not sent.
func isDialError(err error) bool {
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// shortErr names a request error briefly: "timeout" when ctx ended, else the error's cause.
func shortErr(ctx context.Context, err error) string {
	if ctx.Err() != nil {
		return "timeout"
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		return opErr.Err.Error()
	}
	return err.Error()
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
		h.add(kvRecord{Client: id, Via: cfg.target.name, In: in, Out: out, Call: call, Return: ret})
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
			h.add(kvRecord{Client: id, Via: "final " + target.name, In: in, Out: out, Call: call, Return: ret})
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("final read of %q through %s failed for %s: %s", key, target.name, timeout, out.Detail)
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
	h.mu.Lock()
	for _, s := range h.odd {
		t.Errorf("API contract broken: %s", s)
	}
	lost := h.lostWritesLocked(final)
	h.mu.Unlock()
	for _, s := range lost {
		t.Errorf("acknowledged write lost: %s", s)
	}

	ops := h.operations()
	start := time.Now()
	res, info := porcupine.CheckOperationsVerbose(kvModel, ops, 90*time.Second)
	t.Logf("linearizability: %s over %s, checked in %s", res, h.summary(), time.Since(start).Round(time.Millisecond))
	if res == porcupine.Ok && len(lost) == 0 {
		return
	}
	dir := artefacts(t)
	vis := filepath.Join(dir, "linearizability.html")
	if err := porcupine.VisualizePath(kvModel, info, vis); err != nil {
		t.Errorf("write the visualisation: %v", err)
	}
	hist := filepath.Join(dir, "history.json")
	if err := h.dump(hist); err != nil {
		t.Errorf("write the history: %v", err)
	}
	switch res {
	case porcupine.Illegal:
		t.Errorf("the history is NOT linearizable; visualisation: %s (history: %s)", vis, hist)
	case porcupine.Unknown:
		t.Errorf("the linearizability check did not finish in time; partial visualisation: %s (history: %s)", vis, hist)
	default:
		t.Errorf("lost writes; visualisation: %s (history: %s)", vis, hist)
	}
}

// lostWritesLocked lists the keys whose final read contradicts an acknowledged write. h.mu
// is held.
func (h *kvHistory) lostWritesLocked(final map[string]kvOutput) []string {
	type write struct {
		rec   kvRecord
		acked bool
	}
	byValue := map[string]write{}
	lastAckedCall := map[string]int64{}     // key -> latest call time of an acknowledged write
	lastAckedValue := map[string]kvRecord{} // key -> that write
	for _, r := range h.ops {
		if r.In.Op == opGet || (r.Out.Result != resOK && r.Out.Result != resUnknown) {
			continue
		}
		acked := r.Out.Result == resOK
		byValue[r.In.Value] = write{rec: r, acked: acked}
		if acked {
			if c, ok := lastAckedCall[r.In.Key]; !ok || r.Call > c {
				lastAckedCall[r.In.Key] = r.Call
				lastAckedValue[r.In.Key] = r
			}
		}
	}
	var lost []string
	keys := make([]string, 0, len(final))
	for k := range final {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		f := final[key]
		last, anyAcked := lastAckedValue[key]
		if f.Result == resNotFound {
			if anyAcked {
				lost = append(lost, fmt.Sprintf("%s reads absent; %q was acknowledged at revision %d", key, last.In.Value, last.Out.Rev))
			}
			continue
		}
		w, ok := byValue[f.Value]
		switch {
		case !ok || w.rec.In.Key != key:
			lost = append(lost, fmt.Sprintf("%s reads %q@%d, which no client wrote to it", key, f.Value, f.Rev))
		case w.acked && w.rec.Out.Rev != f.Rev:
			lost = append(lost, fmt.Sprintf("%s reads %q@%d; that write was acknowledged at revision %d", key, f.Value, f.Rev, w.rec.Out.Rev))
		case w.acked && anyAcked && lastAckedCall[key] > w.rec.Return:
			lost = append(lost, fmt.Sprintf("%s reads %q@%d; %q (revision %d) was acknowledged after that write completed", key, f.Value, f.Rev, last.In.Value, last.Out.Rev))
		}
	}
	return lost
}

// dump writes the history as JSON lines to path.
func (h *kvHistory) dump(path string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, r := range h.ops {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// TestKVModel checks the model and checker on small hand-made histories: what must pass
// passes, and lost, stale and invented values are caught.
func TestKVModel(t *testing.T) {
	put := func(c int, key, value string, call, ret int64, rev uint64) kvRecord {
		return kvRecord{Client: c, In: kvInput{Op: opPut, Key: key, Value: value}, Out: kvOutput{Result: resOK, Rev: rev}, Call: call, Return: ret}
	}
	lostPut := func(c int, key, value string, call int64) kvRecord {
		return kvRecord{Client: c, In: kvInput{Op: opPut, Key: key, Value: value}, Out: kvOutput{Result: resUnknown}, Call: call, Return: call + 1}
	}
	cas := func(c int, key, value string, match uint64, call, ret int64, res kvResult, rev uint64) kvRecord {
		return kvRecord{Client: c, In: kvInput{Op: opCAS, Key: key, Value: value, Match: match}, Out: kvOutput{Result: res, Rev: rev}, Call: call, Return: ret}
	}
	get := func(c int, key, value string, call, ret int64, rev uint64) kvRecord {
		out := kvOutput{Result: resOK, Value: value, Rev: rev}
		if value == "" {
			out = kvOutput{Result: resNotFound}
		}
		return kvRecord{Client: c, In: kvInput{Op: opGet, Key: key}, Out: out, Call: call, Return: ret}
	}
	tests := []struct {
		name string
		ops  []kvRecord
		want bool
	}{
		{"sequential", []kvRecord{get(0, "a", "", 0, 1, 0), put(0, "a", "x", 2, 3, 5), get(0, "a", "x", 4, 5, 5), cas(0, "a", "y", 5, 6, 7, resOK, 9), get(1, "a", "y", 8, 9, 9)}, true},
		{"stale read", []kvRecord{put(0, "a", "x", 0, 1, 5), put(0, "a", "y", 2, 3, 6), get(1, "a", "x", 4, 5, 5)}, false},
		{"concurrent reads either side", []kvRecord{put(0, "a", "x", 0, 1, 5), put(0, "a", "y", 2, 10, 6), get(1, "a", "x", 3, 4, 5), get(2, "a", "y", 5, 6, 6)}, true},
		{"read goes back", []kvRecord{put(0, "a", "x", 0, 1, 5), put(0, "a", "y", 2, 10, 6), get(1, "a", "y", 3, 4, 6), get(2, "a", "x", 5, 6, 5)}, false},
		{"revision goes back", []kvRecord{put(0, "a", "x", 0, 1, 5), put(0, "a", "y", 2, 3, 4)}, false},
		{"wrong revision read", []kvRecord{put(0, "a", "x", 0, 1, 5), get(1, "a", "x", 2, 3, 6)}, false},
		{"invented value", []kvRecord{put(0, "a", "x", 0, 1, 5), get(1, "a", "z", 2, 3, 6)}, false},
		{"unknown write seen later", []kvRecord{put(0, "a", "x", 0, 1, 5), lostPut(0, "a", "y", 2), get(1, "a", "y", 10, 11, 8), get(1, "a", "y", 12, 13, 8)}, true},
		{"unknown write never applied", []kvRecord{put(0, "a", "x", 0, 1, 5), lostPut(0, "a", "y", 2), get(1, "a", "x", 10, 11, 5)}, true},
		{"unknown write undone", []kvRecord{put(0, "a", "x", 0, 1, 5), lostPut(0, "a", "y", 2), get(1, "a", "y", 10, 11, 8), get(1, "a", "x", 12, 13, 5)}, false},
		{"cas conflict", []kvRecord{put(0, "a", "x", 0, 1, 5), put(1, "a", "y", 2, 3, 6), cas(0, "a", "z", 5, 4, 5, resFailed, 0), get(0, "a", "y", 6, 7, 6)}, true},
		{"cas lost update", []kvRecord{put(0, "a", "x", 0, 1, 5), put(1, "a", "y", 2, 3, 6), cas(0, "a", "z", 5, 4, 5, resOK, 7)}, false},
		{"cas after unknown write", []kvRecord{put(0, "a", "x", 0, 1, 5), lostPut(1, "a", "y", 2), cas(0, "a", "z", 5, 4, 5, resFailed, 0), get(0, "a", "y", 6, 7, 6)}, true},
		{"keys are independent", []kvRecord{put(0, "a", "x", 0, 1, 5), put(1, "b", "x", 0, 1, 3), get(0, "b", "x", 2, 3, 3), get(1, "a", "x", 2, 3, 5)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHistory()
			for _, r := range tt.ops {
				h.add(r)
			}
			res, _ := porcupine.CheckOperationsVerbose(kvModel, h.operations(), 10*time.Second)
			if got := res == porcupine.Ok; got != tt.want {
				t.Errorf("linearizable = %v (%s), want %v", got, res, tt.want)
			}
		})
	}

	// The lost-write check on its own: an acknowledged write followed, in real time, by a final
	// read of an earlier value.
	h := newHistory()
	for _, r := range []kvRecord{put(0, "a", "x", 0, 1, 5), put(0, "a", "y", 2, 3, 6), put(0, "b", "z", 0, 1, 2), lostPut(0, "c", "w", 0)} {
		h.add(r)
	}
	lost := h.lostWritesLocked(map[string]kvOutput{
		"a": {Result: resOK, Value: "x", Rev: 5},
		"b": {Result: resNotFound},
		"c": {Result: resNotFound},
	})
	if len(lost) != 2 || !strings.HasPrefix(lost[0], "a ") || !strings.HasPrefix(lost[1], "b ") {
		t.Errorf("lost writes %q, want one for a and one for b", lost)
	}
	if got := len(h.operations()); got != 4 {
		t.Errorf("%d operations, want 4", got)
	}
}
