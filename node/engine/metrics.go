package engine

import (
	"errors"
	"strconv"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

const metricsNamespace = "torua_engine"

// collector implements prometheus.Collector over an Engine.
type collector struct {
	e *Engine

	shardKeys, shardBytes, shardRevision *prometheus.Desc

	walBytesIn, walBytesWritten, walSize, walFiles *prometheus.Desc
	walFsync                                       *prometheus.Desc
	flushes, compactions, compactionDebt           *prometheus.Desc
	compactionsInProgress, writeStalls             *prometheus.Desc
	memtableSize, memtableCount                    *prometheus.Desc
	readAmp, l0Sublevels, l0Files                  *prometheus.Desc
	levelTables, levelBytes                        *prometheus.Desc
	diskUsage, cacheSize, cacheHits, cacheMisses   *prometheus.Desc
	snapshots, tableIters                          *prometheus.Desc
	loads, loadBytes, loadL0Bytes                  *prometheus.Desc
}

// Collector returns a Prometheus collector of the engine's metrics (names
// prefixed torua_engine_): per-shard live keys, live bytes and revision
// (label shard), bulk loads, and Pebble's WAL, fsync latency, flush, compaction,
// memtable, read amplification, per-level, block cache and disk usage
// figures. It collects nothing once the engine is closed.
func (e *Engine) Collector() prometheus.Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(metricsNamespace+"_"+name, help, labels, nil)
	}
	return &collector{
		e:                     e,
		shardKeys:             d("shard_keys", "Live keys in the shard.", "shard"),
		shardBytes:            d("shard_bytes", "Live key and value bytes in the shard.", "shard"),
		shardRevision:         d("shard_revision", "Last revision assigned in the shard.", "shard"),
		walBytesIn:            d("wal_logical_bytes_total", "Logical bytes written to the WAL."),
		walBytesWritten:       d("wal_physical_bytes_total", "Physical bytes written to the WAL."),
		walSize:               d("wal_size_bytes", "Live data in WAL files."),
		walFiles:              d("wal_files", "Live WAL files."),
		walFsync:              d("wal_fsync_duration_seconds", "Latency of WAL fsyncs; its count is the number of WAL fsyncs."),
		flushes:               d("flushes_total", "Memtable flushes."),
		compactions:           d("compactions_total", "Compactions."),
		compactionDebt:        d("compaction_debt_bytes", "Estimated bytes to compact for the LSM to reach a stable state."),
		compactionsInProgress: d("compactions_in_progress", "Compactions running."),
		writeStalls:           d("write_stalls_total", "Write stalls."),
		memtableSize:          d("memtable_size_bytes", "Bytes allocated by memtables, including those being flushed."),
		memtableCount:         d("memtables", "Memtables, including those being flushed."),
		readAmp:               d("read_amplification", "Sublevels in L0 plus non-empty levels below: the tables a point read may consult."),
		l0Sublevels:           d("l0_sublevels", "L0 sublevels."),
		l0Files:               d("l0_files", "Tables in L0."),
		levelTables:           d("level_tables", "Tables in the LSM level.", "level"),
		levelBytes:            d("level_bytes", "Bytes of tables in the LSM level.", "level"),
		diskUsage:             d("disk_usage_bytes", "Disk space used by the store (live and obsolete files)."),
		cacheSize:             d("block_cache_size_bytes", "Bytes in the block cache."),
		cacheHits:             d("block_cache_hits_total", "Block cache hits."),
		cacheMisses:           d("block_cache_misses_total", "Block cache misses."),
		snapshots:             d("open_snapshots", "Open Pebble snapshots."),
		tableIters:            d("table_iterators", "Open sstable iterators."),
		loads:                 d("loads_total", "Bulk loads applied (each one table ingested)."),
		loadBytes:             d("load_bytes_total", "Bytes of the tables bulk loads ingested."),
		loadL0Bytes:           d("load_level0_bytes_total", "Bytes of the tables bulk loads ingested into level 0 (they overlapped the shard's keys)."),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.shardKeys, c.shardBytes, c.shardRevision,
		c.walBytesIn, c.walBytesWritten, c.walSize, c.walFiles, c.walFsync,
		c.flushes, c.compactions, c.compactionDebt, c.compactionsInProgress, c.writeStalls,
		c.memtableSize, c.memtableCount, c.readAmp, c.l0Sublevels, c.l0Files,
		c.levelTables, c.levelBytes, c.diskUsage, c.cacheSize, c.cacheHits, c.cacheMisses,
		c.snapshots, c.tableIters, c.loads, c.loadBytes, c.loadL0Bytes,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	e := c.e
	if e.acquire() != nil {
		return
	}
	defer e.mu.RUnlock()

	if err := c.collectShards(ch); err != nil {
		e.log.Error("Failed to collect shard metrics", "err", err)
	}

	m := e.db.Metrics()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	counter(c.walBytesIn, float64(m.WAL.BytesIn))
	counter(c.walBytesWritten, float64(m.WAL.BytesWritten))
	gauge(c.walSize, float64(m.WAL.Size))
	gauge(c.walFiles, float64(m.WAL.Files))
	if h := fsyncHistogram(c.walFsync, m); h != nil {
		ch <- h
	}
	counter(c.flushes, float64(m.Flush.Count))
	counter(c.compactions, float64(m.Compact.Count))
	gauge(c.compactionDebt, float64(m.Compact.EstimatedDebt))
	gauge(c.compactionsInProgress, float64(m.Compact.NumInProgress))
	counter(c.writeStalls, float64(e.stalls.Load()))
	gauge(c.memtableSize, float64(m.MemTable.Size))
	gauge(c.memtableCount, float64(m.MemTable.Count))
	gauge(c.readAmp, float64(m.ReadAmp()))
	gauge(c.l0Sublevels, float64(m.Levels[0].Sublevels))
	gauge(c.l0Files, float64(m.Levels[0].TablesCount))
	for i, l := range m.Levels {
		level := strconv.Itoa(i)
		gauge(c.levelTables, float64(l.TablesCount), level)
		gauge(c.levelBytes, float64(l.TablesSize), level)
	}
	gauge(c.diskUsage, float64(m.DiskSpaceUsage()))
	gauge(c.cacheSize, float64(m.BlockCache.Size))
	counter(c.cacheHits, float64(m.BlockCache.Hits))
	counter(c.cacheMisses, float64(m.BlockCache.Misses))
	gauge(c.snapshots, float64(m.Snapshots.Count))
	gauge(c.tableIters, float64(m.TableIters))
	counter(c.loads, float64(e.loads.count.Load()))
	counter(c.loadBytes, float64(e.loads.bytes.Load()))
	counter(c.loadL0Bytes, float64(e.loads.l0Bytes.Load()))
}

