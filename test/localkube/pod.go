package localkube

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
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

// environment resolves a container's env and envFrom. KUBECONFIG points at a kubeconfig with
// a token of the pod's ServiceAccount (see kubeconfig), unless the pod opts out.
func (r *podRunner) environment(c corev1.Container) ([]string, error) {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOSTNAME=" + r.pod.Name,
	}
	ctx := r.ctx
	kubeconfig, err := r.kubeconfig(ctx)
	if err != nil {
		return nil, err
	}
	if kubeconfig != "" {
		env = append(env, "KUBECONFIG="+kubeconfig)
	}
	for _, from := range c.EnvFrom {
		var data map[string]string
		switch {
		case from.ConfigMapRef != nil:
			cm, err := r.k.client.CoreV1().ConfigMaps(r.pod.Namespace).Get(ctx, from.ConfigMapRef.Name, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			data = cm.Data
		case from.SecretRef != nil:
			s, err := r.k.client.CoreV1().Secrets(r.pod.Namespace).Get(ctx, from.SecretRef.Name, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			data = map[string]string{}
			for k, v := range s.Data {
				data[k] = string(v)
			}
		}
		for k, v := range data {
			env = append(env, from.Prefix+k+"="+v)
		}
	}
	for _, e := range c.Env {
		value := expand(e.Value, envLookup(env))
		if src := e.ValueFrom; src != nil {
			var err error
			if value, err = r.valueFrom(ctx, src); err != nil {
				return nil, fmt.Errorf("env %s: %w", e.Name, err)
			}
		}
		env = append(env, e.Name+"="+r.mapPaths(value))
	}
	return env, nil
}

func (r *podRunner) valueFrom(ctx context.Context, src *corev1.EnvVarSource) (string, error) {
	switch {
	case src.FieldRef != nil:
		return r.fieldValue(src.FieldRef.FieldPath)
	case src.ConfigMapKeyRef != nil:
		cm, err := r.k.client.CoreV1().ConfigMaps(r.pod.Namespace).Get(ctx, src.ConfigMapKeyRef.Name, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		return cm.Data[src.ConfigMapKeyRef.Key], nil
	case src.SecretKeyRef != nil:
		s, err := r.k.client.CoreV1().Secrets(r.pod.Namespace).Get(ctx, src.SecretKeyRef.Name, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		return string(s.Data[src.SecretKeyRef.Key]), nil
	}
	return "", fmt.Errorf("unsupported value source (resourceFieldRef, fileKeyRef)")
}

// fieldValue resolves a downward-API field path.
func (r *podRunner) fieldValue(path string) (string, error) {
	switch path {
	case "metadata.name":
		return r.pod.Name, nil
	case "metadata.namespace":
		return r.pod.Namespace, nil
	case "metadata.uid":
		return string(r.pod.UID), nil
	case "spec.nodeName":
		return r.k.nodeName, nil
	case "spec.serviceAccountName":
		return r.pod.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return r.ip.String(), nil
	case "status.hostIP", "status.hostIPs":
		return nodeAddress, nil
	}
	for prefix, m := range map[string]map[string]string{"metadata.labels": r.pod.Labels, "metadata.annotations": r.pod.Annotations} {
		if key, ok := strings.CutPrefix(path, prefix+"['"); ok {
			return m[strings.TrimSuffix(key, "']")], nil
		}
	}
	return "", fmt.Errorf("unsupported fieldRef %q", path)
}

// tokenExpiration is the lifetime of the ServiceAccount tokens pods get. The kubelet does not
// renew them: it outlasts any test.
const tokenExpiration = 24 * time.Hour

// kubeconfig returns the path of a kubeconfig that authenticates as the pod's ServiceAccount
// ("default" when it names none) with a token bound to the pod (TokenRequest), written on first
// use: what a real kubelet mounts as the projected service account token, in the form a process
// sharing the host's file system can find (envtest disables the ServiceAccount admission plugin,
// so nothing is mounted, and in-cluster configuration cannot work). It returns "" when the pod
// or its ServiceAccount turns off automountServiceAccountToken, and an error while the
// ServiceAccount does not exist (the container start is retried).
func (r *podRunner) kubeconfig(ctx context.Context) (string, error) {
	path := filepath.Join(r.dir, "kubeconfig")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	name := r.pod.Spec.ServiceAccountName
	if name == "" {
		name = "default"
	}
	accounts := r.k.client.CoreV1().ServiceAccounts(r.pod.Namespace)
	sa, err := accounts.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("service account %s: %w", name, err)
	}
	automount := r.pod.Spec.AutomountServiceAccountToken
	if automount == nil {
		automount = sa.AutomountServiceAccountToken
	}
	if automount != nil && !*automount {
		return "", nil
	}
	spec := authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(tokenExpiration / time.Second))}
	if r.pod.Spec.ServiceAccountName != "" {
		// NB: the API server binds a token only to a pod that names its ServiceAccount; without
		// the admission plugin, which would have named "default", a pod may name none.
		spec.BoundObjectRef = &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: r.pod.Name, UID: r.pod.UID}
	}
	token, err := accounts.CreateToken(ctx, name, &authenticationv1.TokenRequest{Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token of service account %s: %w", name, err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["localkube"] = &clientcmdapi.Cluster{Server: r.k.apiServer, CertificateAuthorityData: r.k.caData}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: token.Status.Token}
	cfg.Contexts["localkube"] = &clientcmdapi.Context{Cluster: "localkube", AuthInfo: name, Namespace: r.pod.Namespace}
	cfg.CurrentContext = "localkube"
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return "", err
	}
	// Written under another name and renamed, so no process sees half a file.
	if err := clientcmd.WriteToFile(*cfg, path+".tmp"); err != nil {
		return "", err
	}
	return path, os.Rename(path+".tmp", path)
}

