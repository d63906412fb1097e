package coalesce

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// Frames sent by many goroutines at once arrive whole, each exactly once, in fewer writes
// than frames; FlushAndStop writes what is queued before stopping.
func TestWriterCoalescesWholeFrames(t *testing.T) {
	g := NewWithT(t)
	client, server := net.Pipe()
	defer server.Close()
	counted := &countingConn{Conn: client}
	w := NewWriter(counted)
	const senders, each = 16, 200

	got := make(chan map[uint32]int, 1)
	go func() {
		seen := map[uint32]int{}
		r := bufio.NewReader(server)
		for {
			var frame [8]byte // u32 sender | u32 sequence number
			if _, err := io.ReadFull(r, frame[:]); err != nil {
				got <- seen
				return
			}
			seen[binary.BigEndian.Uint32(frame[:4])<<16|binary.BigEndian.Uint32(frame[4:])]++
		}
	}()
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				err := w.Send(func(b []byte) []byte {
					b = binary.BigEndian.AppendUint32(b, uint32(s))
					return binary.BigEndian.AppendUint32(b, uint32(i))
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	w.FlushAndStop(net.ErrClosed)
	_ = client.Close()
	var seen map[uint32]int
	g.Eventually(got, 5*time.Second).Should(Receive(&seen))
	g.Expect(seen).To(HaveLen(senders * each))
	for k, n := range seen {
		g.Expect(n).To(Equal(1), "frame %x", k)
	}
	g.Expect(counted.writes()).To(BeNumerically("<", senders*each), "frames share writes")
	g.Expect(w.Send(func(b []byte) []byte { return b })).To(MatchError(net.ErrClosed))
}

// A peer that stops reading holds a sender once MaxPending bytes are queued; failing the
// writer releases it with the error.
func TestWriterBoundsTheQueue(t *testing.T) {
	g := NewWithT(t)
	client, server := net.Pipe() // nothing reads server: the first write blocks
	defer server.Close()
	defer client.Close()
	w := NewWriter(client)
	chunk := make([]byte, MaxPending/4)
	done := make(chan error, 1)
	go func() {
		for {
			if err := w.Send(func(b []byte) []byte { return append(b, chunk...) }); err != nil {
				done <- err
				return
			}
		}
	}()
	g.Consistently(done, 200*time.Millisecond).ShouldNot(Receive(), "the sender waits for room")
	boom := errors.New("boom")
	w.Fail(boom)
	g.Eventually(done, 5*time.Second).Should(Receive(MatchError(boom)))
}

type countingConn struct {
	net.Conn
	mu sync.Mutex
	n  int
}

func (c *countingConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.Conn.Write(b)
}

func (c *countingConn) writes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
