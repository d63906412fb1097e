package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/shardapi"
	"github.com/torua/torua/graph/value"
	"github.com/torua/torua/internal/kv"
	"github.com/torua/torua/node/engine"
)

// RequestTTL is how long a request between shards (an outbox record's delivery) stays valid:
// the receiving shard refuses it afterwards, so a delayed request can never undo a newer one.
const RequestTTL = time.Minute

// TombstoneTTL is how long a deleted half's tombstone is kept: far longer than RequestTTL, so
// that no request older than the tombstone can still arrive.
const TombstoneTTL = time.Hour

func reverse(e layout.EdgeHalf) layout.EdgeHalf {
	return layout.EdgeHalf{Dir: e.Dir.Reverse(), Vertex: e.Other, Other: e.Vertex, Type: e.Type, Edge: e.Edge}
}

// gen is the generation of a change of a half whose current generation is cur (0: none):
// above cur, and at least the clock's nanoseconds, so that an edge deleted and made again with
// the same id (an import run again) gets a generation above its old tombstone's.
func (p *plan) gen(cur uint64) uint64 {
	return max(cur+1, uint64(p.now.UnixNano()))
}

func (p *plan) putHalf(h *shardapi.Half) {
	p.put(h.Key(p.graph), shardapi.EncodeHalf(h))
	p.halves[string(h.Key(p.graph))] = h
}

func (p *plan) delHalf(e layout.EdgeHalf) {
	p.del(e.Key(p.graph))
	p.halves[string(e.Key(p.graph))] = nil
}

// setRemote makes the half remote (the other half of an edge whose local half this write
// changes) present with props, or absent, at generation gen: directly when its vertex is on
// this shard, else through an outbox record. For a local half that must exist (present), its
// vertex must exist with incarnation inc (when not 0).
func (s *Store) setRemote(p *plan, remote layout.EdgeHalf, present bool, props []byte, gen, inc uint64) error {
	if !s.local(p.graph, p.shard, remote.Vertex) {
		// Stored when the plan is finished (storeOutbox): alone, or with the write's others.
		p.outbox = append(p.outbox, &shardapi.Outbox{Remote: remote, Present: present, Props: props, Gen: gen, TargetIncarnation: inc, Created: p.now.UnixNano()})
		return nil
	}
	v, err := p.vertex(remote.Vertex)
	if err != nil {
		return err
	}
	cur, err := p.half(remote)
	if err != nil {
		return err
	}
	if present {
		if v == nil || (inc != 0 && v.Incarnation != inc) {
			return fmt.Errorf("%w: vertex %d does not exist (it was deleted)", ErrSemantic, remote.Vertex)
		}
		p.putHalf(&shardapi.Half{EdgeHalf: remote, Props: props, Gen: gen})
	} else if cur != nil {
		p.delHalf(remote)
	}
	p.touch(remote.Vertex)
	return nil
}

func (s *Store) createEdge(p *plan, c *shardapi.CreateEdge) (shardapi.Outcome, error) {
	if c.Type == "" {
		return shardapi.Outcome{}, fmt.Errorf("%w: a relationship needs a type", ErrSemantic)
	}
	if c.ID == 0 || c.ID > layout.MaxID || c.Dst == 0 || c.Dst > layout.MaxID {
		return shardapi.Outcome{}, fmt.Errorf("%w: edge id %d or vertex id %d is out of range", ErrSemantic, c.ID, c.Dst)
	}
	src, err := p.vertex(c.Src)
	if err != nil {
		return shardapi.Outcome{}, err
	}
	if src == nil || !s.local(p.graph, p.shard, c.Src) {
		return shardapi.Outcome{}, fmt.Errorf("%w: vertex %d does not exist (it was deleted)", ErrSemantic, c.Src)
	}
	props, err := checkProps(c.Props)
	if err != nil {
		return shardapi.Outcome{}, err
	}
	enc, err := value.EncodeProps(props)
	if err != nil {
		return shardapi.Outcome{}, fmt.Errorf("%w: %v", ErrSemantic, err)
	}
	out := layout.EdgeHalf{Dir: layout.Out, Vertex: c.Src, Other: c.Dst, Type: c.Type, Edge: c.ID}
	cur, err := p.expectAbsent(out)
	if err != nil {
		return shardapi.Outcome{}, err
	}
	if cur != nil {
		return shardapi.Outcome{Half: cur, Found: true}, nil // created before (a re-run import)
	}
	h := &shardapi.Half{EdgeHalf: out, Props: enc, Gen: p.gen(0)}
	p.putHalf(h)
	p.touch(out.Vertex)
	if err := s.setRemote(p, reverse(out), true, enc, h.Gen, c.DstIncarnation); err != nil {
		return shardapi.Outcome{}, err
	}
	return shardapi.Outcome{Half: h}, nil
}

