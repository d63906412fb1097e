package chart

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
	"github.com/torua/torua/internal/testutil"
	"github.com/torua/torua/test/localkube"
)

// The release TestInstall installs, named as README.md's `helm install torua charts/torua`.
const (
	installRelease   = "torua"
	installNamespace = "torua-system"
	installFullname  = "torua" // the release name contains the chart name
)

// TestInstall installs the chart with its default values and a ToruaCluster (cluster.enabled,
// one node with replication factor 1 and one router, to keep it quick) on a local control plane
// (test/localkube) whose kubelet runs the torua binary for the chart's default image, each pod
// with its ServiceAccount's token. It checks that the operator comes up as the chart's
// Deployment with the chart's RBAC (leader election included), that the cluster serves a write
// and a read through its router, that the operator's metrics Service answers an HTTPS scrape
// as the chart's values promise (200 for a metrics-reader token, 403 without the role, 401
// without a token), and that `helm uninstall` removes the release and, through the garbage
// collector, the cluster's objects.
func TestInstall(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Skip("KUBEBUILDER_ASSETS is not set: make k8s-test-binaries builds the control plane (make test sets it)")
	}
	helm(t)
	g := NewWithT(t)
	ctx := t.Context()

	bin := toruaBinary(t)
	out := io.Discard
	if os.Getenv("LOCALKUBE_VERBOSE") == "1" {
		out = os.Stderr
	}
	c, err := localkube.Start(ctx, localkube.Options{
		Images: map[string]string{defaultImageRepository(t): bin},
		Output: out,
	})
	t.Cleanup(func() {
		if t.Failed() {
			dumpInstall(t, c)
		}
		if err := c.Stop(); err != nil {
			t.Errorf("stop localkube: %v", err)
		}
	})
	g.Expect(err).NotTo(HaveOccurred())

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(toruav1alpha1.AddToScheme(scheme))
	k8s, err := client.New(c.Config, client.Options{Scheme: scheme})
	g.Expect(err).NotTo(HaveOccurred())
	kube := kubernetes.NewForConfigOrDie(c.Config)

	t.Log("helm install, default values but a one-node cluster")
	runHelm(t, "install", installRelease, "charts/torua", "--kubeconfig", c.Kubeconfig,
		"--namespace", installNamespace, "--create-namespace",
		"--set", "cluster.enabled=true,cluster.replicas=1,cluster.replicationFactor=1,cluster.router.replicas=1")

	t.Log("The operator Deployment becomes available and wins the leader election")
	g.Eventually(func(g Gomega) {
		d := &appsv1.Deployment{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: installNamespace, Name: installFullname + "-operator"}, d)).To(Succeed())
		g.Expect(d.Status.AvailableReplicas).To(Equal(int32(1)))
	}).WithTimeout(3 * time.Minute).WithPolling(time.Second).Should(Succeed())
	// NB: the holder is "<hostname>_<uuid>", and localkube's processes have the host's name.
	g.Eventually(func(g Gomega) {
		lease, err := kube.CoordinationV1().Leases(installNamespace).Get(ctx, "torua-operator.torua.io", metav1.GetOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(ptr.Deref(lease.Spec.HolderIdentity, "")).NotTo(BeEmpty())
	}).WithTimeout(time.Minute).Should(Succeed())

	t.Log("The ToruaCluster becomes Available")
	g.Eventually(func(g Gomega) {
		tc := &toruav1alpha1.ToruaCluster{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: installNamespace, Name: installRelease}, tc)).To(Succeed())
		g.Expect(meta.IsStatusConditionTrue(tc.Status.Conditions, toruav1alpha1.ConditionAvailable)).To(BeTrue(), "conditions: %+v", tc.Status.Conditions)
		g.Expect(tc.Status.ReadyNodes).To(Equal(int32(1)))
	}).WithTimeout(3 * time.Minute).WithPolling(time.Second).Should(Succeed())

	httpc := &http.Client{
		Timeout: 10 * time.Second,
		// The operator's self-signed certificate, as the chart's ServiceMonitor accepts it.
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
	}
	t.Cleanup(httpc.CloseIdleConnections)
	do := func(method, url, token string, body io.Reader) (int, string, error) {
		return testutil.Do(ctx, httpc, method, url, token, body)
	}

	t.Log("The cluster serves a write and a read through its router")
	// No kube-proxy: the router Service's ready endpoint, as a client inside the cluster reaches it.
	router := "http://" + readyEndpoint(t, kube, installRelease, "http")
	g.Eventually(func(g Gomega) {
		code, body, err := do(http.MethodPut, router+"/data/greeting", "", strings.NewReader("hello from helm"))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(code).To(Equal(http.StatusNoContent), body)
	}).WithTimeout(time.Minute).WithPolling(500 * time.Millisecond).Should(Succeed())
	code, body, err := do(http.MethodGet, router+"/data/greeting", "", nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(code).To(Equal(http.StatusOK))
	g.Expect(body).To(Equal("hello from helm"))

	t.Log("The operator's metrics Service answers HTTPS scrapes by their tokens' permissions")
	metrics := "https://" + readyEndpoint(t, kube, installFullname+"-operator-metrics", "https") + "/metrics"
	reader := tokenOf(t, kube, "prometheus", installFullname+"-metrics-reader")
	stranger := tokenOf(t, kube, "stranger", "")
	g.Eventually(func(g Gomega) {
		code, body, err := do(http.MethodGet, metrics, reader, nil)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(code).To(Equal(http.StatusOK), body)
		g.Expect(body).To(ContainSubstring(`controller_runtime_reconcile_total{controller="toruacluster"`))
	}).WithTimeout(time.Minute).WithPolling(time.Second).Should(Succeed())
	for _, s := range []struct {
		who, token string
		want       int
	}{
		{"a ServiceAccount without metrics-reader", stranger, http.StatusForbidden},
		{"no token", "", http.StatusUnauthorized},
	} {
		code, body, err := do(http.MethodGet, metrics, s.token, nil)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(code).To(Equal(s.want), "scrape with %s: %s", s.who, body)
	}

	t.Log("helm uninstall removes the release; the garbage collector removes the cluster's objects")
	runHelm(t, "uninstall", installRelease, "--kubeconfig", c.Kubeconfig, "--namespace", installNamespace, "--wait", "--timeout", "2m")
	gone := func(obj client.Object, name string) func(Gomega) {
		return func(g Gomega) {
			ns := installNamespace
			if _, cluster := obj.(*rbacv1.ClusterRole); cluster {
				ns = ""
			}
			err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj)
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%T %s: %v", obj, name, err)
		}
	}
	for _, check := range []func(Gomega){
		gone(&toruav1alpha1.ToruaCluster{}, installRelease),
		gone(&appsv1.Deployment{}, installFullname+"-operator"),
		gone(&rbacv1.ClusterRole{}, installFullname+"-manager"),
		gone(&rbacv1.ClusterRole{}, installFullname+"-metrics-reader"),
		gone(&appsv1.StatefulSet{}, installRelease+"-node"),
		gone(&appsv1.Deployment{}, installRelease+"-router"),
		gone(&corev1.ConfigMap{}, installRelease+"-shardmap"),
	} {
		g.Eventually(check).WithTimeout(time.Minute).WithPolling(200 * time.Millisecond).Should(Succeed())
	}
}

