package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/shardapi"
	"github.com/torua/torua/node/engine"
)

// Loader is a shard's replica as a bulk load writes it: the node's replication.Group.
type Loader interface {
	Read(ctx context.Context, stale bool, fn func(v *engine.View) error) error
	// Load replicates a sorted run of new keys as one log entry, ingested by every replica.
	Load(ctx context.Context, pairs []engine.Pair) (engine.Result, error)
}

// ErrNotLoading refuses a bulk load's keys for a graph whose catalog copy on the shard says no
// load is running: a load never writes into a graph that takes queries.
var ErrNotLoading = errors.New("no bulk load of the graph is running")

// Load writes a part of a bulk load of graph (shardapi.LoadRequest) to the shard, as one Raft
// entry whose keys every replica ingests as one table. The keys must be graph's data keys
// (layout.Loadable), sorted, strictly ascending, and the shard's catalog copy must say that a
// load is running (Catalog.Loading). It returns the last revision the keys took.
//
// The keys are written as they are: what they replace is not read (a load is into an empty
// graph, which its catalog keeps from every other write until the load ends).
func Load(ctx context.Context, sh Loader, graph string, pairs []shardapi.Pair) (uint64, error) {
	if len(pairs) == 0 {
		return 0, fmt.Errorf("%w: a load of no keys", ErrSemantic)
	}
	out := make([]engine.Pair, len(pairs))
	for i, p := range pairs {
		if !layout.Loadable(graph, p.Key) {
			return 0, fmt.Errorf("%w: key %d (%q) is not a key of graph %q that a load writes", ErrSemantic, i, p.Key, graph)
		}
		if i > 0 && bytes.Compare(pairs[i-1].Key, p.Key) >= 0 {
			return 0, fmt.Errorf("%w: key %d (%q) does not sort after the one before it", ErrSemantic, i, p.Key)
		}
		out[i] = engine.Pair{Key: p.Key, Value: p.Value}
	}
	var cat *shardapi.Catalog
	err := sh.Read(ctx, false, func(v *engine.View) error {
		var err error
		cat, _, err = ReadCatalog(v, graph)
		return err
	})
	if err != nil {
		return 0, err
	}
	if cat.Loading == 0 {
		return 0, fmt.Errorf("%w: graph %q", ErrNotLoading, graph)
	}
	res, err := sh.Load(ctx, out)
	if err != nil {
		return 0, err
	}
	return res.Revision, nil
}