func (s *Store) updateEdge(p *plan, u *shardapi.UpdateEdge) (shardapi.Outcome, error) {
	out := layout.EdgeHalf{Dir: layout.Out, Vertex: u.Src, Other: u.Dst, Type: u.Type, Edge: u.ID}
	cur, err := p.half(out)
	if err != nil {
		return shardapi.Outcome{}, err
	}
	src, err := p.vertex(u.Src)
	if err != nil {
		return shardapi.Outcome{}, err
	}
	if cur == nil || src == nil {
		return shardapi.Outcome{}, fmt.Errorf("%w: relationship %d does not exist (it was deleted)", ErrSemantic, u.ID)
	}
	old, err := value.DecodeProps(cur.Props)
	if err != nil {
		return shardapi.Outcome{}, fmt.Errorf("edge %d: %v: %w", u.ID, err, ErrCorrupt)
	}
	props, err := changeProps(old, u.Replace, u.Set, u.Remove)
	if err != nil {
		return shardapi.Outcome{}, err
	}
	enc, err := value.EncodeProps(props)
	if err != nil {
		return shardapi.Outcome{}, fmt.Errorf("%w: %v", ErrSemantic, err)
	}
	h := &shardapi.Half{EdgeHalf: out, Props: enc, Gen: p.gen(cur.Gen)}
	p.putHalf(h)
	p.touch(out.Vertex)
	if err := s.setRemote(p, reverse(out), true, enc, h.Gen, 0); err != nil {
		return shardapi.Outcome{}, err
	}
	return shardapi.Outcome{Half: h}, nil
}

func (s *Store) deleteEdge(p *plan, d *shardapi.DeleteEdge) (shardapi.Outcome, error) {
	out := layout.EdgeHalf{Dir: layout.Out, Vertex: d.Src, Other: d.Dst, Type: d.Type, Edge: d.ID}
	cur, err := p.half(out)
	if err != nil || cur == nil {
		return shardapi.Outcome{}, err
	}
	p.delHalf(out)
	p.touch(out.Vertex)
	if err := s.setRemote(p, reverse(out), false, nil, p.gen(cur.Gen), 0); err != nil {
		return shardapi.Outcome{}, err
	}
	return shardapi.Outcome{Found: true}, nil
}

// Apply makes each half of os (all on this shard) what its record says, unless it is already of
// the record's generation or newer: applying a record twice, or an older one after a newer,
// changes nothing. The records are applied in one transaction, and the results say, per
// record, whether its vertex was gone. A request past expires is refused with ErrExpired.
func (s *Store) Apply(ctx context.Context, sh Shard, shard int, graph string, os []*shardapi.Outbox, expires time.Time) ([]shardapi.ApplyResult, error) {
	if s.now().After(expires) {
		return nil, fmt.Errorf("%w: expired at %s", ErrExpired, expires.Format(time.RFC3339Nano))
	}
	for _, o := range os {
		if !s.local(graph, shard, o.Remote.Vertex) {
			return nil, fmt.Errorf("%w: vertex %d is not on shard %d", ErrSemantic, o.Remote.Vertex, shard)
		}
		if o.Remote.Dir == layout.Out && o.Present {
			return nil, fmt.Errorf("%w: an out-half is never set from another shard", ErrSemantic)
		}
	}
	res := make([]shardapi.ApplyResult, len(os))
	err := s.writeLoop(ctx, sh, shard, graph, func(p *plan) error {
		for i, o := range os {
			var err error
			if res[i], err = applyOne(p, graph, o); err != nil {
				return err
			}
		}
		return nil
	})
	return res, err
}

