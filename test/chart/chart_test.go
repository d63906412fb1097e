package chart

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const (
	release   = "demo"
	namespace = "torua-system"
	fullname  = "demo-torua"

	crdFile      = "torua.io_toruaclusters.yaml"
	generatedCRD = "config/crd/bases/" + crdFile
	chartCRD     = "charts/torua/crds/" + crdFile
)

// nonDefaultValues changes every value the assertions below look at.
const nonDefaultValues = `
replicaCount: 2
image:
  repository: registry.example.com/team/torua
  tag: v9.8.7
  pullPolicy: Always
leaderElection:
  enabled: false
metrics:
  enabled: false
extraArgs: ["--zap-log-level=debug"]
cluster:
  enabled: true
  name: kv
  replicas: 5
  shards: 64
  replicationFactor: 3
  imagePullPolicy: Never
  storage:
    size: 5Gi
    storageClassName: fast
    retainOnDelete: false
  router:
    replicas: 3
  drainTimeout: 30m
  paused: true
`

// object is one rendered manifest: its source text and its decoded form.
type object struct {
	raw []byte
	m   map[string]any
}

func (o object) kind() string { s, _ := o.m["kind"].(string); return s }

func (o object) name() string {
	md, _ := o.m["metadata"].(map[string]any)
	s, _ := md["name"].(string)
	return s
}

// into decodes the object into a typed API struct.
func (o object) into(t *testing.T, v any) {
	t.Helper()
	if err := yaml.Unmarshal(o.raw, v); err != nil {
		t.Fatalf("decode %s %s: %v", o.kind(), o.name(), err)
	}
}

// repoRoot is the repository root; go test runs in the package directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// helm returns the pinned helm binary. Outside make, a missing bin/helm skips the test;
// `make test` sets HELM and builds it first, so there a missing binary fails.
func helm(t *testing.T) string {
	t.Helper()
	path := os.Getenv("HELM")
	if path == "" {
		path = filepath.Join(repoRoot(t), "bin", "helm")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			t.Skipf("%s is missing: run `make helm` first (`make test` does)", path)
		}
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("helm binary: %v (run `make helm`)", err)
	}
	return path
}

