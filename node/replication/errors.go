package replication

import (
	"errors"
	"fmt"
)

// Errors returned by a Group. NotLeaderError matches ErrNotLeader with errors.Is.
var (
	// ErrNotLeader means this replica is not the shard's leader and did nothing: the request
	// is safe to retry at the leader (NotLeaderError carries a hint).
	ErrNotLeader = errors.New("not the shard's leader")
	// ErrUnknownOutcome means a write (or membership change) was handed to Raft but this
	// replica cannot tell whether it committed: leadership was lost, the group was closed
	// or the caller's context ended while it was in flight. Retrying is safe only for
	// idempotent operations.
	ErrUnknownOutcome = errors.New("outcome unknown")
	// ErrNotProposed means the request was refused and nothing was proposed to Raft: too
	// many writes in flight, a membership change still being applied, or a read that found
	// no read index before its context ended. Retrying is always safe. (Its text, kept
	// from when it was named ErrTimeout, is part of the answers clients see.)
	ErrNotProposed = errors.New("replication timeout")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("replication group closed")
	// errClosedInFlight fails what was in flight when the group or host closed.
	errClosedInFlight = fmt.Errorf("%w: %w", ErrUnknownOutcome, ErrClosed)
	// ErrStaleData is returned by Open when the engine's data of the shard does not fit
	// the group's Raft state: data without Raft state (left over from an earlier
	// membership; it would make replay skip entries), or data older than the log's
	// compaction point. The node refuses to host the shard rather than delete data.
	ErrStaleData = errors.New("shard data does not match its raft state")
)

// NotLeaderError is ErrNotLeader with the leader this replica knows of.
type NotLeaderError struct {
	// Shard is the shard asked.
	Shard int
	// Leader is the leader's node ID, "" if unknown.
	Leader string
}

func (e *NotLeaderError) Error() string {
	if e.Leader == "" {
		return fmt.Sprintf("shard %d: %v (leader unknown)", e.Shard, ErrNotLeader)
	}
	return fmt.Sprintf("shard %d: %v (leader %s)", e.Shard, ErrNotLeader, e.Leader)
}

// Is makes errors.Is(err, ErrNotLeader) hold.
func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }
