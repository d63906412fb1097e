package localkube

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
	"github.com/torua/torua/controllers"
	"github.com/torua/torua/shardmap"
)

// toruaImage is the ToruaCluster's image; the kubelet runs the torua binary built by the test.
const toruaImage = "torua:test"

// TestToruaClusterOnLocalkube runs the operator in-process against localkube with the real torua
// binary as the nodes' and the router's container, and checks data written through the router
// survives the loss of a node pod (its PVC-backed data directory outlives the pod).
func TestToruaClusterOnLocalkube(t *testing.T) {
	binDir := t.TempDir()
	toruaBin := filepath.Join(binDir, "torua")
	// Build while the control plane starts: the kubelet needs the binary only once pods exist.
	built := make(chan error, 1)
	go func() {
		cmd := exec.Command("go", "build", "-o", toruaBin, "./cmd/torua")
		cmd.Dir = filepath.Join("..", "..")
		out, err := cmd.CombinedOutput()
		if err != nil {
			err = fmt.Errorf("go build ./cmd/torua: %w\n%s", err, out)
		}
		built <- err
	}()

	ctx := t.Context()
	c, err := Start(ctx, Options{
		CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")},
		Images:            map[string]string{imageRepository(toruaImage): toruaBin},
		Output:            testOutput(t),
	})
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	if buildErr := <-built; buildErr != nil {
		t.Fatal(buildErr)
	}
	if err != nil {
		t.Fatal(err)
	}
	kube := kubernetes.NewForConfigOrDie(c.Config)
	const ns = "default"

	// The operator, in-process, logging to a buffer printed if the test fails.
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(toruav1alpha1.AddToScheme(scheme))
	opLog := &syncBuffer{}
	log := logr.FromSlogHandler(slog.NewTextHandler(opLog, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctrl.SetLogger(log)
	mgr, err := ctrl.NewManager(c.Config, ctrl.Options{
		Scheme:                 scheme,
		Logger:                 log,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &controllers.ToruaClusterReconciler{
		Client:       mgr.GetClient(),
		Scheme:       mgr.GetScheme(),
		Recorder:     mgr.GetEventRecorder("torua-operator"),
		Nodes:        &controllers.HTTPNodeClient{Client: &http.Client{}, Timeout: 2 * time.Second},
		PollInterval: time.Second,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	mgrCtx, stopMgr := context.WithCancel(context.Background())
	mgrDone := make(chan error, 1)
	go func() { mgrDone <- mgr.Start(mgrCtx) }()
	// Cleanups run last-in first-out: the manager stops (closing its watches) before the
	// control plane, and the diagnostics are printed while everything still runs.
	t.Cleanup(func() {
		stopMgr()
		if err := <-mgrDone; err != nil {
			t.Errorf("operator manager: %v", err)
		}
	})
	t.Cleanup(func() {
		if t.Failed() {
			dumpDiagnostics(t, c, kube, ns, opLog)
		}
	})

	tc := &toruav1alpha1.ToruaCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "tc", Namespace: ns},
		Spec: toruav1alpha1.ToruaClusterSpec{
			Replicas:          3,
			Shards:            8,
			ReplicationFactor: 1, // the data plane does not replicate yet
			Image:             toruaImage,
		},
	}
	k8s := mgr.GetClient()
	if err := k8s.Create(ctx, tc); err != nil {
		t.Fatal(err)
	}

	available := func(ctx context.Context) (bool, error) {
		var got toruav1alpha1.ToruaCluster
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(tc), &got); err != nil {
			return false, err
		}
		if !meta.IsStatusConditionTrue(got.Status.Conditions, toruav1alpha1.ConditionAvailable) || got.Status.ReadyNodes != 3 {
			return false, fmt.Errorf("readyNodes %d, conditions %s", got.Status.ReadyNodes, conditionSummary(got.Status.Conditions))
		}
		return true, nil
	}
	eventually(t, 90*time.Second, "ToruaCluster Available with 3 ready nodes", available)

	var shardMap shardmap.Map
	eventually(t, 10*time.Second, "shard map ConfigMap with 3 nodes", func(ctx context.Context) (bool, error) {
		cm, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, "tc-shardmap", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		shardMap = shardmap.Map{}
		if err := json.Unmarshal([]byte(cm.Data[shardmap.ConfigMapKey]), &shardMap); err != nil {
			return false, err
		}
		if len(shardMap.Nodes) != 3 || shardMap.Shards != 8 {
			return false, fmt.Errorf("%d nodes, %d shards", len(shardMap.Nodes), shardMap.Shards)
		}
		return true, nil
	})
	t.Logf("Shard map version %d: %d nodes, %d shards.", shardMap.Version, len(shardMap.Nodes), shardMap.Shards)

	var routerIP string
	eventually(t, 30*time.Second, "a Ready router pod", func(ctx context.Context) (bool, error) {
		pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for i := range pods.Items {
			p := &pods.Items[i]
			if strings.HasPrefix(p.Name, "tc-router-") && p.DeletionTimestamp == nil && isReady(p) && p.Status.PodIP != "" {
				routerIP = p.Status.PodIP
				return true, nil
			}
		}
		return false, errors.New("no Ready router pod")
	})
	router := "http://" + net.JoinHostPort(routerIP, "8080")
	httpc := &http.Client{Timeout: 5 * time.Second}

	const nKeys = 200
	key := func(i int) string { return fmt.Sprintf("key-%03d", i) }
	value := func(i int) string { return fmt.Sprintf("value-%03d", i) }
	for i := range nKeys {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, router+"/data/"+key(i), strings.NewReader(value(i)))
		if err != nil {
			t.Fatal(err)
		}
		status, body, err := do(httpc, req)
		if err != nil || status/100 != 2 {
			t.Fatalf("PUT %s: %d %s %v", key(i), status, body, err)
		}
	}
	readAll := func(ctx context.Context) error {
		for i := range nKeys {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, router+"/data/"+key(i), nil)
			if err != nil {
				return err
			}
			status, body, err := do(httpc, req)
			if err != nil {
				return fmt.Errorf("GET %s: %w", key(i), err)
			}
			if status != http.StatusOK || string(body) != value(i) {
				return fmt.Errorf("GET %s: %d %q, want 200 %q", key(i), status, body, value(i))
			}
		}
		return nil
	}
	if err := readAll(ctx); err != nil {
		t.Fatal(err)
	}

	keys, err := listKeys(ctx, httpc, router+"/data")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != nKeys {
		t.Fatalf("listed %d keys, want %d", len(keys), nKeys)
	}
	for i, k := range keys {
		if k != key(i) {
			t.Fatalf("listed key %d is %q, want %q (sorted)", i, k, key(i))
		}
	}

	reachable := func(ctx context.Context) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, router+"/cluster", nil)
		if err != nil {
			return false, err
		}
		status, body, err := do(httpc, req)
		if err != nil || status != http.StatusOK {
			return false, fmt.Errorf("GET /cluster: %d %s %v", status, body, err)
		}
		var info struct {
			Nodes []struct {
				ID        string `json:"id"`
				Reachable bool   `json:"reachable"`
				Error     string `json:"error"`
			} `json:"nodes"`
		}
		if err := json.Unmarshal(body, &info); err != nil {
			return false, err
		}
		n := 0
		for _, node := range info.Nodes {
			if node.Reachable {
				n++
			}
		}
		if len(info.Nodes) != 3 || n != 3 {
			return false, fmt.Errorf("/cluster: %d of %d nodes reachable: %s", n, len(info.Nodes), body)
		}
		return true, nil
	}
	if ok, err := reachable(ctx); !ok {
		t.Fatal(err)
	}

	t.Log("A deleted node pod is recreated, on its PVC-backed data directory, and serves its keys again.")
	// The victim must hold data of its own (replicationFactor 1: nothing else has a copy).
	victim := ""
	for _, a := range shardMap.Assignments {
		if len(a.Replicas) > 0 && (victim == "" || a.Replicas[0] == "tc-node-1") {
			victim = a.Replicas[0]
		}
	}
	old, err := kube.CoreV1().Pods(ns).Get(ctx, victim, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nodeKeys := func(ctx context.Context, ip string) ([]string, error) {
		return listKeys(ctx, httpc, "http://"+net.JoinHostPort(ip, "7070")+"/store")
	}
	victimKeys, err := nodeKeys(ctx, old.Status.PodIP)
	if err != nil {
		t.Fatal(err)
	}
	if len(victimKeys) == 0 {
		t.Fatalf("%s holds no keys; the restart would prove nothing", victim)
	}
	t.Logf("Deleting %s (IP %s), which holds %d of the %d keys.", victim, old.Status.PodIP, len(victimKeys), nKeys)
	if err := kube.CoreV1().Pods(ns).Delete(ctx, victim, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, victim+" recreated and Ready", func(ctx context.Context) (bool, error) {
		p, err := kube.CoreV1().Pods(ns).Get(ctx, victim, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, errors.New("not found")
		}
		if err != nil {
			return false, err
		}
		if p.UID == old.UID {
			return false, errors.New("still the old pod")
		}
		if !isReady(p) {
			return false, fmt.Errorf("phase %s, not Ready", p.Status.Phase)
		}
		// Its own keys, straight from the node: they come from the data directory on the claim.
		keys, err := nodeKeys(ctx, p.Status.PodIP)
		if err != nil {
			return false, err
		}
		if !slices.Equal(keys, victimKeys) {
			return false, fmt.Errorf("recreated %s (IP %s) holds %d keys, want the %d it held", victim, p.Status.PodIP, len(keys), len(victimKeys))
		}
		t.Logf("%s is back (IP %s) with its %d keys.", victim, p.Status.PodIP, len(keys))
		return true, nil
	})
	eventually(t, 30*time.Second, "ToruaCluster Available with 3 ready nodes again", available)
	eventually(t, 30*time.Second, "all keys readable through the router again", func(ctx context.Context) (bool, error) {
		if err := readAll(ctx); err != nil {
			return false, err
		}
		return true, nil
	})
	eventually(t, 10*time.Second, "3 reachable nodes in /cluster", reachable)
}

