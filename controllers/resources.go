package controllers

import (
	"fmt"
	"maps"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
	"github.com/torua/torua/shardmap"
)

// Ports of the Torua containers.
const (
	NodeAPIPort  = 7070
	NodeRaftPort = 7071
	RouterPort   = 8080
)

const (
	componentNode   = "node"
	componentRouter = "router"
	dataDir         = "/var/lib/torua"
	dataVolume      = "data"
	// desiredHashAnnotation records the hash of the content the operator last applied to an
	// owned object (see ensure).
	desiredHashAnnotation = "torua.io/desired-hash"
	// nonRootUID is the distroless "nonroot" user the image runs as.
	nonRootUID = 65532
)

func nodeStatefulSetName(tc *toruav1alpha1.ToruaCluster) string { return tc.Name + "-node" }
func nodeServiceName(tc *toruav1alpha1.ToruaCluster) string     { return tc.Name + "-node" }
func peersServiceName(tc *toruav1alpha1.ToruaCluster) string    { return tc.Name + "-peers" }
func routerName(tc *toruav1alpha1.ToruaCluster) string          { return tc.Name + "-router" }
func routerServiceName(tc *toruav1alpha1.ToruaCluster) string   { return tc.Name }
func shardMapName(tc *toruav1alpha1.ToruaCluster) string        { return tc.Name + "-shardmap" }
func dataPlaneName(tc *toruav1alpha1.ToruaCluster) string       { return tc.Name + "-data" }
func pdbName(tc *toruav1alpha1.ToruaCluster) string             { return tc.Name + "-node" }

// podName is the StatefulSet pod (and shard map node ID) with the given ordinal.
func podName(tc *toruav1alpha1.ToruaCluster, ordinal int) string {
	return fmt.Sprintf("%s-%d", nodeStatefulSetName(tc), ordinal)
}

// podOrdinal parses the ordinal of one of the cluster's node pods; ok is false for any other name.
func podOrdinal(tc *toruav1alpha1.ToruaCluster, name string) (int, bool) {
	rest, found := strings.CutPrefix(name, nodeStatefulSetName(tc)+"-")
	if !found {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || strconv.Itoa(n) != rest {
		return 0, false
	}
	return n, true
}

// selectorLabels select one component's pods of one cluster; they are immutable in selectors.
func selectorLabels(tc *toruav1alpha1.ToruaCluster, component string) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":      "torua",
		"app.kubernetes.io/instance":  tc.Name,
		"app.kubernetes.io/component": component,
	}
}

// objectLabels are put on every object the operator owns.
func objectLabels(tc *toruav1alpha1.ToruaCluster, component string) map[string]string {
	l := selectorLabels(tc, component)
	l["app.kubernetes.io/managed-by"] = "torua-operator"
	l["app.kubernetes.io/part-of"] = "torua"
	return l
}

func objectMeta(tc *toruav1alpha1.ToruaCluster, name, component string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: tc.Namespace, Labels: objectLabels(tc, component)}
}

func desiredServiceAccount(tc *toruav1alpha1.ToruaCluster) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ObjectMeta: objectMeta(tc, dataPlaneName(tc), componentNode)}
}

// desiredRole lets nodes and routers read their shard map ConfigMap and nothing else.
func desiredRole(tc *toruav1alpha1.ToruaCluster) *rbacv1.Role {
	return &rbacv1.Role{
		ObjectMeta: objectMeta(tc, dataPlaneName(tc), componentNode),
		Rules: []rbacv1.PolicyRule{{
			APIGroups:     []string{""},
			Resources:     []string{"configmaps"},
			ResourceNames: []string{shardMapName(tc)},
			Verbs:         []string{"get", "list", "watch"},
		}},
	}
}

func desiredRoleBinding(tc *toruav1alpha1.ToruaCluster) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		ObjectMeta: objectMeta(tc, dataPlaneName(tc), componentNode),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: dataPlaneName(tc)},
		Subjects: []rbacv1.Subject{{
			Kind: rbacv1.ServiceAccountKind, Name: dataPlaneName(tc), Namespace: tc.Namespace,
		}},
	}
}

func nodePorts() []corev1.ServicePort {
	return []corev1.ServicePort{
		{Name: "http", Port: NodeAPIPort, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP},
		{Name: "raft", Port: NodeRaftPort, TargetPort: intstr.FromString("raft"), Protocol: corev1.ProtocolTCP},
	}
}

