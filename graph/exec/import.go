package exec

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/cespare/xxhash/v2"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/shardapi"
)

// Bulk load: vertices identified by their label's primary key and edges between them, written
// with one request per shard per batch. An import is idempotent: a vertex's id is its key's
// hash and an edge's id the hash of its ends, type and rank, so a re-run finds every vertex
// and edge it made (and changes none: use SET to change properties).

// ImportBatch is one batch of an import.
type ImportBatch struct {
	// Keys names each label's primary-key property; a label without one gets it declared
	// (which needs the label to have no vertices yet).
	Keys     map[string]string `json:"keys,omitempty"`
	Vertices []ImportVertex    `json:"vertices,omitempty"`
	Edges    []ImportEdge      `json:"edges,omitempty"`
}

// ImportVertex is a vertex to load: one of its labels declares a primary key, which its
// properties hold.
type ImportVertex struct {
	Labels []string       `json:"labels"`
	Props  map[string]any `json:"properties,omitempty"`
}

// VertexRef names a vertex by its label and primary-key value.
type VertexRef struct {
	Label string `json:"label"`
	Key   any    `json:"key"`
}

// ImportEdge is an edge to load. Rank tells apart several edges of one type between the same
// two vertices (0 by default).
type ImportEdge struct {
	Type  string         `json:"type"`
	From  VertexRef      `json:"from"`
	To    VertexRef      `json:"to"`
	Rank  int64          `json:"rank,omitempty"`
	Props map[string]any `json:"properties,omitempty"`
}

// ImportResult counts what a batch did: created, and found already there (a re-run).
type ImportResult struct {
	Vertices      int   `json:"vertices"`
	Edges         int   `json:"edges"`
	VerticesFound int   `json:"verticesFound,omitempty"`
	EdgesFound    int   `json:"edgesFound,omitempty"`
	Pending       int   `json:"pending,omitempty"`
	Rounds        int64 `json:"rounds"`
}

// EdgeID is the id an import gives the edge of type typ from src to dst with rank.
func EdgeID(graph string, src, dst layout.ID, typ string, rank int64) layout.ID {
	b := make([]byte, 0, len(graph)+len(typ)+26)
	b = append(b, graph...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(src))
	b = binary.BigEndian.AppendUint64(b, uint64(dst))
	b = binary.BigEndian.AppendUint64(b, uint64(rank))
	b = append(b, typ...)
	id := layout.ID(xxhash.Sum64(b) & uint64(layout.MaxID))
	if id == 0 {
		id = 1
	}
	return id
}

// Import loads one batch into graph: its vertices in one round, then its edges in another.
func (x *Executor) Import(ctx context.Context, graph string, b *ImportBatch) (*ImportResult, error) {
	if err := layout.CheckGraphName(graph); err != nil {
		return nil, &QueryError{Msg: err.Error()}
	}
	ctx, cancel := context.WithTimeoutCause(ctx, x.cfg.Timeout, fmt.Errorf("%w of %s", ErrTimeLimit, x.cfg.Timeout))
	defer cancel()
	r := x.newRun(ctx, graph, nil)
	var err error
	if r.cat, err = x.catalog(ctx, graph, true); err != nil {
		return nil, err
	}
	if err := r.declareKeys(b.Keys); err != nil {
		return nil, err
	}
	if err := r.ensureGraph(); err != nil {
		return nil, err
	}
	refID := func(ref VertexRef) (layout.ID, error) {
		if _, ok := r.cat.PrimaryKeyOf(ref.Label); !ok {
			return 0, &QueryError{Msg: fmt.Sprintf("label :%s has no primary key: name it in keys", ref.Label)}
		}
		id, err := layout.PrimaryKeyID(graph, ref.Label, ref.Key)
		if err != nil {
			return 0, &QueryError{Msg: err.Error()}
		}
		return id, nil
	}
	verts := make([]*mutation, 0, len(b.Vertices))
	for i, v := range b.Vertices {
		id, err := r.vertexID(cypher.Pos{}, v.Labels, v.Props)
		if err == nil && !r.keyed(v.Labels) {
			err = fmt.Errorf("none of its labels %v has a primary key: name one in keys", v.Labels)
		}
		if err != nil {
			return nil, &QueryError{Msg: fmt.Sprintf("vertex %d of the batch: %v", i, err)}
		}
		verts = append(verts, &mutation{shard: x.c.ShardOf(graph, id), out: &shardapi.Outcome{},
			m: shardapi.Mutation{CreateVertex: &shardapi.CreateVertex{ID: id, Labels: v.Labels, Props: v.Props, Merge: true}}})
	}
	edges := make([]*mutation, 0, len(b.Edges))
	for i, e := range b.Edges {
		src, err := refID(e.From)
		if err == nil {
			var dst layout.ID
			if dst, err = refID(e.To); err == nil {
				edges = append(edges, &mutation{shard: x.c.ShardOf(graph, src), out: &shardapi.Outcome{},
					m: shardapi.Mutation{CreateEdge: &shardapi.CreateEdge{ID: EdgeID(graph, src, dst, e.Type, e.Rank),
						Src: src, Dst: dst, Type: e.Type, Props: e.Props}}})
			}
		}
		if err != nil {
			return nil, fmt.Errorf("edge %d of the batch: %w", i, err)
		}
	}
	res := &ImportResult{}
	if err := r.apply(verts); err != nil {
		return nil, err
	}
	for _, m := range verts {
		if m.out.Found {
			res.VerticesFound++
		} else {
			res.Vertices++
		}
	}
	if err := r.apply(edges); err != nil {
		return nil, err
	}
	for _, m := range edges {
		if m.out.Found {
			res.EdgesFound++
		} else {
			res.Edges++
		}
	}
	res.Pending = r.stats.Pending
	res.Rounds = r.rounds.Load()
	return res, nil
}

// keyed reports whether one of labels declares a primary key.
func (r *run) keyed(labels []string) bool {
	for _, l := range labels {
		if _, ok := r.cat.PrimaryKeyOf(l); ok {
			return true
		}
	}
	return false
}
