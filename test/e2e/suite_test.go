//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
	"github.com/torua/torua/test/localkube"
)

// namespace holds everything the suite creates.
const namespace = "torua-e2e"

var (
	env  environment
	k8s  client.WithWatch
	kube kubernetes.Interface
)

func TestMain(m *testing.M) {
	if envName() != envLocalkube {
		os.Exit(m.Run())
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "e2e: KUBEBUILDER_ASSETS is not set: run `make test-e2e` (it builds and points at the Kubernetes test binaries)")
		os.Exit(1)
	}
	// The whole suite runs inside a private user+network namespace where pod IPs are local.
	localkube.Main(m)
}

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Torua e2e ("+envName()+")")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	By("starting the " + envName() + " environment")
	start := time.Now()
	var err error
	env, err = startEnvironment(ctx)
	Expect(err).NotTo(HaveOccurred())
	GinkgoWriter.Printf("Environment %s ready in %s\n", envName(), time.Since(start).Round(time.Millisecond))

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(toruav1alpha1.AddToScheme(scheme))
	k8s, err = client.NewWithWatch(env.Config(), client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	kube, err = kubernetes.NewForConfig(env.Config())
	Expect(err).NotTo(HaveOccurred())

	err = k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}})
	if !apierrors.IsAlreadyExists(err) {
		Expect(err).NotTo(HaveOccurred())
	}
}, NodeTimeout(10*time.Minute))

var _ = AfterSuite(func(ctx SpecContext) {
	if env == nil {
		return
	}
	if envName() == envKind && os.Getenv("TORUA_E2E_KEEP") == "" && k8s != nil {
		// Retained PersistentVolumeClaims and all: the namespace was the suite's.
		err := k8s.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}})
		Expect(client.IgnoreNotFound(err)).To(Succeed())
	}
	Expect(env.Stop(context.WithoutCancel(ctx))).To(Succeed())
}, NodeTimeout(2*time.Minute))
