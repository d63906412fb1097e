//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
	"github.com/torua/torua/shardmap"
)

// timeline records every change of some objects, from a watch, with the time it was seen.
// Scenarios check orderings with it ("the map marked the nodes draining before the StatefulSet
// shrank") that polling could miss.
type timeline struct {
	mu     sync.Mutex
	events []observed
	ended  error // the watch ended before stop (the record is incomplete)
	cancel context.CancelFunc
	done   chan struct{}
}

type observed struct {
	at  time.Time
	typ watch.EventType
	obj client.Object
}

// record starts watching list's kind in the suite's namespace. The watch starts with the
// current objects (synthetic ADDED events).
func record(list client.ObjectList, opts ...client.ListOption) *timeline {
	ctx, cancel := context.WithCancel(context.Background())
	t := &timeline{cancel: cancel, done: make(chan struct{})}
	w, err := k8s.Watch(ctx, list, append([]client.ListOption{client.InNamespace(namespace)}, opts...)...)
	if err != nil {
		cancel()
		t.ended = fmt.Errorf("watch: %w", err)
		close(t.done)
		return t
	}
	go func() {
		defer close(t.done)
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.ResultChan():
				if !ok {
					t.mu.Lock()
					t.ended = fmt.Errorf("the watch of %T ended early", list)
					t.mu.Unlock()
					return
				}
				obj, isObj := ev.Object.(client.Object)
				if !isObj || ev.Type == watch.Bookmark {
					continue
				}
				if ev.Type == watch.Error {
					t.mu.Lock()
					t.ended = fmt.Errorf("watch error: %v", ev.Object)
					t.mu.Unlock()
					return
				}
				t.mu.Lock()
				t.events = append(t.events, observed{at: time.Now(), typ: ev.Type, obj: obj})
				t.mu.Unlock()
			}
		}
	}()
	return t
}

// stop ends the watch and returns the events; err is set if the watch ended early.
func (t *timeline) stop() ([]observed, error) {
	t.cancel()
	<-t.done
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]observed(nil), t.events...), t.ended
}

// conditionHistory lists the distinct successive values of a condition type, e.g.
// ["False/Balanced", "True/Draining", "False/Balanced"].
func conditionHistory(events []observed, condType string) []string {
	var out []string
	for _, ev := range events {
		tc, ok := ev.obj.(*toruav1alpha1.ToruaCluster)
		if !ok {
			continue
		}
		v := "absent"
		if c := meta.FindStatusCondition(tc.Status.Conditions, condType); c != nil {
			v = string(c.Status) + "/" + c.Reason
		}
		if len(out) == 0 || out[len(out)-1] != v {
			out = append(out, v)
		}
	}
	return out
}

// getCluster reads the ToruaCluster.
func getCluster(ctx context.Context, name string) (*toruav1alpha1.ToruaCluster, error) {
	tc := &toruav1alpha1.ToruaCluster{}
	err := k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, tc)
	return tc, err
}

// conditionReason returns the reason of tc's condition of the given type, "" if it has none.
func conditionReason(tc *toruav1alpha1.ToruaCluster, condType string) string {
	if c := meta.FindStatusCondition(tc.Status.Conditions, condType); c != nil {
		return c.Reason
	}
	return ""
}

func conditionIs(tc *toruav1alpha1.ToruaCluster, condType string, status metav1.ConditionStatus) bool {
	c := meta.FindStatusCondition(tc.Status.Conditions, condType)
	return c != nil && c.Status == status && c.ObservedGeneration == tc.Generation
}

func conditionSummary(tc *toruav1alpha1.ToruaCluster) string {
	var parts []string
	for _, c := range tc.Status.Conditions {
		parts = append(parts, fmt.Sprintf("%s=%s/%s (%s)", c.Type, c.Status, c.Reason, c.Message))
	}
	return fmt.Sprintf("generation %d observed %d, readyNodes %d, replicas %d, map v%d; %s",
		tc.Generation, tc.Status.ObservedGeneration, tc.Status.ReadyNodes, tc.Status.Replicas,
		tc.Status.ShardMapVersion, strings.Join(parts, "; "))
}

// readShardMap reads the published shard map of cluster name.
func readShardMap(ctx context.Context, name string) (*shardmap.Map, error) {
	cm := &corev1.ConfigMap{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name + "-shardmap"}, cm); err != nil {
		return nil, err
	}
	return shardMapOf(cm)
}

func shardMapOf(cm *corev1.ConfigMap) (*shardmap.Map, error) {
	data, ok := cm.Data[shardmap.ConfigMapKey]
	if !ok {
		return nil, fmt.Errorf("ConfigMap %s holds no shard map yet", cm.Name)
	}
	return shardmap.Decode([]byte(data))
}

// replicaCounts counts the replicas the map places on each of its nodes.
func replicaCounts(m *shardmap.Map) map[string]int {
	counts := map[string]int{}
	for _, n := range m.Nodes {
		counts[n.ID] = 0
	}
	for _, a := range m.Assignments {
		for _, id := range a.Replicas {
			counts[id]++
		}
	}
	return counts
}

// nodeStatus reads a node's /internal/status at its API address.
func nodeStatus(ctx context.Context, apiAddr string) (*shardmap.NodeStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+apiAddr+"/internal/status", nil)
	if err != nil {
		return nil, err
	}
	resp, err := env.HTTPClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /internal/status: %s %s", resp.Status, body)
	}
	var st shardmap.NodeStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// nodeKeys lists every key a node holds (?consistency=stale: what is on its disk, leader