// collectShards emits the per-shard gauges from one scan of the metadata keys.
func (c *collector) collectShards(ch chan<- prometheus.Metric) error {
	iter, err := c.e.db.NewIter(&pebble.IterOptions{
		LowerBound: []byte{prefixMeta},
		UpperBound: []byte{prefixMeta + 1},
	})
	if err != nil {
		return err
	}
	for valid := iter.First(); valid; valid = iter.Next() {
		shard, ok := shardOf(iter.Key())
		if !ok {
			continue
		}
		raw, err := iter.ValueAndErr()
		if err != nil {
			return errors.Join(err, iter.Close())
		}
		m, err := decodeMeta(raw)
		if err != nil {
			return errors.Join(err, iter.Close())
		}
		label := strconv.Itoa(shard)
		ch <- prometheus.MustNewConstMetric(c.shardKeys, prometheus.GaugeValue, float64(m.Keys), label)
		ch <- prometheus.MustNewConstMetric(c.shardBytes, prometheus.GaugeValue, float64(m.Bytes), label)
		ch <- prometheus.MustNewConstMetric(c.shardRevision, prometheus.GaugeValue, float64(m.Revision), label)
	}
	return errors.Join(iter.Error(), iter.Close())
}

// fsyncHistogram converts Pebble's WAL fsync latency histogram (unnamed,
// observed in nanoseconds) into a const histogram in seconds.
func fsyncHistogram(d *prometheus.Desc, m *pebble.Metrics) prometheus.Metric {
	if m.LogWriter.FsyncLatency == nil {
		return nil
	}
	var pb dto.Metric
	if err := m.LogWriter.FsyncLatency.Write(&pb); err != nil || pb.Histogram == nil {
		return nil
	}
	h := pb.Histogram
	const nsPerSecond = float64(time.Second)
	buckets := make(map[float64]uint64, len(h.Bucket))
	for _, b := range h.Bucket {
		buckets[b.GetUpperBound()/nsPerSecond] = b.GetCumulativeCount()
	}
	return prometheus.MustNewConstHistogram(d, h.GetSampleCount(), h.GetSampleSum()/nsPerSecond, buckets)
}
