package exec

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/shardapi"
	"github.com/torua/torua/graph/value"
)

// Writes: each clause's changes are grouped by shard and sent as one request per shard (in
// batches of batchSize), each applied atomically on its shard; a query's writes as a whole
// are not atomic across shards (docs/graph.md).

// newID is a random vertex or edge id.
func newID() layout.ID {
	for {
		if id := layout.ID(rand.Uint64() & uint64(layout.MaxID)); id != 0 {
			return id
		}
	}
}

// mutation is one change and where its outcome goes.
type mutation struct {
	shard int
	m     shardapi.Mutation
	out   *shardapi.Outcome
}

// apply sends muts, grouped by shard in their order, one round per batch size step.
func (r *run) apply(muts []*mutation) error {
	if len(muts) == 0 {
		return nil
	}
	if err := r.ensureGraph(); err != nil {
		return err
	}
	groups := map[int][]*mutation{}
	for _, m := range muts {
		groups[m.shard] = append(groups[m.shard], m)
	}
	var mu sync.Mutex
	defer func() {
		// A vertex made again with the id of one the query deleted (the same primary key)
		// is readable.
		for _, m := range muts {
			if c := m.m.CreateVertex; c != nil && m.out.Vertex != nil {
				delete(r.deleted, deletedKey{id: uint64(c.ID)})
			}
		}
	}()
	return r.fanout(slices.Collect(maps.Keys(groups)), func(ctx context.Context, shard int) error {
		g := groups[shard]
		for i := 0; i < len(g); i += batchSize {
			part := g[i:min(i+batchSize, len(g))]
			req := &shardapi.WriteRequest{Mutations: make([]shardapi.Mutation, len(part))}
			for j, m := range part {
				req.Mutations[j] = m.m
			}
			res, err := r.x.c.Write(ctx, r.graph, shard, req)
			if err != nil {
				return err
			}
			if len(res.Outcomes) != len(part) {
				return fmt.Errorf("shard %d answered %d outcomes for %d changes", shard, len(res.Outcomes), len(part))
			}
			for j, m := range part {
				*m.out = res.Outcomes[j]
			}
			mu.Lock()
			r.stats.Pending += res.Pending
			mu.Unlock()
		}
		return nil
	})
}

// props evaluates a pattern's or SET's map in a row.
func (r *run) props(e cypher.Expr, s *Scope, row Row) (map[string]any, error) {
	if e == nil {
		return nil, nil
	}
	v, err := r.env.Eval(e, s, row)
	if err != nil {
		return nil, err
	}
	switch m := v.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		for k, x := range m {
			if x == nil {
				continue
			}
			if err := value.CheckProperty(x); err != nil {
				return nil, errorf(e.Position(), "property %s: %v", k, err)
			}
		}
		return m, nil
	case *value.Node:
		return m.Props, nil
	case *value.Relationship:
		return m.Props, nil
	}
	return nil, errorf(e.Position(), "properties must be a map, got %s", value.TypeName(v))
}

// vertexID is the id a new vertex with labels and props gets: its primary key's hash when a
// label declares one, else a random id.
func (r *run) vertexID(pos cypher.Pos, labels []string, props map[string]any) (layout.ID, error) {
	for _, l := range labels {
		if pk, ok := r.cat.PrimaryKeyOf(l); ok {
			v, ok := props[pk]
			if !ok || v == nil {
				return 0, errorf(pos, "a :%s vertex needs its primary key %s", l, pk)
			}
			id, err := layout.PrimaryKeyID(r.graph, l, v)
			if err != nil {
				return 0, errorf(pos, "%v", err)
			}
			return id, nil
		}
	}
	return newID(), nil
}

// create runs CREATE: the new vertices of every row in one round, then the new edges in one
// more.
func (r *run) create(rows []Row, scope *Scope, patterns []*cypher.Pattern) ([]Row, *Scope, error) {
	for _, p := range patterns {
		for _, el := range p.Elements {
			switch el := el.(type) {
			case *cypher.NodePattern:
				// A node bound before, or earlier in this CREATE, is reused as it is.
				if el.Var != "" && scope.Has(el.Var) && (len(el.Labels) > 0 || el.Props != nil) {
					return nil, nil, errorf(el.Pos, "variable %s is already bound: CREATE cannot add labels or properties to it (use SET)", el.Var)
				}
				if el.Var != "" && scope.Has(el.Var) && len(p.Elements) == 1 {
					return nil, nil, errorf(el.Pos, "variable %s is already bound: CREATE (%s) alone would create nothing", el.Var, el.Var)
				}
				if el.Var != "" {
					scope, _ = scope.With(el.Var)
				}
			case *cypher.RelPattern:
				if el.Var != "" && scope.Has(el.Var) {
					return nil, nil, errorf(el.Pos, "variable %s is already bound: CREATE makes new relationships", el.Var)
				}
				if el.Var != "" {
					scope, _ = scope.With(el.Var)
				}
			}
		}
		if p.PathVar != "" {
			scope, _ = scope.With(p.PathVar)
		}
	}
	out := make([]Row, len(rows))
	for i, row := range rows {
		out[i] = row.Extend(scope.Len())
	}
	if err := r.createIn(out, scope, patterns); err != nil {
		return nil, nil, err
	}
	return out, scope, nil
}

