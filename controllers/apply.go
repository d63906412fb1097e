package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	toruav1alpha1 "github.com/torua/torua/api/v1alpha1"
)

// desiredHash hashes what the operator wants an object to be, before the API server's defaults.
func desiredHash(obj client.Object) (string, error) {
	var body any
	switch o := obj.(type) {
	case *corev1.ServiceAccount:
		body = nil
	case *corev1.Service:
		body = o.Spec
	case *corev1.ConfigMap:
		body = o.Data
	case *rbacv1.Role:
		body = o.Rules
	case *rbacv1.RoleBinding:
		body = []any{o.RoleRef, o.Subjects}
	case *policyv1.PodDisruptionBudget:
		body = o.Spec
	case *appsv1.StatefulSet:
		body = o.Spec
	case *appsv1.Deployment:
		body = o.Spec
	default:
		return "", fmt.Errorf("no desired hash for %T", obj)
	}
	data, err := json.Marshal([]any{obj.GetLabels(), obj.GetAnnotations(), body})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8]), nil
}

// copyDesired copies the fields the operator owns from desired into existing, keeping what the
// API server allocated (a Service's cluster IPs) and immutable fields the operator never changes.
func copyDesired(existing, desired client.Object) {
	existing.SetLabels(merged(existing.GetLabels(), desired.GetLabels()))
	existing.SetAnnotations(merged(existing.GetAnnotations(), desired.GetAnnotations()))
	switch e := existing.(type) {
	case *corev1.Service:
		// Only what the operator sets: cluster IPs, IP families and the like stay as allocated.
		d := desired.(*corev1.Service)
		e.Spec.Type = d.Spec.Type
		e.Spec.Selector = d.Spec.Selector
		e.Spec.Ports = d.Spec.Ports
		e.Spec.PublishNotReadyAddresses = d.Spec.PublishNotReadyAddresses
	case *corev1.ConfigMap:
		e.Data = desired.(*corev1.ConfigMap).Data
	case *rbacv1.Role:
		e.Rules = desired.(*rbacv1.Role).Rules
	case *rbacv1.RoleBinding:
		e.Subjects = desired.(*rbacv1.RoleBinding).Subjects
	case *policyv1.PodDisruptionBudget:
		e.Spec = desired.(*policyv1.PodDisruptionBudget).Spec
	case *appsv1.StatefulSet:
		d := desired.(*appsv1.StatefulSet)
		// The selector, service name and volume claim templates are immutable; the CRD's CEL
		// rules keep spec.storage from changing, so they never differ.
		e.Spec.Replicas = d.Spec.Replicas
		e.Spec.Template = d.Spec.Template
		e.Spec.UpdateStrategy = d.Spec.UpdateStrategy
		e.Spec.PersistentVolumeClaimRetentionPolicy = d.Spec.PersistentVolumeClaimRetentionPolicy
	case *appsv1.Deployment:
		e.Spec = desired.(*appsv1.Deployment).Spec
	}
}

// ensure creates desired, or updates the existing object when what the operator wants of it
// changed since it last wrote it (recorded as a hash annotation) or it lost its owner. An
// unchanged object costs one cached read and no write. It returns the object as stored.
func (r *ToruaClusterReconciler) ensure(ctx context.Context, tc *toruav1alpha1.ToruaCluster, desired client.Object) (client.Object, error) {
	kind := fmt.Sprintf("%T", desired)
	hash, err := desiredHash(desired)
	if err != nil {
		return nil, err
	}
	ann := desired.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[templateHashAnnotation] = hash
	desired.SetAnnotations(ann)
	if err := controllerutil.SetControllerReference(tc, desired, r.Scheme); err != nil {
		return nil, fmt.Errorf("set owner of %s %s: %w", kind, desired.GetName(), err)
	}

	existing := desired.DeepCopyObject().(client.Object)
	err = r.Get(ctx, client.ObjectKeyFromObject(desired), existing)
	if apierrors.IsNotFound(err) {
		if err := r.Create(ctx, desired); err != nil {
			return nil, fmt.Errorf("create %s %s: %w", kind, desired.GetName(), err)
		}
		return desired, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get %s %s: %w", kind, desired.GetName(), err)
	}
	if existing.GetAnnotations()[templateHashAnnotation] == hash && metav1.IsControlledBy(existing, tc) {
		return existing, nil
	}
	if owner := metav1.GetControllerOf(existing); owner != nil && owner.UID != tc.UID {
		return nil, fmt.Errorf("%s %s is controlled by %s %s, not by this ToruaCluster", kind, existing.GetName(), owner.Kind, owner.Name)
	}
	copyDesired(existing, desired)
	if err := controllerutil.SetControllerReference(tc, existing, r.Scheme); err != nil {
		return nil, fmt.Errorf("set owner of %s %s: %w", kind, desired.GetName(), err)
	}
	if err := r.Update(ctx, existing); err != nil {
		return nil, fmt.Errorf("update %s %s: %w", kind, desired.GetName(), err)
	}
	return existing, nil
}

// merged returns have with every entry of want set: others' labels and annotations stay.
func merged(have, want map[string]string) map[string]string {
	if have == nil {
		have = make(map[string]string, len(want))
	}
	maps.Copy(have, want)
	return have
}
