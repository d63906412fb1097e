package nodeapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/torua/torua/internal/httpx"
)

const (
	// DefaultTimeout bounds a call when Config.Timeout is zero.
	DefaultTimeout = 5 * time.Second
	// DefaultMaxBody bounds an answer's body when Config.MaxBody is zero: the largest answer a
	// caller reads is a listing page (10,000 keys of 1 KiB, with room).
	DefaultMaxBody = 32 << 20
	// DefaultMaxIdleConnsPerHost is how many idle keep-alive connections the client keeps
	// per node when Config.MaxIdleConnsPerHost is zero.
	DefaultMaxIdleConnsPerHost = 4
)

// Errors of a call, besides *Error (a non-2xx answer) and transport errors.
var (
	// ErrBadAnswer is a 2xx answer that cannot be used: its body is over the limit or does
	// not decode. The node answered, so the request reached it.
	ErrBadAnswer = errors.New("unusable answer")
	// ErrNoShardMap is a node's answer that it holds no shard map yet (404 to
	// GET /internal/shardmap).
	ErrNoShardMap = errors.New("node holds no shard map")
)

// Config configures a Client.
type Config struct {
	// Timeout bounds each call, reading the answer included (DefaultTimeout when zero). The
	// caller's context may end it earlier.
	Timeout time.Duration
	// MaxBody bounds the body read of each answer (DefaultMaxBody when zero).
	MaxBody int64
	// MaxIdleConnsPerHost bounds the idle keep-alive connections kept per node
	// (DefaultMaxIdleConnsPerHost when zero). Unused when HTTP is set.
	MaxIdleConnsPerHost int
	// HTTP does the requests; when nil the Client makes its own (2s dial timeout, keep-alive,
	// no proxy, no redirects: a node never redirects, and a redirect would mean a mangled path).
	HTTP *http.Client
}

// Client calls the HTTP API of any node, by its API address (host:port). It is safe for
// concurrent use.
type Client struct {
	timeout time.Duration
	maxBody int64
	http    *http.Client
}

// New returns a Client with cfg's policy.
func New(cfg Config) *Client {
	c := &Client{timeout: cfg.Timeout, maxBody: cfg.MaxBody, http: cfg.HTTP}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxBody
	}
	if c.http == nil {
		perHost := cfg.MaxIdleConnsPerHost
		if perHost <= 0 {
			perHost = DefaultMaxIdleConnsPerHost
		}
		c.http = &http.Client{
			Transport: &http.Transport{
				DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
				MaxIdleConnsPerHost: perHost,
				IdleConnTimeout:     90 * time.Second,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return c
}

// Close drops the idle connections. The Client stays usable.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Error is a node's answer other than 2xx.
type Error struct {
	// Method, Addr and Path name the request: "GET", "10.0.0.5:7070", "/internal/status".
	Method, Addr, Path string
	// StatusCode is the answer's HTTP status.
	StatusCode int
	// Body is the node's JSON error body; its zero value when the answer carried none.
	Body httpx.ErrorBody
}

func (e *Error) Error() string {
	msg := e.Body.Error
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("%s %s%s: node answered %d: %s", e.Method, e.Addr, e.Path, e.StatusCode, msg)
}

// StatusCode returns the status of the node's answer that err carries (an *Error in its
// chain), or 0 when err carries none.
func StatusCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.StatusCode
	}
	return 0
}

// do sends method path (with its query) to the node at addr and returns the 2xx answer's
// body, under the Client's policy.
func (c *Client) do(ctx context.Context, method, addr, path string) ([]byte, error) {
	answer, _, err := c.send(ctx, method, addr, path, nil, "", "")
	return answer, err
}

// PostJSON sends in as the JSON body of POST path to the node at addr and decodes its 2xx
// JSON answer into out (unless out is nil). Other APIs of the node (the graph store's,
// graph/shardapi) build their typed calls on it.
func (c *Client) PostJSON(ctx context.Context, addr, path string, in, out any) error {
	answer, _, err := c.PostJSONRaw(ctx, addr, path, in, "")
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return fmt.Errorf("POST %s%s: %w: %v", addr, path, ErrBadAnswer, err)
	}
	return nil
}

// PostJSONRaw sends in as PostJSON does, with accept as the Accept header (none when empty),
// and returns the 2xx answer's body and Content-Type as they came, for a caller that reads an
// answer format of its own (graph/shardapi's binary reads answer). A body such a caller
// cannot decode is its ErrBadAnswer to report.
func (c *Client) PostJSONRaw(ctx context.Context, addr, path string, in any, accept string) (body []byte, contentType string, err error) {
	req, err := json.Marshal(in)
	if err != nil {
		return nil, "", fmt.Errorf("POST %s%s: encode the request: %w", addr, path, err)
	}
	return c.send(ctx, http.MethodPost, addr, path, req, "application/json", accept)
}

// PostRaw sends body, encoded as contentType, as the body of POST path to the node at addr,
// with accept as PostJSONRaw does, and returns the 2xx answer as PostJSONRaw does: for a
// caller that writes a request format of its own (graph/shardapi's binary read requests).
// A node that does not read contentType answers 415 (an *Error).
func (c *Client) PostRaw(ctx context.Context, addr, path string, body []byte, contentType, accept string) (answer []byte, answerType string, err error) {
	if body == nil {
		body = []byte{}
	}
	return c.send(ctx, http.MethodPost, addr, path, body, contentType, accept)
}

// send sends method path with body (none if nil) of contentType, and accept (no Accept
// header if empty), to the node at addr and returns the 2xx answer's body and Content-Type,
// under the Client's policy.
func (c *Client) send(ctx context.Context, method, addr, path string, body []byte, contentType, accept string) ([]byte, string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, rd)
	if err != nil {
		return nil, "", err
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, "", err // a *url.Error naming the method and URL
	}
	defer func() { _ = resp.Body.Close() }()
	answer, err := readBody(resp, c.maxBody)
	if err != nil {
		return nil, "", fmt.Errorf("read the answer to %s %s%s: %w", method, addr, path, err)
	}
	over := int64(len(answer)) > c.maxBody
	if over {
		answer = answer[:c.maxBody]
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &Error{Method: method, Addr: addr, Path: path, StatusCode: resp.StatusCode}
		_ = json.Unmarshal(answer, &e.Body) // a body in another format leaves it empty
		return nil, "", e
	}
	if over {
		return nil, "", fmt.Errorf("%s %s%s: %w: the body is over %d bytes", method, addr, path, ErrBadAnswer, c.maxBody)
	}
	return answer, resp.Header.Get("Content-Type"), nil
}

// readBody reads resp's body, up to max+1 bytes: into one buffer of the size its
// Content-Length says when that is within max (a large answer is not copied as it grows),
// else as it comes.
func readBody(resp *http.Response, max int64) ([]byte, error) {
	r := io.LimitReader(resp.Body, max+1)
	if n := resp.ContentLength; n > 0 && n <= max {
		b := make([]byte, n)
		// NB: net/http ends the body at its Content-Length and with the last bytes says EOF,
		// so the connection is reused: a short body is io.ErrUnexpectedEOF.
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	return io.ReadAll(r)
}

// getJSON sends GET path to the node at addr and decodes its 2xx JSON answer into v.
func (c *Client) getJSON(ctx context.Context, addr, path string, v any) error {
	body, err := c.do(ctx, http.MethodGet, addr, path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s%s: %w: %v", addr, path, ErrBadAnswer, err)
	}
	return nil
}
