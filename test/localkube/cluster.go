package localkube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// advertiseAddress is kube-apiserver's advertised address inside the private network namespace,
// which has no default route for it to pick one from. It lies in PodCIDR, so it is local.
const advertiseAddress = "10.244.255.254"

// Options configure a Cluster. The zero value is usable when KUBEBUILDER_ASSETS is set.
type Options struct {
	// BinaryAssetsDirectory holds kube-apiserver, etcd and kube-controller-manager
	// (hack/k8s-test-binaries.sh). Defaults to $KUBEBUILDER_ASSETS.
	BinaryAssetsDirectory string
	// CRDDirectoryPaths are files or directories of CRDs installed before Start returns.
	CRDDirectoryPaths []string
	// Dir holds the kubeconfig, the pods' volumes and logs. Defaults to a new temporary
	// directory that Stop removes.
	Dir string
	// Output receives the control plane's and the pods' output. Defaults to discarding it;
	// the pods' output is also kept in Dir/pods/<uid>/<container>.log.
	Output io.Writer
	// Images maps an image repository (the image name without tag or digest) to the local
	// binary the kubelet runs for containers of that image.
	Images map[string]string
	// NodeName is the name of the one Node. Defaults to "localkube".
	NodeName string
}

// Cluster is a running control plane with one process kubelet.
type Cluster struct {
	// Config is an admin (system:masters) client configuration.
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig file for Config (kube-controller-manager's).
	Kubeconfig string
	// Dir is Options.Dir or the temporary directory in its place.
	Dir string

	env        *envtest.Environment
	controller *exec.Cmd
	kubelet    *kubelet
	removeDir  bool
	out        io.Writer
}

// ContainerLog is the log file of one container of one pod, kept after the pod is gone.
type ContainerLog struct {
	Namespace, Pod string
	UID            types.UID
	Container      string
	// Path is the file holding the container's standard output and error, across restarts.
	Path string
}

// ContainerLogs lists the log files of every container the kubelet started, deleted pods
// included, in the order they first started. Real clusters lose a deleted pod's logs; tests
// that look into what a pod did before it was replaced need them.
func (c *Cluster) ContainerLogs() []ContainerLog {
	if c.kubelet == nil {
		return nil
	}
	c.kubelet.mu.Lock()
	defer c.kubelet.mu.Unlock()
	return slices.Clone(c.kubelet.logs)
}

// Start starts etcd, kube-apiserver and kube-controller-manager, registers a Node and starts the
// kubelet. It returns once the controller manager acts (the default ServiceAccount exists) and the
// Node is Ready. Call Stop, even after an error.
func Start(ctx context.Context, opts Options) (c *Cluster, err error) {
	c = &Cluster{Dir: opts.Dir, out: opts.Output}
	if c.out == nil {
		c.out = io.Discard
	}
	if opts.NodeName == "" {
		opts.NodeName = "localkube"
	}
	if opts.BinaryAssetsDirectory == "" {
		opts.BinaryAssetsDirectory = os.Getenv("KUBEBUILDER_ASSETS")
	}
	if opts.BinaryAssetsDirectory == "" {
		return c, errors.New("no Kubernetes test binaries: set KUBEBUILDER_ASSETS (make k8s-test-binaries)")
	}
	if c.Dir == "" {
		if c.Dir, err = os.MkdirTemp("", "localkube-"); err != nil {
			return c, err
		}
		c.removeDir = true
	}

	c.env = &envtest.Environment{
		BinaryAssetsDirectory: opts.BinaryAssetsDirectory,
		CRDDirectoryPaths:     opts.CRDDirectoryPaths,
		ErrorIfCRDPathMissing: len(opts.CRDDirectoryPaths) > 0,
	}
	apiServer := c.env.ControlPlane.GetAPIServer()
	apiServer.Out, apiServer.Err = c.out, c.out
	if InNamespace() {
		apiServer.Configure().Set("advertise-address", advertiseAddress)
	}
	// As on clusters that enforce it (OpenShift): setting an owner reference with
	// blockOwnerDeletion needs update on the owner's finalizers, and changing an object's owner
	// references needs delete on the object. A controller whose RBAC lacks them fails here.
	apiServer.Configure().Append("enable-admission-plugins", "OwnerReferencesPermissionEnforcement")
	if _, err := c.env.Start(); err != nil {
		return c, fmt.Errorf("start kube-apiserver and etcd: %w", err)
	}

	admin, err := c.env.AddUser(envtest.User{Name: "localkube-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return c, fmt.Errorf("add admin user: %w", err)
	}
	c.Config = admin.Config()
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		return c, err
	}
	c.Kubeconfig = filepath.Join(c.Dir, "kubeconfig")
	caFile := filepath.Join(c.Dir, "ca.crt")
	if err := os.WriteFile(c.Kubeconfig, kubeconfig, 0o600); err != nil {
		return c, err
	}
	if err := os.WriteFile(caFile, apiServer.SecureServing.CA, 0o600); err != nil {
		return c, err
	}

	if err := c.startControllerManager(opts.BinaryAssetsDirectory, caFile, apiServer.CertDir); err != nil {
		return c, err
	}
	client, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return c, err
	}
	if err := waitFor(ctx, "kube-controller-manager to create the default ServiceAccount", func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, ignoreNotFound(err)
	}); err != nil {
		return c, err
	}

	c.kubelet = newKubelet(client, kubeletConfig{
		nodeName:  opts.NodeName,
		dir:       c.Dir,
		images:    opts.Images,
		apiServer: c.Config.Host,
		caData:    c.Config.CAData,
		out:       c.out,
	})
	if err := c.kubelet.start(ctx); err != nil {
		return c, fmt.Errorf("start kubelet: %w", err)
	}
	return c, nil
}