// eventually polls cond until it is true or timeout passes; a condition's error is kept as the
// reason it is not yet true (and reported on timeout), not as a failure.
func eventually(t *testing.T, timeout time.Duration, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		ok, err := cond(ctx)
		if err != nil {
			last = err
		}
		return ok, nil
	})
	if err != nil {
		t.Fatalf("wait %v for %s: %v (last: %v)", timeout, what, err, last)
	}
}

// listKeys pages through a key listing (the router's /data or a node's /store) of keys "key-".
func listKeys(ctx context.Context, c *http.Client, url string) ([]string, error) {
	var keys []string
	for after := ""; ; {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"?prefix=key-&limit=64&after="+after, nil)
		if err != nil {
			return nil, err
		}
		status, body, err := do(c, req)
		if err != nil || status != http.StatusOK {
			return nil, fmt.Errorf("list %s: %d %s %v", url, status, body, err)
		}
		var page struct {
			Keys []string `json:"keys"`
			Next string   `json:"next"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, fmt.Errorf("list %s: %w: %s", url, err, body)
		}
		keys = append(keys, page.Keys...)
		if page.Next == "" {
			return keys, nil
		}
		after = page.Next
	}
}

func do(c *http.Client, req *http.Request) (int, []byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

func conditionSummary(conds []metav1.Condition) string {
	var parts []string
	for _, c := range conds {
		parts = append(parts, fmt.Sprintf("%s=%s(%s: %s)", c.Type, c.Status, c.Reason, c.Message))
	}
	return strings.Join(parts, ", ")
}

// dumpDiagnostics logs the operator's log, the pods' states and the tail of each container log.
func dumpDiagnostics(t *testing.T, c *Cluster, kube kubernetes.Interface, ns string, opLog *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t.Logf("Operator log:\n%s", opLog.String())
	pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Logf("list pods: %v", err)
		return
	}
	for _, p := range pods.Items {
		var cs []string
		for _, s := range p.Status.ContainerStatuses {
			state := "running"
			if s.State.Waiting != nil {
				state = "waiting " + s.State.Waiting.Reason + " " + s.State.Waiting.Message
			}
			cs = append(cs, fmt.Sprintf("%s ready=%v restarts=%d %s", s.Name, s.Ready, s.RestartCount, state))
		}
		t.Logf("Pod %s uid=%s phase=%s ip=%s ready=%v deleting=%v: %s", p.Name, p.UID, p.Status.Phase, p.Status.PodIP,
			isReady(&p), p.DeletionTimestamp != nil, strings.Join(cs, "; "))
	}
	logs, _ := filepath.Glob(filepath.Join(c.Dir, "pods", "*", "*.log"))
	for _, f := range logs {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if len(data) > 4000 {
			data = data[len(data)-4000:]
		}
		t.Logf("%s:\n%s", f, data)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
