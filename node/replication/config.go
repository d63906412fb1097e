package replication

import (
	"time"
)

// Config is the Raft tuning of a node, shared by all its groups. Zero values take the
// defaults of DefaultConfig.
type Config struct {
	// HeartbeatTimeout is how long a follower waits without hearing from a leader before
	// it stands for election (Raft's election timeout; the library randomises it up to
	// twice that). Leaders send heartbeats, which also carry the commit index to idle
	// followers, twenty times per HeartbeatTimeout. Loopback tests use tens of
	// milliseconds.
	HeartbeatTimeout time.Duration
	// ApplyTimeout bounds how long a membership change or leadership transfer waits.
	ApplyTimeout time.Duration
	// NoReadLease makes every linearizable read confirm leadership with a heartbeat round
	// (read index) instead of relying on a lease (see Group.readBarrier).
	NoReadLease bool
	// SnapshotThreshold and TrailingLogs control log compaction: once a group has applied
	// SnapshotThreshold entries past its last compaction point, or SnapshotBytes of
	// entries, its log is cut back to the last TrailingLogs entries, and to fewer when
	// those hold more than TrailingBytes (a follower further behind gets a snapshot). The
	// byte bounds keep large entries (graph writes of thousands of changes) from holding
	// hundreds of MB in memory, as CockroachDB truncates its Raft log by size.
	SnapshotThreshold uint64
	TrailingLogs      uint64
	SnapshotBytes     uint64
	TrailingBytes     uint64
	// RaftLogLevel is the lowest level of the Raft library's own log lines that are kept
	// ("debug", "info", "warn", "error" or "off"); default "warn".
	RaftLogLevel string
}

// DefaultConfig returns production defaults.
func DefaultConfig() Config {
	return Config{
		HeartbeatTimeout:  time.Second,
		ApplyTimeout:      5 * time.Second,
		SnapshotThreshold: 8192,
		TrailingLogs:      1024,
		SnapshotBytes:     16 << 20,
		TrailingBytes:     4 << 20,
		RaftLogLevel:      "warn",
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.HeartbeatTimeout == 0 {
		c.HeartbeatTimeout = d.HeartbeatTimeout
	}
	if c.ApplyTimeout == 0 {
		c.ApplyTimeout = d.ApplyTimeout
	}
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = d.SnapshotThreshold
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = d.TrailingLogs
	}
	if c.SnapshotBytes == 0 {
		c.SnapshotBytes = d.SnapshotBytes
	}
	if c.TrailingBytes == 0 {
		c.TrailingBytes = d.TrailingBytes
	}
	if c.RaftLogLevel == "" {
		c.RaftLogLevel = d.RaftLogLevel
	}
	return c
}

// electionTicks is Raft's election timeout in ticks of the host's clock; the heartbeat is
// one tick.
const electionTicks = 20

// tick is the period of the host's Raft clock.
func (c Config) tick() time.Duration { return c.withDefaults().HeartbeatTimeout / electionTicks }

// leaseDuration is how long a quorum's acknowledgement of an entry binds its members to
// this leader, counted from the entry's proposal: a follower that acknowledged it ignores
// other candidates until electionTicks ticks have passed since, which take at least
// electionTicks-1 periods of its clock (the first may come at once). A tenth is kept back
// for clock rate differences.
func (c Config) leaseDuration() time.Duration {
	return c.tick() * (electionTicks - 1) * 9 / 10
}

// RestartQuietPeriod is how long a node that restarts with Raft state on disk must answer
// no Raft traffic (Host.QuietUntil): before it stopped it may have acknowledged a leader's
// entry, which binds it to vote for no one else for a heartbeat timeout (the leader's read
// lease counts on that), and it no longer knows whom or when. Zero with NoReadLease.
func (c Config) RestartQuietPeriod() time.Duration {
	c = c.withDefaults()
	if c.NoReadLease {
		return 0
	}
	return 2 * c.HeartbeatTimeout
}

// Resolver maps a node ID to the host:port of that node's Raft port. The host calls it on
// every dial, so a node that moved (a new pod IP) is reached at its new address as soon as
// the shard map says so. It must be safe for concurrent use.
type Resolver func(nodeID string) (string, error)
