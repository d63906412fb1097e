package exec

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/shardapi"
	"github.com/torua/torua/graph/value"
)

// Bulk loads: a new or empty graph loaded whole, its keys written where the store would write
// them but without the store's per-write work. The router spools the load's keys per shard,
// sorts each shard's run, and sends it in consecutive parts; each part is one Raft entry that
// every replica ingests as one table (node/engine's loads), below the memtable and, since the
// parts of a run do not overlap each other nor anything else, in the last level, where no
// compaction rewrites them. The graph's catalog says a load is running (Catalog.Loading)
// from before the first part to after the last: the graph takes no write and answers no
// query meanwhile, so nobody sees an edge with one half loaded and the other not. A load that
// fails leaves it so: the graph is dropped and loaded again.

// ConflictError is a request the graph's state refuses: a query of a graph being bulk-loaded,
// a bulk load into a graph that has vertices. The HTTP API answers it 409.
type ConflictError struct {
	Msg string
}

func (e *ConflictError) Error() string { return e.Msg }

// BulkResult is what a bulk load did.
type BulkResult struct {
	Vertices int `json:"vertices"`
	Edges    int `json:"edges"`
	// Keys and Bytes are what the shards stored (keys and values, before replication).
	Keys  int64 `json:"keys"`
	Bytes int64 `json:"bytes"`
	// Requests is the number of parts sent: each is one Raft entry on its shard.
	Requests int64 `json:"requests"`
	// Spooled and Loaded are how long reading the load and writing it to the shards took.
	Spooled string `json:"spooled"`
	Loaded  string `json:"loaded"`
}

// loadPartBytes bounds the keys and values of one part of a shard's run: one Raft entry, held
// in memory by each replica until applied, and one table.
const loadPartBytes = 4 << 20

// loadConcurrency is how many shards' runs are sorted and sent at once: each is in memory
// while it is.
const loadConcurrency = 3

// BulkLoad loads graph, which must be new or have no vertex, from the batches next returns
// (io.EOF after the last): each batch's vertices before any edge that uses them, as the
// online import takes them (Import). A vertex given twice must be the same; an edge given
// twice (its ends, type and rank) is loaded once, and must be the same too. Nothing is
// written to the shards until every batch has been read and checked, except the primary
// keys the batches declare.
func (x *Executor) BulkLoad(ctx context.Context, graph string, next func() (*ImportBatch, error)) (*BulkResult, error) {
	if err := layout.CheckGraphName(graph); err != nil {
		return nil, &QueryError{Msg: err.Error()}
	}
	start := time.Now()
	r := x.newRun(ctx, graph, nil)
	var err error
	if r.cat, err = x.catalog(ctx, graph, true); err != nil {
		return nil, err
	}
	// A graph that is loading or has vertices is refused before its catalog is touched: a
	// mark set and cleared again would make other routers refuse its queries for a while.
	if r.cat.Loading != 0 {
		return nil, &ConflictError{Msg: r.cat.LoadingError(graph)}
	}
	if err := r.checkEmpty(); err != nil {
		return nil, err
	}
	if err := r.ensureGraph(); err != nil {
		return nil, err
	}
	// The graph goes offline before the load is read: reading it takes longer than every
	// router takes to see the mark.
	if err := r.setLoading(start.UnixNano()); err != nil {
		return nil, fmt.Errorf("bulk load: mark graph %q as loading: %w", graph, err)
	}
	offline := time.Now()
	res, sp, err := r.spoolLoad(next)
	if sp != nil {
		defer sp.close()
	}
	if err == nil {
		// Each router reads a catalog again at most catalogTTL after it read it: no query
		// runs on a copy from before the mark once that long has passed.
		select {
		case <-time.After(catalogTTL - time.Since(offline)):
		case <-ctx.Done():
			err = fmt.Errorf("bulk load of graph %q: %w", graph, context.Cause(ctx))
		}
	}
	if err != nil {
		// Nothing was sent: the graph goes back online as it was (even when the client went
		// away, which is why the spool stopped).
		var cancel context.CancelFunc
		r.ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), x.cfg.Timeout)
		defer cancel()
		if clearErr := r.setLoading(0); clearErr != nil {
			return nil, fmt.Errorf("%w (and taking the graph back online failed, %v: drop it)", err, clearErr)
		}
		return nil, err
	}
	loadStart := time.Now()
	var keys, bytes, requests atomic.Int64
	sem := make(chan struct{}, loadConcurrency)
	err = r.fanout(r.allShards(), func(ctx context.Context, shard int) error {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		defer func() { <-sem }()
		n, b, parts, err := sp.send(ctx, shard)
		keys.Add(n)
		bytes.Add(b)
		requests.Add(parts)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bulk load of graph %q: %w; the graph stays offline: drop it and load it again", graph, err)
	}
	// Every key is in: the graph goes online even if the client has gone meanwhile.
	var cancel context.CancelFunc
	r.ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), x.cfg.Timeout)
	defer cancel()
	if err := r.setLoading(0); err != nil {
		return nil, fmt.Errorf("bulk load of graph %q: every key is in, but marking the load done failed: %w; run the load again after dropping the graph", graph, err)
	}
	res.Keys, res.Bytes, res.Requests = keys.Load(), bytes.Load(), requests.Load()
	res.Loaded = time.Since(loadStart).Round(time.Millisecond).String()
	return res, nil
}