// or not), straight from the node.
func nodeKeys(ctx context.Context, apiAddr string) ([]string, error) {
	var keys []string
	for after := ""; ; {
		u := "http://" + apiAddr + "/store?consistency=stale&limit=1000&after=" + url.QueryEscape(after)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		resp, err := env.HTTPClient().Do(req)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s %s", u, resp.Status, body)
		}
		var page struct {
			Keys []string `json:"keys"`
			Next string   `json:"next"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, err
		}
		keys = append(keys, page.Keys...)
		if page.Next == "" {
			return keys, nil
		}
		after = page.Next
	}
}

func isPodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// dumpDiagnostics writes what a failed spec needs to be understood to the GinkgoWriter
// (printed for failed specs): ToruaClusters, shard maps, StatefulSets, pods, PVCs, events,
// the operator's log and the containers' logs.
func dumpDiagnostics(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	w := GinkgoWriter
	section := func(title string) { fmt.Fprintf(w, "\n===== %s =====\n", title) }

	section("ToruaClusters")
	var tcs toruav1alpha1.ToruaClusterList
	if err := k8s.List(ctx, &tcs, client.InNamespace(namespace)); err != nil {
		fmt.Fprintln(w, err)
	}
	for _, tc := range tcs.Items {
		spec, _ := json.Marshal(tc.Spec)
		status, _ := json.MarshalIndent(tc.Status, "", "  ")
		fmt.Fprintf(w, "%s generation %d\nspec %s\nstatus %s\n", tc.Name, tc.Generation, spec, status)
	}

	section("Shard map ConfigMaps")
	var cms corev1.ConfigMapList
	if err := k8s.List(ctx, &cms, client.InNamespace(namespace)); err != nil {
		fmt.Fprintln(w, err)
	}
	for _, cm := range cms.Items {
		if strings.HasSuffix(cm.Name, "-shardmap") {
			fmt.Fprintf(w, "%s (resourceVersion %s):\n%s\n", cm.Name, cm.ResourceVersion, cm.Data[shardmap.ConfigMapKey])
		}
	}

	section("StatefulSets")
	var stss appsv1.StatefulSetList
	if err := k8s.List(ctx, &stss, client.InNamespace(namespace)); err != nil {
		fmt.Fprintln(w, err)
	}
	for _, s := range stss.Items {
		p := int32(-1)
		if ru := s.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
			p = *ru.Partition
		}
		fmt.Fprintf(w, "%s replicas %d partition %d; status %+v\n", s.Name, *s.Spec.Replicas, p, s.Status)
	}

	section("Pods")
	var pods corev1.PodList
	if err := k8s.List(ctx, &pods, client.InNamespace(namespace)); err != nil {
		fmt.Fprintln(w, err)
	}
	for _, p := range pods.Items {
		var cs []string
		for _, s := range p.Status.ContainerStatuses {
			state := "running"
			switch {
			case s.State.Waiting != nil:
				state = "waiting " + s.State.Waiting.Reason + " " + s.State.Waiting.Message
			case s.State.Terminated != nil:
				state = fmt.Sprintf("terminated %d %s", s.State.Terminated.ExitCode, s.State.Terminated.Reason)
			}
			cs = append(cs, fmt.Sprintf("%s image=%s ready=%v restarts=%d %s", s.Name, s.Image, s.Ready, s.RestartCount, state))
		}
		fmt.Fprintf(w, "%s uid=%s rev=%s phase=%s ip=%s ready=%v deleting=%v: %s\n", p.Name, p.UID,
			p.Labels[appsv1.ControllerRevisionHashLabelKey], p.Status.Phase, p.Status.PodIP, isPodReady(&p),
			p.DeletionTimestamp != nil, strings.Join(cs, "; "))
	}

	section("PersistentVolumeClaims")
	var pvcs corev1.PersistentVolumeClaimList
	if err := k8s.List(ctx, &pvcs, client.InNamespace(namespace)); err != nil {
		fmt.Fprintln(w, err)
	}
	for _, p := range pvcs.Items {
		var owners []string
		for _, o := range p.OwnerReferences {
			owners = append(owners, o.Kind+"/"+o.Name)
		}
		fmt.Fprintf(w, "%s phase=%s deleting=%v owners=%v\n", p.Name, p.Status.Phase, p.DeletionTimestamp != nil, owners)
	}

	section("Events")
	events, err := kube.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		fmt.Fprintln(w, err)
	} else {
		items := events.Items
		sort.SliceStable(items, func(i, j int) bool { return eventTime(items[i]).Before(eventTime(items[j])) })
		for _, e := range items {
			fmt.Fprintf(w, "%s %s %s/%s %s: %s\n", eventTime(e).Format("15:04:05.000"), e.Type,
				e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message)
		}
	}

	if hs, ok := env.Handoffs(); ok {
		section("Leadership hand-offs (the operator's TransferLeadership calls)")
		for _, h := range hs {
			fmt.Fprintf(w, "%s %s (%s): still leads %v, status error %v\n", h.at.Format("15:04:05.000"), h.node, h.addr, h.leaders, h.err)
		}
	}

	section("Operator log (last 30000 bytes)")
	fmt.Fprintln(w, tail(env.OperatorLog(ctx), 30000))

	section("Container logs (last 3000 bytes each)")
	for _, l := range env.ContainerLogs(ctx, namespace) {
		fmt.Fprintf(w, "--- %s/%s (uid %s)\n%s\n", l.pod, l.container, l.uid, tail(l.text, 3000))
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
