package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
	"github.com/torua/torua/shardmap"
)

// shardMapHashAnnotation on the shard map ConfigMap is the SHA-256 (hex) of the document the
// operator wrote under shardmap.ConfigMapKey, or of the empty string while it holds no map.
// A document whose hash differs was not written by the operator.
const shardMapHashAnnotation = "torua.io/shardmap-sha256"

func documentHash(doc string) string {
	sum := sha256.Sum256([]byte(doc))
	return hex.EncodeToString(sum[:])
}

// configMapView is what the shard map ConfigMap holds, as one reconcile read it.
type configMapView struct {
	exists bool
	hasKey bool
	doc    string
	// ours: the hash annotation matches the document, so the operator wrote exactly this.
	ours bool
	// m is the document decoded and validated, when it is a map of this cluster; else nil.
	m *shardmap.Map
	// version is the document's version field when it parses as JSON at all (0 otherwise):
	// a published map must be newer than it, valid or not.
	version uint64
	// invalid says why the document is not a map of this cluster.
	invalid error
}

// readShardMapConfigMap interprets cm (nil when it does not exist) for a cluster.
func readShardMapConfigMap(cm *corev1.ConfigMap, cluster string, shards int) configMapView {
	v := configMapView{exists: cm != nil}
	if cm == nil {
		return v
	}
	v.doc, v.hasKey = cm.Data[shardmap.ConfigMapKey]
	ann, annotated := cm.Annotations[shardMapHashAnnotation]
	v.ours = annotated && ann == documentHash(v.doc)
	if !v.hasKey {
		return v
	}
	var head struct {
		Version uint64 `json:"version"`
	}
	if json.Unmarshal([]byte(v.doc), &head) == nil {
		v.version = head.Version
	}
	m, err := shardmap.Decode([]byte(v.doc))
	switch {
	case err != nil:
		v.invalid = err
	case m.Cluster != cluster || m.Shards != shards:
		v.invalid = fmt.Errorf("it is a map of cluster %q with %d shards, not %q with %d", m.Cluster, m.Shards, cluster, shards)
	default:
		v.m = m
	}
	return v
}

// trusted reports whether the ConfigMap holds the operator's own map, at least as new as
// every version the operator published (floor): then it is the map to build on, and nobody
// needs to be asked. An empty ConfigMap the operator made is trusted while no map was ever
// published.
func (v configMapView) trusted(floor uint64) bool {
	if !v.ours {
		return false
	}
	if !v.hasKey {
		return floor == 0
	}
	return v.m != nil && v.m.Version >= floor
}

// problem says, for events and conditions, what is wrong with an untrusted ConfigMap.
func (v configMapView) problem(floor uint64) string {
	switch {
	case !v.exists:
		return "was deleted"
	case !v.hasKey:
		return fmt.Sprintf("holds no key %s", shardmap.ConfigMapKey)
	case v.invalid != nil:
		return fmt.Sprintf("holds a document that is not a shard map of this cluster (%v)", v.invalid)
	case !v.ours:
		return fmt.Sprintf("holds a shard map (version %d) the operator did not write", v.m.Version)
	default:
		return fmt.Sprintf("holds shard map version %d, older than version %d the operator published", v.m.Version, floor)
	}
}

// mapDecision is what the operator does with the shard map ConfigMap in one reconcile.
type mapDecision int

const (
	// mapTrusted: the ConfigMap holds the operator's newest map; build on it.
	mapTrusted mapDecision = iota
	// mapBootstrap: no map was ever published and nobody holds one; make the first.
	mapBootstrap
	// mapAdopt: the ConfigMap holds, unmarked, exactly the newest map the nodes hold (an
	// operator upgrade, or the annotation removed); mark it as the operator's, same version.
	mapAdopt
	// mapRestore: publish the placement built on prev with a version above every one seen.
	mapRestore
	// mapLost: a map was published, but neither the nodes, the operator nor the ConfigMap
	// holds a usable one; change nothing and wait for a node to answer.
	mapLost
)

// lastGoodInput is everything lastGoodShardMap decides from; it is pure.
type lastGoodInput struct {
	cm configMapView
	// nodes maps a node ID to the map it answered GET /internal/shardmap with.
	nodes map[string]*shardmap.Map
	// remembered is the map this operator process last published or found trusted.
	remembered *shardmap.Map
	// statusVersion is status.shardMapVersion: the version the operator last reported.
	statusVersion uint64
	cluster       string
	shards        int
}

