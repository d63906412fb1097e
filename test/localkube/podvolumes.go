package localkube

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A pod's volumes on the host, and its arguments rewritten to them and to the pod's IP.

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