func applyOne(p *plan, graph string, o *shardapi.Outbox) (shardapi.ApplyResult, error) {
	v, err := p.vertex(o.Remote.Vertex)
	if err != nil {
		return shardapi.ApplyResult{}, err
	}
	half := p.half
	if o.Present && o.Remote.Dir == layout.In {
		half = p.expectAbsent // the in-half of an edge being made, most often
	}
	cur, err := half(o.Remote)
	if err != nil {
		return shardapi.ApplyResult{}, err
	}
	if o.Remote.Dir == layout.Out {
		// The destination's vertex was deleted: the out-half goes, with any record of its
		// in-half still to deliver.
		if cur == nil {
			return shardapi.ApplyResult{}, nil
		}
		p.delHalf(o.Remote)
		key := layout.OutboxKey(graph, o.Remote.Edge, layout.In, o.Remote.Vertex)
		pending, err := getOutbox(p.r, key)
		if err != nil {
			return shardapi.ApplyResult{}, err
		}
		if pending != nil {
			p.guard(key, pending.Revision)
			p.del(key)
		}
		p.touch(o.Remote.Vertex)
		return shardapi.ApplyResult{}, nil
	}
	if o.Present && (v == nil || (o.TargetIncarnation != 0 && v.Incarnation != o.TargetIncarnation)) {
		return shardapi.ApplyResult{Gone: true}, nil
	}
	if v == nil || (cur != nil && cur.Gen >= o.Gen) {
		return shardapi.ApplyResult{}, nil // nothing to delete, or this change is already there or overtaken
	}
	if cur != nil && cur.Deleted {
		p.del(layout.TombstoneKey(graph, cur.DeletedAt, o.Remote))
	}
	h := &shardapi.Half{EdgeHalf: o.Remote, Props: o.Props, Gen: o.Gen}
	if !o.Present {
		h = &shardapi.Half{EdgeHalf: o.Remote, Gen: o.Gen, Deleted: true, DeletedAt: p.now.Unix()}
		p.put(layout.TombstoneKey(graph, h.DeletedAt, o.Remote), o.Remote.Key(graph))
	}
	p.putHalf(h)
	p.touch(o.Remote.Vertex)
	return shardapi.ApplyResult{}, nil
}

// Settle finishes outbox records os after their shards answered res: it removes each record
// (a bundle once all of its records are settled), and when the other vertex was gone it also
// undoes the local half (the edge never was) unless a newer change replaced it. A record that
// changed meanwhile (a newer change of the same edge was stored at its key) is kept, to be
// delivered in its turn. The records are settled in one transaction.
func (s *Store) Settle(ctx context.Context, sh Shard, shard int, graph string, os []*shardapi.Outbox, res []shardapi.ApplyResult) error {
	return s.writeLoop(ctx, sh, shard, graph, func(p *plan) error {
		type stored struct {
			rev           uint64
			size, settled int // a bundle's records, and those settled now
		}
		seen := map[string]*stored{}
		var bundles []string
		for i, o := range os {
			key := o.Key(graph)
			if o.Bundle != nil {
				key = o.Bundle
			}
			st, ok := seen[string(key)]
			if !ok {
				rev, size, err := p.outboxAt(key, o.Bundle != nil)
				if err != nil {
					return err
				}
				st = &stored{rev: rev, size: size}
				seen[string(key)] = st
				if o.Bundle != nil {
					bundles = append(bundles, string(key))
				}
			}
			if st.rev == 0 || st.rev != o.Revision {
				continue // settled before, or replaced by a newer record of its edge
			}
			if o.Bundle == nil {
				p.del(key)
			}
			st.settled++
			if res[i].Gone {
				if err := p.undo(reverse(o.Remote), o.Gen); err != nil {
					return err
				}
			}
		}
		for _, key := range bundles {
			if st := seen[key]; st.rev != 0 && st.settled >= st.size {
				p.del([]byte(key))
			}
		}
		return nil
	})
}

// outboxAt reads the outbox record or bundle at key and guards it: its revision (0: absent)
// and, for a bundle, how many records it holds.
func (p *plan) outboxAt(key []byte, bundle bool) (rev uint64, size int, err error) {
	v, err := p.r.Get(key)
	switch {
	case errors.Is(err, engine.ErrNotFound):
		return 0, 0, nil
	case err != nil:
		return 0, 0, err
	}
	p.guard(key, v.Revision)
	if !bundle {
		return v.Revision, 1, nil
	}
	recs, err := decodeBundle(key, v.Data, v.Revision)
	if err != nil {
		return 0, 0, err
	}
	return v.Revision, len(recs), nil
}

