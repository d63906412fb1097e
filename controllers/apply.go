package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
)

// FieldOwner is the field manager the operator writes its objects with (server-side apply).
const FieldOwner = "torua-operator"

// hashJSON is the first 8 bytes of the SHA-256 of v's JSON, in hex.
func hashJSON(v any) (string, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8]), nil
}

// applyDocument is desired as a server-side apply request: every field the operator sets and
// nothing else. NB: desired is a typed object, which cannot say "unset" for a zero value that
// its JSON does not omit. Those are creationTimestamp (null), status (never the operator's to
// apply) and the status of each volume claim template: all are removed here, with every
// other null. Every other field of the desired objects the operator sets on purpose.
func applyDocument(scheme *runtime.Scheme, desired client.Object) (*unstructured.Unstructured, error) {
	gvk, err := apiutil.GVKForObject(desired, scheme)
	if err != nil {
		return nil, err
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(desired)
	if err != nil {
		return nil, fmt.Errorf("convert %s %s: %w", gvk.Kind, desired.GetName(), err)
	}
	delete(content, "status")
	if templates, ok, _ := unstructured.NestedSlice(content, "spec", "volumeClaimTemplates"); ok {
		for _, t := range templates {
			if m, ok := t.(map[string]any); ok {
				delete(m, "status")
			}
		}
		_ = unstructured.SetNestedSlice(content, templates, "spec", "volumeClaimTemplates")
	}
	u := &unstructured.Unstructured{Object: dropNulls(content).(map[string]any)}
	u.SetGroupVersionKind(gvk)
	return u, nil
}

// dropNulls removes every null value from a JSON-like tree.
func dropNulls(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if e == nil {
				delete(t, k)
				continue
			}
			t[k] = dropNulls(e)
		}
	case []any:
		for i, e := range t {
			t[i] = dropNulls(e)
		}
	}
	return v
}

// appliedKey names one owned object.
type appliedKey struct {
	kind      string
	namespace string
	name      string
}

// appliedRecord is what the operator last applied to an object and the resourceVersion the
// API server answered.
type appliedRecord struct {
	hash            string
	resourceVersion string
}

// appliedCache remembers the last apply of every owned object, per cluster, so that an
// object nobody changed since costs no request: any write to it (a person's edit, a
// controller's status) changes its resourceVersion and makes the next reconcile apply again.
// The zero value is ready to use; it is safe for concurrent use.
type appliedCache struct {
	mu sync.Mutex
	m  map[types.NamespacedName]map[appliedKey]appliedRecord
}

func (c *appliedCache) get(cluster types.NamespacedName, k appliedKey) (appliedRecord, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rec, ok := c.m[cluster][k]
	return rec, ok
}

func (c *appliedCache) put(cluster types.NamespacedName, k appliedKey, rec appliedRecord) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[types.NamespacedName]map[appliedKey]appliedRecord{}
	}
	if c.m[cluster] == nil {
		c.m[cluster] = map[appliedKey]appliedRecord{}
	}
	c.m[cluster][k] = rec
}

// forget drops a deleted cluster's records.
func (c *appliedCache) forget(cluster types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, cluster)
}

// ensure makes the object desired describes hold every field the operator sets, by
// server-side apply as field manager FieldOwner with forced ownership: it creates the object,
// follows a changed spec, and puts back a field someone else changed (a hand edit, `kubectl
// scale`), which is reported as an event. Fields the operator does not set (API server
// defaults, allocated cluster IPs, other managers' labels) stay as they are, and a field the
// operator stops setting is removed. An apply that changes nothing is not written by the API
// server, and one whose object is unchanged since the operator's last apply of the same
// content is not even sent. It returns the object as stored.
func (r *ToruaClusterReconciler) ensure(ctx context.Context, tc *toruav1alpha1.ToruaCluster, desired client.Object) (client.Object, error) {
	obj, _, err := r.ensureObject(ctx, tc, desired)
	return obj, err
}

