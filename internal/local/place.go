package local

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/torua/torua/shardmap"
)

const (
	// readyTimeout bounds the wait for the nodes to open the shards of a new map, and for
	// the router to answer /readyz.
	readyTimeout = 30 * time.Second
	// placeTimeout bounds the wait for replicas to move (a large shard takes a while).
	placeTimeout = 10 * time.Minute
)

// Drain moves every replica off the nodes ids, then drops them from the map, stops them and
// deletes their data. The nodes that stay must be at least the replication factor.
func (c *Cluster) Drain(ctx context.Context, ids ...string) error {
	var draining []*member
	for _, id := range ids {
		i := slices.IndexFunc(c.members, func(mb *member) bool { return mb != nil && mb.entry.ID == id })
		if i < 0 {
			return fmt.Errorf("drain %s: no such node", id)
		}
		draining = append(draining, c.members[i])
	}
	for _, mb := range draining {
		mb.entry.State = shardmap.NodeDraining
	}
	m, err := c.writeMap(c.m, c.entries())
	if err != nil {
		for _, mb := range draining {
			mb.entry.State = shardmap.NodeActive
		}
		return err
	}
	if err := c.settle(ctx, m); err != nil {
		return err
	}
	return c.remove(ids)
}

// writeMap places the shards over members and writes the map if it changed.
func (c *Cluster) writeMap(prev *shardmap.Map, members []shardmap.Node) (*shardmap.Map, error) {
	m, err := shardmap.Place(prev, members, c.place)
	if err == nil && m != prev {
		err = shardmap.WriteFile(c.mapPath, m)
	}
	if err != nil {
		return nil, fmt.Errorf("shard map: %w", err)
	}
	c.m = m
	fmt.Fprintf(c.out, "  shard map version %d: %d shards over %d nodes, replication factor %d\n", m.Version, m.Shards, len(m.Nodes), m.ReplicationFactor)
	return m, nil
}

// settle waits until every running node has opened the shards of m, then until every shard
// is in place.
func (c *Cluster) settle(ctx context.Context, m *shardmap.Map) error {
	fmt.Fprintf(c.out, "  waiting for the nodes to open their shards ... ")
	if err := c.waitReady(ctx, m.Version, readyTimeout); err != nil {
		fmt.Fprintln(c.out, "failed")
		return err
	}
	fmt.Fprintln(c.out, "ready")
	return c.waitPlaced(ctx, m, placeTimeout)
}

// remove drops the nodes ids, which hold no replica any more, from the map, then stops them
// (highest index first) and deletes their data.
func (c *Cluster) remove(ids []string) error {
	var keep []shardmap.Node
	for _, e := range c.entries() {
		if !slices.Contains(ids, e.ID) {
			keep = append(keep, e)
		}
	}
	if _, err := c.writeMap(c.m, keep); err != nil {
		return err
	}
	for i := len(c.members) - 1; i >= 0; i-- {
		mb := c.members[i]
		if mb == nil || !slices.Contains(ids, mb.entry.ID) {
			continue
		}
		id := mb.entry.ID
		ctx, cancel := context.WithTimeout(context.Background(), stopGrace)
		err := mb.node.Shutdown(ctx)
		cancel()
		c.members[i] = nil
		if err != nil {
			return fmt.Errorf("stop drained %s: %w", id, err)
		}
		if err := os.RemoveAll(filepath.Join(c.cfg.DataDir, id)); err != nil {
			return fmt.Errorf("remove drained %s: %w", id, err)
		}
		fmt.Fprintf(c.out, "  %s drained, stopped and removed\n", id)
	}
	return nil
}

// waitReady polls the running nodes until each has opened the shards of map version v.
func (c *Cluster) waitReady(ctx context.Context, v uint64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, mb := range c.running() {
		for {
			st := mb.node.Status()
			if st.Ready && st.MapVersion >= v {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("node %s not ready after %s (map version %d)", st.Node, timeout, st.MapVersion)
			}
			if err := pause(ctx, 10*time.Millisecond); err != nil {
				return err
			}
		}
	}
	return nil
}

// waitPlaced waits until every shard of m is in place (shardmap.ShardProgress.InPlace),
// printing the progress while replicas move.
func (c *Cluster) waitPlaced(ctx context.Context, m *shardmap.Map, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := -1
	start := time.Now()
	for {
		pending := c.progress(m).NotInPlace()
		if pending == 0 {
			if last > 0 {
				fmt.Fprintf(c.out, "  every replica is in place (%s)\n", time.Since(start).Round(time.Millisecond))
			}
			return nil
		}
		if pending != last {
			fmt.Fprintf(c.out, "  waiting for leaders and replica moves: %d of %d shards not in place yet\n", pending, m.Shards)
			last = pending
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d shards not in place after %s (see the log)", pending, timeout)
		}
		if err := pause(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// progress reads the running nodes' statuses against m.
func (c *Cluster) progress(m *shardmap.Map) *shardmap.Progress {
	statuses := map[string]*shardmap.NodeStatus{}
	for _, mb := range c.running() {
		st := mb.node.Status()
		statuses[mb.entry.ID] = &st
	}
	return shardmap.NewProgress(m, statuses)
}

// waitURL polls url until it answers 200.
func waitURL(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s", url, timeout)
		}
		if err := pause(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
}

// pause waits for d, or returns ctx's error if it ends first.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
