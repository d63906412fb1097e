package node

import (
	"context"
	"errors"
	"fmt"
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
// until it is delivered.

const (
	// sweepInterval is how often a leader looks for outbox records to deliver.
	sweepInterval = time.Second
	// sweepAge is how old a record must be for the sweep to deliver it: younger ones are being
	// delivered by the write that made them.
	sweepAge = 2 * time.Second
	// sweepBatch bounds the records one sweep of one graph on one shard delivers.
	sweepBatch = 256
	// deliverTimeout bounds one delivery, retries over the replicas included.
	deliverTimeout = 5 * time.Second
)

// deliver applies outbox record o (held on shard, through rep) to the shard of its other
// half, then settles it on rep: deleting it, or undoing the local half when the other vertex
// is gone.
func (n *Node) deliver(ctx context.Context, rep Replica, shard int, graph string, o *shardapi.Outbox) error {
	ctx, cancel := context.WithTimeout(ctx, deliverTimeout)
	defer cancel()
	res, err := n.applyRemote(ctx, graph, o)
	if err != nil {
		return err
	}
	return n.graph.Settle(ctx, rep, shard, graph, o, *res)
}

// applyRemote sends o to the leader of its half's shard: on this node when this node leads
// it, else over the graph API, trying each replica and following leader hints.
func (n *Node) applyRemote(ctx context.Context, graph string, o *shardapi.Outbox) (*shardapi.ApplyResult, error) {
	h := n.hosting.Load()
	if h.m == nil {
		return nil, errors.New("no shard map yet")
	}
	target := h.m.ShardFor(layout.VertexKey(graph, o.Remote.Vertex))
	expires := time.Now().Add(store.RequestTTL)
	if rep, ok := h.replicas[target]; ok && rep.Status().Role == shardmap.RoleLeader {
		res, err := n.graph.Apply(ctx, rep, target, graph, o, expires)
		if err == nil {
			return &res, nil
		}
		n.log.Debug("Local outbox delivery failed; trying the shard's replicas", "shard", target, "err", err)
	}
	req := &shardapi.ApplyRequest{Outbox: o, Expires: expires}
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
			return res, nil
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
	return nil, fmt.Errorf("deliver edge %d to shard %d: %w", o.Remote.Edge, target, lastErr)
}

// sweepOutboxes delivers, every sweepInterval, the outbox records of the shards this node
// leads that are older than sweepAge, until ctx ends.
func (n *Node) sweepOutboxes(ctx context.Context) {
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
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
			if err := n.sweepShard(ctx, rep, shard); err != nil && ctx.Err() == nil {
				n.log.Warn("Outbox sweep failed", "shard", shard, "err", err)
			}
		}
	}
}

func (n *Node) sweepShard(ctx context.Context, rep Replica, shard int) error {
	type pending struct {
		graph string
		recs  []*shardapi.Outbox
	}
	var work []pending
	err := rep.Read(ctx, true, func(v *engine.View) error {
		graphs, err := store.Graphs(v, false)
		if err != nil {
			return err
		}
		for _, g := range graphs {
			recs, err := store.PendingOutbox(v, g, sweepBatch)
			if err != nil {
				return err
			}
			if len(recs) > 0 {
				work = append(work, pending{g, recs})
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
		for _, o := range p.recs {
			if o.Created > cutoff {
				continue
			}
			if err := n.deliver(ctx, rep, shard, p.graph, o); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d of the outbox records were not delivered (first: %w)", len(errs), errs[0])
	}
	return nil
}
