package router

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/torua/torua/internal/httpx"
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
	q := url.Values{"prefix": {p.Prefix}, "after": {p.After}, "limit": {strconv.Itoa(p.Limit)}}
	if c := r.URL.Query().Get("consistency"); c != "" {
		q.Set("consistency", c)
	}
	type result struct {
		page httpx.ListPage
		err  error
	}
	results := make(chan result, len(byNode))
	for id, shards := range byNode {
		node, _ := m.Node(id)
		go func() {
			var page httpx.ListPage
			err := rt.getJSON(r.Context(), node, "/store?"+withParam(q, "shards", joinInts(shards)).Encode(), &page)
			if err != nil {
				page, err = rt.listShards(r.Context(), shards, q)
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
func (rt *Router) listShards(ctx context.Context, shards []int, q url.Values) (httpx.ListPage, error) {
	var out httpx.ListPage
	for _, s := range shards {
		path := "/store?" + withParam(q, "shards", strconv.Itoa(s)).Encode()
		rep, err := rt.forwardTo(ctx, true, func(*shardmap.Map) int { return s },
			func(ctx context.Context, node shardmap.Node) (reply, error) { return rt.sendHTTP(ctx, node, path) })
		if err != nil {
			return out, err
		}
		if rep.status != http.StatusOK {
			return out, fmt.Errorf("%w: listing shard %d answered %d", httpx.ErrUnavailable, s, rep.status)
		}
		var page httpx.ListPage
		if err := json.Unmarshal(rep.body, &page); err != nil {
			return out, fmt.Errorf("%w: listing shard %d: %v", httpx.ErrBadGateway, s, err)
		}
		out.Keys = append(out.Keys, page.Keys...)
		if page.Next != "" {
			out.Next = page.Next
		}
	}
	return out, nil
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

// withParam returns a copy of q with k set to v.
func withParam(q url.Values, k, v string) url.Values {
	c := url.Values{}
	for key, vs := range q {
		c[key] = vs
	}
	c.Set(k, v)
	return c
}

// maxNodeJSON bounds a node's JSON answer (a listing of 10,000 keys of 1 KiB, with room).
const maxNodeJSON = 32 << 20

// sendHTTP sends a GET of path and query to node over HTTP and reads the whole answer
// (JSON: listings, status), up to maxNodeJSON.
func (rt *Router) sendHTTP(ctx context.Context, node shardmap.Node, pathAndQuery string) (reply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+node.API+pathAndQuery, nil)
	if err != nil {
		return reply{}, err
	}
	resp, err := rt.client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxNodeJSON))
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, body: body}, nil
}

// getJSON fetches a node's JSON resource, turning failures into the router's errors.
func (rt *Router) getJSON(ctx context.Context, node shardmap.Node, path string, v any) error {
	rep, err := rt.sendHTTP(ctx, node, path)
	switch {
	case err != nil && refused(err):
		return fmt.Errorf("%w: node %s (%s) is unreachable", httpx.ErrUnavailable, node.ID, node.API)
	case err != nil:
		return fmt.Errorf("%w: node %s (%s): %v", httpx.ErrBadGateway, node.ID, node.API, err)
	case rep.status == http.StatusMisdirectedRequest || rep.status == http.StatusServiceUnavailable:
		var e httpx.ErrorBody
		_ = json.Unmarshal(rep.body, &e)
		return fmt.Errorf("%w: node %s: %s", httpx.ErrUnavailable, node.ID, e.Error)
	case rep.status != http.StatusOK:
		var e httpx.ErrorBody
		_ = json.Unmarshal(rep.body, &e)
		return fmt.Errorf("%w: node %s answered %d: %s", httpx.ErrBadGateway, node.ID, rep.status, e.Error)
	}
	if err := json.Unmarshal(rep.body, v); err != nil {
		return fmt.Errorf("%w: node %s: %v", httpx.ErrBadGateway, node.ID, err)
	}
	return nil
}