// startControllerManager runs kube-controller-manager against the API server as the admin user.
func (c *Cluster) startControllerManager(assets, caFile, certDir string) error {
	cmd := exec.Command(filepath.Join(assets, "kube-controller-manager"),
		"--kubeconfig="+c.Kubeconfig,
		"--leader-elect=false",
		"--use-service-account-credentials=false",
		"--controllers=*",
		"--service-account-private-key-file="+filepath.Join(certDir, "sa-signer.key"),
		"--root-ca-file="+caFile,
		"--bind-address=127.0.0.1",
		// No serving port: nothing scrapes it and a fixed port could collide.
		"--secure-port=0",
	)
	cmd.Stdout, cmd.Stderr = c.out, c.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start kube-controller-manager: %w", err)
	}
	c.controller = cmd
	return nil
}

// SignalPod sends sig to every container process of the running pod with the given UID
// (SIGSTOP freezes it as a hung machine would, SIGCONT thaws it). The pod's status follows
// from its probes, as on a real kubelet.
func (c *Cluster) SignalPod(uid types.UID, sig syscall.Signal) error {
	if c.kubelet == nil {
		return errors.New("localkube is not running")
	}
	c.kubelet.mu.Lock()
	r := c.kubelet.run[uid]
	c.kubelet.mu.Unlock()
	if r == nil {
		return fmt.Errorf("no running pod with UID %s", uid)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.signalAll(sig)
	return nil
}

// Stop stops the kubelet (killing every pod process), the controller manager and the API
// server, and removes the temporary directory. Stop clients first: the API server waits for
// open watches.
func (c *Cluster) Stop() error {
	var errs []error
	if c.kubelet != nil {
		c.kubelet.stop()
	}
	if c.controller != nil {
		_ = syscall.Kill(-c.controller.Process.Pid, syscall.SIGTERM)
		_ = c.controller.Wait()
	}
	if c.env != nil {
		errs = append(errs, c.env.Stop())
	}
	if c.removeDir {
		errs = append(errs, os.RemoveAll(c.Dir))
	}
	return errors.Join(errs...)
}

// waitFor polls cond until it is true, it fails, or a minute passes.
func waitFor(ctx context.Context, what string, cond wait.ConditionWithContextFunc) error {
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, cond); err != nil {
		return fmt.Errorf("wait for %s: %w", what, err)
	}
	return nil
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
