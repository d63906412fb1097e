package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/torua/torua/internal/httpx"
	"github.com/torua/torua/internal/wire"
)

// DefaultMaxConnsPerHost is how many idle keep-alive connections a Client keeps to the
// router unless WithMaxConnsPerHost says otherwise.
const DefaultMaxConnsPerHost = 64

// maxErrorBody bounds how much of an error answer's body is read.
const maxErrorBody = 64 << 10

// Client talks to one Torua router. It is safe for concurrent use.
type Client struct {
	base       string // scheme://host[:port][/path], no trailing slash
	httpClient *http.Client
	ownsHTTP   bool
	// wire, when set, carries Get, Put and Delete (WithWire) to wireAddr.
	wire     *wire.Pool
	wireAddr string
	timeout  time.Duration
	// queryOverHTTP is set once the router refused a query over the wire protocol (a router
	// of an earlier version): queries go over HTTP from then on.
	queryOverHTTP atomic.Bool
}

// Option configures a Client made by New.
type Option func(*options)

type options struct {
	httpClient  *http.Client
	maxConns    int
	timeout     time.Duration
	dialTimeout time.Duration
	wire        bool
}

// WithHTTPClient makes the Client send its requests through hc instead of its own tuned
// transport; WithMaxConnsPerHost and WithTimeout then have no effect.
func WithHTTPClient(hc *http.Client) Option { return func(o *options) { o.httpClient = hc } }

// WithMaxConnsPerHost sizes the keep-alive pool: set it to the number of goroutines that use
// the Client at once, so that none of them has to open a new connection per request.
func WithMaxConnsPerHost(n int) Option { return func(o *options) { o.maxConns = n } }

// WithTimeout bounds every request, from dialling to reading the whole answer (0: no bound
// other than the context's).
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithDialTimeout bounds the time to open a connection to the router (default 5s).
func WithDialTimeout(d time.Duration) Option { return func(o *options) { o.dialTimeout = d } }

// WithWire sends Get, Put, Delete and Query over the wire protocol (one TCP connection to
// the router's port that every goroutine's requests share, see docs/api.md) instead of HTTP:
// the same answers for much less CPU per request when many requests are in flight.
// Listings, imports and cluster calls stay on HTTP. A query whose context ends stops the
// client waiting, but runs on in the router until its time limit (QueryTimeout): the shared
// connection stays open, where over HTTP the router sees its connection close. It needs an http:// URL without a path.
func WithWire() Option { return func(o *options) { o.wire = true } }

// New returns a Client for the router at baseURL, e.g. "http://127.0.0.1:8080". A baseURL
// without a scheme gets "http://"; a path in it is kept as a prefix of every request path.
func New(baseURL string, opts ...Option) (*Client, error) {
	o := options{maxConns: DefaultMaxConnsPerHost, dialTimeout: 5 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	base, err := normalizeBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	c := &Client{base: base, httpClient: o.httpClient, timeout: o.timeout}
	if o.wire {
		u, _ := url.Parse(base)
		if u.Scheme != "http" || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("router URL %q: the wire protocol needs http://host:port, without a path", baseURL)
		}
		c.wireAddr = u.Host
		if u.Port() == "" {
			c.wireAddr = net.JoinHostPort(u.Hostname(), "80")
		}
		c.wire = &wire.Pool{DialTimeout: o.dialTimeout}
	}
	if c.httpClient == nil {
		c.httpClient = &http.Client{Transport: newTransport(o), Timeout: o.timeout}
		c.ownsHTTP = true
	}
	return c, nil
}