// spoolLoad reads the load into a spool, once the graph is offline, and checks again that the
// graph is empty (a write may have come before the mark).
func (r *run) spoolLoad(next func() (*ImportBatch, error)) (*BulkResult, *spool, error) {
	if err := r.checkEmpty(); err != nil {
		return nil, nil, err
	}
	start := time.Now()
	dir, err := os.MkdirTemp(r.x.cfg.SpoolDir, "torua-bulk-")
	if err != nil {
		return nil, nil, fmt.Errorf("bulk load: spool: %w", err)
	}
	sp := &spool{r: r, dir: dir, gen: uint64(r.cat.Loading), vertices: map[layout.ID]uint64{}, edges: map[layout.ID]uint64{}}
	if err := sp.read(next); err != nil {
		return nil, sp, err
	}
	if err := sp.flush(); err != nil {
		return nil, sp, err
	}
	return &BulkResult{Vertices: len(sp.vertices), Edges: len(sp.edges), Spooled: time.Since(start).Round(time.Millisecond).String()}, sp, nil
}

// setLoading marks the graph's catalog on every shard as loading since since (a load's mark,
// set once), or clears the mark it set (since 0), keeping the rest of the catalog as it is
// now. A graph marked by another load is refused; shard 0's copy decides between two loads
// marking it at once (a copy takes only a higher version): the one whose mark it does not
// take is refused.
func (r *run) setLoading(since int64) error {
	cat, err := r.x.catalog(r.ctx, r.graph, true)
	if err != nil {
		return err
	}
	if mine := r.cat.Loading; (since != 0 && cat.Loading != 0) || (since == 0 && cat.Loading != mine) {
		return &ConflictError{Msg: cat.LoadingError(r.graph)}
	}
	next := *cat
	next.Version++
	next.Loading = since
	got, err := r.x.c.SetCatalog(r.ctx, r.graph, 0, &next)
	r.x.forget(r.graph)
	if err != nil {
		return err
	}
	if got.Version != next.Version || got.Loading != since {
		return &ConflictError{Msg: fmt.Sprintf("graph %q changed while this bulk load began (another load or schema change): nothing was loaded", r.graph)}
	}
	if err := r.setCatalog(&next); err != nil {
		return err
	}
	r.cat = &next
	return nil
}

// checkEmpty refuses a graph that has a vertex on any shard.
func (r *run) checkEmpty() error {
	parts := map[int]*shardapi.ReadRequest{}
	for _, s := range r.allShards() {
		parts[s] = &shardapi.ReadRequest{Scan: &shardapi.ScanRequest{Limit: 1}}
	}
	res, err := r.x.c.Reads(r.ctx, r.graph, parts)
	if err != nil {
		return err
	}
	for _, p := range res {
		if len(p.Scanned) > 0 {
			return &ConflictError{Msg: fmt.Sprintf("graph %q has vertices: a bulk load is into a new or empty graph; "+
				"load into it with the online import (without --bulk), or drop it first", r.graph)}
		}
	}
	return nil
}

// spool is a bulk load's keys on their way to the shards: one file per shard of key and value
// pairs, in the order made.
type spool struct {
	r   *run
	dir string
	// gen is the generation of every half the load makes.
	gen   uint64
	files map[int]*spoolFile
	// vertices are the load's vertex ids, each with the hash of its record (a vertex given
	// twice must be the same).
	vertices map[layout.ID]uint64
	// edges are the load's edge ids, each with the hash of its properties (an edge given twice
	// is loaded once, and must be the same).
	edges map[layout.ID]uint64
	buf   []byte
}

