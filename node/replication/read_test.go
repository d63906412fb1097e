package replication

import (
	"context"
	"errors"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/node/engine"
)

// TestReadGivesOneViewWithGetsConsistency checks Group.Read: on the leader, a
// linearizable view holds every acknowledged write; on a follower, a linearizable Read is
// refused and a stale one sees the replica's applied state.
func TestReadGivesOneViewWithGetsConsistency(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := newMemCluster(t)
	ids := []string{"n1", "n2", "n3"}
	c.startGroup(ids, 1)
	for _, k := range []string{"p/1", "p/2", "q/1"} {
		g.Expect(c.put(ctx, 1, k, "v-"+k)).To(Succeed())
	}
	scanP := func(v *engine.View) ([]string, error) {
		var keys []string
		err := v.Scan([]byte("p/"), nil, func(k []byte, val engine.Value) (bool, error) {
			keys = append(keys, string(k)+"="+string(val.Data))
			return true, nil
		})
		return keys, err
	}
	leader := waitLeader(g, c, 1)
	var got []string
	g.Expect(leader.groups[1].Read(ctx, false, func(v *engine.View) (err error) {
		got, err = scanP(v)
		return err
	})).To(Succeed())
	g.Expect(got).To(Equal([]string{"p/1=v-p/1", "p/2=v-p/2"}))

	follower := c.node(otherThan(ids, leader.id))
	err := follower.groups[1].Read(ctx, false, func(*engine.View) error { return nil })
	g.Expect(errors.Is(err, ErrNotLeader)).To(BeTrue(), "a follower serves no linearizable read: %v", err)
	g.Eventually(func() ([]string, error) {
		var keys []string
		err := follower.groups[1].Read(ctx, true, func(v *engine.View) (err error) {
			keys, err = scanP(v)
			return err
		})
		return keys, err
	}).WithTimeout(10 * time.Second).Should(Equal([]string{"p/1=v-p/1", "p/2=v-p/2"}))
}