// prepareVolumes gives each mounted volume a host directory: a PersistentVolumeClaim's survives
// the pod (Dir/pvc/<namespace>/<claim>), ConfigMaps and Secrets are written once at start.
func (r *podRunner) prepareVolumes() error {
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return err
	}
	dirs := map[string]string{}
	for _, v := range r.pod.Spec.Volumes {
		dir := filepath.Join(r.dir, "volumes", v.Name)
		var files map[string][]byte
		switch {
		case v.PersistentVolumeClaim != nil:
			dir = r.k.claimDir(r.pod.Namespace, v.PersistentVolumeClaim.ClaimName)
		case v.HostPath != nil:
			dir = v.HostPath.Path
		case v.ConfigMap != nil:
			cm, err := r.k.client.CoreV1().ConfigMaps(r.pod.Namespace).Get(r.ctx, v.ConfigMap.Name, metav1.GetOptions{})
			if err != nil && !ptrTrue(v.ConfigMap.Optional) {
				return err
			}
			if cm != nil {
				files = map[string][]byte{}
				for k, s := range cm.Data {
					files[k] = []byte(s)
				}
			}
		case v.Secret != nil:
			s, err := r.k.client.CoreV1().Secrets(r.pod.Namespace).Get(r.ctx, v.Secret.SecretName, metav1.GetOptions{})
			if err != nil && !ptrTrue(v.Secret.Optional) {
				return err
			}
			if s != nil {
				files = s.Data
			}
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
				return err
			}
		}
		dirs[v.Name] = dir
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.pod.Spec.Containers {
		for _, m := range c.VolumeMounts {
			if dir, ok := dirs[m.Name]; ok {
				r.mounts = append(r.mounts, mount{path: m.MountPath, hostDir: filepath.Join(dir, m.SubPath)})
			}
		}
	}
	slices.SortFunc(r.mounts, func(a, b mount) int { return len(b.path) - len(a.path) })
	return nil
}

// mapPaths rewrites container paths under a volume mount to the volume's host directory, since
// the process shares the host's file system.
func (r *podRunner) mapPaths(s string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.mounts {
		s = strings.ReplaceAll(s, m.path, m.hostDir)
	}
	return s
}

