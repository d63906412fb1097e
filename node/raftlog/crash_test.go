package raftlog

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/torua/torua/internal/testutil"
)

// crashChildEnv, when set to a directory, makes TestCrashChild act as the
// child process of TestCrashKeepsSyncedRecords.
const crashChildEnv = "TORUA_RAFTLOG_CRASH_CHILD_DIR"

const (
	crashShards  = 4
	crashSyncs   = 300       // synced reports the parent waits for before the kill
	crashKeep    = 64        // entries each shard keeps below its last (compaction)
	crashSegment = 256 << 10 // small: the child rotates and collects segments
)

// crashData is the data of entry i of shard s in the crash test.
func crashData(s int, i uint64) []byte {
	return []byte(fmt.Sprintf("%d-%d-%s", s, i, strings.Repeat("x", int(i%300))))
}

// TestCrashChild is not a test on its own: run by TestCrashKeepsSyncedRecords
// with crashChildEnv set, one goroutine appends an entry to every shard per
// Write (compacting as it goes) while another syncs and prints "synced N" once
// every Write up to N is durable, until the process is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("only runs as the child of TestCrashKeepsSyncedRecords")
	}
	l, err := Open(dir, Options{SegmentSize: crashSegment})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	var written atomic.Uint64
	go func() {
		var reported uint64
		for {
			w := written.Load()
			if err := l.Sync(); err != nil {
				fmt.Println("error", err)
				os.Exit(2)
			}
			if w == reported {
				continue // nothing new: no report, or the parent could kill before any write
			}
			reported = w
			if _, err := fmt.Printf("synced %d\n", w); err != nil {
				os.Exit(3)
			}
		}
	}()
	// Bounded so that an orphaned child ends by itself.
	for i := uint64(1); i <= 2000000; i++ {
		ws := make([]Write, crashShards)
		for s := range ws {
			ws[s] = Write{Shard: s, Entries: []Entry{{Index: i, Data: crashData(s, i)}},
				Stable: []StableValue{{Name: []byte("hs"), Value: []byte(strconv.FormatUint(i, 10))}}}
			if i > crashKeep {
				ws[s].DeleteBelow = i - crashKeep
			}
		}
		if err := l.Write(ws); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		written.Store(i)
	}
	os.Exit(0)
}

// TestCrashKeepsSyncedRecords SIGKILLs a child that writes and syncs, then
// reopens its log: every Write the child reported synced is there, whole, and
// what follows is a consecutive prefix of what it wrote after.
func TestCrashKeepsSyncedRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	dir := t.TempDir()
	child := testutil.StartChild(t, "TestCrashChild", crashChildEnv, dir)
	var synced uint64
	reports := 0
	child.Reports(func(f []string) {
		if f[0] != "synced" || len(f) != 2 {
			return // test framework output, or a torn last line
		}
		n, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return
		}
		synced = max(synced, n)
		reports++
		if reports == crashSyncs {
			child.Kill() // mid-stream: the child is busy writing more
		}
	})
	child.Wait(fmt.Sprintf("%d syncs", crashSyncs))
	t.Logf("child killed after %d syncs, the last covering %d writes", reports, synced)

	l, err := Open(dir, Options{SegmentSize: crashSegment})
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer l.Close()
	st := l.Stats()
	t.Logf("reopened: %d segments", st.Segments)
	for s := range crashShards {
		state, ok := l.State(s)
		if !ok {
			t.Fatalf("shard %d: nothing recovered", s)
		}
		es := state.Entries
		if len(es) == 0 {
			t.Fatalf("shard %d: no entries", s)
		}
		last := es[len(es)-1].Index
		if last < synced {
			t.Errorf("shard %d: last entry %d, but %d were synced", s, last, synced)
		}
		// The log is what the child wrote up to some Write at or after the last
		// synced one: compacted to crashKeep entries, consecutive, each whole.
		wantFirst, wantCompacted := uint64(1), uint64(0)
		if last > crashKeep {
			wantFirst, wantCompacted = last-crashKeep, last-crashKeep
		}
		if es[0].Index != wantFirst || state.Compacted != wantCompacted {
			t.Errorf("shard %d: entries %d..%d compacted below %d, want from %d compacted below %d",
				s, es[0].Index, last, state.Compacted, wantFirst, wantCompacted)
		}
		// One record holds every shard's part of a Write: all or none of it.
		if lastOf0 := stateOf(t, l, 0).Entries; lastOf0[len(lastOf0)-1].Index != last {
			t.Errorf("shard %d: last entry %d, shard 0's %d", s, last, lastOf0[len(lastOf0)-1].Index)
		}
		for k, e := range es {
			if e.Index != es[0].Index+uint64(k) || !bytes.Equal(e.Data, crashData(s, e.Index)) {
				t.Fatalf("shard %d: entry %d of the recovered log is %d %q", s, k, e.Index, e.Data)
			}
		}
		if got := string(state.Stable["hs"]); got != strconv.FormatUint(last, 10) {
			t.Errorf("shard %d: stable value %q, want %d (the last write's)", s, got, last)
		}
	}
	// The log goes on.
	if err := l.Write([]Write{{Shard: 0, Entries: []Entry{{Index: 1 << 40}}}}); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
}