// runHelm runs helm in the repository root with private config, cache and data directories.
func runHelm(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(helm(t), args...)
	cmd.Dir = repoRoot(t)
	tmp := t.TempDir()
	cmd.Env = append(os.Environ(),
		"HELM_CONFIG_HOME="+filepath.Join(tmp, "config"),
		"HELM_CACHE_HOME="+filepath.Join(tmp, "cache"),
		"HELM_DATA_HOME="+filepath.Join(tmp, "data"),
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return out
}

// valuesFile writes values to a file for helm's --values.
func valuesFile(t *testing.T, values string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(path, []byte(values), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// render runs helm template (CRDs included) and decodes every manifest.
func render(t *testing.T, extraArgs ...string) []object {
	t.Helper()
	args := append([]string{"template", release, "charts/torua", "--namespace", namespace, "--include-crds"}, extraArgs...)
	return decodeAll(t, runHelm(t, args...))
}

// decodeAll splits a multi-document YAML stream and decodes each non-empty document.
func decodeAll(t *testing.T, data []byte) []object {
	t.Helper()
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []object
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("split YAML: %v", err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			t.Fatalf("decode YAML document: %v\n%s", err, doc)
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, object{raw: doc, m: m})
	}
}

// find returns the objects of a kind, and fails unless exactly want of them exist.
func find(t *testing.T, objs []object, kind string, want int) []object {
	t.Helper()
	var found []object
	for _, o := range objs {
		if o.kind() == kind {
			found = append(found, o)
		}
	}
	if len(found) != want {
		t.Fatalf("rendered %d %s objects, want %d", len(found), kind, want)
	}
	return found
}

// findNamed returns the object of a kind and name.
func findNamed(t *testing.T, objs []object, kind, name string) object {
	t.Helper()
	for _, o := range objs {
		if o.kind() == kind && o.name() == name {
			return o
		}
	}
	t.Fatalf("no %s %q rendered", kind, name)
	return object{}
}

// readRepoFile reads a file of the repository.
func readRepoFile(t *testing.T, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatalf("read %s: %v (the operator's `make manifests` generates config/)", rel, err)
	}
	return data
}

// operatorContainer returns the operator Deployment and its only container.
func operatorContainer(t *testing.T, objs []object) (appsv1.Deployment, corev1.Container) {
	t.Helper()
	var d appsv1.Deployment
	findNamed(t, objs, "Deployment", fullname+"-operator").into(t, &d)
	if n := len(d.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("operator Deployment has %d containers, want 1", n)
	}
	return d, d.Spec.Template.Spec.Containers[0]
}

func TestLint(t *testing.T) {
	runHelm(t, "lint", "--strict", "charts/torua")
	runHelm(t, "lint", "--strict", "charts/torua", "--values", valuesFile(t, nonDefaultValues))
}

func TestCRDIsTheGeneratedOne(t *testing.T) {
	generated := readRepoFile(t, generatedCRD)
	if !bytes.Equal(readRepoFile(t, chartCRD), generated) {
		t.Fatalf("%s differs from %s: run `make chart-crd`", chartCRD, generatedCRD)
	}

	crds := find(t, render(t), "CustomResourceDefinition", 1)
	want := decodeAll(t, generated)
	if len(want) != 1 {
		t.Fatalf("%s holds %d documents, want 1", generatedCRD, len(want))
	}
	if crds[0].name() != "toruaclusters.torua.io" {
		t.Errorf("rendered CRD %q, want toruaclusters.torua.io", crds[0].name())
	}
	if !reflect.DeepEqual(crds[0].m, want[0].m) {
		t.Errorf("rendered CRD differs from %s", generatedCRD)
	}
}

// TestRolesAreConfigRBACs checks that every role the chart grants has the rules of its source in
// config/rbac (the generated ClusterRole among them) and is bound to the operator's ServiceAccount.
func TestRolesAreConfigRBACs(t *testing.T) {
	objs := render(t)
	operator := rbacv1.Subject{Kind: "ServiceAccount", Name: fullname, Namespace: namespace}
	for _, tc := range []struct {
		file, kind, name string
		bound            bool // bound to the operator's ServiceAccount
	}{
		{"role.yaml", "ClusterRole", fullname + "-manager", true},
		{"leader_election_role.yaml", "Role", fullname + "-leader-election", true},
		{"metrics_auth_role.yaml", "ClusterRole", fullname + "-metrics-auth", true},
		{"metrics_reader_role.yaml", "ClusterRole", fullname + "-metrics-reader", false},
	} {
		t.Run(tc.file, func(t *testing.T) {
			source, copied := "config/rbac/"+tc.file, "charts/torua/files/rbac/"+tc.file
			data := readRepoFile(t, source)
			if !bytes.Equal(readRepoFile(t, copied), data) {
				t.Fatalf("%s differs from %s: run `make chart-rbac`", copied, source)
			}
			want := rulesOf(t, decodeAll(t, data))
			if len(want) == 0 {
				t.Fatalf("%s holds no rules", source)
			}
			var role rbacv1.ClusterRole // a Role decodes into it as well
			findNamed(t, objs, tc.kind, tc.name).into(t, &role)
			if !reflect.DeepEqual(role.Rules, want) {
				t.Errorf("%s %s rules differ from %s:\n got: %+v\nwant: %+v", tc.kind, tc.name, source, role.Rules, want)
			}
			if !tc.bound {
				return
			}
			var binding rbacv1.RoleBinding // a ClusterRoleBinding decodes into it as well
			findNamed(t, objs, tc.kind+"Binding", tc.name).into(t, &binding)
			if binding.RoleRef.Kind != tc.kind || binding.RoleRef.Name != tc.name || !slices.Contains(binding.Subjects, operator) {
				t.Errorf("%sBinding binds %s %q to %+v, want %s %q to %+v", tc.kind, binding.RoleRef.Kind, binding.RoleRef.Name, binding.Subjects, tc.kind, tc.name, operator)
			}
		})
	}
}

// rulesOf returns the rules of every Role and ClusterRole among objs.
func rulesOf(t *testing.T, objs []object) []rbacv1.PolicyRule {
	t.Helper()
	var rules []rbacv1.PolicyRule
	for _, o := range objs {
		if o.kind() == "ClusterRole" || o.kind() == "Role" {
			var r rbacv1.ClusterRole
			o.into(t, &r)
			rules = append(rules, r.Rules...)
		}
	}
	return rules
}

func TestDefaults(t *testing.T) {
	objs := render(t)
	find(t, objs, "ToruaCluster", 0)
	findNamed(t, objs, "ServiceAccount", fullname)
	findNamed(t, objs, "Role", fullname+"-leader-election")
	findNamed(t, objs, "Service", fullname+"-operator-metrics")
	find(t, objs, "ServiceMonitor", 0)

	chartYAML := decodeAll(t, readRepoFile(t, "charts/torua/Chart.yaml"))
	appVersion, _ := chartYAML[0].m["appVersion"].(string)

	d, c := operatorContainer(t, objs)
	if got := *d.Spec.Replicas; got != 1 {
		t.Errorf("replicas = %d, want 1", got)
	}
	if want := "ghcr.io/torua/torua:" + appVersion; c.Image != want {
		t.Errorf("image = %q, want %q", c.Image, want)
	}
	if c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("imagePullPolicy = %q, want IfNotPresent", c.ImagePullPolicy)
	}
	wantArgs := []string{"operator", "--metrics-bind-address=:8443", "--health-probe-bind-address=:8081", "--leader-elect"}
	if !reflect.DeepEqual(c.Args, wantArgs) {
		t.Errorf("args = %q, want %q", c.Args, wantArgs)
	}
	if d.Spec.Template.Spec.ServiceAccountName != fullname {
		t.Errorf("serviceAccountName = %q, want %q", d.Spec.Template.Spec.ServiceAccountName, fullname)
	}
	if sc := d.Spec.Template.Spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("pod securityContext %+v does not require a non-root user", sc)
	}
	if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("container securityContext %+v has a writable root file system", sc)
	}
}

