package replication

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

// TestRaftLoggerKeepsLevelsAtOrAbove: the Raft library's lines reach slog at their level,
// those below the configured level (warn by default) are dropped, "off" drops every one,
// and Fatal and Panic panic with their message whatever the level.
func TestRaftLoggerKeepsLevelsAtOrAbove(t *testing.T) {
	logAll := func(r raftLogger) {
		r.Debug("d", 1)
		r.Debugf("d%d", 2)
		r.Info("i", 1)
		r.Infof("i%d", 2)
		r.Warning("w", 1)
		r.Warningf("w%d", 2)
		r.Error("e", 1)
		r.Errorf("e%d", 2)
	}
	for level, want := range map[string][]string{
		"debug": {"d1", "d2", "i1", "i2", "w1", "w2", "e1", "e2"},
		"trace": {"d1", "d2", "i1", "i2", "w1", "w2", "e1", "e2"},
		"info":  {"i1", "i2", "w1", "w2", "e1", "e2"},
		"":      {"w1", "w2", "e1", "e2"},
		"WARN":  {"w1", "w2", "e1", "e2"},
		"error": {"e1", "e2"},
		"off":   nil,
	} {
		g := NewWithT(t)
		var buf bytes.Buffer
		logAll(newRaftLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), level))
		var got []string
		for line := range strings.Lines(buf.String()) {
			_, msg, _ := strings.Cut(line, "msg=")
			msg, _, _ = strings.Cut(msg, "\n")
			got = append(got, strings.Trim(msg, `"`))
		}
		g.Expect(got).To(Equal(want), "level %q", level)
	}

	g := NewWithT(t)
	r := newRaftLogger(slog.New(slog.DiscardHandler), "off")
	g.Expect(func() { r.Fatal("lost ", "quorum") }).To(PanicWith("lost quorum"))
	g.Expect(func() { r.Fatalf("index %d", 7) }).To(PanicWith("index 7"))
	g.Expect(func() { r.Panic("bad ", "state") }).To(PanicWith("bad state"))
	g.Expect(func() { r.Panicf("term %d", 3) }).To(PanicWith("term 3"))
}

// TestListenRefusesAnIncompleteConfig: a host needs a node ID of 1 to 255 bytes, a storage,
// a resolver and both directories.
func TestListenRefusesAnIncompleteConfig(t *testing.T) {
	g := NewWithT(t)
	eng := openEngine(t)
	resolve := func(string) (string, error) { return "", nil }
	full := func() HostConfig {
		return HostConfig{Network: NewMemNetwork(), NodeID: "n1", Storage: eng, Resolve: resolve, Dir: t.TempDir(), LogDir: t.TempDir()}
	}
	for name, edit := range map[string]func(*HostConfig){
		"no node ID":      func(c *HostConfig) { c.NodeID = "" },
		"a long node ID":  func(c *HostConfig) { c.NodeID = strings.Repeat("n", 256) },
		"no storage":      func(c *HostConfig) { c.Storage = nil },
		"no resolver":     func(c *HostConfig) { c.Resolve = nil },
		"no snapshot dir": func(c *HostConfig) { c.Dir = "" },
		"no Raft log dir": func(c *HostConfig) { c.LogDir = "" },
	} {
		c := full()
		edit(&c)
		_, err := Listen(c)
		g.Expect(err).To(MatchError(ContainSubstring("a node ID of 1 to 255 bytes, a storage, a resolver and two directories are required")), name)
	}
	h, err := Listen(full())
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = h.Close() }()
	g.Expect(h.Addr().Network()).To(Equal("mem"))
	g.Expect(h.Addr().String()).To(Equal("mem:n1"), "a host on a MemNetwork is addressed by its node ID")
}

func TestParseRaftID(t *testing.T) {
	g := NewWithT(t)
	id, err := ParseRaftID(FormatRaftID(0xdeadbeef01))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(id).To(Equal(uint64(0xdeadbeef01)))
	for _, bad := range []string{"", "0000000000000000", "abc", "00000000000000001", "zz00000000000000"} {
		_, err := ParseRaftID(bad)
		g.Expect(err).To(MatchError(ContainSubstring("want 16 hexadecimal digits, not all zero")), "%q", bad)
	}
}