// desiredPeersService is the StatefulSet's headless governing Service: stable DNS for every
// pod, ready or not.
func desiredPeersService(tc *toruav1alpha1.ToruaCluster) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: objectMeta(tc, peersServiceName(tc), componentNode),
		Spec: corev1.ServiceSpec{
			ClusterIP:                corev1.ClusterIPNone,
			PublishNotReadyAddresses: true,
			Selector:                 selectorLabels(tc, componentNode),
			Ports:                    nodePorts(),
		},
	}
}

// desiredNodeService is the Service whose EndpointSlices give the operator membership with
// readiness (it does not publish not-ready addresses as ready).
func desiredNodeService(tc *toruav1alpha1.ToruaCluster) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: objectMeta(tc, nodeServiceName(tc), componentNode),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: selectorLabels(tc, componentNode),
			Ports:    nodePorts(),
		},
	}
}

func desiredRouterService(tc *toruav1alpha1.ToruaCluster) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: objectMeta(tc, routerServiceName(tc), componentRouter),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: selectorLabels(tc, componentRouter),
			Ports: []corev1.ServicePort{{
				Name: "http", Port: RouterPort, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP,
			}},
		},
	}
}

func desiredPDB(tc *toruav1alpha1.ToruaCluster) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: objectMeta(tc, pdbName(tc), componentNode),
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: ptr.To(intstr.FromInt32(1)),
			Selector:       &metav1.LabelSelector{MatchLabels: selectorLabels(tc, componentNode)},
		},
	}
}

// desiredShardMapConfigMap holds the shard map document doc (no key at all before the first
// map, hasMap false), marked with its hash as the operator's.
func desiredShardMapConfigMap(tc *toruav1alpha1.ToruaCluster, doc string, hasMap bool) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{ObjectMeta: objectMeta(tc, shardMapName(tc), componentNode)}
	cm.Annotations = map[string]string{shardMapHashAnnotation: documentHash(doc)}
	if hasMap {
		cm.Data = map[string]string{shardmap.ConfigMapKey: doc}
	}
	return cm
}

func podSecurityContext() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		RunAsUser:      ptr.To[int64](nonRootUID),
		RunAsGroup:     ptr.To[int64](nonRootUID),
		FSGroup:        ptr.To[int64](nonRootUID),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

func containerSecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		RunAsNonRoot:             ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
}

func httpProbe(path, port string, period, failures int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: path, Port: intstr.FromString(port), Scheme: corev1.URISchemeHTTP,
		}},
		PeriodSeconds: period, TimeoutSeconds: 2, FailureThreshold: failures, SuccessThreshold: 1,
	}
}

func fieldEnv(name, path string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: path},
	}}
}

// blockCache is the storage engine block cache of a node container with resources: a quarter
// of its memory limit (CockroachDB's advice for its cache), the rest left to the Go heap,
// Raft entries and memtables. Without a limit the node's default applies (ok false).
func blockCache(res corev1.ResourceRequirements) (*resource.Quantity, bool) {
	limit, ok := res.Limits[corev1.ResourceMemory]
	if !ok || limit.Value() < 4<<20 {
		return nil, false
	}
	return resource.NewQuantity(limit.Value()/4, limit.Format), true
}

// nodePodTemplate is the storage node pod template; any change to it starts a rolling update.
func nodePodTemplate(tc *toruav1alpha1.ToruaCluster) corev1.PodTemplateSpec {
	o := tc.Spec.PodTemplate
	labels := maps.Clone(o.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, objectLabels(tc, componentNode))
	args := []string{
		"node",
		"--id=$(POD_NAME)",
		fmt.Sprintf("--listen=:%d", NodeAPIPort),
		fmt.Sprintf("--raft-listen=:%d", NodeRaftPort),
		"--data-dir=" + dataDir,
		"--shardmap-configmap=$(POD_NAMESPACE)/" + shardMapName(tc),
	}
	if cache, ok := blockCache(tc.Spec.Resources); ok {
		args = append(args, "--block-cache="+cache.String())
	}
	container := corev1.Container{
		Name:            "node",
		Image:           tc.Spec.Image,
		ImagePullPolicy: tc.Spec.ImagePullPolicy,
		Args:            args,
		Env: []corev1.EnvVar{
			fieldEnv("POD_NAME", "metadata.name"),
			fieldEnv("POD_NAMESPACE", "metadata.namespace"),
			fieldEnv("POD_IP", "status.podIP"),
		},
		Ports: []corev1.ContainerPort{
			{Name: "http", ContainerPort: NodeAPIPort, Protocol: corev1.ProtocolTCP},
			{Name: "raft", ContainerPort: NodeRaftPort, Protocol: corev1.ProtocolTCP},
		},
		ReadinessProbe:           httpProbe("/readyz", "http", 5, 3),
		LivenessProbe:            httpProbe("/healthz", "http", 10, 6),
		Resources:                tc.Spec.Resources,
		SecurityContext:          containerSecurityContext(),
		VolumeMounts:             []corev1.VolumeMount{{Name: dataVolume, MountPath: dataDir}},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: maps.Clone(o.Annotations)},
		Spec: corev1.PodSpec{
			ServiceAccountName:            dataPlaneName(tc),
			SecurityContext:               podSecurityContext(),
			Containers:                    []corev1.Container{container},
			TerminationGracePeriodSeconds: ptr.To[int64](60),
			Affinity:                      o.Affinity,
			Tolerations:                   o.Tolerations,
			NodeSelector:                  o.NodeSelector,
			TopologySpreadConstraints:     o.TopologySpreadConstraints,
			PriorityClassName:             o.PriorityClassName,
		},
	}
}