// bindToPodIP rewrites a wildcard listen address ":N" to "<pod IP>:N" when N is one of the
// container's ports, as a whole argument or as the value of a "--flag=:N" argument. Every pod
// shares one network namespace, so two pods listening on ":N" would collide, where in a real
// cluster each has its own.
func (r *podRunner) bindToPodIP(c corev1.Container, arg string) string {
	prefix, value := "", arg
	if i := strings.LastIndexByte(arg, '='); i >= 0 {
		prefix, value = arg[:i+1], arg[i+1:]
	}
	port, ok := strings.CutPrefix(value, ":")
	if !ok {
		return arg
	}
	for _, p := range c.Ports {
		if strconv.Itoa(int(p.ContainerPort)) == port {
			return prefix + net.JoinHostPort(r.ip.String(), port)
		}
	}
	return arg
}

// probeLoop runs a readiness or liveness probe of a container for the runner's lifetime.
func (r *podRunner) probeLoop(c *container, p *corev1.Probe, readiness bool) {
	period := time.Duration(max(p.PeriodSeconds, 1)) * time.Second
	successes, failures := 0, 0
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-ticker.C:
		}
		r.mu.Lock()
		running := c.proc != nil && time.Since(c.startedAt) >= time.Duration(p.InitialDelaySeconds)*time.Second
		r.mu.Unlock()
		if !running {
			successes, failures = 0, 0
			continue
		}
		if err := r.probe(c, p); err != nil {
			successes, failures = 0, failures+1
		} else {
			successes, failures = successes+1, 0
		}
		r.mu.Lock()
		switch {
		case readiness && !c.ready && successes >= int(max(p.SuccessThreshold, 1)):
			c.ready = true
			r.changed()
		case readiness && c.ready && failures >= int(max(p.FailureThreshold, 1)):
			c.ready = false
			r.changed()
		case !readiness && failures >= int(max(p.FailureThreshold, 1)) && c.proc != nil:
			r.logf("Container %s failed its liveness probe; killing it", c.spec.Name)
			_ = syscall.Kill(-c.proc.Process.Pid, syscall.SIGKILL)
			failures = 0
		}
		r.mu.Unlock()
	}
}

// probe runs one HTTP GET or TCP probe against the pod IP. Exec and gRPC probes always succeed.
func (r *podRunner) probe(c *container, p *corev1.Probe) error {
	timeout := time.Duration(max(p.TimeoutSeconds, 1)) * time.Second
	switch {
	case p.HTTPGet != nil:
		port, err := containerPort(c.spec, p.HTTPGet.Port)
		if err != nil {
			return err
		}
		host := p.HTTPGet.Host
		if host == "" {
			host = r.ip.String()
		}
		client := &http.Client{Timeout: timeout}
		resp, err := client.Get("http://" + net.JoinHostPort(host, strconv.Itoa(port)) + p.HTTPGet.Path)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil
	case p.TCPSocket != nil:
		port, err := containerPort(c.spec, p.TCPSocket.Port)
		if err != nil {
			return err
		}
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(r.ip.String(), strconv.Itoa(port)), timeout)
		if err != nil {
			return err
		}
		return conn.Close()
	}
	return nil
}

// writeStatusLoop writes the pod's status whenever it may have changed.
func (r *podRunner) writeStatusLoop() {
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-r.notify:
		}
		if err := r.writeStatus(); err != nil && r.ctx.Err() == nil {
			r.logf("Failed to write status: %v", err)
		}
	}
}

func (r *podRunner) writeStatus() error {
	pods := r.k.client.CoreV1().Pods(r.pod.Namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		current, err := pods.Get(r.ctx, r.pod.Name, metav1.GetOptions{})
		if err != nil {
			return ignoreNotFound(err)
		}
		if current.UID != r.pod.UID || current.DeletionTimestamp != nil {
			return nil
		}
		status := r.status(current.Status)
		if apiequality.Semantic.DeepEqual(current.Status, status) {
			return nil
		}
		current.Status = status
		_, err = pods.UpdateStatus(r.ctx, current, metav1.UpdateOptions{})
		return err
	})
}

