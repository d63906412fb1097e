package localkube

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
)

// nodeAddress is the Node's InternalIP, local inside the private network namespace.
const nodeAddress = "10.244.255.253"

// leaseRenewInterval is how often the Node's Lease is renewed. node-lifecycle taints a node
// whose Lease is older than its grace period (40 s) and evicts its pods.
const leaseRenewInterval = 10 * time.Second

type kubeletConfig struct {
	nodeName string
	dir      string
	images   map[string]string
	// apiServer and caData are what the pods' kubeconfigs point at.
	apiServer string
	caData    []byte
	out       io.Writer
}

// kubelet binds pending pods to its Node (there is no scheduler) and runs each pod's containers
// as local processes (see pod.go). It is the only writer of its pods' status.
type kubelet struct {
	kubeletConfig
	client kubernetes.Interface
	pods   cache.Indexer
	queue  workqueue.TypedRateLimitingInterface[string]
	cancel context.CancelFunc
	done   sync.WaitGroup

	mu   sync.Mutex
	run  map[types.UID]*podRunner // NB: keyed by UID; StatefulSets reuse pod names
	ips  map[types.UID]netip.Addr
	used map[netip.Addr]bool
	// last is the address allocated last: the next search starts after it.
	last netip.Addr
	logs []ContainerLog // every container ever started, in start order
}

func newKubelet(client kubernetes.Interface, cfg kubeletConfig) *kubelet {
	return &kubelet{
		kubeletConfig: cfg,
		client:        client,
		queue:         workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		run:           map[types.UID]*podRunner{},
		ips:           map[types.UID]netip.Addr{},
		used:          map[netip.Addr]bool{},
	}
}

// start registers the Node, starts renewing its Lease and starts syncing pods.
func (k *kubelet) start(ctx context.Context) error {
	if err := k.registerNode(ctx); err != nil {
		return err
	}
	ctx, k.cancel = context.WithCancel(context.Background())
	if err := k.renewLease(ctx); err != nil {
		return err
	}
	k.goLoop(func() {
		ticker := time.NewTicker(leaseRenewInterval)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
				if err := k.renewLease(ctx); err != nil && ctx.Err() == nil {
					k.logf("Failed to renew the node lease: %v", err)
				}
			}
		}
	})

	factory := informers.NewSharedInformerFactory(k.client, 0)
	informer := factory.Core().V1().Pods().Informer()
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			k.queue.Add(key)
		}
	}
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				// Deleted without us (e.g. force-deleted): nothing may keep running.
				k.forget(pod.UID)
			}
		},
	}); err != nil {
		return err
	}
	k.pods = informer.GetIndexer()
	claims := factory.Core().V1().PersistentVolumeClaims().Informer()
	if _, err := claims.AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if pvc, ok := obj.(*corev1.PersistentVolumeClaim); ok {
				k.releaseClaim(pvc)
			}
		},
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced, claims.HasSynced) {
		return fmt.Errorf("pod and claim informers did not sync")
	}
	k.goLoop(func() {
		for k.processNext(ctx) {
		}
	})
	k.goLoop(func() {
		<-ctx.Done()
		k.queue.ShutDown()
	})
	return nil
}

// stop stops syncing and kills every pod's processes.
func (k *kubelet) stop() {
	if k.cancel != nil {
		k.cancel()
	}
	k.mu.Lock()
	runners := k.run
	k.run = map[types.UID]*podRunner{}
	k.mu.Unlock()
	for _, r := range runners {
		r.stop(0)
	}
	k.done.Wait()
}

func (k *kubelet) goLoop(f func()) {
	k.done.Add(1)
	go func() {
		defer k.done.Done()
		defer utilruntime.HandleCrash()
		f()
	}()
}

func (k *kubelet) logf(format string, args ...any) {
	outputMu.Lock()
	defer outputMu.Unlock()
	fmt.Fprintf(k.out, "localkube kubelet: "+format+"\n", args...)
}

func (k *kubelet) processNext(ctx context.Context) bool {
	key, quit := k.queue.Get()
	if quit {
		return false
	}
	defer k.queue.Done(key)
	if err := k.sync(ctx, key); err != nil {
		if ctx.Err() == nil {
			k.logf("Failed to sync pod %s: %v", key, err)
		}
		k.queue.AddRateLimited(key)
		return true
	}
	k.queue.Forget(key)
	return true
}

// sync brings one pod's processes in line with its spec: bind, start, or stop and remove.
func (k *kubelet) sync(ctx context.Context, key string) error {
	obj, exists, err := k.pods.GetByKey(key)
	if err != nil || !exists {
		return err
	}
	pod := obj.(*corev1.Pod)
	switch {
	case pod.Spec.NodeName == "" && pod.DeletionTimestamp == nil:
		return k.bind(ctx, pod)
	case pod.Spec.NodeName != k.nodeName:
		return nil
	case pod.DeletionTimestamp != nil:
		k.terminate(pod)
		return nil
	}

	k.mu.Lock()
	r := k.run[pod.UID]
	if r == nil {
		ip, err := k.allocateIP(pod.UID)
		if err != nil {
			k.mu.Unlock()
			return err
		}
		r = newPodRunner(k, pod, ip)
		k.run[pod.UID] = r
		k.mu.Unlock()
		r.start()
		return nil
	}
	k.mu.Unlock()
	return nil
}

// bind plays the scheduler: every pod goes to the one Node.
func (k *kubelet) bind(ctx context.Context, pod *corev1.Pod) error {
	err := k.client.CoreV1().Pods(pod.Namespace).Bind(ctx, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: k.nodeName},
	}, metav1.CreateOptions{})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil // already bound or gone; the informer brings the new state
	}
	return err
}

