package exec

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/shardapi"
)

// catalogTTL is how long a read-only query may use a cached catalog: a stale one only means a
// new index or primary key is not used yet. A query that writes reads the catalog afresh: the
// nodes refuse a write computed from an older one.
const catalogTTL = 2 * time.Second

type cachedCatalog struct {
	cat *shardapi.Catalog
	at  time.Time
}

// catalog returns graph's catalog: shard 0's copy, which every catalog change reaches first
// (changes go to shard 0, then to the others), so it is the newest.
func (x *Executor) catalog(ctx context.Context, graph string, fresh bool) (*shardapi.Catalog, error) {
	x.mu.Lock()
	c, ok := x.catalogs[graph]
	x.mu.Unlock()
	if ok && !fresh && time.Since(c.at) < catalogTTL {
		return c.cat, nil
	}
	res, err := x.c.Read(ctx, graph, 0, &shardapi.ReadRequest{Catalog: true})
	if err != nil {
		return nil, fmt.Errorf("read the catalog of graph %q: %w", graph, err)
	}
	cat := res.Catalog
	if cat == nil {
		cat = &shardapi.Catalog{}
	}
	x.mu.Lock()
	x.catalogs[graph] = cachedCatalog{cat: cat, at: time.Now()}
	x.mu.Unlock()
	return cat, nil
}

func (x *Executor) forget(graph string) {
	x.mu.Lock()
	delete(x.catalogs, graph)
	x.mu.Unlock()
}

// ensureGraph gives every shard a catalog copy of graph (an empty one at version 1 for a new
// graph): a graph exists, and is listed, from its first write.
func (r *run) ensureGraph() error {
	if r.cat.Version > 0 {
		return nil
	}
	if err := r.setCatalog(&shardapi.Catalog{Version: 1}); err != nil {
		return err
	}
	r.cat = &shardapi.Catalog{Version: 1}
	return nil
}

// setCatalog writes c to shard 0, then to every other shard.
func (r *run) setCatalog(c *shardapi.Catalog) error {
	err := r.fanout([]int{0}, func(ctx context.Context, s int) error {
		_, err := r.x.c.SetCatalog(ctx, r.graph, s, c)
		return err
	})
	if err == nil {
		err = r.fanout(r.allShards()[1:], func(ctx context.Context, s int) error {
			_, err := r.x.c.SetCatalog(ctx, r.graph, s, c)
			return err
		})
	}
	r.x.forget(r.graph)
	return err
}

// schema runs a schema command. Changes are serialized per executor; two routers changing
// one graph's schema at once may overwrite each other's change (the version decides): change
// a graph's schema from one client at a time.
func (r *run) schema(s *cypher.Schema) (*Result, error) {
	if s.Kind == cypher.ShowIndexes || s.Kind == cypher.ShowConstraints {
		cat, err := r.x.catalog(r.ctx, r.graph, true)
		if err != nil {
			return nil, err
		}
		return showSchema(s.Kind, cat), nil
	}
	schemaMu.Lock()
	defer schemaMu.Unlock()
	cat, err := r.x.catalog(r.ctx, r.graph, true)
	if err != nil {
		return nil, err
	}
	r.cat = cat
	next := *cat
	next.Version = max(cat.Version, 1) + 1
	next.PrimaryKeys = slices.Clone(cat.PrimaryKeys)
	next.Indexes = slices.Clone(cat.Indexes)
	res := &Result{Columns: []string{}, Rows: []Row{}}
	switch s.Kind {
	case cypher.CreateConstraint:
		if p, ok := cat.PrimaryKeyOf(s.Label); ok {
			if p == s.Property {
				return res, nil // declared already
			}
			return nil, errorf(s.Pos, "label :%s already has the primary key %s; drop it first", s.Label, p)
		}
		if err := r.noVerticesWith(s.Label); err != nil {
			return nil, errorf(s.Pos, "%v", err)
		}
		name := s.Name
		if name == "" {
			name = fmt.Sprintf("pk_%s_%s", s.Label, s.Property)
		}
		next.PrimaryKeys = append(next.PrimaryKeys, shardapi.PrimaryKey{Name: name, Label: s.Label, Property: s.Property})
		res.Stats.ConstraintsAdded = 1
	case cypher.DropConstraint:
		i := slices.IndexFunc(next.PrimaryKeys, func(p shardapi.PrimaryKey) bool { return p.Name == s.Name })
		if i < 0 {
			if s.IfExists {
				return res, nil
			}
			return nil, errorf(s.Pos, "no constraint named %s", s.Name)
		}
		if err := r.noVerticesWith(next.PrimaryKeys[i].Label); err != nil {
			return nil, errorf(s.Pos, "%v", err)
		}
		next.PrimaryKeys = slices.Delete(next.PrimaryKeys, i, i+1)
		res.Stats.ConstraintsRemoved = 1
	case cypher.CreateIndex:
		if x, ok := cat.IndexOn(s.Label, s.Property); ok {
			if x.State == shardapi.IndexReady {
				return res, nil
			}
			// A build that did not finish: build it again.
		} else {
			name := s.Name
			if name == "" {
				name = fmt.Sprintf("index_%s_%s", s.Label, s.Property)
			}
			next.Indexes = append(next.Indexes, shardapi.Index{Name: name, Label: s.Label, Property: s.Property, State: shardapi.IndexBuilding})
		}
		if err := r.buildIndex(&next, s.Label, s.Property); err != nil {
			return nil, err
		}
		res.Stats.IndexesAdded = 1
		return res, nil
	case cypher.DropIndex:
		i := slices.IndexFunc(next.Indexes, func(x shardapi.Index) bool {
			return x.Name == s.Name || s.Name == "" && x.Label == s.Label && x.Property == s.Property
		})
		if i < 0 {
			if s.IfExists {
				return res, nil
			}
			return nil, errorf(s.Pos, "no index named %s", s.String())
		}
		next.Indexes = slices.Delete(next.Indexes, i, i+1)
		res.Stats.IndexesRemoved = 1
		// NB: the dropped index's entries stay until the graph is dropped; a new index on the
		// same label and property rebuilds them.
	}
	if err := r.setCatalog(&next); err != nil {
		return nil, err
	}
	return res, nil
}

