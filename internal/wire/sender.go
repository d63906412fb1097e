package wire

import (
	"net"
	"sync"
)

// maxPending bounds the bytes queued for a connection's writer; callers wait beyond it, so
// that a peer that stops reading holds up its own connection and no more memory.
const maxPending = 4 << 20

// sender is a connection's one writer: frames queued by any goroutine go out together in
// one write each time the previous write returns (group commit for a socket).
type sender struct {
	nc net.Conn

	mu      sync.Mutex
	room    sync.Cond // signalled when the queue was taken or the sender failed
	queued  []byte
	spare   []byte
	err     error
	kick    chan struct{}
	stopped chan struct{}
}

func newSender(nc net.Conn) *sender {
	s := &sender{nc: nc, kick: make(chan struct{}, 1), stopped: make(chan struct{})}
	s.room.L = &s.mu
	go s.loop()
	return s
}

// send queues the frame appendFrame appends to the queue. It returns the error that broke the
// connection, if any; a nil error does not mean the peer read the frame.
func (s *sender) send(appendFrame func([]byte) []byte) error {
	s.mu.Lock()
	for s.err == nil && len(s.queued) >= maxPending {
		s.room.Wait()
	}
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return err
	}
	s.queued = appendFrame(s.queued)
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
	return nil
}

func (s *sender) loop() {
	defer close(s.stopped)
	for range s.kick {
		s.mu.Lock()
		if s.err != nil {
			s.mu.Unlock()
			return
		}
		if len(s.queued) == 0 {
			s.mu.Unlock()
			continue
		}
		// NB: swap only a non-empty queue, so that the queue and the spare never share
		// an array: appends to the one would overwrite the other while it is written.
		b := s.queued
		s.queued = s.spare[:0]
		s.room.Broadcast()
		s.mu.Unlock()
		_, err := s.nc.Write(b)
		if cap(b) <= 1<<20 {
			s.spare = b[:0]
		} else {
			s.spare = nil // do not keep a large buffer for an idle connection
		}
		if err != nil {
			s.fail(err)
			return
		}
	}
}

// fail stops the sender with err (the first error wins) and wakes every waiting caller.
func (s *sender) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.room.Broadcast()
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// flushAndStop writes what is queued, then stops the sender. It returns once the writer
// has exited.
func (s *sender) flushAndStop(err error) {
	// The writer takes the queue on its next round; failing after that round would need a
	// handshake with it, so stop it by kicking with the queue and then failing.
	s.mu.Lock()
	for s.err == nil && len(s.queued) > 0 {
		s.mu.Unlock()
		select {
		case s.kick <- struct{}{}:
		default:
		}
		s.mu.Lock()
		if len(s.queued) > 0 {
			s.room.Wait()
		}
	}
	s.mu.Unlock()
	s.fail(err)
	<-s.stopped
}
