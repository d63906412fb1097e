package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/internal/nodeapi"
	"github.com/torua/torua/shardmap"
)

// handleList gathers a page from every node, each asked for the shards it serves, and merges them.
func (rt *Router) handleList(w http.ResponseWriter, r *http.Request) {
	p, err := httpx.ParseList(r)
	if err != nil {
		httpx.WriteError(w, r, rt.log, err)
		return
	}
	m := rt.holder.Current()
	if m == nil {
		httpx.WriteError(w, r, rt.log, fmt.Errorf("%w: no valid shard map yet", httpx.ErrUnavailable))
		return
	}
	// One request per node for the shards it leads (as far as the router knows); a node
	// that fails them is bypassed shard by shard, each following leader hints.
	byNode := map[string][]int{}
	for s := range m.Shards {
		id := rt.leaderOf(m, s)
		byNode[id] = append(byNode[id], s)
	}
	req := nodeapi.ListRequest{ListParams: p, Consistency: r.URL.Query().Get("consistency")}
	type result struct {
		page httpx.ListPage
		err  error
	}
	results := make(chan result, len(byNode))
	for id, shards := range byNode {
		node, _ := m.Node(id)
		go func() {
			req := req
			req.Shards = shards
			var page httpx.ListPage
			got, err := rt.nodes.List(r.Context(), node.API, req)
			if err == nil {
				page = *got
			} else {
				page, err = rt.listShards(r.Context(), shards, req)
			}
			results <- result{page, err}
		}()
	}
	var keys []string
	more := false
	for range byNode {
		res := <-results
		if res.err != nil && err == nil {
			err = res.err
		}
		keys = append(keys, res.page.Keys...)
		more = more || res.page.Next != ""
	}
	if err != nil {
		httpx.WriteError(w, r, rt.log, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, httpx.Page(keys, p.Limit, more))
}

// listShards lists each shard on its own through forwardTo (leader hints, retries) and
// merges the pages.
func (rt *Router) listShards(ctx context.Context, shards []int, req nodeapi.ListRequest) (httpx.ListPage, error) {
	var out httpx.ListPage
	for _, s := range shards {
		req.Shards = []int{s}
		var (
			page    *httpx.ListPage
			lastErr error // the last call's error: with a 200 reply, an answer it could not use
		)
		rep, err := rt.forwardTo(ctx, true, func(*shardmap.Map) int { return s },
			func(ctx context.Context, node shardmap.Node) (reply, error) {
				page, lastErr = rt.nodes.List(ctx, node.API, req)
				return httpReply(lastErr)
			})
		if err != nil {
			return out, err
		}
		if rep.status != http.StatusOK {
			return out, fmt.Errorf("%w: listing shard %d answered %d", httpx.ErrUnavailable, s, rep.status)
		}
		if lastErr != nil {
			return out, fmt.Errorf("%w: listing shard %d: %v", httpx.ErrBadGateway, s, lastErr)
		}
		out.Keys = append(out.Keys, page.Keys...)
		if page.Next != "" {
			out.Next = page.Next
		}
	}
	return out, nil
}

// httpReply is the reply forwardTo judges for a call of a node's HTTP API that returned
// err: a non-2xx answer is its status and JSON error body, as over the wire protocol (leader
// hints, 503s); a 2xx answer is 200 even when it cannot be used (the node answered, so it
// is not sent again); any other error is the transport's.
func httpReply(err error) (reply, error) {
	var ae *nodeapi.Error
	switch {
	case err == nil || errors.Is(err, nodeapi.ErrBadAnswer):
		return reply{status: http.StatusOK}, nil
	case errors.As(err, &ae):
		body, _ := json.Marshal(ae.Body)
		return reply{status: ae.StatusCode, body: body}, nil
	}
	return reply{}, err
}