// terminate stops a deleted pod's processes within its grace period (asynchronously) and then
// finishes the deletion with grace period 0 and a UID precondition, so a new pod of the same name
// is never deleted by mistake.
func (k *kubelet) terminate(pod *corev1.Pod) {
	k.mu.Lock()
	r := k.run[pod.UID]
	if r != nil && r.terminating {
		k.mu.Unlock()
		return
	}
	if r != nil {
		r.terminating = true
	}
	k.mu.Unlock()

	grace := time.Duration(ptr.Deref(pod.DeletionGracePeriodSeconds, 30)) * time.Second
	k.goLoop(func() {
		if r != nil {
			r.stop(grace)
		}
		err := k.client.CoreV1().Pods(pod.Namespace).Delete(context.Background(), pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: ptr.To[int64](0),
			Preconditions:      metav1.NewUIDPreconditions(string(pod.UID)),
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			k.logf("Failed to delete pod %s/%s: %v", pod.Namespace, pod.Name, err)
		}
		k.forget(pod.UID)
	})
}

// forget kills a pod's processes if any still run and releases its IP.
func (k *kubelet) forget(uid types.UID) {
	k.mu.Lock()
	r := k.run[uid]
	delete(k.run, uid)
	if ip, ok := k.ips[uid]; ok {
		delete(k.used, ip)
		delete(k.ips, uid)
	}
	k.mu.Unlock()
	if r != nil {
		r.stop(0)
	}
}

// claimDir is the host directory of a PersistentVolumeClaim: it outlives the pods that mount it.
func (k *kubelet) claimDir(namespace, claim string) string {
	return filepath.Join(k.dir, "pvc", namespace, claim)
}

// releaseClaim removes a deleted claim's directory, as a dynamic provisioner's Delete reclaim
// policy removes the volume: a new claim of the same name starts empty. The API server's
// pvc-protection finalizer holds the deletion until no pod uses the claim.
func (k *kubelet) releaseClaim(pvc *corev1.PersistentVolumeClaim) {
	if err := os.RemoveAll(k.claimDir(pvc.Namespace, pvc.Name)); err != nil {
		k.logf("Failed to remove the directory of claim %s/%s: %v", pvc.Namespace, pvc.Name, err)
	}
}

// recordLog remembers a container's log file, for Cluster.ContainerLogs.
func (k *kubelet) recordLog(l ContainerLog) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, have := range k.logs {
		if have.UID == l.UID && have.Container == l.Container {
			return
		}
	}
	k.logs = append(k.logs, l)
}

// allocateIP gives a pod an address in PodCIDR, below the addresses kept for the API server and
// the Node: the first free one after the address allocated last, wrapping around, as the
// host-local IPAM plugin does, so a pod that replaces another (a StatefulSet's pod of the same
// name) gets a new IP as it would on a real node. Callers hold k.mu.
func (k *kubelet) allocateIP(uid types.UID) (netip.Addr, error) {
	if ip, ok := k.ips[uid]; ok {
		return ip, nil
	}
	prefix := netip.MustParsePrefix(PodCIDR)
	first := prefix.Addr().Next()
	// NB: 10.244.255.0/24 is kept for the API server and the Node.
	usable := func(ip netip.Addr) bool { return prefix.Contains(ip) && ip.As4()[2] != 255 }
	start := k.last.Next()
	if !k.last.IsValid() || !usable(start) {
		start = first
	}
	for ip := start; ; {
		if !k.used[ip] {
			k.used[ip] = true
			k.ips[uid] = ip
			k.last = ip
			return ip, nil
		}
		if ip = ip.Next(); !usable(ip) {
			ip = first
		}
		if ip == start {
			return netip.Addr{}, fmt.Errorf("no free pod IP in %s", PodCIDR)
		}
	}
}

// registerNode creates the Node with a Ready condition and room for many pods.
func (k *kubelet) registerNode(ctx context.Context) error {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("64"),
		corev1.ResourceMemory:           resource.MustParse("256Gi"),
		corev1.ResourcePods:             resource.MustParse("1000"),
		corev1.ResourceEphemeralStorage: resource.MustParse("1Ti"),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:   k.nodeName,
			Labels: map[string]string{corev1.LabelHostname: k.nodeName, corev1.LabelOSStable: "linux"},
		},
		Spec: corev1.NodeSpec{PodCIDR: PodCIDR, PodCIDRs: []string{PodCIDR}},
	}
	if _, err := k.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("register node: %w", err)
	}
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	status := corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: capacity,
		Phase:       corev1.NodeRunning,
		Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			Message: "localkube process kubelet is ready", LastHeartbeatTime: now, LastTransitionTime: now,
		}},
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: nodeAddress},
			{Type: corev1.NodeHostName, Address: k.nodeName},
		},
		NodeInfo: corev1.NodeSystemInfo{OperatingSystem: "linux", Architecture: "amd64", KubeletVersion: "v1.37.2-localkube"},
	}
	// kube-controller-manager may change the new Node (taints, annotations) before its status
	// is set: retry on conflict with the current object.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		current, err := k.client.CoreV1().Nodes().Get(ctx, k.nodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		current.Status = status
		_, err = k.client.CoreV1().Nodes().UpdateStatus(ctx, current, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("set node status: %w", err)
	}
	return nil
}

// renewLease creates or renews the Node's Lease in kube-node-lease.
func (k *kubelet) renewLease(ctx context.Context) error {
	leases := k.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(time.Now())
	lease, err := leases.Get(ctx, k.nodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: k.nodeName},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity:       ptr.To(k.nodeName),
				LeaseDurationSeconds: ptr.To[int32](40),
				RenewTime:            &now,
			},
		}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	lease.Spec.RenewTime = &now
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	return err
}
