package shardapi

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/torua/torua/internal/binenc"
	"github.com/torua/torua/internal/nodeapi"
)

// A bulk load (graph/exec's BulkLoad) sends each shard its run of the graph's keys, sorted, in
// consecutive requests; each is one Raft entry on the shard, ingested by every replica as one
// table (node/engine's loads).

// LoadMediaType is the Content-Type of a LoadRequest's binary body:
//
//	1 | uvarint pair count | pairs (uvarint len | key | uvarint len | value)
const LoadMediaType = "application/x-torua-graph-load"

// loadVersion is the only version of the load body this code writes and reads.
const loadVersion = 1

// Pair is one key of a bulk load and its value.
type Pair struct {
	Key, Value []byte
}

// LoadRequest is a part of a shard's run of a bulk load: keys of the graph's data (vertex
// records, label and index entries, edge halves, adjacency versions), sorted, strictly
// ascending, each after every key of the shard's requests before it.
type LoadRequest struct {
	Pairs []Pair
}

// LoadResponse is a load request's outcome: the last revision its keys took on the shard.
type LoadResponse struct {
	Revision uint64 `json:"revision"`
}

// EncodeLoadRequest encodes r as LoadMediaType.
func EncodeLoadRequest(r *LoadRequest) []byte {
	n := 1 + binary.MaxVarintLen64
	for _, p := range r.Pairs {
		n += 2*binary.MaxVarintLen64 + len(p.Key) + len(p.Value)
	}
	b := make([]byte, 0, n)
	b = append(b, loadVersion)
	b = binary.AppendUvarint(b, uint64(len(r.Pairs)))
	for _, p := range r.Pairs {
		b = binenc.AppendBytes(b, p.Key)
		b = binenc.AppendBytes(b, p.Value)
	}
	return b
}

// DecodeLoadRequest decodes a LoadMediaType body; the pairs alias b.
func DecodeLoadRequest(b []byte) (*LoadRequest, error) {
	d := binenc.NewDecoder(b)
	if v := d.Byte(); d.Err() == nil && v != loadVersion {
		return nil, fmt.Errorf("load request version %d: this node reads version %d", v, loadVersion)
	}
	n := d.Count(2)
	r := &LoadRequest{Pairs: make([]Pair, 0, n)}
	for i := 0; i < n && d.Err() == nil; i++ {
		r.Pairs = append(r.Pairs, Pair{Key: d.Bytes(), Value: d.Bytes()})
	}
	d.End()
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("load request: %v", err)
	}
	return r, nil
}

// Load sends a LoadRequest.
func (c *Client) Load(ctx context.Context, addr, graph string, shard int, r *LoadRequest) (*LoadResponse, error) {
	body, _, err := c.c.PostRaw(ctx, addr, Path(graph, shard, "load"), EncodeLoadRequest(r), LoadMediaType, "application/json")
	if err != nil {
		return nil, err
	}
	var out LoadResponse
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("POST %s%s: %w: %v", addr, Path(graph, shard, "load"), nodeapi.ErrBadAnswer, err)
	}
	return &out, nil
}
