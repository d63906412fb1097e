//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/torua/torua/internal/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
)

// kindEnv is a cluster the current kubeconfig points at (hack/e2e-kind.sh makes one with kind,
// loads the image and installs the operator with the Helm chart). The suite runs outside the
// cluster, where pod IPs do not route, so every connection to a pod goes through a
// `kubectl port-forward` (portForwarder).
type kindEnv struct {
	cfg          *rest.Config
	kube         kubernetes.Interface
	image        string
	restartImage string
	operatorNS   string
	httpc        *http.Client
	forwarder    *portForwarder
}

func startKind(context.Context) (environment, error) {
	cfg, err := config.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("kind: load the kubeconfig: %w", err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	e := &kindEnv{
		cfg:          cfg,
		kube:         kube,
		image:        envOr("TORUA_E2E_IMAGE", "torua:e2e"),
		restartImage: envOr("TORUA_E2E_RESTART_IMAGE", "torua:e2e-restart"),
		operatorNS:   envOr("TORUA_E2E_OPERATOR_NAMESPACE", "torua-system"),
	}
	if e.forwarder, err = newPortForwarder(kube); err != nil {
		return nil, err
	}
	e.httpc = &http.Client{
		Transport: &http.Transport{DialContext: e.forwarder.DialContext, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second},
		Timeout:   15 * time.Second,
	}
	return e, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func (e *kindEnv) Config() *rest.Config     { return e.cfg }
func (e *kindEnv) Image() string            { return e.image }
func (e *kindEnv) RestartImage() string     { return e.restartImage }
func (e *kindEnv) HTTPClient() *http.Client { return e.httpc }
func (e *kindEnv) Handoffs() ([]handoff, bool) {
	return nil, false
}

// FreezePod is not supported on kind: the distroless image has no shell to signal its
// process from, and pausing the kind node's container would freeze every pod on it.
func (e *kindEnv) FreezePod(context.Context, *corev1.Pod, bool) error { return errFreezeUnsupported }

func (e *kindEnv) Stop(context.Context) error {
	e.httpc.CloseIdleConnections()
	e.forwarder.stop()
	return nil
}

// RestartOperator force-deletes the Helm release's operator pods (grace period 0: the
// process is killed) and waits until its Deployment runs a new ready one.
func (e *kindEnv) RestartOperator(ctx context.Context) error {
	selector := metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=operator"}
	pods, err := e.kube.CoreV1().Pods(e.operatorNS).List(ctx, selector)
	if err != nil {
		return fmt.Errorf("list operator pods in %s: %w", e.operatorNS, err)
	}
	old := map[string]bool{}
	for _, p := range pods.Items {
		old[string(p.UID)] = true
		if err := e.kube.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
			return fmt.Errorf("delete operator pod %s: %w", p.Name, err)
		}
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		pods, err := e.kube.CoreV1().Pods(e.operatorNS).List(ctx, selector)
		if err == nil {
			for _, p := range pods.Items {
				if !old[string(p.UID)] && p.DeletionTimestamp == nil && isPodReady(&p) {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for a new operator pod: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// OperatorLog reads the logs of the Helm release's operator pods.
func (e *kindEnv) OperatorLog(ctx context.Context) string {
	pods, err := e.kube.CoreV1().Pods(e.operatorNS).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=operator"})
	if err != nil {
		return fmt.Sprintf("list operator pods in %s: %v", e.operatorNS, err)
	}
	var b strings.Builder
	for _, p := range pods.Items {
		fmt.Fprintf(&b, "--- %s/%s\n%s\n", p.Namespace, p.Name, e.podLog(ctx, &p, "operator", false))
	}
	return b.String()
}

// ContainerLogs reads the logs of the namespace's current pods (and of the previous instance
// of restarted containers); deleted pods' logs are gone.
func (e *kindEnv) ContainerLogs(ctx context.Context, namespace string) []containerLog {
	pods, err := e.kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return []containerLog{{pod: "(list pods)", text: err.Error()}}
	}
	var logs []containerLog
	for _, p := range pods.Items {
		for _, cs := range p.Status.ContainerStatuses {
			if cs.RestartCount > 0 {
				logs = append(logs, containerLog{pod: p.Name, uid: string(p.UID), container: cs.Name + " (previous)", text: e.podLog(ctx, &p, cs.Name, true)})
			}
			logs = append(logs, containerLog{pod: p.Name, uid: string(p.UID), container: cs.Name, text: e.podLog(ctx, &p, cs.Name, false)})
		}
	}
	return logs
}

func (e *kindEnv) podLog(ctx context.Context, p *corev1.Pod, container string, previous bool) string {
	data, err := e.kube.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{
		Container: container, Previous: previous, TailLines: ptr.To[int64](300),
	}).DoRaw(ctx)
	if err != nil {
		return "read log: " + err.Error()
	}
	return string(data)
}

// portForwarder dials "podIP:port" through a `kubectl port-forward` to the pod with that IP,
// one kubectl process per pod and port, started on first use and replaced when it exits
// (its pod was deleted). NB: client-go's port-forward packages would need modules the main
// module does not otherwise use (k8s.io/streaming, gorilla/websocket); kind users have kubectl.
type portForwarder struct {
	kube    kubernetes.Interface
	kubectl string

	mu       sync.Mutex
	forwards map[string]*forward // by pod UID and port
}

type forward struct {
	cmd   *exec.Cmd
	local string // 127.0.0.1:port
	done  chan struct{}
}

func newPortForwarder(kube kubernetes.Interface) (*portForwarder, error) {
	kubectl, err := exec.LookPath(envOr("KUBECTL", "kubectl"))
	if err != nil {
		return nil, fmt.Errorf("kind: the suite reaches pods with kubectl port-forward: %w", err)
	}
	return &portForwarder{kube: kube, kubectl: kubectl, forwards: map[string]*forward{}}, nil
}

// DialContext implements http.Transport.DialContext.
func (f *portForwarder) DialContext(ctx context.Context, _, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	pods, err := f.kube.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("status.podIP", host).String(),
	})
	if err != nil {
		return nil, fmt.Errorf("find the pod with IP %s: %w", host, err)
	}
	var pod *corev1.Pod
	for i := range pods.Items {
		if p := &pods.Items[i]; p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			pod = p
		}
	}
	if pod == nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: fmt.Errorf("no running pod has IP %s", host)}
	}
	fw, err := f.forward(ctx, pod, port)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: err}
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", fw.local)
}

