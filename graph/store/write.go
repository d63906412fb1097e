package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/shardapi"
	"github.com/torua/torua/internal/kv"
	"github.com/torua/torua/node/engine"
)

// Shard is one shard's replica as the store writes it: the node's replication.Group.
type Shard interface {
	// Read calls fn with a consistent view of the shard, linearizable unless stale.
	Read(ctx context.Context, stale bool, fn func(v *engine.View) error) error
	// Txn applies ops all or nothing in one Raft entry (see engine.Op's OpCheck and the
	// atomic results).
	Txn(ctx context.Context, ops []engine.Op) ([]engine.Result, error)
}

// maxAttempts bounds how often a write is recomputed after concurrent writes changed what it
// read.
const maxAttempts = 16

// WriteResult is the outcome of a Write.
type WriteResult struct {
	Outcomes []shardapi.Outcome
	// Outbox are the outbox records the write made: the caller delivers them (Deliver) at
	// once, so that a query's answer finds both halves of its edges in the common case.
	Outbox []*shardapi.Outbox
}

// Store runs graph writes against shards. Its zero value is not usable: use New.
type Store struct {
	// local reports whether a vertex id is placed on the given shard.
	local func(graph string, shard int, id layout.ID) bool
	now   func() time.Time
	rand  func() uint64
}

// New returns a Store; local reports whether vertex id of graph is placed on shard (under the
// node's shard map).
func New(local func(graph string, shard int, id layout.ID) bool) *Store {
	return &Store{local: local, now: time.Now, rand: rand.Uint64}
}

// Write applies muts, all of graph and each on vertices of shard (a CreateEdge's source, not
// its destination), as one atomic Raft entry: all or nothing. Each mutation sees the effect of
// the ones before it. The write is computed from a view of the shard and conditional on
// everything it read; when a concurrent write changed any of it, it is computed again (up to
// maxAttempts, then ErrConflict). A refusal on the query's terms wraps ErrSemantic and names
// the mutation.
func (s *Store) Write(ctx context.Context, sh Shard, shard int, graph string, muts []shardapi.Mutation) (*WriteResult, error) {
	var last *plan
	err := s.writeLoop(ctx, sh, shard, graph, func(p *plan) error {
		last = p
		return s.planMutations(p, muts)
	})
	if err != nil {
		return nil, err
	}
	return &WriteResult{Outcomes: last.outcomes, Outbox: last.outbox}, nil
}

// txnFailed reports whether a transaction was aborted by a failed condition.
func txnFailed(res []engine.Result) bool {
	for _, r := range res {
		if r.Err != nil && !errors.Is(r.Err, engine.ErrAborted) {
			return true
		}
	}
	return false
}

// plan is a write computed from one view: the ops of its transaction (conditions first, then
// writes), and what it will have done.
type plan struct {
	graph    string
	shard    int
	r        Reader
	cat      *shardapi.Catalog
	ops      []engine.Op
	outcomes []shardapi.Outcome
	outbox   []*shardapi.Outbox
	// vertices and halves hold this write's view of what it has read and written so far: a
	// nil entry is known to be absent. guard holds the condition each first read gives.
	vertices map[layout.ID]*shardapi.Vertex
	halves   map[string]*shardapi.Half
	guards   map[string]kv.Precondition
	writes   map[string]engine.Op
	order    []string // keys of writes, in first-write order
	now      time.Time
	seq      layout.ID // the key of the plan's outbox bundle, if it has one (storeOutbox)
	first    bool      // the plan is its write's first attempt (expectAbsent)
}

// planMutations adds muts to p, each seeing the ones before it.
func (s *Store) planMutations(p *plan, muts []shardapi.Mutation) error {
	cat, catRev, err := ReadCatalog(p.r, p.graph)
	if err != nil {
		return err
	}
	if cat.Loading != 0 {
		return fmt.Errorf("%w: %s", ErrSemantic, cat.LoadingError(p.graph))
	}
	// Every write depends on the shard's catalog copy: its index entries were computed from it.
	p.cat = cat
	p.guard(layout.CatalogKey(p.graph), catRev)
	for i, m := range muts {
		var out shardapi.Outcome
		var err error
		switch {
		case m.CreateVertex != nil:
			out, err = s.createVertex(p, m.CreateVertex)
		case m.UpdateVertex != nil:
			out, err = p.updateVertex(m.UpdateVertex)
		case m.DeleteVertex != nil:
			out, err = s.deleteVertex(p, m.DeleteVertex)
		case m.CreateEdge != nil:
			out, err = s.createEdge(p, m.CreateEdge)
		case m.UpdateEdge != nil:
			out, err = s.updateEdge(p, m.UpdateEdge)
		case m.DeleteEdge != nil:
			out, err = s.deleteEdge(p, m.DeleteEdge)
		default:
			err = fmt.Errorf("%w: an empty mutation", ErrSemantic)
		}
		if err != nil {
			return fmt.Errorf("mutation %d: %w", i, err)
		}
		p.outcomes = append(p.outcomes, out)
	}
	return nil
}

func revisionOrAbsent(rev uint64) kv.Precondition {
	if rev == 0 {
		return kv.Precondition{Kind: kv.CondAbsent}
	}
	return kv.Precondition{Kind: kv.CondRevision, Revision: rev}
}