// TestMetrics: by default HTTPS on 8443 with the roles the authenticating filter needs, the
// Service and ServiceMonitor on https; a certificate Secret is mounted and passed; plain HTTP
// when metrics.secure is false, without those roles.
func TestMetrics(t *testing.T) {
	metricsArgs := func(c corev1.Container) []string {
		var args []string
		for _, a := range c.Args {
			if strings.HasPrefix(a, "--metrics-") {
				args = append(args, a)
			}
		}
		return args
	}
	servicePort := func(t *testing.T, objs []object) corev1.ServicePort {
		var svc corev1.Service
		findNamed(t, objs, "Service", fullname+"-operator-metrics").into(t, &svc)
		if len(svc.Spec.Ports) != 1 {
			t.Fatalf("metrics Service ports = %+v, want one", svc.Spec.Ports)
		}
		return svc.Spec.Ports[0]
	}
	endpoint := func(t *testing.T, objs []object) map[string]any {
		sm := find(t, objs, "ServiceMonitor", 1)[0]
		endpoints, _ := sm.m["spec"].(map[string]any)["endpoints"].([]any)
		if len(endpoints) != 1 {
			t.Fatalf("ServiceMonitor endpoints = %v, want one", endpoints)
		}
		return endpoints[0].(map[string]any)
	}

	t.Run("defaults", func(t *testing.T) {
		objs := render(t, "--set", "metrics.serviceMonitor.enabled=true")
		_, c := operatorContainer(t, objs)
		if got, want := metricsArgs(c), []string{"--metrics-bind-address=:8443"}; !reflect.DeepEqual(got, want) {
			t.Errorf("metrics args = %q, want %q (HTTPS is the binary's default)", got, want)
		}
		if p := servicePort(t, objs); p.Name != "https" || p.Port != 8443 || p.TargetPort.String() != "metrics" {
			t.Errorf("metrics Service port = %+v, want https 8443 -> metrics", p)
		}
		findNamed(t, objs, "ClusterRole", fullname+"-metrics-auth")
		findNamed(t, objs, "ClusterRoleBinding", fullname+"-metrics-auth")
		findNamed(t, objs, "ClusterRole", fullname+"-metrics-reader")
		ep := endpoint(t, objs)
		want := map[string]any{
			"port": "https", "scheme": "https", "path": "/metrics", "interval": "30s",
			"bearerTokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token",
			"tlsConfig":       map[string]any{"insecureSkipVerify": true},
		}
		if !reflect.DeepEqual(ep, want) {
			t.Errorf("ServiceMonitor endpoint = %v, want %v", ep, want)
		}
	})
	t.Run("certSecretName", func(t *testing.T) {
		objs := render(t, "--set", "metrics.certSecretName=operator-metrics-tls")
		d, c := operatorContainer(t, objs)
		if got, want := metricsArgs(c), []string{"--metrics-bind-address=:8443", "--metrics-cert-path=/etc/torua/metrics-certs"}; !reflect.DeepEqual(got, want) {
			t.Errorf("metrics args = %q, want %q", got, want)
		}
		wantMount := corev1.VolumeMount{Name: "metrics-certs", MountPath: "/etc/torua/metrics-certs", ReadOnly: true}
		if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return reflect.DeepEqual(m, wantMount) }) {
			t.Errorf("volume mounts = %+v, want %+v", c.VolumeMounts, wantMount)
		}
		vols := d.Spec.Template.Spec.Volumes
		if len(vols) != 1 || vols[0].Secret == nil || vols[0].Secret.SecretName != "operator-metrics-tls" {
			t.Errorf("volumes = %+v, want Secret operator-metrics-tls", vols)
		}
	})
	t.Run("secure=false", func(t *testing.T) {
		objs := render(t, "--set", "metrics.secure=false,metrics.port=8080,metrics.serviceMonitor.enabled=true")
		_, c := operatorContainer(t, objs)
		if got, want := metricsArgs(c), []string{"--metrics-bind-address=:8080", "--metrics-secure=false"}; !reflect.DeepEqual(got, want) {
			t.Errorf("metrics args = %q, want %q", got, want)
		}
		if p := servicePort(t, objs); p.Name != "http" || p.Port != 8080 {
			t.Errorf("metrics Service port = %+v, want http 8080", p)
		}
		for _, o := range objs {
			if strings.Contains(o.name(), "-metrics-") && strings.HasPrefix(o.kind(), "ClusterRole") {
				t.Errorf("%s %s rendered for plain HTTP metrics", o.kind(), o.name())
			}
		}
		ep := endpoint(t, objs)
		want := map[string]any{"port": "http", "scheme": "http", "path": "/metrics", "interval": "30s"}
		if !reflect.DeepEqual(ep, want) {
			t.Errorf("ServiceMonitor endpoint = %v, want %v", ep, want)
		}
	})
}