func (f *portForwarder) forward(ctx context.Context, pod *corev1.Pod, port string) (*forward, error) {
	key := string(pod.UID) + "/" + port
	f.mu.Lock()
	defer f.mu.Unlock()
	if fw := f.forwards[key]; fw != nil {
		select {
		case <-fw.done:
		default:
			return fw, nil
		}
	}
	cmd := exec.Command(f.kubectl, "port-forward", "--namespace", pod.Namespace, "pod/"+pod.Name, "--address", "127.0.0.1", ":"+port)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr testutil.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	fw := &forward{cmd: cmd, done: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		defer close(fw.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			// "Forwarding from 127.0.0.1:41234 -> 7070"
			if rest, ok := strings.CutPrefix(sc.Text(), "Forwarding from "); ok {
				local, _, _ := strings.Cut(rest, " ")
				select {
				case found <- local:
				default:
				}
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case fw.local = <-found:
	case <-fw.done:
		return nil, fmt.Errorf("kubectl port-forward to %s/%s:%s exited: %s", pod.Namespace, pod.Name, port, stderr.String())
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		return nil, ctx.Err()
	}
	f.forwards[key] = fw
	return fw, nil
}

// stop ends every kubectl process.
func (f *portForwarder) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for key, fw := range f.forwards {
		_ = fw.cmd.Process.Kill()
		<-fw.done
		delete(f.forwards, key)
	}
}
