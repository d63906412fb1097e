package coalesce

import (
	"net"
	"runtime"
	"sync"
)

// MaxPending bounds the bytes queued for a connection's writer; callers wait beyond it, so
// that a peer that stops reading holds up its own connection and no more memory.
const MaxPending = 4 << 20

// Writer is a connection's one writer: frames queued by any goroutine go out together in
// one write each time the previous write returns (group commit for a socket).
type Writer struct {
	nc net.Conn

	mu      sync.Mutex
	room    sync.Cond // signalled when the queue was taken or the writer failed
	queued  []byte
	spare   []byte
	err     error
	kick    chan struct{}
	stopped chan struct{}
}

// NewWriter starts the writer of nc.
func NewWriter(nc net.Conn) *Writer {
	s := &Writer{nc: nc, kick: make(chan struct{}, 1), stopped: make(chan struct{})}
	s.room.L = &s.mu
	go s.loop()
	return s
}

// Send queues the frame appendFrame appends to the queue. It returns the error that broke the
// connection, if any; a nil error does not mean the peer read the frame.
func (s *Writer) Send(appendFrame func([]byte) []byte) error {
	s.mu.Lock()
	for s.err == nil && len(s.queued) >= MaxPending {
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

func (s *Writer) loop() {
	defer close(s.stopped)
	for range s.kick {
		// Let the goroutines that are runnable now queue their frames first: on a busy
		// machine several answers are usually a scheduling round away.
		runtime.Gosched()
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
			s.Fail(err)
			return
		}
	}
}

// Fail stops the writer with err (the first error wins) and wakes every waiting caller.
func (s *Writer) Fail(err error) {
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

// FlushAndStop writes what is queued, then stops the writer. It returns once the writer
// has exited.
func (s *Writer) FlushAndStop(err error) {
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
	s.Fail(err)
	<-s.stopped
}
