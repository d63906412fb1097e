package benchstore

import (
	"context"
	"errors"
	"strconv"

	"github.com/torua/torua/router/client"
	"github.com/torua/torua/router/client/bench"
)

// Store sends a run's operations to a router.
type Store struct{ c *client.Client }

var _ bench.Store = Store{}

// New returns a Store over c. Give c a keep-alive pool of at least the run's concurrency
// (client.WithMaxConnsPerHost).
func New(c *client.Client) Store { return Store{c: c} }

// Put writes value under key.
func (s Store) Put(ctx context.Context, key string, value []byte) error {
	_, err := s.c.Put(ctx, key, value)
	return err
}

// Get reads key, with ?consistency=stale when stale is set.
func (s Store) Get(ctx context.Context, key string, stale bool) (bool, error) {
	var opts []client.GetOption
	if stale {
		opts = append(opts, client.Stale())
	}
	_, _, err := s.c.Get(ctx, key, opts...)
	if errors.Is(err, client.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Transient reports a 503 (no leader yet, an unknown outcome) or no answer at all: writing
// the same value again is harmless.
func (Store) Transient(err error) bool { return errors.Is(err, client.ErrUnavailable) }

// ErrorKind names the kind of a failed operation: "unavailable" (503), "not_found",
// "condition_failed", "http_<status>" for other statuses, "unreachable" (no connection to
// the router), "timeout" or "transport".
func (Store) ErrorKind(err error) string {
	var e *client.Error
	switch {
	case errors.As(err, &e) && e.Status == 503:
		return "unavailable"
	case errors.As(err, &e) && e.Status == 404:
		return "not_found"
	case errors.As(err, &e) && e.Status == 412:
		return "condition_failed"
	case errors.As(err, &e):
		return "http_" + strconv.Itoa(e.Status)
	case errors.Is(err, client.ErrUnavailable):
		return "unreachable"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	default:
		var te interface{ Timeout() bool }
		if errors.As(err, &te) && te.Timeout() {
			return "timeout"
		}
		return "transport"
	}
}