// status computes the pod's status. NB: times are whole seconds, as after an API round trip,
// so an unchanged status compares equal and is not rewritten.
func (r *podRunner) status(old corev1.PodStatus) corev1.PodStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	start := metav1.NewTime(r.started.Truncate(time.Second))
	s := corev1.PodStatus{
		Phase:     corev1.PodPending,
		HostIP:    nodeAddress,
		HostIPs:   []corev1.HostIP{{IP: nodeAddress}},
		PodIP:     r.ip.String(),
		PodIPs:    []corev1.PodIP{{IP: r.ip.String()}},
		StartTime: &start,
		QOSClass:  old.QOSClass,
	}
	allReady, anyStarted := true, false
	for _, c := range r.containers {
		cs := corev1.ContainerStatus{
			Name:         c.spec.Name,
			Image:        c.spec.Image,
			ImageID:      "localkube://" + c.binaryPath,
			RestartCount: c.restarts,
			Ready:        c.ready || (c.proc != nil && c.spec.ReadinessProbe == nil),
		}
		switch {
		case c.proc != nil:
			anyStarted = true
			cs.Started = ptr.To(true)
			cs.ContainerID = fmt.Sprintf("localkube://%s/%s/%d", r.pod.UID, c.spec.Name, c.restarts)
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(c.startedAt.Truncate(time.Second))}
		case c.waiting != nil:
			cs.Started = ptr.To(false)
			cs.State.Waiting = c.waiting
		case c.lastExit != nil:
			cs.Started = ptr.To(false)
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}
		default:
			cs.Started = ptr.To(false)
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		}
		if c.lastExit != nil {
			cs.LastTerminationState.Terminated = c.lastExit
		}
		allReady = allReady && cs.Ready
		s.ContainerStatuses = append(s.ContainerStatuses, cs)
	}
	if anyStarted {
		s.Phase = corev1.PodRunning
	}
	ready := corev1.ConditionFalse
	if allReady {
		ready = corev1.ConditionTrue
	}
	for _, cond := range []struct {
		t      corev1.PodConditionType
		status corev1.ConditionStatus
	}{
		{corev1.PodScheduled, corev1.ConditionTrue},
		{corev1.PodReadyToStartContainers, corev1.ConditionTrue},
		{corev1.PodInitialized, corev1.ConditionTrue},
		{corev1.ContainersReady, ready},
		{corev1.PodReady, ready},
	} {
		prev, ok := r.conditions[cond.t]
		if !ok || prev.Status != cond.status {
			prev = corev1.PodCondition{Type: cond.t, Status: cond.status, LastTransitionTime: now}
			r.conditions[cond.t] = prev
		}
		s.Conditions = append(s.Conditions, prev)
	}
	return s
}

// containerPort resolves a probe's port, by number or by the name of a container port.
func containerPort(c corev1.Container, port intstr.IntOrString) (int, error) {
	if port.Type == intstr.Int {
		return port.IntValue(), nil
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return int(p.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("container %s has no port named %q", c.Name, port.StrVal)
}

// imageRepository strips an image reference's tag or digest.
func imageRepository(image string) string {
	image, _, _ = strings.Cut(image, "@")
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	return image
}

// envLookup returns a lookup in "NAME=value" pairs, the last one winning.
func envLookup(env []string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		for i := len(env) - 1; i >= 0; i-- {
			if k, v, _ := strings.Cut(env[i], "="); k == name {
				return v, true
			}
		}
		return "", false
	}
}

// expand resolves Kubernetes $(VAR) references; $$ escapes, unknown references stay as written.
func expand(s string, lookup func(string) (string, bool)) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '(':
			if end := strings.IndexByte(s[i+2:], ')'); end >= 0 {
				name := s[i+2 : i+2+end]
				if v, ok := lookup(name); ok {
					b.WriteString(v)
					i += 2 + end
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
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
