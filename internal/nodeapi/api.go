package nodeapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/shardmap"
)

// Status returns the node's GET /internal/status.
func (c *Client) Status(ctx context.Context, addr string) (*shardmap.NodeStatus, error) {
	var st shardmap.NodeStatus
	if err := c.getJSON(ctx, addr, "/internal/status", &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// RaftState is the body of a node's GET /internal/raft-state: the shards it holds Raft state
// for (or data it refuses to serve). A node about to found a shard asks every other node.
type RaftState struct {
	Node string `json:"node"`
	// RaftID is the node's Raft ID (16 hexadecimal digits), created with its Raft log: a
	// node that lost its disk has a new one. Nodes of versions before node identities send
	// none.
	RaftID string `json:"raftID"`
	Shards []int  `json:"shards"`
}

// RaftState returns the node's GET /internal/raft-state.
func (c *Client) RaftState(ctx context.Context, addr string) (*RaftState, error) {
	var st RaftState
	if err := c.getJSON(ctx, addr, "/internal/raft-state", &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// ShardMap returns the shard map the node holds (GET /internal/shardmap), decoded and
// validated; an error wrapping ErrNoShardMap (and the node's *Error) when it holds none yet.
func (c *Client) ShardMap(ctx context.Context, addr string) (*shardmap.Map, error) {
	const path = "/internal/shardmap"
	body, err := c.do(ctx, http.MethodGet, addr, path)
	if StatusCode(err) == http.StatusNotFound {
		return nil, fmt.Errorf("%w: %w", ErrNoShardMap, err)
	}
	if err != nil {
		return nil, err
	}
	m, err := shardmap.Decode(body)
	if err != nil {
		return nil, fmt.Errorf("GET %s%s: %w: %v", addr, path, ErrBadAnswer, err)
	}
	return m, nil
}

// TransferLeadership asks the node to hand off every shard leadership it holds
// (POST /internal/transfer-leadership). A nil error means the node answered 2xx once every
// hand-off had finished or failed; the answer's counts are not read.
func (c *Client) TransferLeadership(ctx context.Context, addr string) error {
	_, err := c.do(ctx, http.MethodPost, addr, "/internal/transfer-leadership")
	return err
}

// ListRequest is a listing of a node's keys (GET /store).
type ListRequest struct {
	httpx.ListParams
	// Consistency is sent as given when not empty ("stale": any replica may answer).
	Consistency string
	// Shards names the shards to list, each of which the node must host (421 otherwise);
	// every shard it hosts when empty.
	Shards []int
}

// path is r as GET /store's path and query.
func (r ListRequest) path() string {
	q := url.Values{"prefix": {r.Prefix}, "after": {r.After}, "limit": {strconv.Itoa(r.Limit)}}
	if r.Consistency != "" {
		q.Set("consistency", r.Consistency)
	}
	if len(r.Shards) > 0 {
		s := make([]string, len(r.Shards))
		for i, x := range r.Shards {
			s[i] = strconv.Itoa(x)
		}
		q.Set("shards", strings.Join(s, ","))
	}
	return "/store?" + q.Encode()
}

// List returns a page of the node's keys (GET /store): each listed shard's first r.Limit
// keys after r.After with r.Prefix, merged and cut to r.Limit.
func (c *Client) List(ctx context.Context, addr string, r ListRequest) (*httpx.ListPage, error) {
	var page httpx.ListPage
	if err := c.getJSON(ctx, addr, r.path(), &page); err != nil {
		return nil, err
	}
	return &page, nil
}
