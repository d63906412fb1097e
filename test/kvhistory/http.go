package kvhistory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/torua/torua/internal/httpx"
)

// Target is a server a recording client talks to: a router (/data/) or one node (/store/).
type Target struct {
	Name   string
	Base   string // http://host:port
	Prefix string // "/data/" or "/store/"
	Query  string // added to every request's URL, e.g. "?consistency=stale"
	// Client sends the requests; HTTPClient when nil.
	Client *http.Client
}

// HTTPClient is the recording clients' default HTTP client: no overall timeout (each
// operation has its context), enough idle connections for every worker, no redirects.
var HTTPClient = &http.Client{
	Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Do sends in to target and classifies the answer; an answer that breaks the API contract is
// recorded in h (Contract). It does not add the operation to h. Raw net/http rather than
// router/client: the same code must address nodes (/store/) and tell apart every status that
// decides whether a write's outcome is known.
func Do(ctx context.Context, h *History, target Target, in Input) Output {
	hc := target.Client
	if hc == nil {
		hc = HTTPClient
	}
	u := target.Base + target.Prefix + httpx.EscapeKey(in.Key) + target.Query
	method, body := http.MethodGet, io.Reader(nil)
	if in.Op != OpGet {
		method, body = http.MethodPut, strings.NewReader(in.Value)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		h.Contract("%s %s: %v", method, u, err)
		return Output{Result: ResNone}
	}
	if in.Op == OpCAS {
		req.Header.Set("If-Match", httpx.ETag(in.Match))
	}
	resp, err := hc.Do(req)
	if err != nil {
		if in.Op == OpGet || IsDialError(err) {
			// A failed read changes nothing; a write whose connection was refused was not sent.
			return Output{Result: ResNone, Detail: err.Error()}
		}
		return Output{Result: ResUnknown, Detail: shortErr(ctx, err)}
	}
	defer func() { _ = resp.Body.Close() }()
	data, readErr := io.ReadAll(io.LimitReader(resp.Body, 2<<20))
	code := resp.StatusCode
	detail := fmt.Sprintf("%d %s", code, bytes.TrimSpace(data))
	if readErr != nil {
		if in.Op == OpGet {
			return Output{Result: ResNone, Detail: readErr.Error()}
		}
		detail += ": " + readErr.Error()
	}
	switch {
	case code == http.StatusOK && in.Op == OpGet && readErr == nil:
		rev, err := httpx.ParseETag(resp.Header.Get("ETag"))
		if err != nil || rev == 0 {
			h.Contract("%s %s answered 200 with ETag %q", method, u, resp.Header.Get("ETag"))
			return Output{Result: ResNone}
		}
		return Output{Result: ResOK, Value: string(data), Rev: rev}
	case code == http.StatusNotFound && in.Op == OpGet:
		return Output{Result: ResNotFound}
	case in.Op == OpGet:
		return Output{Result: ResNone, Detail: detail}
	case code/100 == 2:
		rev, err := httpx.ParseETag(resp.Header.Get("ETag"))
		if err != nil || rev == 0 {
			h.Contract("%s %s answered %d with ETag %q", method, u, code, resp.Header.Get("ETag"))
			return Output{Result: ResUnknown, Detail: "no ETag"}
		}
		return Output{Result: ResOK, Rev: rev}
	case code == http.StatusPreconditionFailed && in.Op == OpCAS:
		return Output{Result: ResFailed}
	case code == http.StatusMisdirectedRequest, code == http.StatusTooManyRequests:
		// Refused before being applied: not the leader, or overloaded.
		return Output{Result: ResNone, Detail: detail}
	case code >= 500:
		return Output{Result: ResUnknown, Detail: detail}
	default:
		h.Contract("%s %s (%s) answered %s", method, u, in.Op, detail)
		return Output{Result: ResUnknown, Detail: detail}
	}
}

// IsDialError reports whether err happened while connecting: the request was not sent.
func IsDialError(err error) bool {
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// shortErr names a request error briefly: "timeout" when ctx ended, else the error's cause.
func shortErr(ctx context.Context, err error) string {
	if ctx.Err() != nil {
		return "timeout"
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		return opErr.Err.Error()
	}
	return err.Error()
}
