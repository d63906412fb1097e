package localkube

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
)

// A container's environment: env, envFrom, field references and the ServiceAccount kubeconfig.

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