// defaultImageRepository is image.repository of the chart's values.yaml.
func defaultImageRepository(t *testing.T) string {
	t.Helper()
	values := decodeAll(t, readRepoFile(t, "charts/torua/values.yaml"))[0].m
	image, _ := values["image"].(map[string]any)
	repo, _ := image["repository"].(string)
	if repo == "" {
		t.Fatal("charts/torua/values.yaml has no image.repository")
	}
	return repo
}

// toruaBinary is $TORUA_BINARY, or ./cmd/torua built into a temporary directory.
func toruaBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("TORUA_BINARY"); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}
	bin := filepath.Join(t.TempDir(), "torua")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/torua")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/torua: %v\n%s", err, out)
	}
	return bin
}

// readyEndpoint waits for a ready endpoint of a Service in the install namespace and returns
// its address and the number of the named port: there is no kube-proxy, so clients go to pods.
func readyEndpoint(t *testing.T, kube kubernetes.Interface, service, port string) string {
	t.Helper()
	var addr string
	NewWithT(t).Eventually(func(g Gomega) {
		slices, err := kube.DiscoveryV1().EndpointSlices(installNamespace).List(t.Context(),
			metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + service})
		g.Expect(err).NotTo(HaveOccurred())
		for _, s := range slices.Items {
			for _, p := range s.Ports {
				if ptr.Deref(p.Name, "") != port || p.Port == nil {
					continue
				}
				for _, e := range s.Endpoints {
					if ptr.Deref(e.Conditions.Ready, false) && len(e.Addresses) > 0 {
						addr = net.JoinHostPort(e.Addresses[0], strconv.Itoa(int(*p.Port)))
						return
					}
				}
			}
		}
		g.Expect(addr).NotTo(BeEmpty(), "no ready endpoint of Service %s port %s", service, port)
	}).WithTimeout(time.Minute).WithPolling(200 * time.Millisecond).Should(Succeed())
	return addr
}

// tokenOf creates a ServiceAccount in the install namespace, bound to clusterRole unless it is
// empty, and returns a token of it (TokenRequest).
func tokenOf(t *testing.T, kube kubernetes.Interface, name, clusterRole string) string {
	t.Helper()
	ctx := t.Context()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: installNamespace, Name: name}}
	if _, err := kube.CoreV1().ServiceAccounts(installNamespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if clusterRole != "" {
		binding := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name + "-" + clusterRole},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRole},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: installNamespace, Name: name}},
		}
		if _, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := kube.CoreV1().ServiceAccounts(installNamespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

// dumpInstall logs what a failed install left: the pods and the tail of every container's log.
func dumpInstall(t *testing.T, c *localkube.Cluster) {
	if c == nil || c.Config == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kube := kubernetes.NewForConfigOrDie(c.Config)
	if pods, err := kube.CoreV1().Pods(installNamespace).List(ctx, metav1.ListOptions{}); err == nil {
		for _, p := range pods.Items {
			for _, cs := range p.Status.ContainerStatuses {
				t.Logf("pod %s (%s) container %s: ready %t, restarts %d, state %+v, last %+v",
					p.Name, p.Status.Phase, cs.Name, cs.Ready, cs.RestartCount, cs.State, cs.LastTerminationState)
			}
		}
	}
	for _, l := range c.ContainerLogs() {
		data, err := os.ReadFile(l.Path)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		t.Logf("--- %s/%s %s (last %d lines)\n%s", l.Namespace, l.Pod, l.Container, min(len(lines), 40),
			strings.Join(lines[max(0, len(lines)-40):], "\n"))
	}
}
