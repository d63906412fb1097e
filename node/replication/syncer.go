package replication

import (
	"errors"
	"fmt"
	"sync"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/torua/torua/node/raftlog"
)

// syncer fsyncs the Raft log for the loop and then delivers the responses that waited
// for it, in the order they were added: a response may go out only once every write
// before it is stored.
type syncer struct {
	h       *Host
	mu      sync.Mutex
	pending []local
	// mustSync is set when a write of the pending responses must be durable before they
	// go out; without it they go out with no fsync.
	mustSync bool
	kick     chan struct{}
}

// add queues the responses of writes already made to the Raft log (unsynced); mustSync
// says they wait for an fsync.
func (s *syncer) add(l []local, mustSync bool) {
	s.mu.Lock()
	// NB: a write that must be durable but has no responses waits for the next fsync,
	// which every later response then waits for too.
	s.mustSync = s.mustSync || mustSync
	s.pending = append(s.pending, l...)
	s.mu.Unlock()
	if len(l) == 0 {
		return
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *syncer) run() {
	defer close(s.h.syncDone)
	for {
		select {
		case <-s.h.stop:
			return
		case <-s.kick:
		}
		s.mu.Lock()
		batch, mustSync := s.pending, s.mustSync
		if len(batch) == 0 {
			s.mu.Unlock()
			continue
		}
		s.pending, s.mustSync = nil, false
		s.mu.Unlock()
		if mustSync {
			t0 := time.Now()
			if err := s.h.rlog.Sync(); err != nil {
				if errors.Is(err, raftlog.ErrClosed) {
					return // the node is stopping; nothing waiting may be acknowledged
				}
				panic(fmt.Sprintf("replication: sync raft state: %v", err))
			}
			s.h.stats.fsyncs.Add(1)
			s.h.stats.fsyncNanos.Add(uint64(time.Since(t0)))
		}
		for i := 0; i < len(batch); {
			j := i
			for j < len(batch) && batch[j].g == batch[i].g {
				j++
			}
			msgs := make([]*pb.Message, 0, j-i)
			for _, l := range batch[i:j] {
				msgs = append(msgs, l.m)
			}
			s.h.deliver(batch[i].g, msgs)
			i = j
		}
		s.h.signal()
	}
}
