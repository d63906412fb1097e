//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
	"github.com/torua/torua/controllers"
	"github.com/torua/torua/internal/nodeapi"
	"github.com/torua/torua/internal/testutil"
	"github.com/torua/torua/shardmap"
	"github.com/torua/torua/test/localkube"
)

// Environments, chosen by TORUA_E2E_ENV.
const (
	envLocalkube = "localkube"
	envKind      = "kind"
)

// envName is the environment the suite runs in.
func envName() string {
	if e := os.Getenv("TORUA_E2E_ENV"); e != "" {
		return e
	}
	return envLocalkube
}

// environment is a Kubernetes cluster with the operator running and the torua image available.
type environment interface {
	// Config is the client configuration of a user allowed everything the suite does.
	Config() *rest.Config
	// Image is the torua image ToruaClusters run; RestartImage is another tag of the same
	// binary, for the rolling update.
	Image() string
	RestartImage() string
	// HTTPClient reaches pods at their pod IPs (routers and nodes, by the addresses in
	// EndpointSlices and the shard map).
	HTTPClient() *http.Client
	// OperatorLog returns the operator's log, or what is known of it.
	OperatorLog(ctx context.Context) string
	// ContainerLogs returns the logs of the containers of the namespace's pods, with deleted
	// pods' where the environment keeps them.
	ContainerLogs(ctx context.Context, namespace string) []containerLog
	// Handoffs returns the leadership hand-offs the operator made and what each node reported
	// right after; ok is false when the environment cannot see them (an operator in a pod).
	Handoffs() (handoffs []handoff, ok bool)
	// FreezePod stops every process of a running pod (SIGSTOP), as a hung machine does, or
	// thaws it (SIGCONT); errFreezeUnsupported where the environment cannot.
	FreezePod(ctx context.Context, pod *corev1.Pod, frozen bool) error
	// RestartOperator stops the operator abruptly and starts a new one, which knows only what
	// the API server holds: a crash and a restart.
	RestartOperator(ctx context.Context) error
	// Stop stops what the environment started.
	Stop(ctx context.Context) error
}

type containerLog struct {
	pod, uid, container string
	text                string
}

// handoff is one successful POST /internal/transfer-leadership by the operator and the
// node's /internal/status read right after it, before the operator acted on the answer.
type handoff struct {
	at      time.Time
	node    string // the node ID /internal/status reports
	addr    string
	leaders []int // shards the node still led right after handing off
	err     error // reading /internal/status failed
}

func startEnvironment(ctx context.Context) (environment, error) {
	switch envName() {
	case envLocalkube:
		return startLocalkube(ctx)
	case envKind:
		return startKind(ctx)
	}
	return nil, fmt.Errorf("TORUA_E2E_ENV=%q: want %s or %s", envName(), envLocalkube, envKind)
}

// repoRoot is the module root, two directories up from the package.
func repoRoot() string { return filepath.Join("..", "..") }

// localkubeEnv is test/localkube with the operator in-process.
type localkubeEnv struct {
	cluster  *localkube.Cluster
	opConfig *rest.Config   // the operator's identity: its ServiceAccount (rbac_test.go)
	denied   deniedRequests // API requests the operator was refused
	nodes    *recordingNodeClient
	opLog    *testutil.SyncBuffer
	stopMgr  context.CancelFunc
	mgrDone  chan error
	tmp      string
	httpc    *http.Client
	transprt *http.Transport
}

// Images of the localkube environment: the kubelet runs the torua binary for any tag of the
// repository "torua".
const (
	localImage        = "torua:e2e"
	localRestartImage = "torua:e2e-restart"
)

func startLocalkube(ctx context.Context) (_ environment, err error) {
	e := &localkubeEnv{opLog: &testutil.SyncBuffer{}}
	if e.tmp, err = os.MkdirTemp("", "torua-e2e-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = e.Stop(context.Background())
		}
	}()

	// The torua binary: TORUA_E2E_BINARY (make test-e2e builds bin/torua), or built here while
	// the control plane starts.
	bin := os.Getenv("TORUA_E2E_BINARY")
	built := make(chan error, 1)
	if bin == "" {
		bin = filepath.Join(e.tmp, "torua")
		go func() {
			cmd := exec.Command("go", "build", "-o", bin, "./cmd/torua")
			cmd.Dir = repoRoot()
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				built <- fmt.Errorf("go build ./cmd/torua: %w\n%s", err, out)
				return
			}
			built <- nil
		}()
	} else {
		if bin, err = filepath.Abs(bin); err != nil {
			return nil, err
		}
		built <- nil
	}

	out := io.Discard
	if os.Getenv("LOCALKUBE_VERBOSE") == "1" {
		out = os.Stderr
	}
	// TORUA_E2E_KEEP=1 keeps the control plane's directory (pod logs, volumes) for a look after
	// the run; by default localkube removes its own temporary directory.
	dir := ""
	if os.Getenv("TORUA_E2E_KEEP") != "" {
		dir = filepath.Join(e.tmp, "localkube")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
	}
	e.cluster, err = localkube.Start(ctx, localkube.Options{
		CRDDirectoryPaths: []string{filepath.Join(repoRoot(), "config", "crd", "bases")},
		Images:            map[string]string{"torua": bin},
		Dir:               dir,
		Output:            out,
	})
	if buildErr := <-built; buildErr != nil {
		return nil, buildErr
	}
	if err != nil {
		return nil, fmt.Errorf("start localkube: %w", err)
	}

	// The operator runs as its own ServiceAccount with the generated ClusterRole (the suite's
	// client stays admin).
	e.opConfig, err = operatorConfig(ctx, e.cluster.Config, &e.denied)
	if err != nil {
		return nil, err
	}
	e.nodes = &recordingNodeClient{NodeClient: nodeapi.New(nodeapi.Config{Timeout: 3 * time.Second})}
	if err := e.startOperator(); err != nil {
		return nil, err
	}

	e.transprt = &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}
	e.httpc = &http.Client{Transport: e.transprt, Timeout: 10 * time.Second}
	return e, nil
}