// createIn creates patterns in rows (already extended to scope), binding their variables: a
// named node bound in the row is used; the first mention of an unbound one creates it.
func (r *run) createIn(rows []Row, scope *Scope, patterns []*cypher.Pattern) error {
	type nodeAt struct {
		row int
		n   *cypher.NodePattern
	}
	ids := map[nodeAt]layout.ID{} // every node pattern's vertex, per row
	named := make([]map[string]layout.ID, len(rows))
	var verts []*mutation
	var made []nodeAt
	for i, row := range rows {
		named[i] = map[string]layout.ID{}
		for _, p := range patterns {
			for _, n := range p.Nodes() {
				if n.Var != "" {
					if id, done := named[i][n.Var]; done {
						ids[nodeAt{i, n}] = id
						continue
					}
					if col, _ := scope.Index(n.Var); row[col] != nil {
						id, ok := nodeID(row[col])
						if !ok {
							return errorf(n.Pos, "%s is not a node", n.Var)
						}
						named[i][n.Var], ids[nodeAt{i, n}] = id, id
						continue
					}
				}
				props, err := r.props(n.Props, scope, row)
				if err != nil {
					return err
				}
				id, err := r.vertexID(n.Pos, n.Labels, props)
				if err != nil {
					return err
				}
				verts = append(verts, &mutation{shard: r.x.c.ShardOf(r.graph, id), out: &shardapi.Outcome{},
					m: shardapi.Mutation{CreateVertex: &shardapi.CreateVertex{ID: id, Labels: n.Labels, Props: props}}})
				made = append(made, nodeAt{i, n})
				ids[nodeAt{i, n}] = id
				if n.Var != "" {
					named[i][n.Var] = id
					// The patterns after it may read it: CREATE (a {id: 0}), (b {n: a.id}).
					col, _ := scope.Index(n.Var)
					row[col] = &value.Node{ID: uint64(id), Labels: n.Labels, Props: props}
				}
				r.stats.NodesCreated++
				r.stats.LabelsAdded += len(n.Labels)
				r.stats.PropertiesSet += countSet(props)
			}
		}
	}
	if err := r.apply(verts); err != nil {
		return err
	}
	for k, at := range made {
		n, err := r.load(verts[k].out.Vertex)
		if err != nil {
			return err
		}
		if at.n.Var != "" {
			col, _ := scope.Index(at.n.Var)
			rows[at.row][col] = n
		}
	}
	// The edges, on their sources' shards.
	type relAt struct {
		row int
		rel *cypher.RelPattern
	}
	edges := map[relAt]*mutation{}
	var muts []*mutation
	for i, row := range rows {
		for _, p := range patterns {
			nodes, rels := p.Nodes(), p.Rels()
			for j, rel := range rels {
				src, dst := ids[nodeAt{i, nodes[j]}], ids[nodeAt{i, nodes[j+1]}]
				if rel.Dir == cypher.DirIn {
					src, dst = dst, src
				}
				props, err := r.props(rel.Props, scope, row)
				if err != nil {
					return err
				}
				m := &mutation{shard: r.x.c.ShardOf(r.graph, src), out: &shardapi.Outcome{},
					m: shardapi.Mutation{CreateEdge: &shardapi.CreateEdge{ID: newID(), Src: src, Dst: dst, Type: rel.Types[0],
						Props: props, DstIncarnation: r.inc[dst]}}}
				muts = append(muts, m)
				if rel.Var != "" {
					col, _ := scope.Index(rel.Var)
					row[col] = &value.Relationship{ID: uint64(m.m.CreateEdge.ID), Type: rel.Types[0],
						Start: uint64(src), End: uint64(dst), Props: props}
				}
				edges[relAt{i, rel}] = m
				r.stats.RelationshipsCreated++
				r.stats.PropertiesSet += countSet(props)
			}
		}
	}
	if err := r.apply(muts); err != nil {
		return err
	}
	for at, m := range edges {
		rel, err := r.rel(m.out.Half)
		if err != nil {
			return err
		}
		if at.rel.Var != "" {
			col, _ := scope.Index(at.rel.Var)
			rows[at.row][col] = rel
		}
	}
	for _, p := range patterns {
		if p.PathVar == "" {
			continue
		}
		col, _ := scope.Index(p.PathVar)
		nodes, rels := p.Nodes(), p.Rels()
		for i := range rows {
			path := &value.Path{Nodes: []*value.Node{r.ref(ids[nodeAt{i, nodes[0]}])}}
			for j, rel := range rels {
				path.Rels = append(path.Rels, r.rels[edges[relAt{i, rel}].out.Half.Edge])
				path.Nodes = append(path.Nodes, r.ref(ids[nodeAt{i, nodes[j+1]}]))
			}
			rows[i][col] = path
		}
	}
	return nil
}

func countSet(props map[string]any) int {
	n := 0
	for _, v := range props {
		if v != nil {
			n++
		}
	}
	return n
}
