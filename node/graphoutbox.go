package node

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/shardapi"
	"github.com/torua/torua/graph/store"
	"github.com/torua/torua/internal/nodeapi"
	"github.com/torua/torua/node/engine"
	"github.com/torua/torua/shardmap"
)

// Outbox delivery (docs/graph.md, "Writes and their guarantees"): an edge whose ends are on
// two shards is written as its local half plus an outbox record; the node that wrote it
// delivers the record to the other half's shard at once (graphWrite), and the leader of every
// shard sweeps its records again every sweepInterval, so that a record outlives any crash
// until it is delivered. The sweep also removes the tombstones of deleted halves once they
// are older than store.TombstoneTTL.

const (
	// sweepInterval is how often a leader looks for outbox records to deliver.
	sweepInterval = time.Second
	// sweepAge is how old a record must be for the sweep to deliver it: younger ones are being
	// delivered by the write that made them.
	sweepAge = 2 * time.Second
	// collectEvery is how many sweeps pass between two removals of old tombstones.
	collectEvery = 30
	// sweepBatch bounds the records one sweep of one graph on one shard delivers.
	sweepBatch = 256
	// deliverTimeout bounds one delivery, retries over the replicas included.
	deliverTimeout = 5 * time.Second
)

// deliverBatch bounds the records of one Apply request.
const deliverBatch = 1000

// deliver applies outbox records recs (held on shard, through rep) to the shards of their
// other halves, one request per shard and batch, in parallel, then settles the delivered
// ones and the stale ones (no longer current: store.CurrentOutbox) on rep in one
// transaction: deleting them, or undoing the local halves whose other vertex is gone. It
// returns how many were not delivered, and the first error.
func (n *Node) deliver(ctx context.Context, rep Replica, shard int, graph string, recs, stale []*shardapi.Outbox) (int, error) {
	if len(recs)+len(stale) == 0 {
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(ctx, deliverTimeout)
	defer cancel()
	m := n.holder.Current()
	if m == nil {
		return len(recs), errors.New("no shard map yet")
	}
	groups := map[int][]*shardapi.Outbox{}
	for _, o := range recs {
		t := m.ShardFor(layout.VertexKey(graph, o.Remote.Vertex))
		groups[t] = append(groups[t], o)
	}
	type done struct {
		recs []*shardapi.Outbox
		res  []shardapi.ApplyResult
		err  error
	}
	out := make(chan done)
	calls := 0
	for target, g := range groups {
		for i := 0; i < len(g); i += deliverBatch {
			part := g[i:min(i+deliverBatch, len(g))]
			calls++
			go func() {
				res, err := n.applyRemote(ctx, graph, target, part)
				out <- done{part, res, err}
			}()
		}
	}
	delivered := slices.Clone(stale)
	results := make([]shardapi.ApplyResult, len(stale))
	var firstErr error
	for range calls {
		d := <-out
		if d.err != nil {
			firstErr = cmp.Or(firstErr, d.err)
			continue
		}
		delivered = append(delivered, d.recs...)
		results = append(results, d.res...)
	}
	if len(delivered) > 0 {
		if err := n.graph.Settle(ctx, rep, shard, graph, delivered, results); err != nil {
			return len(recs) + len(stale), err
		}
	}
	return len(recs) + len(stale) - len(delivered), firstErr
}

// applyRemote sends records, all of shard target, to its leader: on this node when this node
// leads it, else over the graph API, trying each replica and following leader hints.
func (n *Node) applyRemote(ctx context.Context, graph string, target int, recs []*shardapi.Outbox) ([]shardapi.ApplyResult, error) {
	h := n.hosting.Load()
	if h.m == nil {
		return nil, errors.New("no shard map yet")
	}
	expires := time.Now().Add(store.RequestTTL)
	if rep, ok := h.replicas[target]; ok && rep.Status().Role == shardmap.RoleLeader {
		res, err := n.graph.Apply(ctx, rep, target, graph, recs, expires)
		if err == nil {
			return res, nil
		}
		n.log.Debug("Local outbox delivery failed; trying the shard's replicas", "shard", target, "err", err)
	}
	req := &shardapi.ApplyRequest{Outboxes: recs, Expires: expires}
	var lastErr error
	tried := map[string]bool{}
	queue := append([]string(nil), h.m.Replicas(target)...)
	for len(queue) > 0 && ctx.Err() == nil {
		id := queue[0]
		queue = queue[1:]
		if tried[id] {
			continue
		}
		tried[id] = true
		node, ok := h.m.Node(id)
		if !ok {
			continue
		}
		res, err := n.graphPeers.Apply(ctx, node.API, graph, target, req)
		if err == nil {
			return res.Results, nil
		}
		lastErr = err
		var ae *nodeapi.Error
		if errors.As(err, &ae) && ae.Body.Leader != "" && !tried[ae.Body.Leader] {
			queue = append([]string{ae.Body.Leader}, queue...)
		}
	}
	if lastErr == nil {
		lastErr = ctx.Err()
	}
	return nil, fmt.Errorf("deliver %d outbox records to shard %d: %w", len(recs), target, lastErr)
}

// sweepOutboxes delivers, every sweepInterval, the outbox records of the shards this node
// leads that are older than sweepAge, until ctx ends.
func (n *Node) sweepOutboxes(ctx context.Context) {
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for sweep := 1; ; sweep++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h := n.hosting.Load()
		for shard, rep := range h.replicas {
			if rep.Status().Role != shardmap.RoleLeader {
				continue
			}
			if err := n.sweepShard(ctx, rep, shard, sweep%collectEvery == 0); err != nil && ctx.Err() == nil {
				n.log.Warn("Outbox sweep failed", "shard", shard, "err", err)
			}
		}
	}
}

func (n *Node) sweepShard(ctx context.Context, rep Replica, shard int, collect bool) error {
	type pending struct {
		graph       string
		recs, stale []*shardapi.Outbox
	}
	var work []pending
	var graphs []string
	err := rep.Read(ctx, true, func(v *engine.View) error {
		var err error
		if graphs, err = store.Graphs(v, false); err != nil {
			return err
		}
		for _, g := range graphs {
			recs, err := store.PendingOutbox(v, g, sweepBatch)
			if err != nil {
				return err
			}
			p := pending{graph: g}
			for _, o := range recs {
				current, err := store.CurrentOutbox(v, g, o)
				if err != nil {
					return err
				}
				if current {
					p.recs = append(p.recs, o)
				} else {
					p.stale = append(p.stale, o)
				}
			}
			if len(recs) > 0 {
				work = append(work, p)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	cutoff := time.Now().Add(-sweepAge).UnixNano()
	var errs []error
	for _, p := range work {
		young := func(o *shardapi.Outbox) bool { return o.Created > cutoff }
		old, stale := slices.DeleteFunc(p.recs, young), slices.DeleteFunc(p.stale, young)
		if left, err := n.deliver(ctx, rep, shard, p.graph, old, stale); err != nil {
			errs = append(errs, fmt.Errorf("graph %s: %d records left: %w", p.graph, left, err))
		}
	}
	for _, g := range graphs {
		if !collect {
			break
		}
		if _, err := n.graph.CollectTombstones(ctx, rep, shard, g, sweepBatch); err != nil {
			errs = append(errs, fmt.Errorf("graph %s: remove old tombstones: %w", g, err))
		}
	}
	return errors.Join(errs...)
}