func normalizeBaseURL(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", fmt.Errorf("router URL is empty")
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("router URL %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("router URL %q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("router URL %q has no host", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("router URL %q must not have a query or fragment", raw)
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), nil
}

func newTransport(o options) *http.Transport {
	dialer := &net.Dialer{Timeout: o.dialTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         dialer.DialContext,
		MaxIdleConns:        max(100, o.maxConns),
		MaxIdleConnsPerHost: o.maxConns,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		// Values are opaque bytes; the router does not compress them and a transparent
		// gzip layer would only cost CPU on both sides.
		DisableCompression: true,
	}
}

// URL returns the router's base URL as the Client uses it.
func (c *Client) URL() string { return c.base }

// Close releases the Client's idle connections. The Client stays usable.
func (c *Client) Close() {
	if c.ownsHTTP {
		c.httpClient.CloseIdleConnections()
	}
	if c.wire != nil {
		c.wire.Close()
	}
}

// GetOption changes how Get reads a key.
type GetOption func(url.Values)

// Stale lets any replica of the key's shard answer (?consistency=stale) instead of only its
// leader: faster, but the value may be behind the latest write.
func Stale() GetOption { return func(q url.Values) { q.Set("consistency", "stale") } }

// PutOption is a precondition for Put or Delete; the router answers 412 (ErrConditionFailed)
// when it does not hold and leaves the key as it was.
type PutOption func(http.Header)

// IfMatch makes the write succeed only if the key exists at revision rev (If-Match: "rev").
func IfMatch(rev uint64) PutOption {
	return func(h http.Header) { h.Set("If-Match", `"`+strconv.FormatUint(rev, 10)+`"`) }
}

// IfExists makes the write succeed only if the key exists, at any revision (If-Match: *).
func IfExists() PutOption { return func(h http.Header) { h.Set("If-Match", "*") } }

// IfAbsent makes a Put succeed only if the key does not exist (If-None-Match: *).
func IfAbsent() PutOption { return func(h http.Header) { h.Set("If-None-Match", "*") } }

// Get returns the value of key and its revision. A missing key is ErrNotFound.
func (c *Client) Get(ctx context.Context, key string, opts ...GetOption) ([]byte, uint64, error) {
	if c.wire != nil {
		q := url.Values{}
		for _, opt := range opts {
			opt(q)
		}
		req := &wire.Request{Op: wire.OpGet, Key: key}
		if q.Get("consistency") == "stale" {
			req.Flags |= wire.FlagStale
		}
		resp, err := c.doWire(ctx, req, http.StatusOK)
		if err != nil {
			return nil, 0, err
		}
		return resp.Body, resp.Revision, nil
	}
	u, err := c.keyURL(key)
	if err != nil {
		return nil, 0, err
	}
	if len(opts) > 0 {
		q := url.Values{}
		for _, opt := range opts {
			opt(q)
		}
		u += "?" + q.Encode()
	}
	resp, err := c.do(ctx, http.MethodGet, u, nil, nil)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, readError(resp)
	}
	rev, err := parseETag(resp.Header.Get("ETag"))
	if err != nil {
		return nil, 0, err
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength))
	}
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return nil, 0, fmt.Errorf("GET %s: read value: %w", u, err)
	}
	return buf.Bytes(), rev, nil
}

// Put stores value under key and returns the key's new revision.
func (c *Client) Put(ctx context.Context, key string, value []byte, opts ...PutOption) (uint64, error) {
	return c.write(ctx, http.MethodPut, key, value, opts)
}

// Delete removes key. A missing key is ErrNotFound. IfMatch and IfExists apply.
func (c *Client) Delete(ctx context.Context, key string, opts ...PutOption) error {
	_, err := c.write(ctx, http.MethodDelete, key, nil, opts)
	return err
}

func (c *Client) write(ctx context.Context, method, key string, value []byte, opts []PutOption) (uint64, error) {
	if c.wire != nil {
		h := http.Header{}
		for _, opt := range opts {
			opt(h)
		}
		pre, err := httpx.ParsePrecondition(h)
		if err != nil {
			return 0, err
		}
		req := &wire.Request{Op: wire.OpPut, Key: key, Value: value, Cond: pre}
		if method == http.MethodDelete {
			req.Op = wire.OpDelete
		}
		resp, err := c.doWire(ctx, req, http.StatusNoContent)
		if err != nil {
			return 0, err
		}
		return resp.Revision, nil
	}
	u, err := c.keyURL(key)
	if err != nil {
		return 0, err
	}
	h := http.Header{}
	for _, opt := range opts {
		opt(h)
	}
	var body io.Reader
	if method == http.MethodPut {
		// NB: a *bytes.Reader lets net/http set Content-Length and replay the body when a
		// pooled connection turns out to be closed before the request was written.
		body = bytes.NewReader(value)
		h.Set("Content-Type", "application/octet-stream")
	}
	resp, err := c.do(ctx, method, u, h, body)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return 0, readError(resp)
	}
	drain(resp.Body)
	if method == http.MethodDelete {
		return 0, nil
	}
	return parseETag(resp.Header.Get("ETag"))
}

