package client

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
)

// Sentinel errors. The *Error values the router answers match them with errors.Is by status
// code, and so do connection failures for ErrUnavailable.
var (
	// ErrBadRequest matches a 400 answer: an invalid key, header or query parameter.
	ErrBadRequest = errors.New("bad request")
	// ErrNotFound matches a 404 answer: the key does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConditionFailed matches a 412 answer: an If-Match or If-None-Match precondition failed.
	ErrConditionFailed = errors.New("precondition failed")
	// ErrConflict matches a 409 answer: a graph query's change contradicts the graph (a
	// vertex that still has relationships, a primary key taken).
	ErrConflict = errors.New("conflict")
	// ErrTooLarge matches a 413 answer: the value is over the router's limit (or a graph
	// query's intermediate result over its row limit).
	ErrTooLarge = errors.New("value too large")
	// ErrUnavailable matches a 503 answer (the key's shard has no reachable owner) and every
	// failure to connect to the router itself.
	ErrUnavailable = errors.New("unavailable")
	// ErrUnreachable matches only a failure to connect to the router: nothing was sent, so
	// the router did not act on the request.
	ErrUnreachable = errors.New("router unreachable")
	// ErrInvalidKey is returned, before any request is sent, for an empty key.
	ErrInvalidKey = errors.New("invalid key")
)

// Error is an error answer from the router: a status code other than the one the call
// expects, with the message of its JSON body ({"error": "..."}).
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Message is the body's "error" field, or the body's text when it is not JSON.
	Message string
	// Line and Column place a graph query's fault in the query (1-based; 0 when the fault has
	// no place, or the answer is not about a query).
	Line, Column int
}

// Error returns the status code, its text and the message, e.g.
// "412 Precondition Failed: revision is 7, not 5". A message that starts with the status's
// text ("conflict: cannot delete vertex 7 ...", as servers phrase errors) does not say it twice.
func (e *Error) Error() string {
	text := http.StatusText(e.Status)
	switch {
	case e.Message == "":
		return fmt.Sprintf("%d %s", e.Status, text)
	case text == "":
		return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message)
	default:
		msg := e.Message
		if len(msg) > len(text)+2 && strings.EqualFold(msg[:len(text)], text) && msg[len(text):len(text)+2] == ": " {
			msg = msg[len(text)+2:]
		}
		return fmt.Sprintf("%d %s: %s", e.Status, text, msg)
	}
}

// Is reports whether the status code of e is the one target stands for.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrBadRequest:
		return e.Status == http.StatusBadRequest
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrConflict:
		return e.Status == http.StatusConflict
	case ErrConditionFailed:
		return e.Status == http.StatusPreconditionFailed
	case ErrTooLarge:
		return e.Status == http.StatusRequestEntityTooLarge
	case ErrUnavailable:
		return e.Status == http.StatusServiceUnavailable
	}
	return false
}

// unreachableError says that no connection to the router could be made. It matches
// ErrUnreachable and ErrUnavailable and unwraps to the dial error as well.
type unreachableError struct {
	baseURL string
	err     error
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("cannot reach router at %s: %s", e.baseURL, dialReason(e.err))
}

func (e *unreachableError) Unwrap() []error { return []error{ErrUnreachable, ErrUnavailable, e.err} }

// isDialError reports whether err happened while connecting, before any byte of the request
// was sent (so the router certainly did not act on it).
func isDialError(err error) bool {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return true
	}
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr)
}

// dialReason returns the short cause of a dial error: "connection refused" rather than
// "dial tcp 127.0.0.1:8080: connect: connection refused".
func dialReason(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.Error()
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		return opErr.Err.Error()
	}
	return err.Error()
}
