package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/graph/layout"
	"github.com/torua/torua/graph/shardapi"
	"github.com/torua/torua/internal/nodeapi"
	"github.com/torua/torua/shardmap"
)

// graphIDs returns two vertex ids of graph g on different shards of m.
func graphIDs(m *shardmap.Map, g string) (a, b layout.ID) {
	a = 1
	for b = 2; m.ShardFor(layout.VertexKey(g, b)) == m.ShardFor(layout.VertexKey(g, a)); b++ {
	}
	return a, b
}

// TestGraphAPI drives the node's graph API over HTTP: vertices and an edge across two shards
// (its in-half delivered before the write is answered), reads, the catalog, the listing, the
// errors, and a drop.
func TestGraphAPI(t *testing.T) {
	g := NewWithT(t)
	n, _ := startNode(t, nil, nil)
	m := n.holder.Current()
	api := shardapi.NewClient(nodeapi.New(nodeapi.Config{}))
	ctx := context.Background()
	addr := n.Addr()
	const graph = "social"
	a, b := graphIDs(m, graph)
	sa, sb := m.ShardFor(layout.VertexKey(graph, a)), m.ShardFor(layout.VertexKey(graph, b))

	for s := range m.Shards {
		_, err := api.SetCatalog(ctx, addr, graph, s, &shardapi.CatalogRequest{Catalog: shardapi.Catalog{Version: 1}})
		g.Expect(err).NotTo(HaveOccurred())
	}
	for _, v := range []struct {
		id    layout.ID
		shard int
		name  string
	}{{a, sa, "Ada"}, {b, sb, "Bob"}} {
		res, err := api.Write(ctx, addr, graph, v.shard, &shardapi.WriteRequest{Mutations: []shardapi.Mutation{
			{CreateVertex: &shardapi.CreateVertex{ID: v.id, Labels: []string{"Person"}, Props: map[string]any{"name": v.name, "age": int64(30)}}}}})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(res.Outcomes[0].Vertex.ID).To(Equal(v.id))
	}
	res, err := api.Write(ctx, addr, graph, sa, &shardapi.WriteRequest{Mutations: []shardapi.Mutation{
		{CreateEdge: &shardapi.CreateEdge{ID: 77, Src: a, Dst: b, Type: "KNOWS", Props: map[string]any{"since": int64(2020)}}}}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Pending).To(BeZero(), "the in-half was delivered before the answer")

	in, err := api.Read(ctx, addr, graph, sb, &shardapi.ReadRequest{Expand: &shardapi.ExpandRequest{
		IDs: []layout.ID{b}, Sources: true, Dirs: []layout.Direction{layout.In}, Limit: 10,
		SourceFilter: &shardapi.VertexFilter{Labels: []string{"Person"}}}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(in.Sources).To(HaveLen(1))
	g.Expect(in.Halves).To(HaveLen(1))
	g.Expect(in.Halves[0].EdgeHalf).To(Equal(layout.EdgeHalf{Dir: layout.In, Vertex: b, Other: a, Type: "KNOWS", Edge: 77}))

	scan, err := api.Read(ctx, addr, graph, sa, &shardapi.ReadRequest{Catalog: true, Scan: &shardapi.ScanRequest{Label: "Person", Limit: 10}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(scan.Scanned).To(HaveLen(1))
	g.Expect(scan.Catalog.Version).To(Equal(uint64(1)))

	// The node answers in the binary encodings when asked (Read and Reads ask), which carry
	// what its JSON answers carry: a read, and the reads of several shards in one request, a
	// part's error included.
	raw := nodeapi.New(nodeapi.Config{})
	one := &shardapi.ReadRequest{Catalog: true, Vertices: &shardapi.VerticesRequest{IDs: []layout.ID{a}},
		Expand: &shardapi.ExpandRequest{IDs: []layout.ID{a}, Dirs: []layout.Direction{layout.Out}, Limit: 10}}
	read, err := api.Read(ctx, addr, graph, sa, one)
	g.Expect(err).NotTo(HaveOccurred())
	_, contentType, err := raw.PostJSONRaw(ctx, addr, shardapi.Path(graph, sa, "read"), one, shardapi.ReadMediaType)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(contentType).To(Equal(shardapi.ReadMediaType))
	var readJSON shardapi.ReadResponse
	g.Expect(raw.PostJSON(ctx, addr, shardapi.Path(graph, sa, "read"), one, &readJSON)).To(Succeed())
	g.Expect(read).To(Equal(&readJSON))
	g.Expect(read.Vertices).To(HaveLen(1))
	g.Expect(read.Halves).To(HaveLen(1))

	reads := &shardapi.ReadsRequest{Parts: []shardapi.ReadPart{
		{Shard: sb, Read: &shardapi.ReadRequest{Expand: &shardapi.ExpandRequest{IDs: []layout.ID{b}, Sources: true,
			Dirs: []layout.Direction{layout.In}, Limit: 10}}},
		{Shard: sa, Read: &shardapi.ReadRequest{Catalog: true, Scan: &shardapi.ScanRequest{Label: "Person", Limit: 10},
			Expand: &shardapi.ExpandRequest{IDs: []layout.ID{a}, Dirs: []layout.Direction{layout.Out}, Ends: true, Limit: 10}}},
		{Shard: 99, Read: &shardapi.ReadRequest{}},
	}}
	bin, err := api.Reads(ctx, addr, graph, reads)
	g.Expect(err).NotTo(HaveOccurred())
	_, contentType, err = raw.PostJSONRaw(ctx, addr, shardapi.ReadsPath(graph), reads, shardapi.ReadsMediaType)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(contentType).To(Equal(shardapi.ReadsMediaType))
	var js shardapi.ReadsResponse
	g.Expect(raw.PostJSON(ctx, addr, shardapi.ReadsPath(graph), reads, &js)).To(Succeed())
	g.Expect(bin).To(Equal(&js))
	g.Expect(bin.Parts[0].Read.Halves).To(HaveLen(1))
	g.Expect(bin.Parts[1].Read.Ends).To(Equal(shardapi.PackedIDs{b}))
	g.Expect(bin.Parts[2].Status).To(Equal(http.StatusMisdirectedRequest))

	graphs, err := api.Graphs(ctx, addr, 0)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(graphs).To(Equal([]string{graph}))

	// Refusals: a vertex with relationships, a bad graph name, a bad limit, a shard not hosted,
	// an unknown operation, a body that is not JSON.
	_, err = api.Write(ctx, addr, graph, sb, &shardapi.WriteRequest{Mutations: []shardapi.Mutation{{DeleteVertex: &shardapi.DeleteVertex{ID: b}}}})
	g.Expect(nodeapi.StatusCode(err)).To(Equal(http.StatusConflict))
	g.Expect(err.Error()).To(HaveSuffix(fmt.Sprintf("node answered 409: conflict: cannot delete vertex %d: it still has 1 relationship(s); delete them first, or use DETACH DELETE", b)))
	_, err = api.Read(ctx, addr, "bad/name", 0, &shardapi.ReadRequest{})
	g.Expect(nodeapi.StatusCode(err)).To(Equal(http.StatusBadRequest))
	_, err = api.Read(ctx, addr, "1bad", 0, &shardapi.ReadRequest{})
	g.Expect(nodeapi.StatusCode(err)).To(Equal(http.StatusBadRequest))
	_, err = api.Read(ctx, addr, graph, 0, &shardapi.ReadRequest{Scan: &shardapi.ScanRequest{Limit: 0}})
	g.Expect(nodeapi.StatusCode(err)).To(Equal(http.StatusBadRequest))
	_, err = api.Read(ctx, addr, graph, 99, &shardapi.ReadRequest{})
	g.Expect(nodeapi.StatusCode(err)).To(Equal(http.StatusMisdirectedRequest))
	err = nodeapi.New(nodeapi.Config{}).PostJSON(ctx, addr, shardapi.Path(graph, 0, "frobnicate"), struct{}{}, nil)
	g.Expect(nodeapi.StatusCode(err)).To(Equal(http.StatusNotFound))
	err = nodeapi.New(nodeapi.Config{}).PostJSON(ctx, addr, shardapi.Path(graph, 0, "write"), "a string", nil)
	g.Expect(nodeapi.StatusCode(err)).To(Equal(http.StatusBadRequest))

	// The read requests come in JSON (with no Content-Type too) or in their binary encodings
	// (Read and Reads send those); any other Content-Type is refused with 415, which tells a
	// client to send JSON, and a bad binary request with 400.
	oneBin, err := shardapi.EncodeReadRequest(one)
	g.Expect(err).NotTo(HaveOccurred())
	readsBin, err := shardapi.EncodeReadsRequest(reads)
	g.Expect(err).NotTo(HaveOccurred())
	oneJSON, err := json.Marshal(one)
	g.Expect(err).NotTo(HaveOccurred())
	for _, tc := range []struct {
		path, contentType string
		body              []byte
		status            int
		msg               string
	}{
		{shardapi.Path(graph, sa, "read"), "", oneJSON, http.StatusOK, ""},
		{shardapi.Path(graph, sa, "read"), "application/json; charset=utf-8", oneJSON, http.StatusOK, ""},
		{shardapi.Path(graph, sa, "read"), shardapi.ReadRequestMediaType, oneBin, http.StatusOK, ""},
		{shardapi.ReadsPath(graph), shardapi.ReadsRequestMediaType, readsBin, http.StatusOK, ""},
		{shardapi.Path(graph, sa, "read"), shardapi.ReadsRequestMediaType, readsBin, http.StatusUnsupportedMediaType,
			"this operation reads application/json or " + shardapi.ReadRequestMediaType},
		{shardapi.ReadsPath(graph), "text/plain", oneJSON, http.StatusUnsupportedMediaType, `Content-Type "text/plain"`},
		{shardapi.Path(graph, sa, "write"), shardapi.ReadRequestMediaType, oneBin, http.StatusUnsupportedMediaType,
			"this operation reads application/json"},
		{shardapi.Path(graph, sa, "read"), shardapi.ReadRequestMediaType, oneBin[:len(oneBin)-1], http.StatusBadRequest,
			"read request: malformed encoding"},
		{shardapi.ReadsPath(graph), shardapi.ReadsRequestMediaType, append([]byte{9}, readsBin[1:]...), http.StatusBadRequest,
			"reads request: malformed encoding: version 9"},
	} {
		_, _, err := raw.PostRaw(ctx, addr, tc.path, tc.body, tc.contentType, "")
		if tc.status == http.StatusOK {
			g.Expect(err).NotTo(HaveOccurred(), "%s as %q", tc.path, tc.contentType)
			continue
		}
		var e *nodeapi.Error
		g.Expect(errors.As(err, &e)).To(BeTrue(), "%s as %q: %v", tc.path, tc.contentType, err)
		g.Expect(e.StatusCode).To(Equal(tc.status), "%s as %q", tc.path, tc.contentType)
		g.Expect(e.Body.Error).To(ContainSubstring(tc.msg), "a JSON error body")
	}

	// DETACH DELETE removes both halves.
	_, err = api.Write(ctx, addr, graph, sa, &shardapi.WriteRequest{Mutations: []shardapi.Mutation{{DeleteVertex: &shardapi.DeleteVertex{ID: a, Detach: true}}}})
	g.Expect(err).NotTo(HaveOccurred())
	in, err = api.Read(ctx, addr, graph, sb, &shardapi.ReadRequest{Expand: &shardapi.ExpandRequest{IDs: []layout.ID{b}, Dirs: []layout.Direction{layout.In}, Limit: 10}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(in.Halves).To(BeEmpty())

	for s := range m.Shards {
		for {
			d, err := api.Drop(ctx, addr, graph, s)
			g.Expect(err).NotTo(HaveOccurred())
			if !d.More {
				break
			}
		}
	}
	graphs, err = api.Graphs(ctx, addr, 0)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(graphs).To(BeEmpty())
}

// TestOutboxSweepDeliversWhatAWriteLeft writes an edge through the store without delivering
// its outbox record (as when the node that wrote it crashed before delivering): the leader's
// sweep delivers it.
func TestOutboxSweepDeliversWhatAWriteLeft(t *testing.T) {
	g := NewWithT(t)
	n, _ := startNode(t, nil, nil)
	m := n.holder.Current()
	ctx := context.Background()
	const graph = "g"
	a, b := graphIDs(m, graph)
	sa, sb := m.ShardFor(layout.VertexKey(graph, a)), m.ShardFor(layout.VertexKey(graph, b))
	h := n.hosting.Load()
	for _, v := range []struct {
		id    layout.ID
		shard int
	}{{a, sa}, {b, sb}} {
		_, err := n.graph.Write(ctx, h.replicas[v.shard], v.shard, graph, []shardapi.Mutation{{CreateVertex: &shardapi.CreateVertex{ID: v.id}}})
		g.Expect(err).NotTo(HaveOccurred())
	}
	res, err := n.graph.Write(ctx, h.replicas[sa], sa, graph, []shardapi.Mutation{{CreateEdge: &shardapi.CreateEdge{ID: 5, Src: a, Dst: b, Type: "T"}}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Outbox).To(HaveLen(1), "the write left its record undelivered")

	api := shardapi.NewClient(nodeapi.New(nodeapi.Config{}))
	g.Eventually(func() ([]*shardapi.Half, error) {
		in, err := api.Read(ctx, n.Addr(), graph, sb, &shardapi.ReadRequest{Expand: &shardapi.ExpandRequest{IDs: []layout.ID{b}, Dirs: []layout.Direction{layout.In}, Limit: 10}})
		if err != nil {
			return nil, err
		}
		return in.Halves, nil
	}).WithTimeout(15 * time.Second).Should(HaveLen(1))
	g.Eventually(func() (int, error) {
		out, err := api.Read(ctx, n.Addr(), graph, sa, &shardapi.ReadRequest{Expand: &shardapi.ExpandRequest{IDs: []layout.ID{a}, Dirs: []layout.Direction{layout.Out}, Limit: 10}})
		if err != nil {
			return 0, err
		}
		return len(out.Halves), nil
	}).WithTimeout(5 * time.Second).Should(Equal(1))
}