type spoolFile struct {
	f *os.File
	w *bufio.Writer
}

// read reads every batch into the spool. The batches are read (decoded from the request's
// body) by a goroutine of their own, a few ahead of the spooling: the two take about as long.
func (sp *spool) read(next func() (*ImportBatch, error)) error {
	type read struct {
		b   *ImportBatch
		err error
	}
	ahead := make(chan read, 4)
	done := make(chan struct{})
	defer close(done) // a reader blocked on a batch nobody takes stops
	go func() {
		for {
			b, err := next()
			select {
			case ahead <- read{b, err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for batch := 1; ; batch++ {
		rd := <-ahead
		b, err := rd.b, rd.err
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := sp.r.declareKeys(b.Keys); err != nil {
			return err
		}
		for i := range b.Vertices {
			if err := sp.vertex(&b.Vertices[i]); err != nil {
				return &QueryError{Msg: fmt.Sprintf("batch %d, vertex %d: %v", batch, i, err)}
			}
		}
		for i := range b.Edges {
			if err := sp.edge(&b.Edges[i]); err != nil {
				return &QueryError{Msg: fmt.Sprintf("batch %d, edge %d: %v", batch, i, err)}
			}
		}
	}
}

func (sp *spool) vertex(v *ImportVertex) error {
	r := sp.r
	labels, err := shardapi.CheckLabels(v.Labels)
	if err != nil {
		return err
	}
	props, err := shardapi.CheckProps(v.Props)
	if err != nil {
		return err
	}
	if !r.keyed(labels) {
		return fmt.Errorf("none of its labels %v has a primary key: name one in keys", v.Labels)
	}
	id, err := r.vertexID(cypher.Pos{}, labels, props)
	var qe *QueryError
	if errors.As(err, &qe) {
		return errors.New(qe.Msg)
	}
	if err := r.cat.CheckPrimaryKey(r.graph, id, labels, props); err != nil {
		return err
	}
	enc, err := value.EncodeProps(props)
	if err != nil {
		return err
	}
	vx := &shardapi.Vertex{ID: id, Labels: labels, Props: enc, Incarnation: sp.incarnation(id)}
	rec := shardapi.EncodeVertex(vx)
	sum := xxhash.Sum64(rec)
	if old, ok := sp.vertices[id]; ok {
		if old != sum {
			return fmt.Errorf("the vertex %s is given twice, with different labels or properties", r.describeKey(labels, props))
		}
		return nil
	}
	sp.vertices[id] = sum
	shard := r.x.c.ShardOf(r.graph, id)
	if err := sp.add(shard, layout.VertexKey(r.graph, id), rec); err != nil {
		return err
	}
	entries, err := r.cat.Entries(r.graph, vx)
	if err != nil {
		return err
	}
	for _, k := range entries {
		if err := sp.add(shard, k, nil); err != nil {
			return err
		}
	}
	return nil
}

func (sp *spool) edge(e *ImportEdge) error {
	r := sp.r
	if e.Type == "" {
		return errors.New("a relationship needs a type")
	}
	var ends [2]layout.ID
	for i, ref := range []VertexRef{e.From, e.To} {
		if _, ok := r.cat.PrimaryKeyOf(ref.Label); !ok {
			return fmt.Errorf("label :%s has no primary key: name it in keys", ref.Label)
		}
		id, err := layout.PrimaryKeyID(r.graph, ref.Label, ref.Key)
		if err != nil {
			return err
		}
		if _, ok := sp.vertices[id]; !ok {
			return fmt.Errorf("vertex %s is not in the load before it: a bulk load's vertices come before the edges that use them",
				r.describeKey([]string{ref.Label}, map[string]any{r.pk(ref.Label): ref.Key}))
		}
		ends[i] = id
	}
	props, err := shardapi.CheckProps(e.Props)
	if err != nil {
		return err
	}
	enc, err := value.EncodeProps(props)
	if err != nil {
		return err
	}
	src, dst := ends[0], ends[1]
	id := EdgeID(r.graph, src, dst, e.Type, e.Rank)
	sum := xxhash.Sum64(enc)
	if old, ok := sp.edges[id]; ok {
		if old != sum {
			return fmt.Errorf("the edge %s-[:%s]->%s of rank %d is given twice, with different properties",
				r.describeKey([]string{e.From.Label}, map[string]any{r.pk(e.From.Label): e.From.Key}), e.Type,
				r.describeKey([]string{e.To.Label}, map[string]any{r.pk(e.To.Label): e.To.Key}), e.Rank)
		}
		return nil
	}
	sp.edges[id] = sum
	out := &shardapi.Half{EdgeHalf: layout.EdgeHalf{Dir: layout.Out, Vertex: src, Other: dst, Type: e.Type,
		Edge: id}, Props: enc, Gen: sp.gen}
	in := &shardapi.Half{EdgeHalf: layout.EdgeHalf{Dir: layout.In, Vertex: dst, Other: src, Type: e.Type, Edge: out.Edge},
		Props: enc, Gen: sp.gen}
	for _, h := range []*shardapi.Half{out, in} {
		shard := r.x.c.ShardOf(r.graph, h.Vertex)
		if err := sp.add(shard, h.Key(r.graph), shardapi.EncodeHalf(h)); err != nil {
			return err
		}
		// Every vertex with halves has an adjacency version (the store's touch).
		if err := sp.add(shard, layout.AdjacencyVersionKey(r.graph, h.Vertex), nil); err != nil {
			return err
		}
	}
	return nil
}

// pk is label's primary-key property ("" for none).
func (r *run) pk(label string) string {
	p, _ := r.cat.PrimaryKeyOf(label)
	return p
}

// describeKey names a vertex by its keyed label and key, as a pattern: (:Person {id: 7}).
func (r *run) describeKey(labels []string, props map[string]any) string {
	for _, l := range labels {
		if p, ok := r.cat.PrimaryKeyOf(l); ok {
			return fmt.Sprintf("(:%s {%s: %#v})", l, p, props[p])
		}
	}
	return fmt.Sprintf("%v", labels)
}

// incarnation is vertex id's incarnation in this load: not 0, and different from any earlier
// vertex with the id (another load's generation).
func (sp *spool) incarnation(id layout.ID) uint64 {
	b := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, sp.gen), uint64(id))
	return xxhash.Sum64(b) | 1
}

// add appends a pair to shard's spool file.
func (sp *spool) add(shard int, key, val []byte) error {
	f := sp.files[shard]
	if f == nil {
		file, err := os.Create(filepath.Join(sp.dir, "shard-"+strconv.Itoa(shard)))
		if err != nil {
			return fmt.Errorf("bulk load: spool: %w", err)
		}
		if sp.files == nil {
			sp.files = map[int]*spoolFile{}
		}
		f = &spoolFile{f: file, w: bufio.NewWriterSize(file, 256<<10)}
		sp.files[shard] = f
	}
	sp.buf = binary.AppendUvarint(sp.buf[:0], uint64(len(key)))
	sp.buf = append(sp.buf, key...)
	sp.buf = binary.AppendUvarint(sp.buf, uint64(len(val)))
	sp.buf = append(sp.buf, val...)
	if _, err := f.w.Write(sp.buf); err != nil {
		return fmt.Errorf("bulk load: spool: %w", err)
	}
	return nil
}

// flush writes every spool file's buffer out.
func (sp *spool) flush() error {
	for _, f := range sp.files {
		if err := f.w.Flush(); err != nil {
			return fmt.Errorf("bulk load: spool: %w", err)
		}
	}
	return nil
}

// close closes the spool's files and removes them.
func (sp *spool) close() {
	for _, f := range sp.files {
		_ = f.f.Close()
	}
	_ = os.RemoveAll(sp.dir)
}

// send sorts shard's run and sends it in parts; it returns the keys and bytes sent and the
// number of parts.
func (sp *spool) send(ctx context.Context, shard int) (keys, size, parts int64, err error) {
	f := sp.files[shard]
	if f == nil {
		return 0, 0, 0, nil
	}
	data, err := os.ReadFile(f.f.Name())
	if err != nil {
		return 0, 0, 0, fmt.Errorf("bulk load: spool: %w", err)
	}
	pairs, err := runOf(sp.r.graph, data)
	if err != nil {
		return 0, 0, 0, err
	}
	prefix := len(layout.GraphPrefix(sp.r.graph))
	var part []shardapi.Pair
	partBytes := 0
	sendPart := func() error {
		if len(part) == 0 {
			return nil
		}
		if _, err := sp.r.x.c.Load(ctx, sp.r.graph, shard, &shardapi.LoadRequest{Pairs: part}); err != nil {
			return fmt.Errorf("shard %d: %w", shard, err)
		}
		parts++
		part, partBytes = part[:0], 0
		return nil
	}
	for i, p := range pairs {
		// A part holds keys of one kind (vertices, labels, halves...): the catalog's key sorts
		// between two kinds, and a table spanning it would not go below it.
		if partBytes+len(p.Key)+len(p.Value) > loadPartBytes || (i > 0 && p.Key[prefix] != pairs[i-1].Key[prefix]) {
			if err := sendPart(); err != nil {
				return keys, size, parts, err
			}
		}
		part = append(part, p)
		partBytes += len(p.Key) + len(p.Value)
		keys++
		size += int64(len(p.Key) + len(p.Value))
	}
	return keys, size, parts, sendPart()
}

// runOf parses a spool file of graph's keys into its pairs (aliasing data), sorted by key,
// each key once: a key made twice (a vertex's adjacency version) is kept once. Two values of
// one key are a fault of the spool (vertices and edges given twice were made once).
func runOf(graph string, data []byte) ([]shardapi.Pair, error) {
	pairs := make([]shardapi.Pair, 0, countPairs(data))
	for len(data) > 0 {
		var p shardapi.Pair
		for _, field := range []*[]byte{&p.Key, &p.Value} {
			n, w := binary.Uvarint(data)
			if w <= 0 || uint64(len(data)-w) < n {
				return nil, errors.New("bulk load: spool file is corrupt")
			}
			*field, data = data[w:w+int(n)], data[w+int(n):]
		}
		pairs = append(pairs, p)
	}
	// Every key starts with the graph's prefix: sort by the 8 bytes after it (the kind and
	// most of a vertex id), and by the rest only where those agree.
	off := len(layout.GraphPrefix(graph))
	type sortKey struct {
		head uint64
		i    int
	}
	keys := make([]sortKey, len(pairs))
	var head [8]byte
	for i, p := range pairs {
		clear(head[:])
		copy(head[:], p.Key[off:])
		keys[i] = sortKey{binary.BigEndian.Uint64(head[:]), i}
	}
	slices.SortFunc(keys, func(a, b sortKey) int {
		if a.head != b.head {
			return cmp.Compare(a.head, b.head)
		}
		return bytes.Compare(pairs[a.i].Key[off:], pairs[b.i].Key[off:])
	})
	out := make([]shardapi.Pair, 0, len(pairs))
	for _, k := range keys {
		p := pairs[k.i]
		if n := len(out); n > 0 && bytes.Equal(out[n-1].Key, p.Key) {
			if !bytes.Equal(out[n-1].Value, p.Value) {
				return nil, fmt.Errorf("bulk load: the spool holds key %q twice with different values", p.Key)
			}
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// countPairs counts the key-value pairs of a spool run, as runOf reads them (a corrupt run's
// count is at most its pairs): a shard's run holds a hundred thousand pairs and more, which
// growing the slice copied over and over.
func countPairs(data []byte) int {
	n := 0
	for len(data) > 0 {
		for range 2 {
			l, w := binary.Uvarint(data)
			if w <= 0 || uint64(len(data)-w) < l {
				return n
			}
			data = data[w+int(l):]
		}
		n++
	}
	return n
}

// declareKeys declares the primary keys keys names (label -> property) that the graph does not
// have yet, refusing a label whose key is another property. A label gets its key only while
// it has no vertices.
func (r *run) declareKeys(keys map[string]string) error {
	for _, label := range slices.Sorted(maps.Keys(keys)) {
		prop := keys[label]
		if p, ok := r.cat.PrimaryKeyOf(label); ok {
			if p != prop {
				return &QueryError{Msg: fmt.Sprintf("label :%s has the primary key %s, not %s", label, p, prop)}
			}
			continue
		}
		if _, err := r.schema(&cypher.Schema{Kind: cypher.CreateConstraint, Label: label, Property: prop}); err != nil {
			return err
		}
		var err error
		if r.cat, err = r.x.catalog(r.ctx, r.graph, true); err != nil {
			return err
		}
	}
	return nil
}