// lastGoodResult is the map an untrusted ConfigMap is replaced with.
type lastGoodResult struct {
	decision mapDecision
	// prev is the last good map: placement builds on it (nil for bootstrap and lost).
	prev *shardmap.Map
	// floor is the highest version seen anywhere: a published map must have a higher one.
	floor uint64
	// from says where prev came from, for events and logs.
	from string
}

// publishedFloor is the newest version the operator knows it published.
func publishedFloor(remembered *shardmap.Map, statusVersion uint64) uint64 {
	if remembered != nil {
		return max(remembered.Version, statusVersion)
	}
	return statusVersion
}

// lastGoodShardMap decides what replaces a ConfigMap that does not hold the operator's newest
// map. The last good map is the one the data plane follows: the newest map any node holds
// (nodes accept only valid maps newer than theirs, so it is also the newest valid map ever
// published), or the one this operator process remembers publishing, whichever is newer.
// Without either, a valid map in the ConfigMap written by someone else is taken as the last
// good map (nobody can say otherwise, and nodes that come back will read it). Without any, a
// cluster that never had a map bootstraps, and one that had waits (lost): publishing a map
// from scratch over data placed by a lost one would move every replica.
//
// Whatever is published has a version above every version seen (the ConfigMap's, if its
// document parses at all, every node's, the remembered and the reported one), so no node
// ever refuses it as stale. If the ConfigMap holds, unmarked, exactly the newest map, it is
// adopted as it is.
func lastGoodShardMap(in lastGoodInput) lastGoodResult {
	res := lastGoodResult{floor: max(in.cm.version, publishedFloor(in.remembered, in.statusVersion))}
	var good *shardmap.Map
	var holders []string
	ids := make([]string, 0, len(in.nodes))
	for id := range in.nodes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		m := in.nodes[id]
		if m == nil || m.Cluster != in.cluster || m.Shards != in.shards || m.Validate() != nil {
			continue
		}
		res.floor = max(res.floor, m.Version)
		switch {
		case good == nil || m.Version > good.Version:
			good, holders = m, []string{id}
		case m.Version == good.Version:
			holders = append(holders, id)
		}
	}
	res.from = fmt.Sprintf("nodes %v", holders)
	if r := in.remembered; r != nil && (good == nil || r.Version > good.Version) {
		good, res.from = r, "the operator's last published map"
	}
	switch {
	case good != nil:
		res.prev = good
		res.decision = mapRestore
		if c := in.cm.m; c != nil && c.Version == good.Version && good.Version >= res.floor && shardmap.SameContent(c, good) {
			res.decision = mapAdopt
		}
	case in.cm.m != nil:
		res.prev, res.decision, res.from = in.cm.m, mapRestore, "the ConfigMap"
	case publishedFloor(in.remembered, in.statusVersion) == 0:
		res.decision, res.from = mapBootstrap, ""
	default:
		res.decision, res.from = mapLost, ""
	}
	return res
}

// withVersion returns m with version v (m itself if it has it): maps are immutable.
func withVersion(m *shardmap.Map, v uint64) *shardmap.Map {
	if m.Version == v {
		return m
	}
	c := *m
	c.Version = v
	return &c
}

// nextVersion is the version a map published over floor gets: above floor, and never below
// the version placement gave it.
func nextVersion(placed, floor uint64) (uint64, error) {
	if floor == math.MaxUint64 {
		return 0, errors.New("cannot publish a shard map: a version at the maximum was seen")
	}
	return max(placed, floor+1), nil
}

// rememberedMaps holds, per cluster, the map this operator process last published or found
// trusted: one more witness of the last good map when the ConfigMap is lost and every node is
// down. Safe for concurrent use; the zero value is ready.
type rememberedMaps struct {
	mu sync.Mutex
	m  map[types.NamespacedName]*shardmap.Map
}

func (r *rememberedMaps) get(k types.NamespacedName) *shardmap.Map {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[k]
}

func (r *rememberedMaps) put(k types.NamespacedName, m *shardmap.Map) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[types.NamespacedName]*shardmap.Map{}
	}
	if cur := r.m[k]; cur == nil || m.Version >= cur.Version {
		r.m[k] = m
	}
}

func (r *rememberedMaps) forget(k types.NamespacedName) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, k)
}

