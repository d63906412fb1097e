package process

import (
	"bytes"
	"context"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/router/client"
)

// awkwardKeys are keys that a naive escaper or router mangles.
var awkwardKeys = []string{
	"a/b/c", "/leading-slash", "trailing-slash/", "double//slash", "a/./b", "a/../b",
	"with space", " ", "  two  ", "tab\tkey", "new\nline",
	"ünïcödé/日本語/キー", "emoji 😀/🚀", "Ω≈ç√∫",
	"colon:key", "urn:torua:1", "host:8080/path",
	".", "..", "...", "./x", "../x", "x/..", "x/.",
	"%", "%2F", "100%", "%zz", "a%20b",
	"?query=1", "#fragment", "+plus+", "semi;colon", "amp&ersand", "equals=sign", "back\\slash",
	"quote\"s", "it's", "<angle>", "{brace}", "[bracket]", "pipe|", "tilde~", "caret^", "`tick`",
	strings.Repeat("k", 1024), strings.Repeat("é", 512), // exactly 1024 bytes
}

func TestCRUDThroughRouter(t *testing.T) {
	g := NewWithT(t)
	c := newCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rng := rand.New(rand.NewPCG(1, 2))

	want := map[string][]byte{}
	revs := map[string]uint64{}
	for i, key := range awkwardKeys {
		value := make([]byte, rng.IntN(4096))
		for j := range value {
			value[j] = byte(rng.UintN(256))
		}
		if i == 0 {
			value = []byte{} // an empty value is a value
		}
		rev, err := c.c.Put(ctx, key, value)
		g.Expect(err).NotTo(HaveOccurred(), "put %q", key)
		g.Expect(rev).To(BeNumerically(">", 0), "revision of %q", key)
		want[key], revs[key] = value, rev
	}

	// Values at the limit: exactly 1 MiB is accepted and comes back byte for byte.
	big := make([]byte, 1<<20)
	for j := range big {
		big[j] = byte(rng.UintN(256))
	}
	for _, key := range []string{"big/one", "big/two with space/ü"} {
		rev, err := c.c.Put(ctx, key, big)
		g.Expect(err).NotTo(HaveOccurred(), "put 1 MiB under %q", key)
		want[key], revs[key] = big, rev
	}
	// One byte more is refused and creates nothing.
	_, err := c.c.Put(ctx, "big/too-big", append(big, 0))
	g.Expect(err).To(MatchError(client.ErrTooLarge))
	var apiErr *client.Error
	g.Expect(err).To(BeAssignableToTypeOf(apiErr))
	_, _, err = c.c.Get(ctx, "big/too-big")
	g.Expect(err).To(MatchError(client.ErrNotFound))

	// Every value reads back byte for byte with the revision its write returned.
	for key, value := range want {
		got, rev, err := c.c.Get(ctx, key)
		g.Expect(err).NotTo(HaveOccurred(), "get %q", key)
		g.Expect(bytes.Equal(got, value)).To(BeTrue(), "value of %q: %d bytes, want %d", key, len(got), len(value))
		g.Expect(rev).To(Equal(revs[key]), "revision of %q", key)
	}

	// Slashes need no escaping: /data/a/b/c is the key "a/b/c".
	status, _, body := doRaw(t, http.MethodGet, c.routerURL+"/data/a/b/c", nil, nil)
	g.Expect(status).To(Equal(http.StatusOK))
	g.Expect(body).To(Equal(want["a/b/c"]))

	// Overwrite: a new value and a higher revision.
	rev, err := c.c.Put(ctx, "colon:key", []byte("second"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(rev).To(BeNumerically(">", revs["colon:key"]))
	want["colon:key"] = []byte("second")

	// Delete some keys: gone from reads and listings; deleting again is 404.
	for _, key := range []string{"..", "%", "a/./b", " "} {
		g.Expect(c.c.Delete(ctx, key)).To(Succeed(), "delete %q", key)
		_, _, err := c.c.Get(ctx, key)
		g.Expect(err).To(MatchError(client.ErrNotFound), "get deleted %q", key)
		g.Expect(c.c.Delete(ctx, key)).To(MatchError(client.ErrNotFound), "delete deleted %q", key)
		delete(want, key)
	}

	// A full listing, in pages of 1, 3 and the default size, is exactly the keys written.
	all := slices.Sorted(maps.Keys(want))
	for _, pageSize := range []int{1, 3, 0} {
		var got []string
		for k, err := range c.c.ListAll(ctx, "", pageSize) {
			g.Expect(err).NotTo(HaveOccurred())
			got = append(got, k)
		}
		g.Expect(got).To(Equal(all), "listing in pages of %d", pageSize)
	}
	// Pages are contiguous: page n+1 starts right after page n's next.
	keys, next, err := c.c.List(ctx, "", "", 5)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(keys).To(Equal(all[:5]))
	g.Expect(next).To(Equal(all[4]))
	keys, _, err = c.c.List(ctx, "", next, 5)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(keys).To(Equal(all[5:10]))

	// Prefix listings return exactly the keys with that prefix.
	for _, prefix := range []string{"a/", "big/", ".", "%", "ü", "urn:", "x/", "no-such-prefix"} {
		var exp []string
		for _, k := range all {
			if strings.HasPrefix(k, prefix) {
				exp = append(exp, k)
			}
		}
		var got []string
		for k, err := range c.c.ListAll(ctx, prefix, 2) {
			g.Expect(err).NotTo(HaveOccurred())
			got = append(got, k)
		}
		g.Expect(got).To(Equal(exp), "listing of prefix %q", prefix)
	}
}