// List returns up to limit keys that start with prefix and sort after after (both may be
// empty), in ascending byte order, and the key to pass as after for the next page ("" when
// there are no more). limit <= 0 leaves the page size to the router (100).
func (c *Client) List(ctx context.Context, prefix, after string, limit int) ([]string, string, error) {
	q := url.Values{}
	if prefix != "" {
		q.Set("prefix", prefix)
	}
	if after != "" {
		q.Set("after", after)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	u := c.base + "/data"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var page struct {
		Keys []string `json:"keys"`
		Next string   `json:"next"`
	}
	if err := c.getJSON(ctx, u, &page); err != nil {
		return nil, "", err
	}
	return page.Keys, page.Next, nil
}

// ListAll yields every key that starts with prefix, in ascending order, fetching pages of
// pageSize keys (<= 0: the router's default) as the loop goes. An error ends the sequence
// after being yielded once with an empty key.
func (c *Client) ListAll(ctx context.Context, prefix string, pageSize int) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		after := ""
		for {
			keys, next, err := c.List(ctx, prefix, after, pageSize)
			if err != nil {
				yield("", err)
				return
			}
			for _, k := range keys {
				if !yield(k, nil) {
					return
				}
			}
			if next == "" || next == after {
				return
			}
			after = next
		}
	}
}

// Cluster returns the router's shard map and its view of every node.
func (c *Client) Cluster(ctx context.Context) (*ClusterInfo, error) {
	var info ClusterInfo
	if err := c.getJSON(ctx, c.base+"/cluster", &info); err != nil {
		return nil, err
	}
	return &info, nil
}

func (c *Client) getJSON(ctx context.Context, u string, v any) error {
	resp, err := c.do(ctx, http.MethodGet, u, http.Header{"Accept": {"application/json"}}, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return readError(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("GET %s: decode answer: %w", u, err)
	}
	drain(resp.Body)
	return nil
}

// keyURL returns the URL of key: the key is one escaped path segment.
func (c *Client) keyURL(key string) (string, error) {
	if key == "" {
		return "", fmt.Errorf("%w: key is empty", ErrInvalidKey)
	}
	return c.base + "/data/" + EscapeKey(key), nil
}

// EscapeKey returns key as one escaped URL path segment. It is url.PathEscape, except that
// the keys "." and ".." have their dots escaped too: servers clean those segments out of a
// path before routing it.
func EscapeKey(key string) string { return httpx.EscapeKey(key) }

func (c *Client) do(ctx context.Context, method, u string, h http.Header, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("%s %s: %w", method, u, ctxErr)
		}
		if isDialError(err) {
			return nil, &unreachableError{baseURL: c.base, err: err}
		}
		return nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	return resp, nil
}

// doWire sends req over the wire protocol and turns an answer other than want into an
// *Error.
func (c *Client) doWire(ctx context.Context, req *wire.Request, want int) (wire.Response, error) {
	if req.Key == "" {
		return wire.Response{}, fmt.Errorf("%w: key is empty", ErrInvalidKey)
	}
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	resp, err := c.wire.Do(ctx, c.wireAddr, req)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return resp, fmt.Errorf("%s %q: %w", req.Op, req.Key, ctx.Err())
	case isDialError(err) || errors.Is(err, wire.ErrNotSent):
		return resp, &unreachableError{baseURL: c.base, err: err}
	default:
		return resp, fmt.Errorf("%s %q: %w", req.Op, req.Key, err)
	}
	if resp.Status != want {
		return resp, answerError(resp.Status, resp.Body)
	}
	return resp, nil
}

// readError turns a non-success answer into an *Error and closes nothing: the caller does.
func readError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	drain(resp.Body)
	return answerError(resp.StatusCode, body)
}

// answerError is the *Error for an answer with status and body: the body's "error" field,
// or its text when it is not JSON.
func answerError(status int, body []byte) *Error {
	e := &Error{Status: status}
	var msg struct {
		Error  string `json:"error"`
		Line   int    `json:"line"`
		Column int    `json:"column"`
	}
	if json.Unmarshal(body, &msg) == nil && msg.Error != "" {
		e.Message, e.Line, e.Column = msg.Error, msg.Line, msg.Column
	} else {
		e.Message = strings.TrimSpace(string(body))
	}
	return e
}

// drain reads what is left of a body (up to a bound) so that its connection can be reused.
func drain(body io.Reader) { _, _ = io.Copy(io.Discard, io.LimitReader(body, maxErrorBody)) }

// parseETag parses the router's ETag (httpx.ETag's form). A missing ETag is revision 0. A weak
// tag is read too: a compressing proxy in front of the router weakens strong tags.
func parseETag(etag string) (uint64, error) {
	if etag == "" {
		return 0, nil
	}
	return httpx.ParseETag(strings.TrimPrefix(etag, "W/"))
}
