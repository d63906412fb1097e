package shardmap

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Source delivers shard maps to a Holder.
type Source interface {
	// Run offers the source's map to h now and again whenever it changes, until ctx is done.
	// It returns nil when ctx ends, or an error if the source cannot be watched at all.
	// Maps the Holder refuses are not errors of Run: the Holder logs and counts them.
	Run(ctx context.Context, h *Holder) error
	// Reload reads the source now and offers the result to h, returning the Holder's verdict.
	// Consumers call it when a peer says their map is out of date.
	Reload(ctx context.Context, h *Holder) error
}

// Static is a Source with one fixed map, for tests and in-process clusters.
type Static struct{ m *Map }

// NewStatic returns a Source that always offers m.
func NewStatic(m *Map) *Static { return &Static{m: m} }

// Run offers the map once and waits for ctx.
func (s *Static) Run(ctx context.Context, h *Holder) error {
	_ = s.Reload(ctx, h)
	<-ctx.Done()
	return nil
}

// Reload offers the map again.
func (s *Static) Reload(_ context.Context, h *Holder) error { return h.Offer(s.m, "static") }

// File is a Source reading a JSON shard map file. It watches the file's directory with
// fsnotify, so both in-place writes and atomic replacement by rename are seen, and re-reads the
// file every PollInterval as well in case a notification is lost.
type File struct {
	path string
	log  *slog.Logger
	// PollInterval is how often the file is re-read without a notification (default 5s).
	PollInterval time.Duration
}

// NewFile returns a Source for the map file at path.
func NewFile(path string, log *slog.Logger) *File {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &File{path: path, log: log, PollInterval: 5 * time.Second}
}

// Reload reads and offers the file.
func (f *File) Reload(_ context.Context, h *Holder) error {
	data, err := os.ReadFile(f.path)
	if err != nil {
		return fmt.Errorf("read shard map: %w", err)
	}
	return h.OfferBytes(data, f.path)
}

// Run watches the file until ctx is done.
func (f *File) Run(ctx context.Context, h *Holder) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch shard map: %w", err)
	}
	defer func() { _ = w.Close() }()
	dir := filepath.Dir(f.path)
	if err := w.Add(dir); err != nil {
		return fmt.Errorf("watch shard map directory %q: %w", dir, err)
	}
	f.reload(ctx, h)
	tick := time.NewTicker(f.PollInterval)
	defer tick.Stop()
	name := filepath.Clean(f.path)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if filepath.Clean(ev.Name) == name && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) != 0 {
				f.reload(ctx, h)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			f.log.Warn("Shard map watch error", "path", f.path, "err", err)
		case <-tick.C:
			f.reload(ctx, h)
		}
	}
}

func (f *File) reload(ctx context.Context, h *Holder) {
	if err := f.Reload(ctx, h); err != nil && os.IsNotExist(err) {
		f.log.Debug("Shard map file not there yet", "path", f.path)
	}
}

// WriteFile writes m to path atomically and durably: a temporary file in the same directory,
// fsynced, renamed over path, then the directory fsynced. Readers see the old or the new map,
// never a torn one.
func WriteFile(path string, m *Map) error {
	data, err := Encode(m)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write shard map: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write shard map: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("sync shard map: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write shard map: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace shard map: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync shard map directory: %w", err)
	}
	defer func() { _ = d.Close() }()
	return d.Sync()
}
