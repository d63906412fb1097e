package replication

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	. "github.com/onsi/gomega"
)

// muxPair listens nodes "a" and "b" on loopback, closed when the test ends. Both resolve
// node IDs through addrs, which holds a and b and which the test may extend before dialling.
func muxPair(t *testing.T) (a, b *Mux, addrs map[string]string) {
	t.Helper()
	var mu sync.Mutex
	addrs = map[string]string{}
	resolve := func(id string) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if a, ok := addrs[id]; ok {
			return a, nil
		}
		return "", fmt.Errorf("node %q unknown", id)
	}
	var err error
	for _, m := range []struct {
		id  string
		mux **Mux
	}{{"a", &a}, {"b", &b}} {
		if *m.mux, err = Listen("127.0.0.1:0", m.id, resolve, nil); err != nil {
			t.Fatal(err)
		}
		mux := *m.mux
		t.Cleanup(func() { _ = mux.Close() })
		addrs[m.id] = mux.Addr().String()
	}
	return a, b, addrs
}

func TestMuxRoutesByShardAndRefusesStrangers(t *testing.T) {
	g := NewWithT(t)
	a, b, addrs := muxPair(t)
	// "c" resolves to b's port, as a stale map would after b took over c's old address.
	addrs["c"] = b.Addr().String()

	a1, err := a.Layer(1)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = a.Layer(1)
	g.Expect(err).To(HaveOccurred(), "one layer per shard")
	b1, err := b.Layer(1)
	g.Expect(err).NotTo(HaveOccurred())
	b2, err := b.Layer(2)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(b2.Addr().String()).To(Equal("b"))

	// Shard 1's connection reaches shard 1's layer on b, not shard 2's.
	c, err := a1.Dial("b", time.Second)
	g.Expect(err).NotTo(HaveOccurred())
	defer c.Close()
	_, err = c.Write([]byte("ping"))
	g.Expect(err).NotTo(HaveOccurred())
	srv, err := b1.Accept()
	g.Expect(err).NotTo(HaveOccurred())
	defer srv.Close()
	buf := make([]byte, 4)
	_, err = io.ReadFull(srv, buf)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(buf)).To(Equal("ping"))

	// Refused: a shard b does not host, and a connection meant for another node.
	refused := func(shard int, target string) error {
		l := &streamLayer{mux: a, shard: shard}
		c, err := l.Dial(raft.ServerAddress(target), time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Read(make([]byte, 1))
		return err
	}
	g.Expect(refused(3, "b")).To(MatchError(io.EOF))
	g.Expect(refused(1, "c")).To(MatchError(io.EOF))
	_, err = a1.Dial("nobody", time.Second)
	g.Expect(err).To(MatchError(ContainSubstring("unknown")))

	// A closed layer stops accepting and frees its shard.
	g.Expect(b2.Close()).To(Succeed())
	_, err = b2.Accept()
	g.Expect(errors.Is(err, ErrMuxClosed)).To(BeTrue())
	_, err = b.Layer(2)
	g.Expect(err).NotTo(HaveOccurred())
}
