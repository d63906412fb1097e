package clienttest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/torua/torua/router/client"
)

// MaxKeyLen and MaxValueLen are the limits the fake router enforces, as the router does.
const (
	MaxKeyLen   = 1024
	MaxValueLen = 1 << 20
)

// Request is what the fake router saw of one request.
type Request struct {
	// Method is the HTTP method.
	Method string
	// Key is r.PathValue("key") for /data/{key...} routes, "" for the list route.
	Key string
	// Path is the escaped path as it came on the wire, e.g. "/data/a%2Fb".
	Path string
	// Query is the raw query string.
	Query string
	// Header holds the request's headers.
	Header http.Header
}

type entry struct {
	value []byte
	rev   uint64
}

// Router is a fake router serving the public API on an httptest server at 127.0.0.1.
// It is safe for concurrent use.
type Router struct {
	// URL is the base URL of the fake router, e.g. "http://127.0.0.1:41234".
	URL    string
	server *httptest.Server

	mu       sync.Mutex
	data     map[string]entry
	rev      uint64
	requests []Request
	cluster  *client.ClusterInfo
	// Intercept, when set, sees every request first and answers it instead of the fake
	// when it returns true.
	intercept func(w http.ResponseWriter, r *http.Request) bool
}

// NewRouter starts a fake router; it is closed when the test ends.
func NewRouter(t interface {
	Cleanup(func())
}) *Router {
	f := &Router{data: map[string]entry{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /data/{key...}", f.get)
	mux.HandleFunc("PUT /data/{key...}", f.put)
	mux.HandleFunc("DELETE /data/{key...}", f.del)
	mux.HandleFunc("GET /data", f.list)
	mux.HandleFunc("GET /cluster", f.clusterInfo)
	f.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		icpt := f.intercept
		f.mu.Unlock()
		if icpt != nil && icpt(w, r) {
			return
		}
		mux.ServeHTTP(w, r)
	}))
	f.URL = f.server.URL
	t.Cleanup(f.server.Close)
	return f
}

// Close stops the fake router; requests to it then fail to connect.
func (f *Router) Close() { f.server.Close() }

// SetIntercept installs fn to see every request before the fake does; fn answers the request
// itself and returns true, or returns false to let the fake answer. nil removes it.
func (f *Router) SetIntercept(fn func(w http.ResponseWriter, r *http.Request) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.intercept = fn
}

// SetCluster sets the answer of GET /cluster.
func (f *Router) SetCluster(info *client.ClusterInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cluster = info
}

// Requests returns the key requests seen so far, oldest first.
func (f *Router) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// Value returns the stored value and revision of key.
func (f *Router) Value(key string) ([]byte, uint64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.data[key]
	return e.value, e.rev, ok
}

// Len returns the number of stored keys.
func (f *Router) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.data)
}

// Set stores value under key directly and returns its revision.
func (f *Router) Set(key string, value []byte) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rev++
	f.data[key] = entry{value: slices.Clone(value), rev: f.rev}
	return f.rev
}

// WriteError answers with the router's JSON error body.
func WriteError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func setETag(w http.ResponseWriter, rev uint64) {
	w.Header().Set("ETag", `"`+strconv.FormatUint(rev, 10)+`"`)
}

// record logs r and checks its key; it returns the key and false after answering 400.
func (f *Router) record(w http.ResponseWriter, r *http.Request) (string, bool) {
	key := r.PathValue("key")
	f.mu.Lock()
	f.requests = append(f.requests, Request{
		Method: r.Method, Key: key, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: r.Header.Clone(),
	})
	f.mu.Unlock()
	switch {
	case key == "":
		WriteError(w, http.StatusBadRequest, "empty key")
		return "", false
	case len(key) > MaxKeyLen:
		WriteError(w, http.StatusBadRequest, "key longer than 1024 bytes")
		return "", false
	}
	return key, true
}

// checkPrecondition answers 412 (or 400) and returns false when r's preconditions fail on
// cur. The caller holds f.mu.
func checkPrecondition(w http.ResponseWriter, r *http.Request, cur entry, exists bool) bool {
	if m := r.Header.Get("If-Match"); m != "" {
		if m == "*" {
			if !exists {
				WriteError(w, http.StatusPreconditionFailed, "key does not exist")
				return false
			}
		} else {
			want, err := strconv.ParseUint(strings.Trim(m, `"`), 10, 64)
			if err != nil {
				WriteError(w, http.StatusBadRequest, "bad If-Match")
				return false
			}
			if !exists || cur.rev != want {
				WriteError(w, http.StatusPreconditionFailed, "revision mismatch")
				return false
			}
		}
	}
	if r.Header.Get("If-None-Match") == "*" && exists {
		WriteError(w, http.StatusPreconditionFailed, "key exists")
		return false
	}
	return true
}

func (f *Router) get(w http.ResponseWriter, r *http.Request) {
	key, ok := f.record(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	e, exists := f.data[key]
	f.mu.Unlock()
	if !exists {
		WriteError(w, http.StatusNotFound, "key not found")
		return
	}
	setETag(w, e.rev)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(e.value)))
	_, _ = w.Write(e.value)
}

func (f *Router) put(w http.ResponseWriter, r *http.Request) {
	key, ok := f.record(w, r)
	if !ok {
		return
	}
	value, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxValueLen))
	if err != nil {
		WriteError(w, http.StatusRequestEntityTooLarge, "value larger than 1048576 bytes")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	cur, exists := f.data[key]
	if !checkPrecondition(w, r, cur, exists) {
		return
	}
	f.rev++
	f.data[key] = entry{value: value, rev: f.rev}
	setETag(w, f.rev)
	w.WriteHeader(http.StatusNoContent)
}

func (f *Router) del(w http.ResponseWriter, r *http.Request) {
	key, ok := f.record(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	cur, exists := f.data[key]
	if !exists {
		WriteError(w, http.StatusNotFound, "key not found")
		return
	}
	if !checkPrecondition(w, r, cur, exists) {
		return
	}
	delete(f.data, key)
	w.WriteHeader(http.StatusNoContent)
}

func (f *Router) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	f.requests = append(f.requests, Request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: r.Header.Clone()})
	f.mu.Unlock()
	limit := 100
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			WriteError(w, http.StatusBadRequest, "limit must be 1..10000")
			return
		}
		limit = n
	}
	prefix, after := q.Get("prefix"), q.Get("after")
	f.mu.Lock()
	var keys []string
	for k := range f.data {
		if strings.HasPrefix(k, prefix) && k > after {
			keys = append(keys, k)
		}
	}
	f.mu.Unlock()
	slices.Sort(keys)
	page := struct {
		Keys []string `json:"keys"`
		Next string   `json:"next"`
	}{Keys: keys}
	if len(keys) > limit {
		page.Keys = keys[:limit]
		page.Next = keys[limit-1]
	}
	if page.Keys == nil {
		page.Keys = []string{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(page)
}

func (f *Router) clusterInfo(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	info := f.cluster
	f.mu.Unlock()
	if info == nil {
		info = &client.ClusterInfo{Nodes: []client.NodeInfo{}}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(info)
}
