package shardmap

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Errors returned by Holder.Offer. A refused map never replaces the one held.
var (
	// ErrInvalid wraps a map that failed decoding or validation.
	ErrInvalid = errors.New("invalid shard map")
	// ErrStale is a map older than the one held.
	ErrStale = errors.New("stale shard map")
	// ErrConflict is a map with the version held but different content, or one for another
	// cluster or shard count.
	ErrConflict = errors.New("conflicting shard map")
)

// Holder keeps the newest valid shard map a process has seen. It is safe for concurrent use.
// Sources offer maps to it; readers call Current on every request (an atomic load).
type Holder struct {
	log *slog.Logger

	mu      sync.Mutex // serialises Offer and guards changed
	cur     atomic.Pointer[Map]
	changed chan struct{}

	version  prometheus.Gauge
	updates  prometheus.Counter
	rejected *prometheus.CounterVec
}

// NewHolder returns an empty Holder. Its metrics are registered with reg when reg is not nil.
func NewHolder(log *slog.Logger, reg prometheus.Registerer) *Holder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Holder{
		log:     log,
		changed: make(chan struct{}),
		version: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "torua_shardmap_version", Help: "Version of the shard map in use (0: none yet).",
		}),
		updates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "torua_shardmap_updates_total", Help: "Shard maps accepted.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "torua_shardmap_rejected_total", Help: "Shard maps refused, by reason (invalid, stale, conflict).",
		}, []string{"reason"}),
	}
	for _, r := range []string{"invalid", "stale", "conflict"} {
		h.rejected.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(h.version, h.updates, h.rejected)
	}
	return h
}

// Current returns the map in use, or nil before the first valid map arrived. It is an atomic
// load, cheap enough for every request.
func (h *Holder) Current() *Map { return h.cur.Load() }

// Changed returns a channel that is closed when the next map is accepted.
func (h *Holder) Changed() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.changed
}

// OfferBytes decodes data and offers the result; a document that does not decode is refused
// as ErrInvalid and counted like any other refusal.
func (h *Holder) OfferBytes(data []byte, origin string) error {
	m, err := Decode(data)
	if err != nil {
		return h.refuse("invalid", fmt.Errorf("%w from %s: %w", ErrInvalid, origin, err))
	}
	return h.Offer(m, origin)
}

// Offer replaces the map in use with m if m is valid and newer. The same version with the same
// content is accepted silently as a no-op. Every refusal is logged and counted, and the map in
// use stays.
func (h *Holder) Offer(m *Map, origin string) error {
	if err := m.Validate(); err != nil {
		return h.refuse("invalid", fmt.Errorf("%w from %s: %w", ErrInvalid, origin, err))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	cur := h.cur.Load()
	if cur != nil {
		switch {
		case m.Cluster != cur.Cluster || m.Shards != cur.Shards:
			return h.refuseLocked("conflict", fmt.Errorf("%w from %s: cluster %q with %d shards, but %q with %d shards is in use",
				ErrConflict, origin, m.Cluster, m.Shards, cur.Cluster, cur.Shards))
		case m.Hash != cur.Hash:
			return h.refuseLocked("conflict", fmt.Errorf("%w from %s: hash scheme %q, but %q is in use and a cluster never changes it",
				ErrConflict, origin, m.Hash, cur.Hash))
		case m.Version < cur.Version:
			return h.refuseLocked("stale", fmt.Errorf("%w from %s: version %d is older than %d in use", ErrStale, origin, m.Version, cur.Version))
		case m.Version == cur.Version:
			if SameContent(m, cur) {
				return nil
			}
			return h.refuseLocked("conflict", fmt.Errorf("%w from %s: version %d differs from the map in use with the same version",
				ErrConflict, origin, m.Version))
		}
	}
	h.cur.Store(m)
	close(h.changed)
	h.changed = make(chan struct{})
	h.version.Set(float64(m.Version))
	h.updates.Inc()
	h.log.Info("Shard map accepted", "origin", origin, "version", m.Version, "nodes", len(m.Nodes), "shards", m.Shards)
	return nil
}

func (h *Holder) refuse(reason string, err error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.refuseLocked(reason, err)
}

func (h *Holder) refuseLocked(reason string, err error) error {
	h.rejected.WithLabelValues(reason).Inc()
	var held uint64
	if cur := h.cur.Load(); cur != nil {
		held = cur.Version
	}
	if reason == "stale" {
		h.log.Debug("Shard map refused", "reason", reason, "err", err, "heldVersion", held)
	} else {
		h.log.Warn("Shard map refused", "reason", reason, "err", err, "heldVersion", held)
	}
	return err
}
