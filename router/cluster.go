package router

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/internal/nodeapi"
	"github.com/torua/torua/router/client"
	"github.com/torua/torua/shardmap"
)

// handleCluster reports the map and each node's reachability and status.
func (rt *Router) handleCluster(w http.ResponseWriter, r *http.Request) {
	m := rt.holder.Current()
	info := client.ClusterInfo{Map: m, Nodes: []client.NodeInfo{}}
	if m != nil {
		info.Nodes = make([]client.NodeInfo, len(m.Nodes))
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for i, n := range m.Nodes {
			info.Nodes[i] = client.NodeInfo{ID: n.ID, API: n.API, State: n.State}
			wg.Go(func() {
				st, err := rt.nodes.Status(ctx, n.API)
				if err != nil {
					info.Nodes[i].Error = nodeError(n, err).Error()
					return
				}
				info.Nodes[i].Reachable, info.Nodes[i].Status = true, st
			})
		}
		wg.Wait()
	}
	httpx.WriteJSON(w, http.StatusOK, info)
}

// nodeError is the router's error for a call of node's HTTP API that failed with err: 503
// when the node is unreachable or answers that it cannot serve (421, 503), else 502.
func nodeError(node shardmap.Node, err error) error {
	var ae *nodeapi.Error
	switch {
	case refused(err):
		return fmt.Errorf("%w: node %s (%s) is unreachable", httpx.ErrUnavailable, node.ID, node.API)
	case errors.As(err, &ae) && (ae.StatusCode == http.StatusMisdirectedRequest || ae.StatusCode == http.StatusServiceUnavailable):
		return fmt.Errorf("%w: node %s: %s", httpx.ErrUnavailable, node.ID, ae.Body.Error)
	case errors.As(err, &ae):
		return fmt.Errorf("%w: node %s answered %d: %s", httpx.ErrBadGateway, node.ID, ae.StatusCode, ae.Body.Error)
	case errors.Is(err, nodeapi.ErrBadAnswer):
		return fmt.Errorf("%w: node %s: %v", httpx.ErrBadGateway, node.ID, err)
	}
	return fmt.Errorf("%w: node %s (%s): %v", httpx.ErrBadGateway, node.ID, node.API, err)
}
