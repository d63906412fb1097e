package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
	"github.com/spf13/pflag"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/torua/torua/internal/testutil"
)

// parseOperatorFlags returns the options `torua operator` gets from args.
func parseOperatorFlags(t *testing.T, args ...string) *operatorOptions {
	t.Helper()
	o := &operatorOptions{}
	f := pflag.NewFlagSet("operator", pflag.ContinueOnError)
	o.addFlags(f)
	if err := f.Parse(args); err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	return o
}

// writeServingCert writes tls.crt and tls.key for 127.0.0.1 into dir and returns the
// certificate PEM (the serving certificate and the CA that signed it).
func writeServingCert(t *testing.T, dir string) []byte {
	t.Helper()
	cert, key, err := certutil.GenerateSelfSignedCertKey("127.0.0.1", []net.IP{net.IPv4(127, 0, 0, 1)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"tls.crt": cert, "tls.key": key} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return cert
}

// TestOperatorMetricsFlags: HTTPS with authentication and authorisation by default, HTTP/1.1
// only unless asked, the certificate from --metrics-cert-path, plain HTTP when asked.
func TestOperatorMetricsFlags(t *testing.T) {
	tlsConfig := func(g Gomega, o *operatorOptions) *tls.Config {
		opts, _, err := metricsServerOptions(o)
		g.Expect(err).NotTo(HaveOccurred())
		c := &tls.Config{}
		for _, f := range opts.TLSOpts {
			f(c)
		}
		return c
	}

	t.Run("defaults", func(t *testing.T) {
		g := NewWithT(t)
		opts, certs, err := metricsServerOptions(parseOperatorFlags(t))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(opts.BindAddress).To(Equal(":8443"))
		g.Expect(opts.SecureServing).To(BeTrue())
		g.Expect(opts.FilterProvider).NotTo(BeNil(), "metrics are served without authentication")
		g.Expect(certs).To(BeNil())
		c := tlsConfig(g, parseOperatorFlags(t))
		g.Expect(c.NextProtos).To(Equal([]string{"http/1.1"}))
		g.Expect(c.GetCertificate).To(BeNil(), "controller-runtime's self-signed certificate is the default")
	})
	t.Run("enable-http2", func(t *testing.T) {
		g := NewWithT(t)
		g.Expect(tlsConfig(g, parseOperatorFlags(t, "--enable-http2")).NextProtos).To(BeEmpty())
	})
	t.Run("metrics-cert-path", func(t *testing.T) {
		g := NewWithT(t)
		dir := t.TempDir()
		certPEM := writeServingCert(t, dir)
		o := parseOperatorFlags(t, "--metrics-cert-path="+dir)
		_, certs, err := metricsServerOptions(o)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(certs).NotTo(BeNil(), "no certificate watcher to run with the manager")
		served, err := tlsConfig(g, o).GetCertificate(&tls.ClientHelloInfo{})
		g.Expect(err).NotTo(HaveOccurred())
		block, _ := pem.Decode(certPEM)
		g.Expect(served.Certificate[0]).To(Equal(block.Bytes), "the served certificate is not the one in --metrics-cert-path")
	})
	t.Run("metrics-cert-path missing", func(t *testing.T) {
		_, _, err := metricsServerOptions(parseOperatorFlags(t, "--metrics-cert-path="+t.TempDir()))
		NewWithT(t).Expect(err).To(MatchError(ContainSubstring("--metrics-cert-path")))
	})
	t.Run("metrics-secure=false", func(t *testing.T) {
		g := NewWithT(t)
		opts, _, err := metricsServerOptions(parseOperatorFlags(t, "--metrics-secure=false", "--metrics-bind-address=:8080"))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(opts.SecureServing).To(BeFalse())
		g.Expect(opts.FilterProvider).To(BeNil())
		g.Expect(opts.BindAddress).To(Equal(":8080"))
		_, _, err = metricsServerOptions(parseOperatorFlags(t, "--metrics-secure=false", "--metrics-cert-path="+t.TempDir()))
		g.Expect(err).To(MatchError(ContainSubstring("--metrics-secure")))
	})
}

// TestOperatorMetricsEndpoint runs the manager `torua operator` builds against a real
// kube-apiserver (envtest), as a ServiceAccount with config/rbac's roles for the operator, and
// scrapes its metrics as Prometheus does: a token of a ServiceAccount bound to metrics-reader
// gets the metrics (200), one without that role 403, none or a bad one 401; the certificate
// served is --metrics-cert-path's.
func TestOperatorMetricsEndpoint(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Skip("KUBEBUILDER_ASSETS is not set: make k8s-test-binaries builds kube-apiserver and etcd (make test sets it)")
	}
	g := NewWithT(t)
	ctx := t.Context()
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	admin, err := env.Start()
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop envtest: %v", err)
		}
	})
	g.Expect(err).NotTo(HaveOccurred())
	kube := kubernetes.NewForConfigOrDie(admin)

	const ns = "torua-system"
	_, err = kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	for _, file := range []string{"role.yaml", "metrics_auth_role.yaml", "metrics_reader_role.yaml"} {
		for _, role := range clusterRoles(t, filepath.Join("..", "..", "config", "rbac", file)) {
			_, err := kube.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{})
			g.Expect(err).NotTo(HaveOccurred())
		}
	}
	operatorToken := serviceAccountToken(t, kube, ns, "torua-operator", "manager-role", "metrics-auth-role")
	readerToken := serviceAccountToken(t, kube, ns, "prometheus", "metrics-reader")
	strangerToken := serviceAccountToken(t, kube, ns, "stranger")

	certDir := t.TempDir()
	certPEM := writeServingCert(t, certDir)
	// NB: the metrics server takes an address, not a listener: take a free port and let it go.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	g.Expect(err).NotTo(HaveOccurred())
	addr := l.Addr().String()
	g.Expect(l.Close()).To(Succeed())

	cfg := rest.AnonymousClientConfig(admin)
	cfg.BearerToken = operatorToken
	mgr, err := newOperatorManager(cfg, parseOperatorFlags(t,
		"--metrics-bind-address="+addr, "--health-probe-bind-address=0", "--metrics-cert-path="+certDir))
	g.Expect(err).NotTo(HaveOccurred())
	mgrCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mgrCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("operator manager: %v", err)
		}
	})

	roots := x509.NewCertPool()
	g.Expect(roots.AppendCertsFromPEM(certPEM)).To(BeTrue())
	httpc := &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}},
		Timeout:   10 * time.Second,
	}
	t.Cleanup(httpc.CloseIdleConnections)
	scrape := func(token string) (int, string, error) {
		return testutil.Do(ctx, httpc, http.MethodGet, "https://"+addr+"/metrics", token, nil)
	}

	// The certificate is verified against --metrics-cert-path's CA: a self-signed one would fail.
	g.Eventually(func(g Gomega) {
		code, body, err := scrape(readerToken)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(code).To(Equal(http.StatusOK), body)
		g.Expect(body).To(ContainSubstring(`controller_runtime_reconcile_total{controller="toruacluster"`))
	}).WithTimeout(time.Minute).WithPolling(200 * time.Millisecond).Should(Succeed())
	for _, c := range []struct {
		who, token string
		want       types.GomegaMatcher
	}{
		{"a ServiceAccount without metrics-reader", strangerToken, Equal(http.StatusForbidden)},
		{"no token", "", Equal(http.StatusUnauthorized)},
		// NB: controller-runtime's filter answers 500 when the TokenReview reports an error,
		// as it does for a token that is not a JWT.
		{"a token the API server did not issue", "not-a-token", BeNumerically(">=", 400)},
	} {
		code, body, err := scrape(c.token)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(code).To(c.want, "scrape with %s: %s", c.who, body)
		g.Expect(body).NotTo(ContainSubstring("controller_runtime_"), "scrape with %s", c.who)
	}
}

// clusterRoles decodes the ClusterRoles of a YAML file.
func clusterRoles(t *testing.T, path string) []*rbacv1.ClusterRole {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var roles []*rbacv1.ClusterRole
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		role := &rbacv1.ClusterRole{}
		if err := yaml.Unmarshal(doc, role); err != nil {
			t.Fatalf("decode %s: %v", path, err)
		}
		if role.Kind == "ClusterRole" {
			roles = append(roles, role)
		}
	}
	if len(roles) == 0 {
		t.Fatalf("%s holds no ClusterRole", path)
	}
	return roles
}

// serviceAccountToken creates a ServiceAccount bound to the named ClusterRoles and returns a
// token of it from the TokenRequest API.
func serviceAccountToken(t *testing.T, kube kubernetes.Interface, namespace, name string, clusterRoles ...string) string {
	t.Helper()
	ctx := t.Context()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	if _, err := kube.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, role := range clusterRoles {
		binding := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name + "-" + role},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: name}},
		}
		if _, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := kube.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token of %s/%s: %v", namespace, name, err)
	}
	return tr.Status.Token
}
