//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// The operator's identity in the localkube environment: config/default's namespace and
// ServiceAccount (namePrefix torua-).
const (
	operatorNamespace      = "torua-system"
	operatorServiceAccount = "torua-operator"
)

// operatorConfig gives the operator its own identity: it creates the operator's namespace and
// ServiceAccount, the ClusterRole `make manifests` generates from the RBAC markers
// (config/rbac/role.yaml) and a ClusterRoleBinding between them, and returns admin's
// configuration impersonating that ServiceAccount. The operator then has exactly the
// permissions it ships with: a verb the code uses and the role lacks stalls a scenario, and
// every request refused is recorded in denied.
func operatorConfig(ctx context.Context, admin *rest.Config, denied *deniedRequests) (*rest.Config, error) {
	role, err := generatedClusterRole()
	if err != nil {
		return nil, err
	}
	kube, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return nil, err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: operatorServiceAccount}}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: operatorNamespace, Name: operatorServiceAccount}},
	}
	for _, create := range []func() error{
		func() error { _, err := kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); return err },
		func() error {
			_, err := kube.CoreV1().ServiceAccounts(operatorNamespace).Create(ctx, sa, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := kube.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{})
			return err
		},
	} {
		if err := create(); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("set up the operator's identity: %w", err)
		}
	}
	cfg := rest.CopyConfig(admin)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + operatorNamespace + ":" + operatorServiceAccount,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + operatorNamespace, "system:authenticated"},
	}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &recordDenials{next: rt, denied: denied} })
	return cfg, nil
}

// deniedRequests are the API requests the operator was refused (403 Forbidden).
type deniedRequests struct {
	mu   sync.Mutex
	list []string
}

func (d *deniedRequests) add(s string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.list = append(d.list, s)
}

// err lists the refused requests; nil when there were none.
func (d *deniedRequests) err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.list) == 0 {
		return nil
	}
	const shown = 20
	list := d.list[:min(len(d.list), shown)]
	if len(d.list) > shown {
		list = append(slices.Clip(list), fmt.Sprintf("... and %d more", len(d.list)-shown))
	}
	return fmt.Errorf("the API server refused %d requests of the operator (a verb its ClusterRole lacks?):\n%s",
		len(d.list), strings.Join(list, "\n"))
}

// recordDenials records every 403 answer but those refusing new objects in a terminating
// namespace (events about a cluster whose namespace goes away), which no role can allow.
type recordDenials struct {
	next   http.RoundTripper
	denied *deniedRequests
}

func (t *recordDenials) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusForbidden {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	msg := string(bytes.TrimSpace(body))
	if err != nil {
		msg = fmt.Sprintf("(answer unreadable: %v)", err)
	}
	// The answer is a Status, in JSON or protobuf as the client asked.
	status := &metav1.Status{}
	if _, _, err := clientgoscheme.Codecs.UniversalDeserializer().Decode(body, nil, status); err == nil {
		if status.Details != nil && slices.ContainsFunc(status.Details.Causes, func(c metav1.StatusCause) bool {
			return c.Type == corev1.NamespaceTerminatingCause
		}) {
			return resp, nil
		}
		msg = status.Message
	}
	t.denied.add(fmt.Sprintf("%s %s: %s", req.Method, req.URL.Path, msg))
	return resp, nil
}

// generatedClusterRole reads the operator's ClusterRole from config/rbac/role.yaml, named as
// config/default names it.
func generatedClusterRole() (*rbacv1.ClusterRole, error) {
	path := filepath.Join(repoRoot(), "config", "rbac", "role.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s holds no ClusterRole", path)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		role := &rbacv1.ClusterRole{}
		if err := yaml.Unmarshal(doc, role); err != nil {
			return nil, fmt.Errorf("decode %s: %w", path, err)
		}
		if role.Kind == "ClusterRole" {
			role.Name = "torua-" + role.Name
			return role, nil
		}
	}
}
