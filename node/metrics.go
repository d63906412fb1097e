package node

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/torua/torua/graph/store"
	"github.com/torua/torua/shardmap"
)

// raftCollector exports the node's Raft state at scrape time: per shard replica (label
// shard) its term, commit and applied index, whether it leads and whether it knows a
// leader, its group's voters and learners; and the counters of the node's Raft loop and
// transport.
type raftCollector struct {
	n *Node

	term, commit, applied, leader, hasLeader, voters, learners *prometheus.Desc
	rounds, fsyncs, fsyncSeconds, sent, dropped                *prometheus.Desc
	dials, dialFailures, connsClosed, snapsSent, snapsFailed   *prometheus.Desc
	logBytes, logSegments, logSegmentsRemoved, misaddressed    *prometheus.Desc
}

func newRaftCollector(n *Node) *raftCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("torua_raft_"+name, help, labels, nil)
	}
	return &raftCollector{
		n:            n,
		term:         d("shard_term", "Raft term of this node's replica of the shard.", "shard"),
		commit:       d("shard_commit_index", "Commit index of this node's replica of the shard.", "shard"),
		applied:      d("shard_applied_index", "Last log index applied to the engine by this node's replica of the shard.", "shard"),
		leader:       d("shard_is_leader", "1 if this node leads the shard.", "shard"),
		hasLeader:    d("shard_has_leader", "1 if this node's replica of the shard knows a leader.", "shard"),
		voters:       d("shard_voters", "Voters in the shard's group, as this node's replica knows it.", "shard"),
		learners:     d("shard_learners", "Learners (replicas catching up) in the shard's group, as this node's replica knows it.", "shard"),
		rounds:       d("loop_rounds_total", "Rounds of the node's Raft loop that had work (each handles every group's Ready once)."),
		fsyncs:       d("fsyncs_total", "Fsyncs of the Raft log that made appends durable (one covers every group's appends written while the previous one ran)."),
		fsyncSeconds: d("fsync_seconds_total", "Seconds spent in those fsyncs; divided by fsyncs_total, the mean fsync latency."),
		sent:         d("messages_sent_total", "Raft messages sent to peer nodes."),
		dropped:      d("messages_dropped_total", "Raft messages dropped because the peer had no connection (Raft sends again)."),
		dials:        d("dials_total", "Connections dialed to peer nodes for Raft messages (one per peer, shared by every shard)."),
		dialFailures: d("dial_failures_total", "Dials that failed."),
		connsClosed:  d("conns_closed_total", "Connections to peers that broke or were replaced (a peer that moved)."),
		snapsSent:    d("snapshots_sent_total", "Shard snapshots streamed to peers that stored them whole."),
		snapsFailed:  d("snapshot_failures_total", "Shard snapshots to peers that failed."),
		logBytes:     d("log_bytes_written_total", "Bytes appended to the node's Raft log (records, segment headers and checkpoints)."),
		logSegments:  d("log_segments", "Segment files of the node's Raft log."),
		misaddressed: d("messages_misaddressed_total",
			"Raft messages received for a Raft ID this node does not have (meant for the member it was before it lost its Raft log), dropped."),
		logSegmentsRemoved: d("log_segments_removed_total",
			"Raft log segments removed once no shard needed them (a count that stops growing while segments pile up means a group holds them)."),
	}
}

// Describe implements prometheus.Collector.
func (c *raftCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.term, c.commit, c.applied, c.leader, c.hasLeader, c.voters,
		c.learners, c.rounds, c.fsyncs, c.fsyncSeconds, c.sent, c.dropped, c.dials, c.dialFailures,
		c.connsClosed, c.snapsSent, c.snapsFailed, c.logBytes, c.logSegments, c.logSegmentsRemoved, c.misaddressed} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *raftCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	for _, s := range c.n.Status().Shards {
		shard := strconv.Itoa(s.Shard)
		gauge(c.term, float64(s.Term), shard)
		gauge(c.commit, float64(s.CommitIndex), shard)
		gauge(c.applied, float64(s.AppliedIndex), shard)
		gauge(c.leader, boolValue(s.Role == shardmap.RoleLeader), shard)
		gauge(c.hasLeader, boolValue(s.Leader != ""), shard)
		gauge(c.voters, float64(len(s.Voters)), shard)
		gauge(c.learners, float64(len(s.Learners)), shard)
	}
	h := c.n.raftHost()
	if h == nil {
		return // not started
	}
	st := h.Stats()
	counter(c.rounds, float64(st.Rounds))
	counter(c.fsyncs, float64(st.Fsyncs))
	counter(c.fsyncSeconds, st.FsyncSeconds)
	counter(c.sent, float64(st.MessagesSent))
	counter(c.dropped, float64(st.MessagesDropped))
	counter(c.dials, float64(st.Dials))
	counter(c.dialFailures, float64(st.DialFailures))
	counter(c.connsClosed, float64(st.ConnsClosed))
	counter(c.snapsSent, float64(st.SnapshotsSent))
	counter(c.snapsFailed, float64(st.SnapshotsFailed))
	counter(c.logBytes, float64(st.Log.BytesWritten))
	gauge(c.logSegments, float64(st.Log.Segments))
	counter(c.logSegmentsRemoved, float64(st.Log.SegmentsRemoved))
	counter(c.misaddressed, float64(st.MessagesMisaddressed))
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// registerGraphCacheMetrics exports the adjacency cache's counters (graph/store's
// AdjacencyCache): the hit ratio of hops through busy vertices, and what it holds.
func registerGraphCacheMetrics(reg prometheus.Registerer, c *store.AdjacencyCache) {
	stat := func(i int) func() float64 {
		return func() float64 {
			hits, misses, evictions, halves := c.Stats()
			return float64([]uint64{hits, misses, evictions, uint64(halves)}[i])
		}
	}
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "torua_graph_adjacency_cache_hits_total",
			Help: "Hops through a cached busy vertex whose adjacency had not changed (read from memory)."}, stat(0)),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "torua_graph_adjacency_cache_misses_total",
			Help: "Hops through a cached busy vertex whose adjacency had changed (scanned again)."}, stat(1)),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "torua_graph_adjacency_cache_evictions_total",
			Help: "Cached vertices dropped to make room (--graph-cache-halves)."}, stat(2)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "torua_graph_adjacency_cache_halves",
			Help: "Edge halves the adjacency cache holds."}, stat(3)),
	)
}
