package process

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/torua/torua/router/client"
)

func TestConcurrentClients(t *testing.T) {
	const (
		clients    = 32
		ownKeys    = 4
		rounds     = 6 // writes of each own key
		counters   = 4
		increments = 5 // compare-and-set increments per client
	)
	g := NewWithT(t)
	c := newCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	counterKey := func(j int) string { return fmt.Sprintf("shared/counter:%d", j) }
	for j := range counters {
		_, err := c.c.Put(ctx, counterKey(j), []byte("0"))
		g.Expect(err).NotTo(HaveOccurred())
	}

	var (
		mu       sync.Mutex
		lastOwn  = map[string]string{} // own key -> last acknowledged value
		acked    [counters]atomic.Int64
		conflict atomic.Int64
		wg       sync.WaitGroup
	)
	// increment adds one to counter j by compare-and-set, retrying on 412.
	increment := func(j int) error {
		key := counterKey(j)
		for attempt := 0; attempt < 1000; attempt++ {
			v, rev, err := c.c.Get(ctx, key)
			if err != nil {
				return fmt.Errorf("get %s: %w", key, err)
			}
			n, err := strconv.Atoi(string(v))
			if err != nil {
				return fmt.Errorf("%s holds %q, not a number", key, v)
			}
			_, err = c.c.Put(ctx, key, []byte(strconv.Itoa(n+1)), client.IfMatch(rev))
			switch {
			case err == nil:
				acked[j].Add(1)
				return nil
			case errors.Is(err, client.ErrConditionFailed):
				conflict.Add(1)
				continue
			default:
				return fmt.Errorf("put %s If-Match %d: %w", key, rev, err)
			}
		}
		return fmt.Errorf("%s: no increment succeeded in 1000 attempts", key)
	}
	errs := make(chan error, clients)
	for i := range clients {
		wg.Go(func() {
			inc := 0
			for r := range rounds {
				for k := range ownKeys {
					key := fmt.Sprintf("own/c%02d/key %d", i, k)
					value := fmt.Sprintf("client %d key %d round %d", i, k, r)
					if _, err := c.c.Put(ctx, key, []byte(value)); err != nil {
						errs <- fmt.Errorf("put %q: %w", key, err)
						return
					}
					mu.Lock()
					lastOwn[key] = value
					mu.Unlock()
				}
				if inc < increments {
					if err := increment((i + r) % counters); err != nil {
						errs <- err
						return
					}
					inc++
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	g.Expect(t.Failed()).To(BeFalse())
	t.Logf("%d compare-and-set conflicts retried", conflict.Load())

	// Every own key holds its last acknowledged value, and no other key appeared.
	g.Expect(lastOwn).To(HaveLen(clients * ownKeys))
	for key, value := range lastOwn {
		got, _, err := c.c.Get(ctx, key)
		g.Expect(err).NotTo(HaveOccurred(), "get %q", key)
		g.Expect(string(got)).To(Equal(value), "key %q", key)
	}
	var listed []string
	for k, err := range c.c.ListAll(ctx, "own/", 50) {
		g.Expect(err).NotTo(HaveOccurred())
		listed = append(listed, k)
	}
	g.Expect(listed).To(HaveLen(len(lastOwn)))

	// Every counter equals the number of increments acknowledged on it.
	var total int64
	for j := range counters {
		got, _, err := c.c.Get(ctx, counterKey(j))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(string(got)).To(Equal(strconv.FormatInt(acked[j].Load(), 10)), "counter %d", j)
		total += acked[j].Load()
	}
	g.Expect(total).To(Equal(int64(clients * increments)))
}
