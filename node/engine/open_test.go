package engine

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestOpenCreatesMissingDir(t *testing.T) {
	g := NewWithT(t)
	dir := filepath.Join(t.TempDir(), "a", "b", "data")
	e, err := Open(dir, Options{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(e.Close()).To(Succeed())
	entries, err := os.ReadDir(dir)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(entries).NotTo(BeEmpty())
}

// pebbleStore creates a plain Pebble store in a temp dir holding kvs.
func pebbleStore(t *testing.T, kvs map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	db, err := pebble.Open(dir, &pebble.Options{Logger: slogLogger{slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range kvs {
		if err := db.Set([]byte(k), []byte(v), pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// engineStore creates an engine store with some data in a temp dir.
func engineStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	e, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fillShard(t, e, 1, 20, "x")
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func overwriteFiles(t *testing.T, dir, glob string) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, glob))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no %s in %s: %v", glob, dir, err)
	}
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, randomBytes(9, int(info.Size())), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenRefusesBadStores(t *testing.T) {
	tests := []struct {
		name      string
		dir       func(t *testing.T) string
		wantInErr string
	}{
		{"foreign pebble store", func(t *testing.T) string {
			return pebbleStore(t, map[string]string{"x": "y"})
		}, "not a torua engine store"},
		{"unknown format marker", func(t *testing.T) string {
			return pebbleStore(t, map[string]string{"f": "torua-engine-v99"})
		}, "unknown engine format"},
		{"garbage manifest", func(t *testing.T) string {
			dir := engineStore(t)
			overwriteFiles(t, dir, "MANIFEST-*")
			return dir
		}, "store is corrupt"},
		{"garbage sstable", func(t *testing.T) string {
			dir := engineStore(t)
			overwriteFiles(t, dir, "*.sst")
			return dir
		}, ""},
		{"dir is a file", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "file")
			if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			dir := tt.dir(t)
			e, err := Open(dir, Options{})
			if err == nil {
				// Some corruption (sstable contents) is only found on read; the
				// store must then fail reads rather than serve wrong data.
				defer e.Close()
				_, err = e.Get(1, []byte("key/0001\xff"))
				g.Expect(err).To(MatchError(ErrCorrupt))
				return
			}
			g.Expect(err.Error()).To(ContainSubstring(dir))
			if tt.wantInErr != "" {
				g.Expect(err).To(MatchError(ErrCorrupt))
			}
			if tt.wantInErr != "" {
				g.Expect(strings.ToLower(err.Error())).To(ContainSubstring(tt.wantInErr))
			}
		})
	}
}

func TestCollector(t *testing.T) {
	g := NewWithT(t)
	e := openEngine(t, "", false)
	fillShard(t, e, 3, 20, "x")
	apply1(t, e, 4, put("k", "v"))
	load(t, e, 5, pairs("l", 0, 10), 1)
	reg := prometheus.NewPedanticRegistry()
	g.Expect(reg.Register(e.Collector())).To(Succeed())

	mfs, err := reg.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	byName := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		byName[mf.GetName()] = mf
	}
	shardValue := func(name, shard string) float64 {
		mf := byName[name]
		g.Expect(mf).NotTo(BeNil(), name)
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == shard {
				return m.GetGauge().GetValue()
			}
		}
		t.Fatalf("%s has no shard %s", name, shard)
		return 0
	}
	st, err := e.ShardStats(3)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(shardValue("torua_engine_shard_keys", "3")).To(Equal(float64(st.Keys)))
	g.Expect(shardValue("torua_engine_shard_bytes", "3")).To(Equal(float64(st.Bytes)))
	g.Expect(shardValue("torua_engine_shard_revision", "4")).To(Equal(1.0))

	fsync := byName["torua_engine_wal_fsync_duration_seconds"]
	g.Expect(fsync).NotTo(BeNil())
	g.Expect(fsync.GetMetric()[0].GetHistogram().GetSampleCount()).To(BeNumerically(">=", 2))
	for _, name := range []string{
		"torua_engine_wal_physical_bytes_total", "torua_engine_memtable_size_bytes",
		"torua_engine_read_amplification", "torua_engine_disk_usage_bytes",
		"torua_engine_compactions_total", "torua_engine_level_bytes",
	} {
		g.Expect(byName).To(HaveKey(name))
	}
	g.Expect(byName["torua_engine_wal_physical_bytes_total"].GetMetric()[0].GetCounter().GetValue()).To(BeNumerically(">", 0))
	g.Expect(byName["torua_engine_loads_total"].GetMetric()[0].GetCounter().GetValue()).To(Equal(1.0))
	g.Expect(byName["torua_engine_load_bytes_total"].GetMetric()[0].GetCounter().GetValue()).To(BeNumerically(">", 0))
	g.Expect(byName["torua_engine_load_level0_bytes_total"].GetMetric()[0].GetCounter().GetValue()).To(BeZero())

	// A closed engine collects nothing and does not fail the scrape.
	g.Expect(e.Close()).To(Succeed())
	mfs, err = reg.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(mfs).To(BeEmpty())
}
