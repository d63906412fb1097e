package localkube

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

// testImage is run as this test binary in server mode (envServe).
const (
	testImage = "localkube.test/server:v1"
	envServe  = "LOCALKUBE_TEST_SERVE"
)

func TestMain(m *testing.M) {
	if addr := os.Getenv(envServe); addr != "" {
		serve(addr)
		return
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Println("localkube: KUBEBUILDER_ASSETS is not set; skipping (make k8s-test-binaries; make test sets it)")
		os.Exit(0)
	}
	Main(m)
}

// serve is the test pods' container: an HTTP server answering /healthz on addr, and /whoami
// with the user its KUBECONFIG authenticates as (a SelfSubjectReview).
func serve(addr string) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		path := os.Getenv("KUBECONFIG")
		if path == "" {
			http.Error(w, "no KUBECONFIG", http.StatusNotFound)
			return
		}
		cfg, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		review, err := kubernetes.NewForConfigOrDie(cfg).AuthenticationV1().SelfSubjectReviews().
			Create(r.Context(), &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte(review.Status.UserInfo.Username))
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = http.Serve(ln, mux)
}

func TestStatefulSetLifecycle(t *testing.T) {
	ctx := t.Context()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c, err := Start(ctx, Options{Images: map[string]string{imageRepository(testImage): self}, Output: testOutput(t)})
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(c.Config)
	const ns = "default"
	labels := map[string]string{"app": "server"}

	_, err = client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "server"},
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone, Selector: labels,
			Ports: []corev1.ServicePort{{Name: "http", Port: 8080}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	probe := &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}},
		PeriodSeconds: 1,
	}
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "server"},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptr.To[int32](2),
			ServiceName: "server",
			Selector:    &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](5),
					Containers: []corev1.Container{{
						Name: "server", Image: testImage,
						Env: []corev1.EnvVar{
							{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
							{Name: envServe, Value: "$(POD_IP):8080"},
						},
						Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
						ReadinessProbe: probe,
					}},
				},
			},
		},
	}
	if sts, err = client.AppsV1().StatefulSets(ns).Create(ctx, sts, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	readyEndpoints := func(want int) func(context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			slices, err := client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=server"})
			if err != nil {
				return false, err
			}
			ready := 0
			for _, s := range slices.Items {
				for _, e := range s.Endpoints {
					if ptr.Deref(e.Conditions.Ready, false) {
						ready++
					}
				}
			}
			return ready == want, nil
		}
	}
	poll(t, "2 ready endpoints", readyEndpoints(2))

	pod, err := client.CoreV1().Pods(ns).Get(ctx, "server-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + net.JoinHostPort(pod.Status.PodIP, "8080") + "/healthz")
	if err != nil {
		t.Fatalf("reach pod at its IP: %v", err)
	}
	_ = resp.Body.Close()

	t.Log("A pod reaches the API server as its ServiceAccount (KUBECONFIG).")
	if code, who := whoami(t, pod); code != http.StatusOK || who != "system:serviceaccount:default:default" {
		t.Errorf("server-0 authenticates as %q (HTTP %d), want system:serviceaccount:default:default", who, code)
	}

	t.Log("A deleted pod is recreated with a new UID.")
	if err := client.CoreV1().Pods(ns).Delete(ctx, "server-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "server-0 recreated", func(ctx context.Context) (bool, error) {
		p, err := client.CoreV1().Pods(ns).Get(ctx, "server-0", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil && p.UID != pod.UID && isReady(p), err
	})

	t.Log("Scale-down removes the highest ordinal.")
	// The StatefulSet controller writes the object too: read and write again on a conflict.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		scale, err := client.AppsV1().StatefulSets(ns).GetScale(ctx, sts.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		scale.Spec.Replicas = 1
		_, err = client.AppsV1().StatefulSets(ns).UpdateScale(ctx, sts.Name, scale, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	poll(t, "server-1 gone", podGone(client, ns, "server-1"))
	poll(t, "1 ready endpoint", readyEndpoints(1))

	t.Log("Deleting the StatefulSet garbage-collects its pods.")
	if err := client.AppsV1().StatefulSets(ns).Delete(ctx, "server", metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}); err != nil {
		t.Fatal(err)
	}
	poll(t, "server-0 gone", podGone(client, ns, "server-0"))

	t.Log("A claim's directory outlives its pod and goes with the claim.")
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "scratch"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Mi")}},
		},
	}
	if _, err := client.CoreV1().PersistentVolumeClaims(ns).Create(ctx, claim, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	user := sts.Spec.Template.DeepCopy()
	user.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "scratch"},
	}}}
	user.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	user.Spec.AutomountServiceAccountToken = ptr.To(false)
	if _, err := client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "claim-user", Labels: map[string]string{"app": "claim-user"}},
		Spec:       user.Spec,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(c.Dir, "pvc", ns, "scratch")
	poll(t, "claim-user ready", func(ctx context.Context) (bool, error) {
		p, err := client.CoreV1().Pods(ns).Get(ctx, "claim-user", metav1.GetOptions{})
		return err == nil && isReady(p), err
	})
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("claim directory: %v", err)
	}
	// The claim user turned off automountServiceAccountToken: it gets no credentials.
	p, err := client.CoreV1().Pods(ns).Get(ctx, "claim-user", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if code, who := whoami(t, p); code != http.StatusNotFound {
		t.Errorf("claim-user without automountServiceAccountToken answers %q (HTTP %d), want no KUBECONFIG", who, code)
	}
	if err := client.CoreV1().Pods(ns).Delete(ctx, "claim-user", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "claim-user gone", podGone(client, ns, "claim-user"))
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("claim directory after its pod is gone: %v", err)
	}
	if err := client.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, "scratch", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "the claim's directory removed with it", func(context.Context) (bool, error) {
		_, err := os.Stat(dir)
		return os.IsNotExist(err), nil
	})
}

// whoami asks a test pod which user its KUBECONFIG authenticates as.
func whoami(t *testing.T, pod *corev1.Pod) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + net.JoinHostPort(pod.Status.PodIP, "8080") + "/whoami")
	if err != nil {
		t.Fatalf("ask %s who it is: %v", pod.Name, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// testOutput is where the control plane and the pods write: stderr with LOCALKUBE_VERBOSE=1.
func testOutput(t *testing.T) io.Writer {
	t.Helper()
	if os.Getenv("LOCALKUBE_VERBOSE") == "1" {
		return os.Stderr
	}
	return io.Discard
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podGone(client kubernetes.Interface, ns, name string) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	}
}

// poll waits up to a minute for cond.
func poll(t *testing.T, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, time.Minute, true, cond); err != nil {
		t.Fatalf("wait for %s: %v", what, err)
	}
}
