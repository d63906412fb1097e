package localkube

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Restart backoff of crashed containers: much shorter than a real kubelet's (10 s to 5 min),
// since tests crash processes on purpose.
const (
	minRestartBackoff = 500 * time.Millisecond
	maxRestartBackoff = 5 * time.Second
)

// podRunner runs one pod's containers as process groups and writes the pod's status.
type podRunner struct {
	k   *kubelet
	pod *corev1.Pod // as first seen; what the runner uses of the spec is immutable
	ip  netip.Addr
	dir string // per-pod directory: volumes and logs

	terminating bool // guarded by k.mu

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	notify chan struct{}

	mu         sync.Mutex
	started    time.Time
	containers []*container
	conditions map[corev1.PodConditionType]corev1.PodCondition
	mounts     []mount // longest mount path first
}

// container is the state of one container of a pod.
type container struct {
	spec       corev1.Container
	proc       *exec.Cmd
	startedAt  time.Time
	restarts   int32
	ready      bool
	waiting    *corev1.ContainerStateWaiting
	lastExit   *corev1.ContainerStateTerminated
	binaryPath string
}

// mount maps a container path to a directory of the host.
type mount struct{ path, hostDir string }

func newPodRunner(k *kubelet, pod *corev1.Pod, ip netip.Addr) *podRunner {
	ctx, cancel := context.WithCancel(context.Background())
	r := &podRunner{
		k: k, pod: pod.DeepCopy(), ip: ip,
		dir:        filepath.Join(k.dir, "pods", string(pod.UID)),
		ctx:        ctx,
		cancel:     cancel,
		notify:     make(chan struct{}, 1),
		started:    time.Now(),
		conditions: map[corev1.PodConditionType]corev1.PodCondition{},
	}
	for _, c := range pod.Spec.Containers {
		r.containers = append(r.containers, &container{spec: c})
	}
	return r
}

func (r *podRunner) logf(format string, args ...any) {
	r.k.logf("pod %s/%s: "+format, append([]any{r.pod.Namespace, r.pod.Name}, args...)...)
}

// start prepares the volumes and starts a supervisor per container, the probes and the status writer.
func (r *podRunner) start() {
	if err := r.prepareVolumes(); err != nil {
		r.logf("Failed to prepare volumes: %v", err)
	}
	r.goLoop(r.writeStatusLoop)
	for _, c := range r.containers {
		r.goLoop(func() { r.supervise(c) })
		if p := c.spec.ReadinessProbe; p != nil {
			r.goLoop(func() { r.probeLoop(c, p, true) })
		}
		if p := c.spec.LivenessProbe; p != nil {
			r.goLoop(func() { r.probeLoop(c, p, false) })
		}
	}
	r.changed()
}

func (r *podRunner) goLoop(f func()) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		f()
	}()
}

// stop sends SIGTERM to every container's process group, SIGKILL after grace, and waits
// until every goroutine of the runner has returned. A grace of 0 (a pod force-deleted, or the
// kubelet stopping) is SIGKILL at once: nothing gets to shut down cleanly.
func (r *podRunner) stop(grace time.Duration) {
	r.mu.Lock()
	r.cancel()
	if grace > 0 {
		r.signalAll(syscall.SIGTERM)
	}
	r.mu.Unlock()

	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(done)
	}()
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-done:
		return
	case <-timer.C:
	}
	r.mu.Lock()
	r.signalAll(syscall.SIGKILL)
	r.mu.Unlock()
	<-done
}

// signalAll signals every running process group. Callers hold r.mu.
func (r *podRunner) signalAll(sig syscall.Signal) {
	for _, c := range r.containers {
		if c.proc != nil {
			_ = syscall.Kill(-c.proc.Process.Pid, sig)
		}
	}
}