// ensureObject is ensure that also says whether it put back a field someone else changed.
func (r *ToruaClusterReconciler) ensureObject(ctx context.Context, tc *toruav1alpha1.ToruaCluster, desired client.Object) (client.Object, bool, error) {
	gvk, err := apiutil.GVKForObject(desired, r.Scheme)
	if err != nil {
		return nil, false, err
	}
	kind := gvk.Kind
	if err := controllerutil.SetControllerReference(tc, desired, r.Scheme); err != nil {
		return nil, false, fmt.Errorf("set owner of %s %s: %w", kind, desired.GetName(), err)
	}
	doc, err := applyDocument(r.Scheme, desired)
	if err != nil {
		return nil, false, err
	}
	hash, err := hashJSON(doc.Object)
	if err != nil {
		return nil, false, err
	}
	// The hash annotation tells a person (and the StatefulSet phase) which content the
	// operator last applied.
	ann := doc.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[desiredHashAnnotation] = hash
	doc.SetAnnotations(ann)

	cluster := client.ObjectKeyFromObject(tc)
	key := appliedKey{kind: kind, namespace: desired.GetNamespace(), name: desired.GetName()}
	existing, err := r.getOwned(ctx, r.Client, tc, desired)
	if err != nil {
		return nil, false, err
	}
	if rec, ok := r.applied.get(cluster, key); ok && existing != nil && rec.hash == hash && rec.resourceVersion == existing.GetResourceVersion() {
		return existing, false, nil
	}
	// NB: the apply is conditional on the resourceVersion of the object it is compared with,
	// so that what it changed is exactly the difference between the two: a write by someone
	// else in between fails it, and it is tried again on what is stored then.
	var reader client.Reader = r.Client
	if r.APIReader != nil {
		reader = r.APIReader
	}
	for attempt := 0; ; attempt++ {
		if existing != nil && r.APIReader != nil || attempt > 0 {
			if existing, err = r.getOwned(ctx, reader, tc, desired); err != nil {
				return nil, false, err
			}
		}
		attemptDoc := doc.DeepCopy()
		if existing != nil {
			attemptDoc.SetResourceVersion(existing.GetResourceVersion())
		}
		err := r.apply(ctx, attemptDoc, existing)
		if apierrors.IsConflict(err) && attempt < 2 {
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("apply %s %s: %w", kind, desired.GetName(), err)
		}
		doc = attemptDoc
		break
	}
	stored := desired.DeepCopyObject().(client.Object)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(doc.Object, stored); err != nil {
		return nil, false, fmt.Errorf("read applied %s %s: %w", kind, desired.GetName(), err)
	}
	r.applied.put(cluster, key, appliedRecord{hash: hash, resourceVersion: stored.GetResourceVersion()})
	// The operator had applied exactly this content before, and applying it again wrote
	// something other than bookkeeping: someone else had changed a field it sets.
	restored := existing != nil && existing.GetAnnotations()[desiredHashAnnotation] == hash &&
		stored.GetResourceVersion() != existing.GetResourceVersion() && changedBesidesBookkeeping(existing, stored)
	if restored {
		logf.FromContext(ctx).Info("Restored object", "kind", kind, "name", desired.GetName(),
			"resourceVersion", stored.GetResourceVersion())
		r.relatedEvent(tc, stored, corev1.EventTypeWarning, toruav1alpha1.ReasonObjectRestored, "Restore",
			"Restored %s %s: a field the operator sets had been changed", kind, desired.GetName())
	}
	return stored, restored, nil
}

// getOwned reads the object desired names through reader: nil when it does not exist, an
// error when another controller owns it.
func (r *ToruaClusterReconciler) getOwned(ctx context.Context, reader client.Reader, tc *toruav1alpha1.ToruaCluster, desired client.Object) (client.Object, error) {
	existing := desired.DeepCopyObject().(client.Object)
	switch err := reader.Get(ctx, client.ObjectKeyFromObject(desired), existing); {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("get %T %s: %w", desired, desired.GetName(), err)
	}
	if owner := metav1.GetControllerOf(existing); owner != nil && owner.UID != tc.UID {
		return nil, fmt.Errorf("%T %s is controlled by %s %s, not by this ToruaCluster", desired, existing.GetName(), owner.Kind, owner.Name)
	}
	return existing, nil
}

// apply sends doc as a forced server-side apply; the API server's answer is written into doc.
// An apply refused as invalid over an existing object is someone else's entry in a list the
// operator sets standing in the way of the operator's own (a Service port renamed to the
// operator's port name, or given its port): apply merges lists by key and keeps others'
// entries. Then the operator's fields are written over the object with a JSON merge patch,
// which replaces lists whole (guarded by the resourceVersion read), and applied again to own
// them.
func (r *ToruaClusterReconciler) apply(ctx context.Context, doc *unstructured.Unstructured, existing client.Object) error {
	send := func() error {
		applied := doc.DeepCopy()
		if err := r.Apply(ctx, client.ApplyConfigurationFromUnstructured(applied), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
			return err
		}
		doc.Object = applied.Object
		return nil
	}
	err := send()
	if !apierrors.IsInvalid(err) || existing == nil {
		return err
	}
	patch := doc.DeepCopy()
	data, merr := json.Marshal(patch.Object)
	if merr != nil {
		return merr
	}
	logf.FromContext(ctx).Info("Replaced fields the apply could not merge", "kind", doc.GetKind(), "name", doc.GetName(), "err", err)
	if perr := r.Patch(ctx, patch, client.RawPatch(types.MergePatchType, data), client.FieldOwner(FieldOwner)); perr != nil {
		return fmt.Errorf("%w; replacing the operator's fields: %w", err, perr)
	}
	doc.SetResourceVersion(patch.GetResourceVersion())
	return send()
}

// changedBesidesBookkeeping reports whether after differs from before in anything but its
// status and bookkeeping (resourceVersion, generation, managed fields: a change of field
// managers alone rewrites those).
func changedBesidesBookkeeping(before, after client.Object) bool {
	strip := func(o client.Object) map[string]any {
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			return nil
		}
		delete(u, "status")
		delete(u, "apiVersion")
		delete(u, "kind")
		if md, ok := u["metadata"].(map[string]any); ok {
			for _, f := range []string{"resourceVersion", "generation", "managedFields"} {
				delete(md, f)
			}
		}
		return u
	}
	return !equality.Semantic.DeepEqual(strip(before), strip(after))
}
