package replication

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/torua/torua/internal/kv"
	"github.com/torua/torua/node/engine"
	"github.com/torua/torua/node/raftlog"
)

func openEngine(t testing.TB) *engine.Engine {
	t.Helper()
	eng, err := engine.Open(t.TempDir(), engine.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	return eng
}

// testHost is a host over eng with no peers and a new Raft log.
func testHost(t testing.TB, eng *engine.Engine) *Host {
	t.Helper()
	return testHostIn(t, eng, t.TempDir())
}

// testHostIn is a host over eng with no peers and its Raft log in logDir; adjust, if
// given, changes its configuration first.
func testHostIn(t testing.TB, eng *engine.Engine, logDir string, adjust ...func(*HostConfig)) *Host {
	t.Helper()
	c := HostConfig{Listen: "127.0.0.1:0", NodeID: "n1", Storage: eng, Dir: t.TempDir(), LogDir: logDir,
		Resolve: func(string) (string, error) { return "", errors.New("no peers") }, Raft: testGroupConfig()}
	for _, f := range adjust {
		f(&c)
	}
	h, err := Listen(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// writeLog writes ws to the Raft log in dir, as an earlier run of a node would have.
func writeLog(t testing.TB, dir string, ws ...raftlog.Write) {
	t.Helper()
	rl, err := raftlog.Open(dir, raftlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := rl.Write(ws); err != nil {
		t.Fatal(err)
	}
	if err := rl.Close(); err != nil {
		t.Fatal(err)
	}
}

// selfMember is h's node as the only member of a group.
func selfMember(h *Host) []Member { return []Member{{Node: h.nodeID, ID: h.ID()}} }

// idleGroup opens shard on h without founding it: the loop has nothing to do for it, so
// a test may call the loop's methods (apply, restore) itself.
func idleGroup(t testing.TB, h *Host, shard int) *Group {
	t.Helper()
	g, err := h.Open(shard, nil)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// proposalEntry is the log entry of proposal id carrying ops.
func proposalEntry(t testing.TB, index, id uint64, ops ...engine.Op) *pb.Entry {
	t.Helper()
	cmd, err := encodeOps(ops)
	if err != nil {
		t.Fatal(err)
	}
	return &pb.Entry{Index: new(index), Term: new(uint64(1)), Type: pb.EntryNormal.Enum(),
		Data: append(binary.BigEndian.AppendUint64(nil, id), cmd...)}
}

func putOp(key, value string) engine.Op {
	return engine.Op{Kind: engine.OpPut, Key: []byte(key), Value: []byte(value)}
}

// wait registers a waiter for proposal id of term 1 and returns its channel.
func wait(g *Group, id uint64) chan proposal {
	w := &waiter{term: 1, ch: make(chan proposal, 1)}
	g.mu.Lock()
	g.waiters[id] = w
	g.mu.Unlock()
	return w.ch
}

func TestApplyAndIdempotentReplay(t *testing.T) {
	g := NewWithT(t)
	eng := openEngine(t)
	// A replica with Raft state (a term), not yet in any configuration.
	hs, err := proto.Marshal(&pb.HardState{Term: new(uint64(1))})
	g.Expect(err).NotTo(HaveOccurred())
	logDir := t.TempDir()
	writeLog(t, logDir, raftlog.Write{Shard: 3, Stable: []raftlog.StableValue{{Name: keyHardState, Value: hs}}})
	h := testHostIn(t, eng, logDir)
	grp := idleGroup(t, h, 3)

	cas := func(index, id uint64) *pb.Entry {
		return proposalEntry(t, index, id,
			engine.Op{Kind: engine.OpPut, Key: []byte("a"), Value: []byte("a2"), Cond: kv.Precondition{Kind: kv.CondRevision, Revision: 1}},
			engine.Op{Kind: engine.OpPut, Key: []byte("a"), Value: []byte("a3"), Cond: kv.Precondition{Kind: kv.CondRevision, Revision: 1}})
	}
	first := []*pb.Entry{
		proposalEntry(t, 1, 1, putOp("a", "a1")),
		{Index: new(uint64(2)), Term: new(uint64(1)), Type: pb.EntryNormal.Enum()}, // a new leader's empty entry
		cas(3, 2),
	}
	w1, w2 := wait(grp, 1), wait(grp, 2)
	grp.apply(first)
	g.Expect(<-w1).To(Equal(proposal{results: []engine.Result{{Revision: 1}}}))
	g.Expect(<-w2).To(Equal(proposal{results: []engine.Result{{Revision: 2}, {Err: engine.ErrConditionFailed}}}))
	st, err := eng.ShardStats(3)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st.AppliedIndex).To(Equal(uint64(3)))

	// A restart replays the log from the compaction point: a new group over the same
	// engine skips what the engine already has and applies the rest, once.
	g.Expect(grp.Close()).To(Succeed())
	g.Expect(h.Close()).To(Succeed())
	h = testHostIn(t, eng, logDir)
	grp = idleGroup(t, h, 3)
	g.Expect(grp.AppliedIndex()).To(Equal(uint64(3)))
	replay := append(first, proposalEntry(t, 4, 3, putOp("b", "b1")), proposalEntry(t, 5, 4, putOp("a", "a4")))
	w1, w3, w4 := wait(grp, 1), wait(grp, 3), wait(grp, 4)
	grp.apply(replay)
	g.Expect((<-w1).err).To(MatchError(ErrUnknownOutcome), "an entry already in the engine has no result here")
	g.Expect(<-w3).To(Equal(proposal{results: []engine.Result{{Revision: 3}}}))
	g.Expect(<-w4).To(Equal(proposal{results: []engine.Result{{Revision: 4}}}))
	grp.apply(replay[3:])

	v, err := eng.Get(3, []byte("a"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(v).To(Equal(engine.Value{Data: []byte("a4"), Revision: 4}), "a second replay changes nothing")
	st, err = eng.ShardStats(3)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(st.AppliedIndex).To(Equal(uint64(5)))
	g.Expect(st.Keys).To(Equal(int64(2)))
	g.Expect(st.Revision).To(Equal(uint64(4)))
}

func TestApplyPanicsOnBadEntries(t *testing.T) {
	good := proposalEntry(t, 2, 7, putOp("k", "v")).GetData()
	tests := []struct {
		name string
		typ  pb.EntryType
		data []byte
	}{
		{"unknown command type", pb.EntryNormal, append(append([]byte{}, good[:8]...), append([]byte{99}, good[9:]...)...)},
		{"undecodable command", pb.EntryNormal, good[:len(good)-1]},
		{"shorter than a proposal id", pb.EntryNormal, good[:5]},
		{"unknown entry type", pb.EntryType(42), good},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			eng := openEngine(t)
			grp := idleGroup(t, testHost(t, eng), 0)
			g.Expect(func() {
				grp.apply([]*pb.Entry{proposalEntry(t, 1, 1, putOp("x", "y")),
					{Index: new(uint64(2)), Term: new(uint64(1)), Type: tt.typ.Enum(), Data: tt.data}})
			}).To(PanicWith(ContainSubstring("shard 0: log entry 2")))
			st, err := eng.ShardStats(0)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(st.AppliedIndex).To(BeZero(), "nothing of the batch is applied")
		})
	}
}

// TestRestoreReplacesTheShardFromAReceivedFile: a snapshot stream stored in the incoming
// directory replaces the shard whole, sets the applied index, and its file is deleted
// with those offered before it; data naming anything but such a file is refused.
func TestRestoreReplacesTheShardFromAReceivedFile(t *testing.T) {
	g := NewWithT(t)
	src := openEngine(t)
	_, err := src.Apply(5, []engine.Op{putOp("a", "1"), putOp("b", "2")}, engine.ApplyOptions{AppliedIndex: 9})
	g.Expect(err).NotTo(HaveOccurred())
	var stream bytes.Buffer
	g.Expect(src.SnapshotShard(5, &stream)).To(Succeed())

	dst := openEngine(t)
	h := testHost(t, dst)
	grp := idleGroup(t, h, 5)
	grp.apply([]*pb.Entry{proposalEntry(t, 1, 1, putOp("old", "gone"))})
	dir := incomingDir(h.dir)
	older := filepath.Join(dir, "shard-5-1.snap")
	path := filepath.Join(dir, "shard-5-2.snap")
	g.Expect(os.WriteFile(older, []byte("superseded"), 0o600)).To(Succeed())
	g.Expect(os.WriteFile(path, stream.Bytes(), 0o600)).To(Succeed())
	grp.offerSnapshot(older)
	grp.offerSnapshot(path)
	grp.restore(&pb.Snapshot{Data: []byte("shard-5-2.snap"), Metadata: &pb.SnapshotMetadata{Index: new(uint64(7)), Term: new(uint64(1))}})

	keys, _, err := dst.List(5, nil, nil, 10)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(keys).To(Equal([][]byte{[]byte("a"), []byte("b")}))
	g.Expect(grp.AppliedIndex()).To(Equal(uint64(9)), "the data's own applied index")
	left, err := os.ReadDir(dir)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(left).To(BeEmpty())

	for _, bad := range []string{"", "../engine/MANIFEST", "shard-5-2", "a/b.snap"} {
		_, err := h.snapshotFile([]byte(bad))
		g.Expect(err).To(MatchError(ContainSubstring("names no received snapshot")), "%q", bad)
	}
}

// TestStorageRoundTripAndCorruption: what the loop writes (entries, hard state, the
// compaction point) loads back from the Raft log as it was; a corrupt entry is refused
// with an error that says so. (Raft state that earlier versions left in the engine is
// found by engine.LegacyRaftState, tested there; Open refuses the shard then.)
func TestStorageRoundTripAndCorruption(t *testing.T) {
	g := NewWithT(t)
	entry := func(i uint64) raftlog.Entry {
		b, err := proto.Marshal(&pb.Entry{Index: new(i), Term: new(uint64(2)), Data: []byte{byte(i)}})
		g.Expect(err).NotTo(HaveOccurred())
		return raftlog.Entry{Index: i, Data: b}
	}
	hs, err := proto.Marshal(&pb.HardState{Term: new(uint64(2)), Vote: new(uint64(7)), Commit: new(uint64(5))})
	g.Expect(err).NotTo(HaveOccurred())
	meta, err := proto.Marshal(&pb.SnapshotMetadata{Index: new(uint64(3)), Term: new(uint64(1)),
		ConfState: &pb.ConfState{Voters: []uint64{7, 8, 9}}})
	g.Expect(err).NotTo(HaveOccurred())
	dir := t.TempDir()
	writeLog(t, dir, raftlog.Write{Shard: 2,
		Entries: []raftlog.Entry{entry(2), entry(3), entry(4), entry(5), entry(6)},
		Stable:  []raftlog.StableValue{{Name: keyHardState, Value: hs}, {Name: keySnapshot, Value: meta}, {Name: keyMembers, Value: []byte("a,b")}}})

	rl, err := raftlog.Open(dir, raftlog.Options{})
	g.Expect(err).NotTo(HaveOccurred())
	ms, stable, existing, err := loadStorage(rl, 2)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(existing).To(BeTrue())
	g.Expect(string(stable[string(keyMembers)])).To(Equal("a,b"))
	first, _ := ms.FirstIndex()
	last, _ := ms.LastIndex()
	g.Expect([]uint64{first, last}).To(Equal([]uint64{4, 6}), "entries from the compaction point on")
	st, cs, err := ms.InitialState()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect([]uint64{st.GetTerm(), st.GetVote(), st.GetCommit()}).To(Equal([]uint64{2, 7, 5}))
	g.Expect(cs.GetVoters()).To(Equal([]uint64{7, 8, 9}))

	_, _, existing, err = loadStorage(rl, 3)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(existing).To(BeFalse())
	g.Expect(rl.Close()).To(Succeed())

	writeLog(t, dir, raftlog.Write{Shard: 2, Entries: []raftlog.Entry{{Index: 7, Data: []byte{0xff, 0xff}}}})
	rl, err = raftlog.Open(dir, raftlog.Options{})
	g.Expect(err).NotTo(HaveOccurred())
	_, _, _, err = loadStorage(rl, 2)
	g.Expect(err).To(MatchError(ContainSubstring("shard 2 log entry 7 is corrupt")))
	g.Expect(rl.Close()).To(Succeed())

}
