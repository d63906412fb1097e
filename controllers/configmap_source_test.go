//go:build envtest

package controllers

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/torua/torua/shardmap"
)

// The shardmap.ConfigMapSource lives in shardmap (the one package that imports client-go
// informers for the map); it is tested here because this suite already runs a kube-apiserver,
// and shardmap's own unit tests stay free of envtest.
var _ = Describe("shardmap.ConfigMapSource", func() {
	It("delivers every new map in the ConfigMap to the Holder within a second, and never an invalid one", func() {
		ns, _ := newNamespace()
		place := func(prev *shardmap.Map, ips ...string) *shardmap.Map {
			var members []shardmap.Node
			for i, ip := range ips {
				members = append(members, nodeFor(podName(newCluster(ns, "demo", 3), i), ip, shardmap.NodeActive))
			}
			m, err := shardmap.Place(prev, members, shardmap.PlaceConfig{Cluster: "demo", Shards: 8, ReplicationFactor: 3})
			Expect(err).NotTo(HaveOccurred())
			return m
		}
		encode := func(m *shardmap.Map) string {
			data, err := shardmap.Encode(m)
			Expect(err).NotTo(HaveOccurred())
			return string(data)
		}

		src, err := shardmap.NewConfigMapSource(cfg, ns, "demo-shardmap", nil)
		Expect(err).NotTo(HaveOccurred())
		h := shardmap.NewHolder(nil, nil)
		sctx, scancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- src.Run(sctx, h) }()
		DeferCleanup(func() {
			scancel()
			Eventually(done, timeout).Should(Receive(BeNil()))
		})

		By("starting before the ConfigMap exists")
		Consistently(h.Current, 200*time.Millisecond, interval).Should(BeNil())

		By("creating it with version 1")
		m1 := place(nil, "10.0.0.1", "10.0.0.2", "10.0.0.3")
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "demo-shardmap"},
			Data:       map[string]string{shardmap.ConfigMapKey: encode(m1)},
		}
		Expect(k8sClient.Create(ctx, cm)).To(Succeed())
		Eventually(func() uint64 {
			if m := h.Current(); m != nil {
				return m.Version
			}
			return 0
		}, time.Second, 10*time.Millisecond).Should(Equal(uint64(1)))

		By("ignoring other ConfigMaps in the namespace")
		other := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "other"},
			Data: map[string]string{shardmap.ConfigMapKey: "{}"}}
		Expect(k8sClient.Create(ctx, other)).To(Succeed())

		By("updating it to version 2")
		m2 := place(m1, "10.0.0.1", "10.0.0.2", "10.0.0.9")
		cm.Data[shardmap.ConfigMapKey] = encode(m2)
		Expect(k8sClient.Update(ctx, cm)).To(Succeed())
		Eventually(func() uint64 { return h.Current().Version }, time.Second, 10*time.Millisecond).Should(Equal(uint64(2)))

		By("refusing a document that is not a valid map, keeping version 2")
		cm.Data[shardmap.ConfigMapKey] = `{"cluster":"demo","version":3}`
		Expect(k8sClient.Update(ctx, cm)).To(Succeed())
		Consistently(func() uint64 { return h.Current().Version }, 500*time.Millisecond, interval).Should(Equal(uint64(2)))
		Expect(src.Reload(ctx, h)).To(MatchError(shardmap.ErrInvalid))

		By("reloading on demand")
		h2 := shardmap.NewHolder(nil, nil)
		cm.Data[shardmap.ConfigMapKey] = encode(m2)
		Expect(k8sClient.Update(ctx, cm)).To(Succeed())
		Expect(src.Reload(ctx, h2)).To(Succeed())
		Expect(h2.Current().Version).To(Equal(uint64(2)))
	})
})
