package httpx

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/torua/torua/internal/kv"
)

// MaxKeySize is the longest key, in bytes after URL-decoding.
const MaxKeySize = 1024

// DefaultMaxValueSize is the default limit on a value's size.
const DefaultMaxValueSize = 1 << 20

// CheckKey validates a decoded key: non-empty, at most MaxKeySize bytes, valid UTF-8 (keys
// appear in JSON listings, which cannot carry arbitrary bytes), and outside the namespace
// reserved for Torua's own data (kv.ReservedPrefix).
func CheckKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: the key must not be empty", ErrBadRequest)
	case len(key) > MaxKeySize:
		return fmt.Errorf("%w: the key is %d bytes, more than the %d allowed", ErrBadRequest, len(key), MaxKeySize)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: the key must be valid UTF-8", ErrBadRequest)
	case kv.Reserved(key):
		return fmt.Errorf("%w: keys that begin with a NUL byte are reserved for Torua's graph store", ErrBadRequest)
	}
	return nil
}

// ReadValue reads a request body of at most limit bytes; a larger one is ErrTooLarge, found from
// Content-Length before reading when the client sent one.
func ReadValue(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: the value is %d bytes, more than the %d allowed", ErrTooLarge, r.ContentLength, limit)
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the value: %v", ErrBadRequest, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: the value is more than the %d bytes allowed", ErrTooLarge, limit)
	}
	return data, nil
}

// ParsePrecondition reads If-Match and If-None-Match from a write request.
func ParsePrecondition(h http.Header) (kv.Precondition, error) {
	im, inm := strings.TrimSpace(h.Get("If-Match")), strings.TrimSpace(h.Get("If-None-Match"))
	switch {
	case im != "" && inm != "":
		return kv.Precondition{}, fmt.Errorf("%w: send If-Match or If-None-Match, not both", ErrBadRequest)
	case inm == "*":
		return kv.Precondition{Kind: kv.CondAbsent}, nil
	case inm != "":
		return kv.Precondition{}, fmt.Errorf("%w: If-None-Match on a write must be *", ErrBadRequest)
	case im == "*":
		return kv.Precondition{Kind: kv.CondExists}, nil
	case im != "":
		rev, err := ParseETag(im)
		if err != nil {
			return kv.Precondition{}, fmt.Errorf("%w: If-Match: %v", ErrBadRequest, err)
		}
		return kv.Precondition{Kind: kv.CondRevision, Revision: rev}, nil
	}
	return kv.Precondition{}, nil
}

// ETag formats a revision as a strong entity tag.
func ETag(rev uint64) string { return `"` + strconv.FormatUint(rev, 10) + `"` }

// ParseETag parses an entity tag made by ETag.
func ParseETag(tag string) (uint64, error) {
	if len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' {
		return 0, fmt.Errorf("%q is not an entity tag like \"42\"", tag)
	}
	rev, err := strconv.ParseUint(tag[1:len(tag)-1], 10, 64)
	if err != nil || rev == 0 {
		return 0, fmt.Errorf("%q is not an entity tag like \"42\"", tag)
	}
	return rev, nil
}

// ListParams are the query parameters of a listing.
type ListParams struct {
	Prefix, After string
	Limit         int
}

// DefaultListLimit and MaxListLimit bound a listing page.
const (
	DefaultListLimit = 100
	MaxListLimit     = 10000
)

// ParseConsistency reads ?consistency= (empty or "linearizable": false; "stale": true).
func ParseConsistency(r *http.Request) (stale bool, err error) {
	switch c := r.URL.Query().Get("consistency"); c {
	case "", "linearizable":
		return false, nil
	case "stale":
		return true, nil
	default:
		return false, fmt.Errorf("%w: consistency must be linearizable or stale, got %q", ErrBadRequest, c)
	}
}

// ParseList reads prefix, after and limit from a listing request.
func ParseList(r *http.Request) (ListParams, error) {
	q := r.URL.Query()
	p := ListParams{Prefix: q.Get("prefix"), After: q.Get("after"), Limit: DefaultListLimit}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxListLimit {
			return p, fmt.Errorf("%w: limit must be a whole number in 1..%d, got %q", ErrBadRequest, MaxListLimit, s)
		}
		p.Limit = n
	}
	if len(p.Prefix) > MaxKeySize || len(p.After) > MaxKeySize {
		return p, fmt.Errorf("%w: prefix and after are at most %d bytes", ErrBadRequest, MaxKeySize)
	}
	if kv.Reserved(p.Prefix) {
		return p, fmt.Errorf("%w: keys that begin with a NUL byte are reserved for Torua's graph store", ErrBadRequest)
	}
	return p, nil
}

// ListPage is the JSON body of a listing.
type ListPage struct {
	Keys []string `json:"keys"`
	// Next, when not empty, is the `after` value that fetches the next page.
	Next string `json:"next,omitempty"`
}

// Page sorts keys and cuts them to limit, setting Next when more remain (more: some source
// had keys beyond those it returned).
func Page(keys []string, limit int, more bool) ListPage {
	slices.Sort(keys)
	if len(keys) > limit {
		keys, more = keys[:limit], true
	}
	page := ListPage{Keys: keys}
	if page.Keys == nil {
		page.Keys = []string{}
	}
	if more && len(keys) > 0 {
		page.Next = keys[len(keys)-1]
	}
	return page
}

// EscapeKey encodes key as one URL path segment that reaches the server's {key...} pattern
// unchanged: url.PathEscape (which escapes '/'), plus '.' for the keys "." and "..", which
// would otherwise be cleaned away as dot segments.
func EscapeKey(key string) string {
	switch key {
	case ".":
		return "%2E"
	case "..":
		return "%2E%2E"
	}
	return url.PathEscape(key)
}