// changed asks the status writer to write the pod's status.
func (r *podRunner) changed() {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// supervise runs a container's process and restarts it when it exits (restartPolicy Always).
func (r *podRunner) supervise(c *container) {
	backoff := minRestartBackoff
	for {
		exited, err := r.launch(c)
		if err != nil {
			r.logf("Failed to start container %s: %v", c.spec.Name, err)
		} else {
			<-exited
			r.changed()
			if time.Since(c.startedAt) > 10*maxRestartBackoff {
				backoff = minRestartBackoff
			}
		}
		if r.ctx.Err() != nil || r.pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
			return
		}
		timer := time.NewTimer(backoff)
		select {
		case <-r.ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		backoff = min(2*backoff, maxRestartBackoff)
	}
}

// launch starts a container's process; exited is closed once it has exited and been recorded.
func (r *podRunner) launch(c *container) (exited chan struct{}, err error) {
	cmd, logFile, err := r.command(c)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		c.waiting = &corev1.ContainerStateWaiting{Reason: "CreateContainerError", Message: err.Error()}
		r.changed()
		return nil, err
	}
	if r.ctx.Err() != nil {
		_ = logFile.Close()
		return nil, r.ctx.Err()
	}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		c.waiting = &corev1.ContainerStateWaiting{Reason: "RunContainerError", Message: err.Error()}
		r.changed()
		return nil, err
	}
	c.proc, c.startedAt, c.waiting, c.ready = cmd, time.Now(), nil, false
	exited = make(chan struct{})
	go func() {
		err := cmd.Wait()
		_ = logFile.Close()
		r.mu.Lock()
		defer r.mu.Unlock()
		code := int32(0)
		if exit, ok := err.(*exec.ExitError); ok {
			code = int32(exit.ExitCode())
		}
		c.lastExit = &corev1.ContainerStateTerminated{
			ExitCode:   code,
			Reason:     map[bool]string{true: "Completed", false: "Error"}[code == 0],
			StartedAt:  metav1.NewTime(c.startedAt.Truncate(time.Second)),
			FinishedAt: metav1.NewTime(time.Now().Truncate(time.Second)),
		}
		c.proc, c.ready = nil, false
		if r.ctx.Err() == nil {
			c.restarts++
		}
		close(exited)
	}()
	r.changed()
	return exited, nil
}

// command builds a container's process: the local binary for its image, its command and args
// with $(VAR) references and volume paths resolved, and its environment.
func (r *podRunner) command(c *container) (*exec.Cmd, *os.File, error) {
	binary, ok := r.k.images[imageRepository(c.spec.Image)]
	if !ok {
		return nil, nil, fmt.Errorf("no local binary for image %q (localkube.Options.Images)", c.spec.Image)
	}
	c.binaryPath = binary
	env, err := r.environment(c.spec)
	if err != nil {
		return nil, nil, err
	}
	lookup := envLookup(env)
	var args []string
	if len(c.spec.Command) > 0 {
		args = append(args, c.spec.Command[1:]...) // Command[0] is the image's binary itself
	}
	args = append(args, c.spec.Args...)
	for i, a := range args {
		args[i] = r.bindToPodIP(c.spec, r.mapPaths(expand(a, lookup)))
	}
	logPath := filepath.Join(r.dir, c.spec.Name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, err
	}
	r.k.recordLog(ContainerLog{Namespace: r.pod.Namespace, Pod: r.pod.Name, UID: r.pod.UID, Container: c.spec.Name, Path: logPath})
	cmd := exec.Command(binary, args...)
	cmd.Env = env
	cmd.Dir = r.dir
	if c.spec.WorkingDir != "" {
		cmd.Dir = r.mapPaths(c.spec.WorkingDir)
	}
	out := io.MultiWriter(logFile, &prefixWriter{w: r.k.out, prefix: r.pod.Namespace + "/" + r.pod.Name + "/" + c.spec.Name + ": "})
	cmd.Stdout, cmd.Stderr = out, out
	// Own process group (so signals reach children) and death with the test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return cmd, logFile, nil
}

// imageRepository strips an image reference's tag or digest.
func imageRepository(image string) string {
	image, _, _ = strings.Cut(image, "@")
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	return image
}

func ptrTrue(b *bool) bool { return b != nil && *b }

// prefixWriter writes each complete line to w with a prefix; writes to w are serialised.
type prefixWriter struct {
	w      io.Writer
	prefix string
	buf    []byte
}

var outputMu sync.Mutex

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := slices.Index(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		outputMu.Lock()
		_, _ = fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf[:i])
		outputMu.Unlock()
		p.buf = p.buf[i+1:]
	}
}