// desiredStatefulSet is the node StatefulSet with the given size and rolling-update partition.
// Pods start in parallel: the first shard map needs every initial node to have an address,
// and nodes report ready only once they hold a map.
func desiredStatefulSet(tc *toruav1alpha1.ToruaCluster, replicas, partition int32) *appsv1.StatefulSet {
	whenDeleted := appsv1.DeletePersistentVolumeClaimRetentionPolicyType
	if tc.Spec.Storage.RetainOnDelete == nil || *tc.Spec.Storage.RetainOnDelete {
		whenDeleted = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	size := resource.MustParse("1Gi")
	if q := tc.Spec.Storage.Size; q != nil && !q.IsZero() {
		size = *q
	}
	return &appsv1.StatefulSet{
		ObjectMeta: objectMeta(tc, nodeStatefulSetName(tc), componentNode),
		Spec: appsv1.StatefulSetSpec{
			Replicas:            ptr.To(replicas),
			ServiceName:         peersServiceName(tc),
			PodManagementPolicy: appsv1.ParallelPodManagement,
			Selector:            &metav1.LabelSelector{MatchLabels: selectorLabels(tc, componentNode)},
			Template:            nodePodTemplate(tc),
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{
				Type:          appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To(partition)},
			},
			PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
				WhenDeleted: whenDeleted,
				// NB: a StatefulSet scaled down behind the operator's back must not take the
				// only copy of a replica with it. The operator deletes a node's claim itself,
				// once the node is drained and out of the map (reconcileVolumes).
				WhenScaled: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: dataVolume, Labels: selectorLabels(tc, componentNode)},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					StorageClassName: tc.Spec.Storage.StorageClassName,
					Resources: corev1.VolumeResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceStorage: size},
					},
				},
			}},
		},
	}
}

// The router's spool directory for bulk loads (an emptyDir volume).
const (
	routerSpoolVolume = "spool"
	routerSpoolPath   = "/var/lib/torua/spool"
)

func desiredRouterDeployment(tc *toruav1alpha1.ToruaCluster) *appsv1.Deployment {
	container := corev1.Container{
		Name:            "router",
		Image:           tc.Spec.Image,
		ImagePullPolicy: tc.Spec.ImagePullPolicy,
		Args: []string{
			"router",
			fmt.Sprintf("--listen=:%d", RouterPort),
			"--shardmap-configmap=" + tc.Namespace + "/" + shardMapName(tc),
			"--spool-dir=" + routerSpoolPath,
		},
		Ports:                    []corev1.ContainerPort{{Name: "http", ContainerPort: RouterPort, Protocol: corev1.ProtocolTCP}},
		VolumeMounts:             []corev1.VolumeMount{{Name: routerSpoolVolume, MountPath: routerSpoolPath}},
		ReadinessProbe:           httpProbe("/readyz", "http", 5, 3),
		LivenessProbe:            httpProbe("/healthz", "http", 10, 6),
		Resources:                tc.Spec.Router.Resources,
		SecurityContext:          containerSecurityContext(),
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	replicas := tc.Spec.Router.Replicas
	if replicas < 1 {
		replicas = 1
	}
	return &appsv1.Deployment{
		ObjectMeta: objectMeta(tc, routerName(tc), componentRouter),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: selectorLabels(tc, componentRouter)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: objectLabels(tc, componentRouter)},
				Spec: corev1.PodSpec{
					ServiceAccountName: dataPlaneName(tc),
					SecurityContext:    podSecurityContext(),
					Containers:         []corev1.Container{container},
					// The root filesystem is read-only: bulk loads spool here, on the node's
					// ephemeral storage.
					Volumes: []corev1.Volume{{Name: routerSpoolVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
				},
			},
		},
	}
}
