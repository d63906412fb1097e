package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
)

// Sentinel errors shared by the node and the router. Handlers return them (wrapped with %w and
// context); WriteError maps them to statuses.
var (
	// ErrBadRequest is malformed input: an empty or oversized key, a bad query parameter, a bad header.
	ErrBadRequest = errors.New("bad request")
	// ErrNotFound is a key that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrMethodNotAllowed is a method the route does not serve.
	ErrMethodNotAllowed = errors.New("method not allowed")
	// ErrConflict is a request that contradicts the server's state (for example a cluster change in progress).
	ErrConflict = errors.New("conflict")
	// ErrPreconditionFailed is an If-Match / If-None-Match that does not hold.
	ErrPreconditionFailed = errors.New("precondition failed")
	// ErrTooLarge is a value over the size limit, or a transaction over its op or size limit.
	ErrTooLarge = errors.New("value too large")
	// ErrUnsupportedMediaType is a request body of a Content-Type the server does not read.
	ErrUnsupportedMediaType = errors.New("unsupported media type")
	// ErrMisdirected is a key whose shard this node does not host under its map.
	ErrMisdirected = errors.New("misdirected request")
	// ErrOverloaded is a server at its in-flight request limit.
	ErrOverloaded = errors.New("too many requests")
	// ErrBadGateway is an upstream that failed mid-request.
	ErrBadGateway = errors.New("bad gateway")
	// ErrUnavailable is a server that cannot serve yet (no map, shard owner unreachable, shutting down).
	ErrUnavailable = errors.New("unavailable")
)

var statusOf = []struct {
	err    error
	status int
}{
	{ErrBadRequest, http.StatusBadRequest},
	{ErrNotFound, http.StatusNotFound},
	{ErrMethodNotAllowed, http.StatusMethodNotAllowed},
	{ErrConflict, http.StatusConflict},
	{ErrPreconditionFailed, http.StatusPreconditionFailed},
	{ErrTooLarge, http.StatusRequestEntityTooLarge},
	{ErrUnsupportedMediaType, http.StatusUnsupportedMediaType},
	{ErrMisdirected, http.StatusMisdirectedRequest},
	{ErrOverloaded, http.StatusTooManyRequests},
	{ErrBadGateway, http.StatusBadGateway},
	{ErrUnavailable, http.StatusServiceUnavailable},
}

// Status returns the HTTP status for err: the first sentinel it wraps, else 500.
func Status(err error) int {
	for _, s := range statusOf {
		if errors.Is(err, s.err) {
			return s.status
		}
	}
	return http.StatusInternalServerError
}

// ErrorBody is the JSON body of every error response. Extra fields carry machine-readable
// detail where a client can act on it.
type ErrorBody struct {
	Error string `json:"error"`
	// MapVersion is the shard map version the answering server holds (421 answers).
	MapVersion uint64 `json:"mapVersion,omitempty"`
	// Leader is the node ID of the shard's leader as the answering node knows it (421 answers).
	Leader string `json:"leader,omitempty"`
	// Failed is the index of the op that failed in an aborted transaction (412 answers to
	// POST /txn).
	Failed *int `json:"failed,omitempty"`
}

// Describe returns err's status and error body. The body of an internal error (500) says
// only "internal error": the caller logs the detail.
func Describe(err error) (int, ErrorBody) {
	status := Status(err)
	body := ErrorBody{Error: err.Error()}
	var detail interface{ Detail() ErrorBody }
	if errors.As(err, &detail) {
		d := detail.Detail()
		body.MapVersion, body.Leader, body.Failed = d.MapVersion, d.Leader, d.Failed
	}
	if status == http.StatusInternalServerError {
		body.Error = "internal error"
	}
	return status, body
}

// WriteError answers r with err's status and a JSON body. Internal errors (500) are logged with
// the request and answered with a generic message, never the internal detail.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	status, body := Describe(err)
	if status == http.StatusInternalServerError {
		log.Error("Request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	WriteJSON(w, status, body)
}

// WriteJSON answers with status and v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Del("Content-Length")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// OnlyMethods answers 405 with an Allow header and a JSON body. Register it on a bare path
// (e.g. "/data") beside its method patterns: without it ServeMux redirects other methods on
// that path to the subtree below it ("/data/").
func OnlyMethods(log *slog.Logger, allow ...string) http.HandlerFunc {
	allowed := strings.Join(allow, ", ")
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allowed)
		WriteError(w, r, log, fmt.Errorf("%w: %s; allowed: %s", ErrMethodNotAllowed, r.Method, allowed))
	}
}
