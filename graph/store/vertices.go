package store

import (
	"fmt"
	"maps"
	"slices"

	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/shardapi"
	"github.com/torua/torua/graph/value"
)

// ErrVertexExists wraps ErrSemantic: a create met an existing vertex (of the same primary key,
// or a random id that was taken).
var ErrVertexExists = fmt.Errorf("%w: the vertex exists", ErrSemantic)

func (s *Store) createVertex(p *plan, c *shardapi.CreateVertex) (shardapi.Outcome, error) {
	if c.ID == 0 || c.ID > layout.MaxID {
		return shardapi.Outcome{}, fmt.Errorf("%w: vertex id %d is out of range", ErrSemantic, c.ID)
	}
	if !s.local(p.graph, p.shard, c.ID) {
		return shardapi.Outcome{}, fmt.Errorf("%w: vertex %d is not on shard %d", ErrSemantic, c.ID, p.shard)
	}
	labels, err := checkLabels(c.Labels)
	if err != nil {
		return shardapi.Outcome{}, err
	}
	props, err := checkProps(c.Props)
	if err != nil {
		return shardapi.Outcome{}, err
	}
	if err := p.checkPrimaryKey(c.ID, labels, props); err != nil {
		return shardapi.Outcome{}, err
	}
	old, err := p.vertex(c.ID)
	if err != nil {
		return shardapi.Outcome{}, err
	}
	if old != nil {
		if c.Merge && p.sameKey(old, labels, props) {
			return shardapi.Outcome{Vertex: old, Found: true}, nil
		}
		return shardapi.Outcome{}, fmt.Errorf("%w: id %d", ErrVertexExists, c.ID)
	}
	enc, err := value.EncodeProps(props)
	if err != nil {
		return shardapi.Outcome{}, fmt.Errorf("%w: %v", ErrSemantic, err)
	}
	inc := s.rand()
	for inc == 0 {
		inc = s.rand()
	}
	v := &shardapi.Vertex{ID: c.ID, Labels: labels, Props: enc, Incarnation: inc}
	if err := p.setVertex(c.ID, v); err != nil {
		return shardapi.Outcome{}, err
	}
	return shardapi.Outcome{Vertex: v}, nil
}

func (p *plan) updateVertex(u *shardapi.UpdateVertex) (shardapi.Outcome, error) {
	old, err := p.vertex(u.ID)
	if err != nil {
		return shardapi.Outcome{}, err
	}
	if old == nil {
		return shardapi.Outcome{}, fmt.Errorf("%w: vertex %d does not exist (it was deleted)", ErrSemantic, u.ID)
	}
	props, err := value.DecodeProps(old.Props)
	if err != nil {
		return shardapi.Outcome{}, fmt.Errorf("vertex %d: %v: %w", u.ID, err, ErrCorrupt)
	}
	before := props
	if props, err = changeProps(props, u.Replace, u.Set, u.Remove); err != nil {
		return shardapi.Outcome{}, err
	}
	labels := slices.Clone(old.Labels)
	add, err := checkLabels(u.AddLabels)
	if err != nil {
		return shardapi.Outcome{}, err
	}
	labels = append(labels, add...)
	labels = slices.DeleteFunc(labels, func(l string) bool { return slices.Contains(u.RemoveLabels, l) })
	slices.Sort(labels)
	labels = slices.Compact(labels)
	// A vertex's id is its primary key's hash: the key, and the label that declares it, are
	// fixed for the vertex's life.
	for _, l := range old.Labels {
		if pk, ok := p.cat.PrimaryKeyOf(l); ok {
			if !slices.Contains(labels, l) {
				return shardapi.Outcome{}, fmt.Errorf("%w: the label :%s declares the primary key %s and cannot be removed from a vertex", ErrSemantic, l, pk)
			}
			if value.Equal(before[pk], props[pk]) != true {
				return shardapi.Outcome{}, fmt.Errorf("%w: %s is the primary key of :%s and cannot change", ErrSemantic, pk, l)
			}
		}
	}
	if err := p.checkPrimaryKey(u.ID, labels, props); err != nil {
		return shardapi.Outcome{}, err
	}
	enc, err := value.EncodeProps(props)
	if err != nil {
		return shardapi.Outcome{}, fmt.Errorf("%w: %v", ErrSemantic, err)
	}
	v := &shardapi.Vertex{ID: old.ID, Labels: labels, Props: enc, Incarnation: old.Incarnation}
	if err := p.setVertex(u.ID, v); err != nil {
		return shardapi.Outcome{}, err
	}
	return shardapi.Outcome{Vertex: v}, nil
}

