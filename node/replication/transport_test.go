package replication

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gstruct"
)

// answerAppends answers every AppendEntries that reaches tr with Term = base + the
// request's term, until the test ends.
func answerAppends(t *testing.T, tr *Transport, base uint64) {
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		for {
			select {
			case rpc := <-tr.Consumer():
				req := rpc.Command.(*raft.AppendEntriesRequest)
				rpc.Respond(&raft.AppendEntriesResponse{RPCHeader: testHeader, Term: base + req.Term, Success: true}, nil)
			case <-stop:
				return
			}
		}
	}()
}

func openTransport(t *testing.T, m *Mux, shard int) *Transport {
	t.Helper()
	tr, err := m.Transport(shard, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

func linkConnCount(m *Mux) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.linkConns)
}

// The RPCs of every group travel on one connection between two nodes, each answered by its
// own group; a shard the peer does not host gets an error that says so.
func TestLinksShareOneConnection(t *testing.T) {
	g := NewWithT(t)
	a, b, _ := muxPair(t)
	const shards, callsPerShard = 16, 20
	from := make([]*Transport, shards)
	for s := range shards {
		from[s] = openTransport(t, a, s)
		answerAppends(t, openTransport(t, b, s), uint64(s)*1000)
	}
	var wg sync.WaitGroup
	errs := make(chan error, shards*callsPerShard)
	for s := range shards {
		for i := range callsPerShard {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := testAppendEntries()
				req.Term = uint64(i + 1)
				var resp raft.AppendEntriesResponse
				if err := from[s].AppendEntries("b", "b", req, &resp); err != nil {
					errs <- err
					return
				}
				if want := uint64(s)*1000 + uint64(i+1); resp.Term != want || !resp.Success {
					errs <- fmt.Errorf("shard %d call %d: answer %+v, want term %d", s, i, resp, want)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		g.Expect(err).NotTo(HaveOccurred())
	}
	g.Expect(linkConnCount(a)).To(Equal(1), "one link from a to b")
	g.Expect(linkConnCount(b)).To(Equal(1), "one link accepted by b")

	var resp raft.AppendEntriesResponse
	err := openTransport(t, a, 99).AppendEntries("b", "b", testAppendEntries(), &resp)
	g.Expect(err).To(MatchError(ContainSubstring(`node "b" hosts no raft group for shard 99`)))
	g.Expect(linkConnCount(a)).To(Equal(1), "an error answer keeps the link")

	st := a.Stats()
	g.Expect(st.Dials).To(Equal(uint64(1)))
	g.Expect(st.DialFailures).To(BeZero())
	g.Expect(st.RPCs[0]).To(gstruct.MatchFields(gstruct.IgnoreExtras, gstruct.Fields{"Kind": Equal("append_entries"),
		"Calls": Equal(uint64(shards*callsPerShard + 1)), "Failed": Equal(uint64(1))}))
	g.Expect(st.RPCs[0].SecondsWaiting).To(BeNumerically(">", 0))
}

// A group whose Raft does not take its RPCs holds up no other group on the link, and its
// heartbeats still reach the heartbeat handler; closing the caller's transport ends its
// calls in flight.
func TestLinkHasNoHeadOfLineBlocking(t *testing.T) {
	g := NewWithT(t)
	a, b, _ := muxPair(t)
	stuck := openTransport(t, b, 1) // nothing reads its consumer
	var heartbeats atomic.Int64
	stuck.SetHeartbeatHandler(func(rpc raft.RPC) {
		heartbeats.Add(1)
		rpc.Respond(&raft.AppendEntriesResponse{RPCHeader: testHeader, Term: 5, Success: true}, nil)
	})
	answerAppends(t, openTransport(t, b, 2), 0)
	a1, a2 := openTransport(t, a, 1), openTransport(t, a, 2)

	blocked := make(chan error, 1)
	go func() {
		var resp raft.AppendEntriesResponse
		blocked <- a1.AppendEntries("b", "b", testAppendEntries(), &resp)
	}()
	var resp raft.AppendEntriesResponse
	g.Expect(a2.AppendEntries("b", "b", testAppendEntries(), &resp)).To(Succeed())
	g.Expect(resp.Term).To(Equal(uint64(7)))
	hb := &raft.AppendEntriesRequest{RPCHeader: testHeader, Term: 5}
	g.Expect(a1.AppendEntries("b", "b", hb, &resp)).To(Succeed())
	g.Expect(heartbeats.Load()).To(Equal(int64(1)))
	g.Expect(a.Stats().RPCs[1]).To(gstruct.MatchFields(gstruct.IgnoreExtras, gstruct.Fields{"Kind": Equal("heartbeat"), "Calls": Equal(uint64(1))}))
	g.Consistently(blocked, 200*time.Millisecond).ShouldNot(Receive(), "shard 1's append waits for its Raft")

	g.Expect(a1.Close()).To(Succeed())
	var err error
	g.Eventually(blocked, 5*time.Second).Should(Receive(&err))
	g.Expect(err).To(MatchError(raft.ErrTransportShutdown))
}

// A broken link fails the calls in flight at once and is redialed by the next call; a peer
// that answers nothing for the RPC timeout is given up and redialed too.
func TestLinkRedials(t *testing.T) {
	g := NewWithT(t)
	a, b, addrs := muxPair(t)
	held := make(chan raft.RPC, 1)
	bt := openTransport(t, b, 1)
	go func() {
		rpc := <-bt.Consumer()
		held <- rpc // never answered
	}()
	at := openTransport(t, a, 1)
	failed := make(chan error, 1)
	go func() {
		var resp raft.AppendEntriesResponse
		failed <- at.AppendEntries("b", "b", testAppendEntries(), &resp)
	}()
	g.Eventually(held, 5*time.Second).Should(HaveLen(1))
	b.dropLinks()
	var err error
	g.Eventually(failed, 5*time.Second).Should(Receive(&err))
	g.Expect(err).To(HaveOccurred())
	answerAppends(t, bt, 0)
	var resp raft.AppendEntriesResponse
	g.Expect(at.AppendEntries("b", "b", testAppendEntries(), &resp)).To(Succeed())

	// "c" accepts connections and reads them, but never answers: a paused process.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	g.Expect(err).NotTo(HaveOccurred())
	defer ln.Close()
	var accepted atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	addrs["c"] = ln.Addr().String()
	a.rpcTimeout = 300 * time.Millisecond // before the first dial to c
	closed := a.Stats().Closed
	for i := 1; i <= 2; i++ {
		err := at.AppendEntries("c", "c", testAppendEntries(), &resp)
		g.Expect(err).To(MatchError(ContainSubstring("no answer in 300ms")))
		g.Expect(accepted.Load()).To(Equal(int64(i)), "a silent link is redialed")
	}
	g.Expect(a.Stats().Closed).To(Equal(closed+2), "each silent link was closed")
}

// When the target's address changes (a pod back on a new IP), the next call goes to the new
// address at once, not after the old connection times out.
func TestLinkFollowsAddressChange(t *testing.T) {
	g := NewWithT(t)
	a, b, addrs := muxPair(t)
	answerAppends(t, openTransport(t, b, 1), 0)
	at := openTransport(t, a, 1)
	var resp raft.AppendEntriesResponse
	g.Expect(at.AppendEntries("b", "b", testAppendEntries(), &resp)).To(Succeed())
	g.Expect(resp.Term).To(Equal(uint64(7)))

	// Node b again, on a new port; the old one stays up but is no longer b's address.
	moved, err := Listen("127.0.0.1:0", "b", func(string) (string, error) { return "", errors.New("unused") }, nil)
	g.Expect(err).NotTo(HaveOccurred())
	defer moved.Close()
	answerAppends(t, openTransport(t, moved, 1), 5000)
	addrs["b"] = moved.Addr().String() // no call is in flight: nothing resolves meanwhile
	g.Expect(at.AppendEntries("b", "b", testAppendEntries(), &resp)).To(Succeed())
	g.Expect(resp.Term).To(Equal(uint64(5007)), "answered by b at its new address")
	g.Eventually(func() int { return linkConnCount(b) }).Should(BeZero(), "the old link is closed")
	g.Expect(a.Stats().Dials).To(Equal(uint64(2)))
}
