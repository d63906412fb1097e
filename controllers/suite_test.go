//go:build envtest

package controllers

import (
	"context"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
)

// The envtest suite runs the reconciler against a real kube-apiserver and etcd (built from
// Go module sources by hack/k8s-test-binaries.sh; `make test-envtest` points
// KUBEBUILDER_ASSETS at them). envtest runs no controllers: no StatefulSet controller makes
// pods, no EndpointSlice controller lists them, no garbage collector deletes anything. So the
// specs write the node Service's EndpointSlices themselves, and HTTP servers on 127.0.0.1
// (fakeNode) stand in for the storage nodes' /internal endpoints.

var (
	cfg       *rest.Config
	k8sClient client.Client
	testEnv   *envtest.Environment
	scheme    = runtime.NewScheme()
	ctx       context.Context
	cancel    context.CancelFunc
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controllers envtest suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(GinkgoLogr)
	ctx, cancel = context.WithCancel(context.TODO())

	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(toruav1alpha1.AddToScheme(scheme))

	By("starting kube-apiserver and etcd (KUBEBUILDER_ASSETS)")
	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	var err error
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred())
	Expect(cfg).NotTo(BeNil())

	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
})

var _ = AfterSuite(func() {
	By("stopping the test environment")
	cancel()
	fakeNodes.closeAll()
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})
