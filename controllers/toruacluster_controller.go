package controllers

import (
	"context"
	"errors"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
)

// DefaultPollInterval is how often a cluster that waits on its nodes (a drain, a rolling
// update, a node that is not ready yet) is looked at again. Node progress is read over HTTP,
// which no watch reports.
const DefaultPollInterval = 5 * time.Second

// DefaultNodeDownTimeout is spec.nodeDownTimeout's default: how long a node of the shard map
// may be not ready before its replicas move to other nodes.
const DefaultNodeDownTimeout = 30 * time.Minute

const conflictRetry = 200 * time.Millisecond

// ToruaClusterReconciler reconciles a ToruaCluster.
type ToruaClusterReconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder recorder.EventRecorder
	// APIReader reads from the API server, bypassing the cache: ensure reads an object it is
	// about to apply again through it, so that it can tell a field it puts back from a cache
	// that is behind (for the event). The cached Client when nil.
	APIReader client.Reader
	// Nodes reads the nodes' /internal/status and asks them to hand off leadership.
	Nodes NodeClient
	// PollInterval overrides DefaultPollInterval (tests make it short).
	PollInterval time.Duration
	// Now returns the current time (tests may fix it); time.Now when nil.
	Now func() time.Time

	// applied remembers the operator's last apply of every owned object; remembered the last
	// shard map it published per cluster.
	applied    appliedCache
	remembered rememberedMaps
}

// phaseFunc is one step of a reconcile. A phase that cannot go on returns an error; a phase
// that waits on something records it in the state and returns nil.
type phaseFunc func(ctx context.Context, s *clusterState) error

// RBAC, least privilege (docs/operator.md "Permissions"): every kind read goes through the
// manager's cache (get, list, watch); owned objects are server-side applied (create, patch),
// never updated whole and never deleted by the operator (the garbage collector follows owner
// references); PersistentVolumeClaims are the only kind it may delete. toruaclusters/finalizers
// update lets it set blockOwnerDeletion on owner references where the
// OwnerReferencesPermissionEnforcement admission plugin runs (test/localkube enables it).
// Leader election and the metrics endpoint's authentication have their own roles in config/rbac.
// +kubebuilder:rbac:groups=torua.io,resources=toruaclusters,verbs=get;list;watch
// +kubebuilder:rbac:groups=torua.io,resources=toruaclusters/status,verbs=get;patch
// +kubebuilder:rbac:groups=torua.io,resources=toruaclusters/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=statefulsets;deployments,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=services;configmaps;serviceaccounts,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile moves one ToruaCluster towards its spec: it reads the cluster's objects, runs the
// phases in order (the shard map is written before the StatefulSet that depends on it) and,
// whatever happened, computes conditions and patches the status once in a deferred step.
func (r *ToruaClusterReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, reterr error) {
	log := logf.FromContext(ctx)

	tc := &toruav1alpha1.ToruaCluster{}
	if err := r.Get(ctx, req.NamespacedName, tc); err != nil {
		if apierrors.IsNotFound(err) {
			r.applied.forget(req.NamespacedName)
			r.remembered.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !tc.DeletionTimestamp.IsZero() {
		// Owner references let the garbage collector remove every child.
		return ctrl.Result{}, nil
	}

	s, err := r.observe(ctx, tc)
	if err != nil {
		return ctrl.Result{}, err
	}
	defer func() {
		r.computeStatus(ctx, s, reterr)
		if err := r.patchStatus(ctx, s); err != nil {
			reterr = kerrors.NewAggregate([]error{reterr, err})
		}
		// Replicas moving between nodes change no object the operator watches: poll until
		// they are in place, so that Rebalancing turns False when they are.
		if reterr == nil && res.RequeueAfter == 0 && meta.IsStatusConditionTrue(s.tc.Status.Conditions, toruav1alpha1.ConditionRebalancing) {
			res.RequeueAfter = r.pollInterval()
		}
	}()

	if tc.Spec.Paused {
		log.V(1).Info("Skipped changes: the cluster is paused")
		return ctrl.Result{}, nil
	}

	phases := []phaseFunc{
		r.reconcileDataPlaneRBAC,
		r.reconcileServices,
		r.reconcileShardMap,
		r.reconcileStatefulSet,
		r.reconcileVolumes,
		r.reconcileDisruptionBudget,
		r.reconcileRouter,
	}
	var errs []error
	for _, phase := range phases {
		if err := phase(ctx, s); err != nil {
			errs = append(errs, err)
			// Later phases depend on earlier ones (the map before the StatefulSet).
			break
		}
	}
	if err := kerrors.NewAggregate(errs); err != nil {
		if apierrors.IsConflict(err) {
			// Someone wrote one of our objects meanwhile: read again soon, no error to report.
			return ctrl.Result{RequeueAfter: conflictRetry}, nil
		}
		return ctrl.Result{}, err
	}
	if s.waiting {
		res.RequeueAfter = r.pollInterval()
	}
	if s.downCheck > 0 && (res.RequeueAfter == 0 || s.downCheck < res.RequeueAfter) {
		res.RequeueAfter = s.downCheck
	}
	return res, nil
}

func (r *ToruaClusterReconciler) pollInterval() time.Duration {
	if r.PollInterval > 0 {
		return r.PollInterval
	}
	return DefaultPollInterval
}

func (r *ToruaClusterReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// SetupWithManager registers the reconciler: it owns every child object and watches the
// node Service's EndpointSlices (owned by the Service, not by the cluster) for membership.
func (r *ToruaClusterReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Nodes == nil {
		return errors.New("ToruaClusterReconciler needs a NodeClient")
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&toruav1alpha1.ToruaCluster{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&appsv1.StatefulSet{}).
		Owns(&appsv1.Deployment{}).
		Owns(&corev1.Service{}).
		Owns(&corev1.ConfigMap{}).
		Owns(&corev1.ServiceAccount{}).
		Owns(&rbacv1.Role{}).
		Owns(&rbacv1.RoleBinding{}).
		Owns(&policyv1.PodDisruptionBudget{}).
		Watches(&discoveryv1.EndpointSlice{}, handler.EnqueueRequestsFromMapFunc(endpointSliceToCluster)).
		Named("toruacluster").
		Complete(r)
}

// endpointSliceToCluster maps a <cluster>-node Service's EndpointSlice to its cluster.
func endpointSliceToCluster(_ context.Context, obj client.Object) []reconcile.Request {
	svc := obj.GetLabels()[discoveryv1.LabelServiceName]
	name, ok := cutSuffix(svc, "-node")
	if !ok || name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: obj.GetNamespace(), Name: name}}}
}

func cutSuffix(s, suffix string) (string, bool) {
	if len(s) < len(suffix) || s[len(s)-len(suffix):] != suffix {
		return s, false
	}
	return s[:len(s)-len(suffix)], true
}
