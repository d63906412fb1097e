package engine

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/torua/torua/internal/testutil"
)

// crashChildEnv, when set to a directory, makes TestCrashChild act as the
// child process of TestCrashKeepsAcknowledgedWrites.
const crashChildEnv = "TORUA_ENGINE_CRASH_CHILD_DIR"

const (
	crashWriters = 4 // concurrent writers, one shard each: exercises group commit
	crashAcks    = 400
)

// crashValue is the value the child writes at step i of shard s.
func crashValue(s, i int) []byte {
	return []byte(fmt.Sprintf("value-%d-%d-%s", s, i, strings.Repeat("x", i%200)))
}

func crashKey(i int) string { return fmt.Sprintf("key-%06d", i) }

// TestCrashChild is not a test on its own: run by TestCrashKeepsAcknowledgedWrites
// with crashChildEnv set, it applies synced writes until it is killed and
// prints, for each, a "try" line before Apply and an "ack" line after it returns.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("only runs as the child of TestCrashKeepsAcknowledgedWrites")
	}
	e, err := Open(dir, Options{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	var mu sync.Mutex // one write per line: lines never interleave
	say := func(format string, args ...any) {
		line := fmt.Sprintf(format+"\n", args...)
		mu.Lock()
		defer mu.Unlock()
		if _, err := os.Stdout.WriteString(line); err != nil {
			os.Exit(3)
		}
	}
	var wg sync.WaitGroup
	for s := range crashWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Bounded so that an orphaned child ends by itself.
			for i := range 100000 {
				// Every fifth step deletes the key put two steps before.
				op := Op{Kind: OpPut, Key: []byte(crashKey(i)), Value: crashValue(s, i)}
				verb, key := "put", i
				if i%5 == 4 {
					op, verb, key = Op{Kind: OpDelete, Key: []byte(crashKey(i - 2))}, "del", i-2
				}
				say("try %d %s %d %d", s, verb, key, i)
				res, err := e.Apply(s, []Op{op}, ApplyOptions{Sync: true})
				if err == nil {
					err = res[0].Err
				}
				if err != nil {
					say("error %v", err)
					os.Exit(2)
				}
				say("ack %d %s %d %d %d", s, verb, key, i, res[0].Revision)
			}
		}()
	}
	wg.Wait()
	os.Exit(0)
}

// keyOutcome is what the parent knows of one key of the child's.
type keyOutcome struct {
	acked   bool   // some op on it was acknowledged
	present bool   // the last acknowledged op was a put
	step    int    // the step of the last acknowledged op (the value's step for a put)
	rev     uint64 // the revision of the last acknowledged op
	// pending: an op was tried after the last ack and not acknowledged; it may
	// or may not have been applied.
	pending        bool
	pendingPresent bool
	pendingStep    int
}

func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	dir := t.TempDir()
	child := testutil.StartChild(t, "TestCrashChild", crashChildEnv, dir)

	type key struct{ shard, key int }
	outcomes := map[key]*keyOutcome{}
	maxRev := map[int]uint64{}
	acks := 0
	child.Reports(func(f []string) {
		if (f[0] != "try" && f[0] != "ack") || len(f) < 5 {
			return // test framework output, or a torn last line
		}
		// n[2] is the key, n[3] the step, n[4] (ack only) the revision.
		n := make([]int, len(f)-1)
		for i := 3; i < len(f); i++ {
			var err error
			if n[i-1], err = strconv.Atoi(f[i]); err != nil {
				t.Fatalf("bad line %q", strings.Join(f, " "))
			}
		}
		shard, _ := strconv.Atoi(f[1])
		k := key{shard, n[2]}
		o := outcomes[k]
		if o == nil {
			o = &keyOutcome{}
			outcomes[k] = o
		}
		isPut := f[2] == "put"
		if f[0] == "try" {
			o.pending, o.pendingPresent, o.pendingStep = true, isPut, n[3]
			return
		}
		if len(f) != 6 {
			return
		}
		rev := uint64(n[4])
		*o = keyOutcome{acked: true, present: isPut, step: n[3], rev: rev}
		maxRev[shard] = max(maxRev[shard], rev)
		acks++
		if acks == crashAcks {
			child.Kill() // mid-stream: the child is busy applying more writes
		}
	})
	// Lines still in the pipe after the kill were acknowledged before it: Reports read them.

	child.Wait(fmt.Sprintf("%d acknowledgements", crashAcks))
	t.Logf("child killed after %d acknowledged writes", acks)

	e, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer e.Close()
	for k, o := range outcomes {
		v, err := e.Get(k.shard, []byte(crashKey(k.key)))
		found := err == nil
		if err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatalf("shard %d key %d: %v", k.shard, k.key, err)
		}
		matchesAcked := o.acked && found == o.present &&
			(!found || (v.Revision == o.rev && bytes.Equal(v.Data, crashValue(k.shard, o.step))))
		matchesPending := o.pending && found == o.pendingPresent &&
			(!found || bytes.Equal(v.Data, crashValue(k.shard, o.pendingStep)))
		if !o.acked && !o.pending {
			continue
		}
		if !matchesAcked && !matchesPending && !(!o.acked && !found) {
			t.Errorf("shard %d key %d: found=%v value=%q rev=%d; acknowledged %+v", k.shard, k.key, found, v.Data, v.Revision, *o)
		}
	}
	for s := range crashWriters {
		st, err := e.ShardStats(s)
		if err != nil {
			t.Fatal(err)
		}
		if st.Revision < maxRev[s] {
			t.Errorf("shard %d: revision counter %d went back below acknowledged %d", s, st.Revision, maxRev[s])
		}
		// Metadata and data were written in one batch: the counts agree.
		keys, more, err := e.List(s, nil, nil, 1<<20)
		if err != nil || more {
			t.Fatalf("list shard %d: %v", s, err)
		}
		var size int64
		for _, k := range keys {
			v, err := e.Get(s, k)
			if err != nil {
				t.Fatal(err)
			}
			size += int64(len(k) + len(v.Data))
		}
		if st.Keys != int64(len(keys)) || st.Bytes != size {
			t.Errorf("shard %d: stats say %d keys %d bytes, data has %d keys %d bytes", s, st.Keys, st.Bytes, len(keys), size)
		}
		// The engine keeps working: the next revision follows the counter.
		res, err := e.Apply(s, []Op{put("after-crash", "v")}, ApplyOptions{Sync: true})
		if err != nil || res[0].Revision != st.Revision+1 {
			t.Errorf("shard %d: apply after crash: %v %+v", s, err, res)
		}
	}
}