func (s *Store) deleteVertex(p *plan, d *shardapi.DeleteVertex) (shardapi.Outcome, error) {
	v, err := p.vertex(d.ID)
	if err != nil || v == nil {
		return shardapi.Outcome{}, err
	}
	// The adjacency version guards the halves read here: an edge that arrives meanwhile
	// writes it, and this delete is then computed again.
	if err := p.adjacency(d.ID); err != nil {
		return shardapi.Outcome{}, err
	}
	hs, err := halves(p.r, p.graph, d.ID)
	if err != nil {
		return shardapi.Outcome{}, err
	}
	live := map[layout.ID]bool{} // a loop has two halves here, and is one relationship
	for _, h := range hs {
		if planned, ok := p.halves[string(h.Key(p.graph))]; ok {
			h = planned // changed earlier in this write
		}
		if h != nil && !h.Deleted {
			live[h.Edge] = true
		}
	}
	if len(live) > 0 && !d.Detach {
		return shardapi.Outcome{}, fmt.Errorf("%w: cannot delete vertex %d: it still has %d relationship(s); delete them first, or use DETACH DELETE", ErrSemantic, d.ID, len(live))
	}
	for _, h := range hs {
		cur, err := p.half(h.EdgeHalf)
		if err != nil {
			return shardapi.Outcome{}, err
		}
		if cur == nil {
			continue
		}
		p.delHalf(cur.EdgeHalf)
		p.touch(d.ID)
		if cur.Deleted {
			p.del(layout.TombstoneKey(p.graph, cur.DeletedAt, cur.EdgeHalf))
		} else {
			if err := s.setRemote(p, reverse(cur.EdgeHalf), false, nil, p.gen(cur.Gen), 0); err != nil {
				return shardapi.Outcome{}, err
			}
		}
	}
	if err := p.setVertex(d.ID, nil); err != nil {
		return shardapi.Outcome{}, err
	}
	return shardapi.Outcome{Found: true, Detached: slices.Sorted(maps.Keys(live))}, nil
}

// checkPrimaryKey checks that a vertex with labels and props may have id (under the plan's
// catalog: Catalog.CheckPrimaryKey).
func (p *plan) checkPrimaryKey(id layout.ID, labels []string, props map[string]any) error {
	if err := p.cat.CheckPrimaryKey(p.graph, id, labels, props); err != nil {
		return fmt.Errorf("%w: %v", ErrSemantic, err)
	}
	return nil
}

// sameKey reports whether old is the vertex a MERGE with labels and props (which passed
// checkPrimaryKey for old's id) stands for: it has the key label and the same key value. Two
// key values whose hashes collide are different vertices.
func (p *plan) sameKey(old *shardapi.Vertex, labels []string, props map[string]any) bool {
	for _, l := range labels {
		if pk, ok := p.cat.PrimaryKeyOf(l); ok {
			if !old.HasLabel(l) {
				return false
			}
			oldProps, err := value.DecodeProps(old.Props)
			return err == nil && value.Equal(oldProps[pk], props[pk]) == true
		}
	}
	return true // no primary key: the caller chose the id, and found it
}

// checkLabels is shardapi.CheckLabels, refusing on the query's terms.
func checkLabels(labels []string) ([]string, error) {
	out, err := shardapi.CheckLabels(labels)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSemantic, err)
	}
	return out, nil
}

// checkProps is shardapi.CheckProps, refusing on the query's terms.
func checkProps(props map[string]any) (map[string]any, error) {
	out, err := shardapi.CheckProps(props)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSemantic, err)
	}
	return out, nil
}

// changeProps returns props changed as SET and REMOVE say (value.ChangeProps), once set's
// values are checked.
func changeProps(props map[string]any, replace bool, set map[string]any, remove []string) (map[string]any, error) {
	if _, err := checkProps(set); err != nil {
		return nil, err
	}
	return value.ChangeProps(props, replace, set, remove), nil
}
