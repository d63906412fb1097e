package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"syscall"
	"time"

	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/internal/wire"
	"github.com/torua/torua/shardmap"
)

// forwardTo sends a request with send to the leader of the shard shardOf picks under the
// current map and returns its answer, except when the node says or shows that it did
// nothing, which makes a retry safe:
//   - 421 with a leader hint: the request goes to that leader (the hint is cached);
//   - 421 without one (no leader known, or the node does not host the shard under its
//     map): the map is reloaded and the next replica tried, with a growing pause;
//   - a refused connection (or a request the node never read): the next replica is tried;
//   - any failure of a read, or a 503 answer to one (it changes nothing): the next replica
//     is tried.
//
// A write that failed after it was sent is answered 502 and never retried: it may have
// been applied. Retries stop after RetryBudget with 503.
func (rt *Router) forwardTo(ctx context.Context, read bool, shardOf func(*shardmap.Map) int,
	send func(context.Context, shardmap.Node) (reply, error)) (reply, error) {
	deadline := time.Now().Add(rt.cfg.RetryBudget)
	pause := 10 * time.Millisecond
	target := ""
	var lastErr error
	hints, misses := 0, 0 // leader hints followed; tries that found no leader
	refusals := 0         // consecutive refused connections
	for attempt := 0; ; attempt++ {
		m := rt.holder.Current()
		if m == nil {
			return reply{}, fmt.Errorf("%w: no valid shard map yet", httpx.ErrUnavailable)
		}
		shard := shardOf(m)
		if target == "" {
			target = rt.leaderOf(m, shard)
		}
		node, ok := m.Node(target)
		if !ok {
			rt.forgetLeader(shard, target)
			target = ""
			continue
		}
		if attempt > 0 && time.Now().After(deadline) {
			return reply{}, fmt.Errorf("%w: shard %d is unreachable: no replica answered as its leader within %s (last: %v)", httpx.ErrUnavailable, shard, rt.cfg.RetryBudget, lastErr)
		}
		rep, err := send(ctx, node)
		var next string // the node to try next
		switch {
		case err != nil && (refused(err) || read):
			if ctx.Err() != nil {
				rt.suspect(m, shard, node.ID)
				return reply{}, fmt.Errorf("%w: the client went away: %v", httpx.ErrUnavailable, ctx.Err())
			}
			reason := "unreachable"
			if !refused(err) {
				reason = "failed_read"
			}
			lastErr = fmt.Errorf("node %s (%s): %w", node.ID, node.API, err)
			if refused(err) {
				// Every replica refusing means every replica is down, not an election:
				// waiting cannot help.
				if refusals++; refusals >= len(m.Replicas(shard)) {
					return reply{}, fmt.Errorf("%w: shard %d is unreachable: every replica refused the connection (last: %v)", httpx.ErrUnavailable, shard, lastErr)
				}
			}
			rt.retries.WithLabelValues(reason).Inc()
			rt.forgetLeader(shard, node.ID)
			next = nextReplica(m, shard, node.ID)
		case err != nil:
			// A write that failed after it was sent is not retried, but the node that
			// did not answer (paused, partitioned) is not asked first next time.
			rt.suspect(m, shard, node.ID)
			if ctx.Err() != nil {
				return reply{}, fmt.Errorf("%w: the client went away: %v", httpx.ErrUnavailable, ctx.Err())
			}
			return reply{}, fmt.Errorf("%w: node %s (%s) failed during the request, which may or may not have been applied: %v", httpx.ErrBadGateway, node.ID, node.API, err)
		case read && rep.status == http.StatusServiceUnavailable:
			// A read changes nothing, and another replica may serve it: this one may have
			// no map yet (it just started) or be closing the shard.
			refusals = 0
			var e httpx.ErrorBody
			_ = json.Unmarshal(rep.body, &e)
			lastErr = fmt.Errorf("node %s answered 503: %s", node.ID, e.Error)
			rt.retries.WithLabelValues("unavailable_read").Inc()
			rt.forgetLeader(shard, node.ID)
			next = nextReplica(m, shard, node.ID)
		case rep.status == http.StatusMisdirectedRequest:
			refusals = 0
			var e httpx.ErrorBody
			_ = json.Unmarshal(rep.body, &e)
			lastErr = fmt.Errorf("node %s: %s", node.ID, e.Error)
			if e.Leader != "" && e.Leader != node.ID && hints < 3 {
				hints++
				rt.retries.WithLabelValues("leader_hint").Inc()
				rt.setLeader(shard, e.Leader)
				target = e.Leader
				continue
			}
			rt.retries.WithLabelValues("no_leader").Inc()
			rt.forgetLeader(shard, node.ID)
			if m.Version < e.MapVersion || attempt == 0 {
				if err := rt.cfg.Source.Reload(ctx, rt.holder); err != nil && !errors.Is(err, shardmap.ErrStale) {
					rt.log.Warn("Shard map reload after 421 failed", "err", err)
				}
			}
			next = nextReplica(m, shard, node.ID)
			if cur := rt.holder.Current(); cur != m {
				next = "" // a new map: start from its view of the shard
			}
		default:
			return rep, nil
		}
		// Go round the replicas at once; pause each time all of them have been tried.
		hints = 0
		if misses++; misses%len(m.Replicas(shard)) == 0 {
			select {
			case <-ctx.Done():
				return reply{}, fmt.Errorf("%w: the client went away: %v", httpx.ErrUnavailable, ctx.Err())
			case <-time.After(pause):
			}
			pause = min(2*pause, 500*time.Millisecond)
		}
		target = next
	}
}

// leaderOf returns the cached leader of shard if the map still has that node, else the
// shard's first replica (the preferred leader the nodes hand leadership to).
func (rt *Router) leaderOf(m *shardmap.Map, shard int) string {
	rt.leadersMu.RLock()
	id, ok := rt.leaders[shard]
	rt.leadersMu.RUnlock()
	if ok {
		if _, inMap := m.Node(id); inMap {
			return id
		}
	}
	return m.Replicas(shard)[0]
}

func (rt *Router) setLeader(shard int, id string) {
	rt.leadersMu.Lock()
	rt.leaders[shard] = id
	rt.leadersMu.Unlock()
}

// forgetLeader drops the cached leader of shard if it is id.
func (rt *Router) forgetLeader(shard int, id string) {
	rt.leadersMu.Lock()
	if rt.leaders[shard] == id {
		delete(rt.leaders, shard)
	}
	rt.leadersMu.Unlock()
}

// suspect makes the next request for shard start at the replica after id if id is the one
// the router would ask first: id did not answer, and asking it again would wait again.
func (rt *Router) suspect(m *shardmap.Map, shard int, id string) {
	if rt.leaderOf(m, shard) == id {
		rt.setLeader(shard, nextReplica(m, shard, id))
	}
}

// nextReplica returns the replica of shard after id in map order (wrapping), or the first
// replica if id is not one.
func nextReplica(m *shardmap.Map, shard int, id string) string {
	rs := m.Replicas(shard)
	i := slices.Index(rs, id)
	return rs[(i+1)%len(rs)]
}

// refused reports whether err says the request never reached the node.
func refused(err error) bool {
	var op *net.OpError
	return errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &op) && op.Op == "dial") || errors.Is(err, wire.ErrNotSent)
}
