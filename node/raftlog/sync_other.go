//go:build !linux

package raftlog

import "os"

// fdatasync is fsync where fdatasync is not available.
func fdatasync(f *os.File) error { return f.Sync() }

// preallocate does nothing where fallocate is not available.
func preallocate(*os.File, int64) error { return nil }