func TestNonDefaultValues(t *testing.T) {
	objs := render(t, "--values", valuesFile(t, nonDefaultValues))

	d, c := operatorContainer(t, objs)
	if got := *d.Spec.Replicas; got != 2 {
		t.Errorf("replicas = %d, want 2", got)
	}
	if want := "registry.example.com/team/torua:v9.8.7"; c.Image != want {
		t.Errorf("image = %q, want %q", c.Image, want)
	}
	if c.ImagePullPolicy != corev1.PullAlways {
		t.Errorf("imagePullPolicy = %q, want Always", c.ImagePullPolicy)
	}
	wantArgs := []string{"operator", "--metrics-bind-address=0", "--health-probe-bind-address=:8081", "--zap-log-level=debug"}
	if !reflect.DeepEqual(c.Args, wantArgs) {
		t.Errorf("args = %q, want %q", c.Args, wantArgs)
	}
	find(t, objs, "Role", 0)
	find(t, objs, "Service", 0)

	tc := find(t, objs, "ToruaCluster", 1)[0]
	if tc.name() != "kv" {
		t.Errorf("ToruaCluster name = %q, want kv", tc.name())
	}
	wantSpec := map[string]any{
		"replicas":          float64(5),
		"shards":            float64(64),
		"replicationFactor": float64(3),
		"image":             "registry.example.com/team/torua:v9.8.7",
		"imagePullPolicy":   "Never",
		"storage":           map[string]any{"size": "5Gi", "storageClassName": "fast", "retainOnDelete": false},
		"router":            map[string]any{"replicas": float64(3)},
		"drainTimeout":      "30m",
		"paused":            true,
	}
	if !reflect.DeepEqual(tc.m["spec"], wantSpec) {
		t.Errorf("ToruaCluster spec = %v, want %v", tc.m["spec"], wantSpec)
	}
}

// TestToruaClusterMatchesCRDSchema checks that every field the chart sets exists in the CRD's
// schema, so a renamed API field cannot silently be dropped by the API server's pruning.
func TestToruaClusterMatchesCRDSchema(t *testing.T) {
	values := nonDefaultValues + `
  resources: {requests: {cpu: 100m}}
  podTemplate: {nodeSelector: {disk: ssd}, priorityClassName: high}
`
	objs := render(t, "--values", valuesFile(t, values))
	var crd struct {
		Spec struct {
			Versions []struct {
				Name   string `json:"name"`
				Schema struct {
					OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	find(t, objs, "CustomResourceDefinition", 1)[0].into(t, &crd)
	tc := find(t, objs, "ToruaCluster", 1)[0]
	for _, v := range crd.Spec.Versions {
		if v.Name == "v1alpha1" {
			for _, err := range unknownFields("", tc.m, v.Schema.OpenAPIV3Schema) {
				t.Error(err)
			}
			return
		}
	}
	t.Fatal("CRD has no version v1alpha1")
}

// unknownFields lists the object fields of value that schema does not declare.
func unknownFields(path string, value any, schema map[string]any) []error {
	if preserve, _ := schema["x-kubernetes-preserve-unknown-fields"].(bool); preserve {
		return nil
	}
	var errs []error
	switch v := value.(type) {
	case map[string]any:
		props, _ := schema["properties"].(map[string]any)
		additional, _ := schema["additionalProperties"].(map[string]any)
		for key, field := range v {
			if path == "" && (key == "apiVersion" || key == "kind" || key == "metadata") {
				continue
			}
			sub, ok := props[key].(map[string]any)
			if !ok {
				sub = additional
			}
			if sub == nil {
				errs = append(errs, fmt.Errorf("field %s.%s is not in the CRD schema", path, key))
				continue
			}
			errs = append(errs, unknownFields(path+"."+key, field, sub)...)
		}
	case []any:
		items, _ := schema["items"].(map[string]any)
		for i, item := range v {
			errs = append(errs, unknownFields(fmt.Sprintf("%s[%d]", path, i), item, items)...)
		}
	}
	return errs
}