// finish builds the transaction: a check for every key read and not written, then every
// write with its key's condition.
func (p *plan) finish() {
	p.storeOutbox()
	if len(p.writes) == 0 {
		return
	}
	for k, c := range p.guards {
		if _, written := p.writes[k]; !written {
			p.ops = append(p.ops, engine.Op{Kind: engine.OpCheck, Key: []byte(k), Cond: c})
		}
	}
	slices.SortFunc(p.ops, func(a, b engine.Op) int { return bytes.Compare(a.Key, b.Key) })
	for _, k := range p.order {
		op := p.writes[k]
		op.Cond = p.guards[k]
		p.ops = append(p.ops, op)
	}
}

// guard records the condition that the first read of key gives.
func (p *plan) guard(key []byte, rev uint64) {
	if _, ok := p.guards[string(key)]; !ok {
		p.guards[string(key)] = revisionOrAbsent(rev)
	}
}

func (p *plan) put(key, val []byte) {
	if _, ok := p.writes[string(key)]; !ok {
		p.order = append(p.order, string(key))
	}
	p.writes[string(key)] = engine.Op{Kind: engine.OpPut, Key: key, Value: val}
}

func (p *plan) del(key []byte) {
	if _, ok := p.writes[string(key)]; !ok {
		p.order = append(p.order, string(key))
	}
	// A delete of a key that is absent (never written, or written and deleted in this plan)
	// writes nothing: the engine would refuse to delete a missing key.
	if c := p.guards[string(key)]; c.Kind == kv.CondAbsent {
		if w, ok := p.writes[string(key)]; !ok || w.Kind == engine.OpPut {
			delete(p.writes, string(key))
			p.order = slices.DeleteFunc(p.order, func(k string) bool { return k == string(key) })
			return
		}
	}
	p.writes[string(key)] = engine.Op{Kind: engine.OpDelete, Key: key}
}

// vertex returns vertex id as this plan sees it (nil: absent).
func (p *plan) vertex(id layout.ID) (*shardapi.Vertex, error) {
	if v, ok := p.vertices[id]; ok {
		return v, nil
	}
	v, err := GetVertex(p.r, p.graph, id)
	if err != nil {
		return nil, err
	}
	rev := uint64(0)
	if v != nil {
		rev = v.Revision
	}
	p.guard(layout.VertexKey(p.graph, id), rev)
	p.vertices[id] = v
	return v, nil
}

// half returns the half at e's key as this plan sees it (nil: absent).
func (p *plan) half(e layout.EdgeHalf) (*shardapi.Half, error) {
	key := string(e.Key(p.graph))
	if h, ok := p.halves[key]; ok {
		return h, nil
	}
	h, err := getHalf(p.r, p.graph, e)
	if err != nil {
		return nil, err
	}
	rev := uint64(0)
	if h != nil {
		rev = h.Revision
	}
	p.guard([]byte(key), rev)
	p.halves[key] = h
	return h, nil
}

// expectAbsent returns the half at e as half does, for a half the write expects not to exist
// (the halves of an edge being made): on the write's first attempt it takes the half as
// absent without reading it, which the transaction's condition on the key then asserts.
// When the half exists after all (an import run again), the transaction fails and the next
// attempt reads it. A write of thousands of new edges reads none of their keys.
func (p *plan) expectAbsent(e layout.EdgeHalf) (*shardapi.Half, error) {
	if !p.first {
		return p.half(e)
	}
	key := e.Key(p.graph)
	if h, ok := p.halves[string(key)]; ok {
		return h, nil
	}
	p.guard(key, 0)
	p.halves[string(key)] = nil
	return nil, nil
}

// setVertex writes v (nil: deletes vertex id) with its label keys and index entries, from
// what the plan saw before.
func (p *plan) setVertex(id layout.ID, v *shardapi.Vertex) error {
	old, err := p.vertex(id)
	if err != nil {
		return err
	}
	oldEntries, err := p.entries(old)
	if err != nil {
		return err
	}
	newEntries, err := p.entries(v)
	if err != nil {
		return err
	}
	for k := range oldEntries {
		if !newEntries[k] {
			p.del([]byte(k))
		}
	}
	for k := range newEntries {
		if !oldEntries[k] {
			p.put([]byte(k), nil)
		}
	}
	if v == nil {
		p.del(layout.VertexKey(p.graph, id))
	} else {
		p.put(layout.VertexKey(p.graph, id), shardapi.EncodeVertex(v))
	}
	p.vertices[id] = v
	return nil
}

// touch records a change of vertex id's adjacency: it writes the vertex's adjacency version,
// without a condition (edge writes of one vertex never conflict with each other), so that a
// delete of the vertex, which is conditional on that version, fails when an edge arrived
// meanwhile. Every change of a vertex's live halves touches it, whether the vertex exists
// or not: the adjacency cache (adjcache.go) relies on that.
func (p *plan) touch(id layout.ID) {
	p.put(layout.AdjacencyVersionKey(p.graph, id), nil)
}

// adjacency guards vertex id's adjacency version as this plan reads it.
func (p *plan) adjacency(id layout.ID) error {
	key := layout.AdjacencyVersionKey(p.graph, id)
	if _, ok := p.guards[string(key)]; ok {
		return nil
	}
	v, err := p.r.Get(key)
	switch {
	case errors.Is(err, engine.ErrNotFound):
		p.guard(key, 0)
	case err != nil:
		return err
	default:
		p.guard(key, v.Revision)
	}
	return nil
}

// entries are the label keys and index entry keys of v (none for nil), under the plan's
// catalog.
func (p *plan) entries(v *shardapi.Vertex) (map[string]bool, error) {
	out := map[string]bool{}
	if v == nil {
		return out, nil
	}
	keys, err := p.cat.Entries(p.graph, v)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, ErrCorrupt)
	}
	for _, k := range keys {
		out[string(k)] = true
	}
	return out, nil
}
