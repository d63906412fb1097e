package localkube

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

// Probes and the pod status the kubelet writes.

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