// Columns of SHOW INDEXES and SHOW CONSTRAINTS, named as Neo4j names them.
var (
	indexColumns      = []string{"name", "state", "type", "entityType", "labelsOrTypes", "properties", "owningConstraint"}
	constraintColumns = []string{"name", "type", "entityType", "labelsOrTypes", "properties"}
)

// showSchema lists cat's indexes (kind ShowIndexes) or constraints, by name. A primary key is
// both: a constraint (NODE_KEY: every vertex of the label has the property, and no two the same
// value) and the index that finds a vertex by it (one read on one shard). A secondary index is
// POPULATING while it is built, then ONLINE.
func showSchema(kind cypher.SchemaKind, cat *shardapi.Catalog) *Result {
	res := &Result{Columns: constraintColumns, Rows: []Row{}}
	if kind == cypher.ShowIndexes {
		res.Columns = indexColumns
		for _, x := range cat.Indexes {
			state := "ONLINE"
			if x.State != shardapi.IndexReady {
				state = "POPULATING"
			}
			res.Rows = append(res.Rows, Row{x.Name, state, "RANGE", "NODE", []any{x.Label}, []any{x.Property}, nil})
		}
	}
	for _, pk := range cat.PrimaryKeys {
		if kind == cypher.ShowIndexes {
			res.Rows = append(res.Rows, Row{pk.Name, "ONLINE", "PRIMARY KEY", "NODE", []any{pk.Label}, []any{pk.Property}, pk.Name})
		} else {
			res.Rows = append(res.Rows, Row{pk.Name, "NODE_KEY", "NODE", []any{pk.Label}, []any{pk.Property}})
		}
	}
	slices.SortFunc(res.Rows, func(a, b Row) int { return strings.Compare(a[0].(string), b[0].(string)) })
	return res
}

// schemaMu serializes schema changes made through this process.
var schemaMu sync.Mutex

// buildIndex publishes next (with the index building) to every shard, backfills the index on
// every shard, and publishes it ready.
func (r *run) buildIndex(next *shardapi.Catalog, label, prop string) error {
	if err := r.setCatalog(next); err != nil {
		return err
	}
	err := r.fanout(r.allShards(), func(ctx context.Context, s int) error {
		after := layout.ID(0)
		for {
			var err error
			if after, err = r.x.c.Backfill(ctx, r.graph, s, label, prop, after); err != nil || after == 0 {
				return err
			}
		}
	})
	if err != nil {
		return fmt.Errorf("build index on :%s(%s): %w (run CREATE INDEX again to finish it)", label, prop, err)
	}
	ready := *next
	ready.Version++
	ready.Indexes = slices.Clone(next.Indexes)
	for i := range ready.Indexes {
		if ready.Indexes[i].Label == label && ready.Indexes[i].Property == prop {
			ready.Indexes[i].State = shardapi.IndexReady
		}
	}
	return r.setCatalog(&ready)
}

// noVerticesWith fails if any vertex has label: a primary key decides a vertex's id, so it
// must be declared before the label's first vertex (and dropped after its last).
func (r *run) noVerticesWith(label string) error {
	found := false
	err := r.fanout(r.allShards(), func(ctx context.Context, s int) error {
		res, err := r.x.c.Read(ctx, r.graph, s, &shardapi.ReadRequest{Scan: &shardapi.ScanRequest{Label: label, Limit: 1}})
		if err == nil && len(res.Scanned) > 0 {
			found = true
		}
		return err
	})
	if err == nil && found {
		err = fmt.Errorf("vertices with the label :%s exist: a primary key must be declared before the label's first vertex and dropped after its last", label)
	}
	return err
}

// Graphs lists the graphs of the cluster.
func (x *Executor) Graphs(ctx context.Context) ([]string, error) {
	return x.c.Graphs(ctx, 0)
}

// Drop deletes graph on every shard. It reports false when the graph did not exist.
func (x *Executor) Drop(ctx context.Context, graph string) (bool, error) {
	if err := layout.CheckGraphName(graph); err != nil {
		return false, &QueryError{Msg: err.Error()}
	}
	cat, err := x.catalog(ctx, graph, true)
	if err != nil || cat.Version == 0 {
		return false, err
	}
	r := x.newRun(ctx, graph, nil)
	err = r.fanout(r.allShards(), func(ctx context.Context, s int) error {
		for {
			res, err := x.c.Drop(ctx, graph, s)
			if err != nil || !res.More {
				return err
			}
		}
	})
	x.forget(graph)
	return err == nil, err
}
