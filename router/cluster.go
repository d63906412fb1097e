package router

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/torua/torua/internal/httpx"
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
				var st shardmap.NodeStatus
				if err := rt.getJSON(ctx, n, "/internal/status", &st); err != nil {
					info.Nodes[i].Error = err.Error()
					return
				}
				info.Nodes[i].Reachable, info.Nodes[i].Status = true, &st
			})
		}
		wg.Wait()
	}
	httpx.WriteJSON(w, http.StatusOK, info)
}
