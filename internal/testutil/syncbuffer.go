package testutil

import (
	"strings"
	"sync"
)

// SyncBuffer is an io.Writer safe for concurrent writers (a process's stdout and stderr, a
// logger shared by goroutines), read back whole with String.
type SyncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
