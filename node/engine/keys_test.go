package engine

import (
	"bytes"
	"testing"

	. "github.com/onsi/gomega"
)

func TestMetaEncoding(t *testing.T) {
	g := NewWithT(t)
	for _, m := range []meta{{}, {Keys: 1, Bytes: 2, Revision: 3, AppliedIndex: 4}, {Keys: 1 << 40, Bytes: 1 << 50, Revision: 1<<64 - 1, AppliedIndex: 1<<64 - 1}} {
		got, err := decodeMeta(encodeMeta(m))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(got).To(Equal(m))
	}
	good := encodeMeta(meta{Keys: 1, Bytes: 2, Revision: 3, AppliedIndex: 4})
	for _, bad := range [][]byte{nil, {2}, good[:len(good)-1], good[:2], append(bytes.Clone(good), 0)} {
		_, err := decodeMeta(bad)
		g.Expect(err).To(MatchError(ErrCorrupt), "%x", bad)
	}
	_, _, err := decodeValue(nil)
	g.Expect(err).To(MatchError(ErrCorrupt))
}

func TestKeyEncodingOrder(t *testing.T) {
	g := NewWithT(t)
	// Shard ranges are disjoint and ordered, whatever the user key.
	g.Expect(bytes.Compare(dataKey(2, []byte{0xff, 0xff, 0xff}), dataKey(3, nil))).To(Equal(-1))
	g.Expect(bytes.Compare(dataKey(255, []byte{0xff}), dataKey(256, []byte{0}))).To(Equal(-1))
	start, end := dataSpan(MaxShard)
	g.Expect(bytes.Compare(dataKey(MaxShard, bytes.Repeat([]byte{0xff}, 1024)), end)).To(Equal(-1))
	g.Expect(bytes.Compare(start, end)).To(Equal(-1))
	g.Expect(bytes.Compare(end, metaKey(0))).To(Equal(-1))

	g.Expect(successor([]byte{1, 2})).To(Equal([]byte{1, 3}))
	g.Expect(successor([]byte{1, 0xff, 0xff})).To(Equal([]byte{2}))
	g.Expect(successor([]byte{0xff})).To(BeNil())
	g.Expect(successor(nil)).To(BeNil())
	shard, ok := shardOf(dataKey(4095, []byte("k")))
	g.Expect(ok).To(BeTrue())
	g.Expect(shard).To(Equal(4095))
}