// undo deletes local, the half of an edge whose other vertex was gone, if it still is the
// change of generation gen.
func (p *plan) undo(local layout.EdgeHalf, gen uint64) error {
	h, err := p.half(local)
	if err != nil || h == nil || h.Deleted || h.Gen != gen {
		return err
	}
	p.delHalf(local)
	p.touch(local.Vertex)
	return nil
}

// CurrentOutbox reports whether outbox record o, read from r (a view of the shard that wrote
// it), still says what its edge is: a record that creates or changes the remote half is
// current while the local half has its generation. A record that is not must not be delivered
// (the newer change has a record of its own): a bundle's record can outlive a newer change of
// its edge, and once the other shard has removed that change's tombstone, delivering the older
// record would bring the half back.
func CurrentOutbox(r Reader, graph string, o *shardapi.Outbox) (bool, error) {
	if !o.Present {
		return true, nil
	}
	h, err := getHalf(r, graph, reverse(o.Remote))
	if err != nil {
		return false, err
	}
	return h != nil && !h.Deleted && h.Gen == o.Gen, nil
}

// writeLoop runs a plan built by build as one conditional transaction, building it again
// while concurrent writes change what it read.
func (s *Store) writeLoop(ctx context.Context, sh Shard, shard int, graph string, build func(p *plan) error) error {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		var p *plan
		// NB: the view must hold every write committed before: a new leader may not have
		// applied its predecessor's last entries yet, and a write that finds nothing to do
		// (a delete of what it does not see) sends no transaction whose conditions would
		// catch it.
		err := sh.Read(ctx, false, func(v *engine.View) error {
			p = s.newPlan(v, shard, graph)
			p.first = attempt == 0
			if err := build(p); err != nil {
				return err
			}
			p.finish()
			return nil
		})
		if err != nil {
			return err
		}
		if len(p.ops) == 0 {
			return nil
		}
		res, err := sh.Txn(ctx, p.ops)
		if err != nil {
			return err
		}
		if !txnFailed(res) {
			p.committed(res)
			return nil
		}
	}
	return fmt.Errorf("graph %q shard %d: %w (%d attempts)", graph, shard, ErrConflict, maxAttempts)
}

// committed gives the plan's outbox records the revision its transaction (results res) wrote
// them at, which settling them is conditional on.
func (p *plan) committed(res []engine.Result) {
	if len(p.outbox) == 0 {
		return
	}
	rev := make(map[string]uint64, len(p.ops))
	for i, op := range p.ops {
		if op.Kind == engine.OpPut {
			rev[string(op.Key)] = res[i].Revision
		}
	}
	for _, o := range p.outbox {
		key := o.Bundle
		if key == nil {
			key = o.Key(p.graph)
		}
		o.Revision = rev[string(key)]
	}
}

// storeOutbox writes the plan's outbox records, the last of each edge's: a lone record at its
// edge's key (a newer change of the edge writes over it), several as one bundle, so that a
// write of many edges across shards (an import's batch) stores and later removes one key
// instead of one per edge.
func (p *plan) storeOutbox() {
	if len(p.outbox) == 0 {
		return
	}
	keys := make([]string, len(p.outbox))
	last := make(map[string]int, len(p.outbox))
	for i, o := range p.outbox {
		keys[i] = string(o.Key(p.graph))
		last[keys[i]] = i
	}
	kept := p.outbox[:0]
	for i, o := range p.outbox {
		if last[keys[i]] == i {
			kept = append(kept, o)
		}
	}
	p.outbox = kept
	if len(kept) == 1 {
		p.put(kept[0].Key(p.graph), encodeOutbox(kept[0]))
		return
	}
	key := layout.BundleKey(p.graph, p.seq, kept[0].Remote.Other)
	for _, o := range kept {
		o.Bundle = key
	}
	p.guard(key, 0)
	p.put(key, encodeBundle(kept))
}

// newPlan starts a plan that does not depend on the catalog (edge halves carry no index
// entries).
func (s *Store) newPlan(r Reader, shard int, graph string) *plan {
	return &plan{graph: graph, shard: shard, r: r, cat: &shardapi.Catalog{}, now: s.now(), seq: layout.ID(s.rand() & uint64(layout.MaxID)),
		vertices: map[layout.ID]*shardapi.Vertex{}, halves: map[string]*shardapi.Half{},
		guards: map[string]kv.Precondition{}, writes: map[string]engine.Op{}}
}
