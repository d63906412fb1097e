package shardmap

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func withVersion(m *Map, v uint64) *Map {
	c := *m
	c.Version = v
	return &c
}

func TestHolderKeepsNewestValidMap(t *testing.T) {
	g := NewWithT(t)
	reg := prometheus.NewRegistry()
	h := NewHolder(nil, reg)
	g.Expect(h.Current()).To(BeNil())

	v1 := testMap(t, 3, 8, 1)
	changed := h.Changed()
	g.Expect(h.Offer(v1, "test")).To(Succeed())
	g.Expect(changed).To(BeClosed())
	g.Expect(h.Current()).To(BeIdenticalTo(v1))

	g.Expect(h.Offer(withVersion(v1, 1), "test")).To(Succeed(), "same version and content is a no-op")

	v3 := withVersion(testMap(t, 4, 8, 1), 3)
	g.Expect(h.Offer(v3, "test")).To(Succeed())
	g.Expect(h.Current().Version).To(Equal(uint64(3)))

	g.Expect(errors.Is(h.Offer(withVersion(v1, 2), "test"), ErrStale)).To(BeTrue())
	g.Expect(errors.Is(h.Offer(withVersion(v1, 3), "test"), ErrConflict)).To(BeTrue(), "same version, other content")

	bad := withVersion(v3, 9)
	bad.Assignments = bad.Assignments[:1]
	g.Expect(errors.Is(h.Offer(bad, "test"), ErrInvalid)).To(BeTrue())
	g.Expect(errors.Is(h.OfferBytes([]byte("{not json"), "test"), ErrInvalid)).To(BeTrue())

	other := withVersion(testMap(t, 3, 16, 1), 10)
	g.Expect(errors.Is(h.Offer(other, "test"), ErrConflict)).To(BeTrue(), "another shard count")

	g.Expect(h.Current()).To(BeIdenticalTo(v3), "every refusal keeps the last good map")
	g.Expect(testutil.ToFloat64(h.version)).To(Equal(3.0))
	g.Expect(testutil.ToFloat64(h.rejected.WithLabelValues("stale"))).To(Equal(1.0))
	g.Expect(testutil.ToFloat64(h.rejected.WithLabelValues("conflict"))).To(Equal(2.0))
	g.Expect(testutil.ToFloat64(h.rejected.WithLabelValues("invalid"))).To(Equal(2.0))
}

func TestFileSourceFollowsAtomicReplacement(t *testing.T) {
	g := NewWithT(t)
	path := filepath.Join(t.TempDir(), "shardmap.json")
	v1 := testMap(t, 3, 8, 1)
	g.Expect(WriteFile(path, v1)).To(Succeed())

	h := NewHolder(nil, nil)
	src := NewFile(path, nil)
	src.PollInterval = time.Hour // notifications alone must carry every change here
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, h) }()
	defer func() { cancel(); g.Expect(<-done).To(Succeed()) }()

	g.Eventually(h.Current).WithTimeout(5 * time.Second).ShouldNot(BeNil())
	g.Expect(h.Current().Version).To(Equal(uint64(1)))

	// Replaced by rename, as WriteFile and the kubelet's atomic writer do.
	g.Expect(WriteFile(path, withVersion(testMap(t, 4, 8, 1), 2))).To(Succeed())
	g.Eventually(func() uint64 { return h.Current().Version }).WithTimeout(5 * time.Second).Should(Equal(uint64(2)))

	// Rewritten in place.
	data, _ := Encode(withVersion(testMap(t, 5, 8, 1), 3))
	g.Expect(os.WriteFile(path, data, 0o644)).To(Succeed())
	g.Eventually(func() uint64 { return h.Current().Version }).WithTimeout(5 * time.Second).Should(Equal(uint64(3)))

	// A corrupt file is refused and the last good map stays; Reload reports why.
	g.Expect(os.WriteFile(path, []byte(`{"version": 4, "shards": `), 0o644)).To(Succeed())
	g.Expect(errors.Is(src.Reload(ctx, h), ErrInvalid)).To(BeTrue())
	g.Expect(h.Current().Version).To(Equal(uint64(3)))
}
