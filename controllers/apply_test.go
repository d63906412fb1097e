package controllers

import (
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestApplyDocument: an apply request carries every field the operator sets, and none that
// a typed object only cannot leave out (status, null creation timestamps): applying those
// would make the operator own, and fight over, fields it never meant to set.
func TestApplyDocument(t *testing.T) {
	sch := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(sch))
	tc := testCluster()
	tc.Spec.Replicas, tc.Spec.Shards, tc.Spec.ReplicationFactor, tc.Spec.Image = 5, 16, 3, "torua:test"
	tc.Spec.Router.Replicas = 2
	for _, obj := range []client.Object{
		desiredServiceAccount(tc), desiredRole(tc), desiredRoleBinding(tc),
		desiredPeersService(tc), desiredNodeService(tc), desiredRouterService(tc),
		desiredStatefulSet(tc, 5, 5), desiredPDB(tc), desiredRouterDeployment(tc),
		desiredShardMapConfigMap(tc, "{}", true),
	} {
		t.Run(obj.GetObjectKind().GroupVersionKind().Kind+obj.GetName(), func(t *testing.T) {
			g := NewWithT(t)
			doc, err := applyDocument(sch, obj)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(doc.GetKind()).NotTo(BeEmpty())
			g.Expect(doc.GetAPIVersion()).NotTo(BeEmpty())
			g.Expect(doc.Object).NotTo(HaveKey("status"))
			var walk func(path string, v any)
			walk = func(path string, v any) {
				switch t := v.(type) {
				case nil:
					g.Expect(path).To(BeEmpty(), "null at %s", path)
				case map[string]any:
					for k, e := range t {
						walk(path+"."+k, e)
					}
				case []any:
					for _, e := range t {
						walk(path+"[]", e)
					}
				}
			}
			walk("", doc.Object)
		})
	}

	g := NewWithT(t)
	doc, err := applyDocument(sch, desiredStatefulSet(tc, 5, 3))
	g.Expect(err).NotTo(HaveOccurred())
	field := func(path ...string) any {
		v, found, err := unstructured.NestedFieldNoCopy(doc.Object, path...)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(found).To(BeTrue(), "%v", path)
		return v
	}
	g.Expect(field("spec", "replicas")).To(BeEquivalentTo(5))
	g.Expect(field("spec", "updateStrategy", "rollingUpdate", "partition")).To(BeEquivalentTo(3))
	g.Expect(field("spec", "persistentVolumeClaimRetentionPolicy", "whenScaled")).To(Equal("Retain"))
	templates, _, _ := unstructured.NestedSlice(doc.Object, "spec", "volumeClaimTemplates")
	g.Expect(templates).To(HaveLen(1))
	g.Expect(templates[0]).NotTo(HaveKey("status"))
	doc, err = applyDocument(sch, desiredPDB(tc))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(field("spec", "maxUnavailable")).To(BeEquivalentTo(1))
}