// startOperator runs the operator in-process, as `torua operator` runs it, as its
// ServiceAccount (e.opConfig), with a 1 s poll interval (--poll-interval) and its node client
// wrapped to record leadership hand-offs.
func (e *localkubeEnv) startOperator() error {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(toruav1alpha1.AddToScheme(scheme))
	log := logr.FromSlogHandler(slog.NewTextHandler(e.opLog, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctrl.SetLogger(log)
	mgr, err := ctrl.NewManager(e.opConfig, ctrl.Options{
		Scheme:                 scheme,
		Logger:                 log,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// NB: a restarted operator registers its controller name again in this process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return err
	}
	r := &controllers.ToruaClusterReconciler{
		Client:       mgr.GetClient(),
		APIReader:    mgr.GetAPIReader(),
		Scheme:       mgr.GetScheme(),
		Recorder:     mgr.GetEventRecorder("torua-operator"),
		Nodes:        e.nodes,
		PollInterval: time.Second,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return err
	}
	mgrCtx, stop := context.WithCancel(context.Background())
	e.stopMgr, e.mgrDone = stop, make(chan error, 1)
	go func() { e.mgrDone <- mgr.Start(mgrCtx) }()
	return nil
}

// RestartOperator cancels the operator manager's context, which ends every reconcile in
// flight at its next API call, waits for it to stop and starts a new manager with empty
// caches and queues.
func (e *localkubeEnv) RestartOperator(context.Context) error {
	e.stopMgr()
	err := <-e.mgrDone
	e.stopMgr = nil
	if err != nil {
		return fmt.Errorf("stop the operator: %w", err)
	}
	fmt.Fprintf(e.opLog, "===== e2e: operator stopped at %s; starting a new one =====\n", time.Now().Format("15:04:05.000"))
	return e.startOperator()
}

// errFreezeUnsupported is FreezePod's answer where processes cannot be signalled.
var errFreezeUnsupported = errors.New("freezing a pod's processes is not supported in this environment")

// FreezePod signals the pod's processes through the test kubelet.
func (e *localkubeEnv) FreezePod(_ context.Context, pod *corev1.Pod, frozen bool) error {
	sig := syscall.SIGCONT
	if frozen {
		sig = syscall.SIGSTOP
	}
	return e.cluster.SignalPod(pod.UID, sig)
}

func (e *localkubeEnv) Config() *rest.Config               { return e.cluster.Config }
func (e *localkubeEnv) Image() string                      { return localImage }
func (e *localkubeEnv) RestartImage() string               { return localRestartImage }
func (e *localkubeEnv) HTTPClient() *http.Client           { return e.httpc }
func (e *localkubeEnv) OperatorLog(context.Context) string { return e.opLog.String() }

func (e *localkubeEnv) ContainerLogs(_ context.Context, namespace string) []containerLog {
	var logs []containerLog
	for _, l := range e.cluster.ContainerLogs() {
		if l.Namespace != namespace {
			continue
		}
		data, err := os.ReadFile(l.Path)
		if err != nil {
			data = []byte(err.Error())
		}
		logs = append(logs, containerLog{pod: l.Pod, uid: string(l.UID), container: l.Container, text: string(data)})
	}
	return logs
}

func (e *localkubeEnv) Handoffs() ([]handoff, bool) { return e.nodes.handoffs(), true }

func (e *localkubeEnv) Stop(context.Context) error {
	var errs []error
	if e.transprt != nil {
		e.transprt.CloseIdleConnections()
	}
	// The manager first: the API server waits for open watches.
	if e.stopMgr != nil {
		e.stopMgr()
		errs = append(errs, <-e.mgrDone)
	}
	// Every request the operator's role refused fails the suite, including those no scenario
	// noticed (a retried event, a watch that fell back).
	errs = append(errs, e.denied.err())
	if e.cluster != nil {
		errs = append(errs, e.cluster.Stop())
	}
	if e.tmp != "" {
		if os.Getenv("TORUA_E2E_KEEP") == "" {
			errs = append(errs, os.RemoveAll(e.tmp))
		} else {
			fmt.Fprintf(os.Stderr, "e2e: kept %s (TORUA_E2E_KEEP)\n", e.tmp)
		}
	}
	return errors.Join(errs...)
}

// recordingNodeClient is the operator's node client with every successful leadership
// hand-off recorded together with the node's status read right after it: the operator lowers
// the rolling-update partition only after TransferLeadership returns, so the status shows
// what the node led when it was let stop.
type recordingNodeClient struct {
	controllers.NodeClient
	mu  sync.Mutex
	log []handoff
}

func (c *recordingNodeClient) TransferLeadership(ctx context.Context, apiAddr string) error {
	if err := c.NodeClient.TransferLeadership(ctx, apiAddr); err != nil {
		return err
	}
	h := handoff{at: time.Now(), addr: apiAddr}
	var st *shardmap.NodeStatus
	if st, h.err = c.Status(ctx, apiAddr); h.err == nil {
		h.node = st.Node
		for _, s := range st.Shards {
			if s.Role == "leader" {
				h.leaders = append(h.leaders, s.Shard)
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, h)
	return nil
}

func (c *recordingNodeClient) handoffs() []handoff {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]handoff(nil), c.log...)
}
