package node

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// raftCollector exports the node's Raft state at scrape time: per shard replica (label
// shard) its term, commit and applied index, whether it leads and whether it knows a
// leader, its group's voters and learners; and the node's Raft RPCs and links.
type raftCollector struct {
	n *Node

	term, commit, applied, leader, hasLeader, voters, learners *prometheus.Desc
	rpcs, rpcFailures, rpcSeconds                              *prometheus.Desc
	dials, dialFailures, linksClosed                           *prometheus.Desc
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
		rpcs:         d("rpcs_total", "Raft RPCs this node sent, by kind (append_entries, heartbeat, request_vote, request_pre_vote, timeout_now, install_snapshot).", "kind"),
		rpcFailures:  d("rpc_failures_total", "Raft RPCs this node sent that failed: no answer in time, an error answer or a broken link.", "kind"),
		rpcSeconds:   d("rpc_wait_seconds_total", "Seconds this node's Raft RPCs waited for their answers; divided by rpcs_total, the mean round trip.", "kind"),
		dials:        d("link_dials_total", "Connections dialed to peer nodes for Raft RPCs (one link per peer, shared by every shard)."),
		dialFailures: d("link_dial_failures_total", "Link dials that failed."),
		linksClosed:  d("links_closed_total", "Link connections that closed or broke (a silent peer's link is closed after the RPC timeout)."),
	}
}

// Describe implements prometheus.Collector.
func (c *raftCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.term, c.commit, c.applied, c.leader, c.hasLeader, c.voters,
		c.learners, c.rpcs, c.rpcFailures, c.rpcSeconds, c.dials, c.dialFailures, c.linksClosed} {
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
		gauge(c.leader, boolValue(s.Role == "leader"), shard)
		gauge(c.hasLeader, boolValue(s.Leader != ""), shard)
		gauge(c.voters, float64(len(s.Voters)), shard)
		gauge(c.learners, float64(len(s.Learners)), shard)
	}
	mux := c.n.raftMux()
	if mux == nil {
		return // not started
	}
	st := mux.Stats()
	for _, r := range st.RPCs {
		counter(c.rpcs, float64(r.Calls), r.Kind)
		counter(c.rpcFailures, float64(r.Failed), r.Kind)
		counter(c.rpcSeconds, r.SecondsWaiting, r.Kind)
	}
	counter(c.dials, float64(st.Dials))
	counter(c.dialFailures, float64(st.DialFailures))
	counter(c.linksClosed, float64(st.Closed))
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
