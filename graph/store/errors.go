package store

import (
	"errors"
	"strings"
)

// Errors of the store. The node maps them to HTTP statuses (internal/httpx's table) through
// the sentinels they wrap there; here they name the outcome.
var (
	// ErrCorrupt marks a stored graph record this code cannot read.
	ErrCorrupt = errors.New("corrupt graph record")
	// ErrConflict means the write's preconditions kept failing: other writes to the same
	// vertices kept winning. Nothing was written; the caller may retry.
	ErrConflict = errors.New("the write kept conflicting with concurrent writes")
	// ErrSemantic wraps a refusal on the query's own terms (a vertex that still has
	// relationships, a primary key taken, a vertex gone): nothing was written.
	ErrSemantic = errors.New("refused")
	// ErrExpired means a request between shards arrived after its expiry: it is refused so
	// that a delayed request can never undo a newer one.
	ErrExpired = errors.New("request expired")
)

// Reason is the text of the refusal err wraps (ErrSemantic), as a person reads it: without the
// sentinel's word and without where in the write it arose ("mutation 3: "), which means nothing
// to whoever wrote the query. An error that is not a refusal gives its whole text.
func Reason(err error) string {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if errors.Unwrap(e) == ErrSemantic {
			return strings.TrimPrefix(e.Error(), ErrSemantic.Error()+": ")
		}
	}
	return err.Error()
}
