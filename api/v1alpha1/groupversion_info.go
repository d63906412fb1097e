package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every type in this package.
	GroupVersion = schema.GroupVersion{Group: "torua.io", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this package with a runtime.Scheme. It is
	// apimachinery's builder rather than controller-runtime's so that api/ imports only
	// apimachinery and core API types.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &ToruaCluster{}, &ToruaClusterList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
