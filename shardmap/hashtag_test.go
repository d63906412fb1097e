package shardmap

import (
	"errors"
	"testing"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
)

func TestHashTag(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"user:{42}", "42"},
		{"cart:{42}", "42"},
		{"{42}", "42"},
		{"a{b}{c}", "c"}, // the last '{' starts the tag
		{"x{ {y}", "y"},  // earlier braces are any bytes
		{"\x00g/v/{\x7b}{graph/7}", "graph/7"},
		{"user:42", "user:42"},       // no tag: the whole key
		{"user:{}", "user:{}"},       // an empty tag is no tag
		{"user:{42", "user:{42"},     // not ending with '}'
		{"user:{42}x", "user:{42}x"}, // the tag must end the key
		{"user:{4}2}", "user:{4}2}"}, // a '}' inside is no tag
		{"42}", "42}"},
		{"}", "}"},
		{"", ""},
	} {
		if got := string(HashTag([]byte(tc.key))); got != tc.want {
			t.Errorf("HashTag(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
}

func TestShardForFollowsTheMapsScheme(t *testing.T) {
	tagged := &Map{Shards: 64, Hash: HashXXHash64Tag}
	whole := &Map{Shards: 64, Hash: HashXXHash64}
	for i := range 200 {
		id := itoa(i)
		tag := ShardOf([]byte(id), 64)
		for _, k := range []string{"user:{" + id + "}", "cart:{" + id + "}", "\x00g/anything/{" + id + "}"} {
			if got := tagged.ShardFor([]byte(k)); got != tag {
				t.Fatalf("%s ShardFor(%q) = %d, want %d (the tag's shard)", HashXXHash64Tag, k, got, tag)
			}
			if got, want := whole.ShardFor([]byte(k)), ShardOf([]byte(k), 64); got != want {
				t.Fatalf("%s ShardFor(%q) = %d, want %d (the whole key's shard)", HashXXHash64, k, got, want)
			}
		}
		// A key without a tag lands where it always did, under either scheme: existing keys
		// keep their placement.
		plain := []byte("key-" + id)
		if tagged.ShardFor(plain) != ShardOf(plain, 64) || whole.ShardFor(plain) != ShardOf(plain, 64) {
			t.Fatalf("untagged key %q moved", plain)
		}
	}
}

func TestPlaceKeepsTheClustersHashScheme(t *testing.T) {
	g := NewWithT(t)
	members := testNodes(3)
	cfg := PlaceConfig{Cluster: "c", Shards: 8, ReplicationFactor: 3}
	m, err := Place(nil, members, cfg)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(m.Hash).To(Equal(HashXXHash64Tag), "a new cluster gets hash tags")

	old := *m
	old.Hash = HashXXHash64
	next, err := Place(&old, testNodes(4), cfg)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(next.Version).To(Equal(old.Version + 1))
	g.Expect(next.Hash).To(Equal(HashXXHash64), "a cluster made before hash tags keeps whole-key hashing")
}

func TestHolderRefusesAnotherHashScheme(t *testing.T) {
	g := NewWithT(t)
	h := NewHolder(nil, prometheus.NewRegistry())
	v1 := testMap(t, 3, 8, 1)
	g.Expect(h.Offer(v1, "test")).To(Succeed())
	other := withVersion(v1, 2)
	other.Hash = map[string]string{HashXXHash64: HashXXHash64Tag, HashXXHash64Tag: HashXXHash64}[v1.Hash]
	err := h.Offer(other, "test")
	g.Expect(errors.Is(err, ErrConflict)).To(BeTrue())
	g.Expect(err).To(MatchError(ContainSubstring("never changes it")))
	g.Expect(h.Current()).To(BeIdenticalTo(v1))
}
