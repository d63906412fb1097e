// Package localkube is a test-only Kubernetes control plane that runs pods as local processes:
// etcd, kube-apiserver and kube-controller-manager built from Go module sources
// (hack/k8s-test-binaries.sh, found through KUBEBUILDER_ASSETS), one Node, and a process kubelet.
// kube-apiserver authorises with RBAC and runs the OwnerReferencesPermissionEnforcement
// admission plugin, as stricter clusters do.
//
// The kubelet binds every pending pod to its Node (there is no scheduler) and runs each container
// as a process of the binary Options.Images maps the container's image to, with the container's
// command, args and env (downward-API fieldRefs metadata.name, metadata.namespace, metadata.uid,
// labels, annotations, spec.nodeName, status.podIP, status.hostIP; ConfigMap and Secret refs).
// Each pod gets its own IP from PodCIDR (the next free one after the last given, as host-local
// IPAM does, so a replaced pod comes back with a new IP), but all pods share one network
// namespace, so a wildcard listen address ":N" in a container's args (a whole argument or the
// value of "--flag=:N") where N is one of the container's ports is rewritten to "<pod IP>:N";
// container paths under volume mounts are rewritten to host directories; a
// PersistentVolumeClaim's directory survives the pod and is removed when the claim is deleted (as
// a provisioner's Delete reclaim policy would). It runs HTTP and TCP readiness and liveness
// probes, writes pod status and conditions (so the EndpointSlice controller publishes real
// membership), restarts exited containers, and on deletion sends SIGTERM, waits the grace period,
// sends SIGKILL and removes the pod (a pod force-deleted with grace period 0 gets SIGKILL at
// once). It renews its Node's Lease.
// Container logs are files that outlive their pods (Cluster.ContainerLogs); the pods/log API
// does not work (there is no kubelet server).
//
// Suites call Main from TestMain: pod IPs may not be loopback addresses, so the tests run inside a
// private user+network namespace where PodCIDR is local on lo.
//
// It does not: pull or run images, isolate processes (they share the host's file system and user),
// run init or sidecar containers, exec or gRPC probes, resource limits, cluster DNS, kube-proxy
// (Services have no virtual IPs: clients reach pods by the addresses in EndpointSlices),
// provision PersistentVolumes (claims stay Pending; the kubelet maps them by name), update
// ConfigMap or Secret volumes after start, or mount service account tokens (envtest disables that
// admission plugin). Instead each container gets KUBECONFIG: a kubeconfig with a token of the pod's
// ServiceAccount ("default" when it names none), bound to the pod when it names one (TokenRequest,
// valid 24 hours, not renewed), so pods reach the
// API server with their own identity and RBAC, as in a real cluster, unless the pod or its
// ServiceAccount turns off automountServiceAccountToken. Programs that read the in-cluster files
// (/var/run/secrets/kubernetes.io/serviceaccount) find none.
//
// Files: cluster.go (the control plane), kubelet.go (pods onto the Node), pod.go (a pod's
// containers as processes: start, supervise, stop), podenv.go (their environment and
// ServiceAccount kubeconfig), podvolumes.go (volumes on the host, arguments rewritten to them),
// podstatus.go (probes and the pod status), netns.go (the private network namespace).
//
// It must not be imported by non-test code.
package localkube