// resolveShardMap sets s.current to the map the operator builds on. A trusted ConfigMap
// is read as it is; otherwise the nodes are asked for the map they hold (GET
// /internal/shardmap) and lastGoodShardMap decides.
func (r *ToruaClusterReconciler) resolveShardMap(ctx context.Context, s *clusterState, cm *corev1.ConfigMap) {
	tc := s.tc
	key := keyOf(tc)
	remembered := r.remembered.get(key)
	statusVersion := uint64(max(tc.Status.ShardMapVersion, 0))
	view := readShardMapConfigMap(cm, tc.Name, int(tc.Spec.Shards))
	floor := publishedFloor(remembered, statusVersion)
	if !view.trusted(floor) && r.APIReader != nil {
		// The cache may not have seen the operator's last write yet: look at what is stored.
		fresh := &corev1.ConfigMap{}
		switch err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: tc.Namespace, Name: shardMapName(tc)}, fresh); {
		case err == nil:
			view = readShardMapConfigMap(fresh, tc.Name, int(tc.Spec.Shards))
		case apierrors.IsNotFound(err):
			view = readShardMapConfigMap(nil, tc.Name, int(tc.Spec.Shards))
		}
	}
	s.mapView = view
	if view.trusted(floor) {
		s.mapDecision, s.current, s.mapFloor = mapTrusted, view.m, view.version
		if view.m != nil {
			r.remembered.put(key, view.m)
		}
		return
	}
	s.mapProblem = view.problem(floor)
	res := lastGoodShardMap(lastGoodInput{
		cm: view, nodes: r.nodeShardMaps(ctx, s, remembered), remembered: remembered,
		statusVersion: statusVersion, cluster: tc.Name, shards: int(tc.Spec.Shards),
	})
	s.mapDecision, s.current, s.mapFloor, s.mapFrom = res.decision, res.prev, res.floor, res.from
	s.mapForeign = res.decision == mapAdopt && res.prev.Version > floor
	logf.FromContext(ctx).V(1).Info("Read the shard map from the nodes", "configMap", s.mapProblem,
		"decision", res.decision, "floor", res.floor, "from", res.from)
}

// nodeShardMaps asks every node pod that has an address (its EndpointSlice entry, else its
// address in the last status or the remembered map) for the map it holds. Nodes that do not
// answer with one are left out.
func (r *ToruaClusterReconciler) nodeShardMaps(ctx context.Context, s *clusterState, remembered *shardmap.Map) map[string]*shardmap.Map {
	addrs := map[string]string{}
	if remembered != nil {
		for _, n := range remembered.Nodes {
			addrs[n.ID] = n.API
		}
	}
	for _, m := range s.tc.Status.Members {
		if m.Address != "" {
			addrs[m.Name] = m.Address
		}
	}
	for id, ep := range s.endpoints {
		addrs[id] = net.JoinHostPort(ep.IP, strconv.Itoa(NodeAPIPort))
	}
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		out = map[string]*shardmap.Map{}
	)
	for id, addr := range addrs {
		if _, ok := podOrdinal(s.tc, id); !ok {
			continue
		}
		wg.Go(func() {
			m, err := r.Nodes.ShardMap(ctx, addr)
			if err != nil {
				logf.FromContext(ctx).V(1).Info("Could not read a node's shard map", "node", id, "address", addr, "err", err)
				return
			}
			mu.Lock()
			out[id] = m
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// publishShardMap writes m to the ConfigMap, marked as the operator's.
func (r *ToruaClusterReconciler) publishShardMap(ctx context.Context, s *clusterState, m *shardmap.Map) error {
	doc, err := shardmap.Encode(m)
	if err != nil {
		return fmt.Errorf("encode shard map: %w", err)
	}
	if _, err := r.ensure(ctx, s.tc, desiredShardMapConfigMap(s.tc, string(doc), true)); err != nil {
		return err
	}
	r.remembered.put(keyOf(s.tc), m)
	return nil
}

// restoredShardMapEvent reports a ConfigMap put back to the last good map.
func (r *ToruaClusterReconciler) restoredShardMapEvent(ctx context.Context, s *clusterState, next *shardmap.Map) {
	tc := s.tc
	logf.FromContext(ctx).Info("Restored shard map", "configMap", shardMapName(tc), "problem", s.mapProblem,
		"version", next.Version, "lastGoodVersion", s.current.Version, "from", s.mapFrom)
	r.event(tc, corev1.EventTypeWarning, toruav1alpha1.ReasonShardMapRestored, "Restore",
		"ConfigMap %s %s: published the last good shard map (version %d, from %s) as version %d",
		shardMapName(tc), s.mapProblem, s.current.Version, s.mapFrom, next.Version)
}
