package httpx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/torua/torua/internal/wire"
)

// Server is an HTTP server that binds synchronously (bind errors surface from Start) and
// serves in a goroutine until Shutdown.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	wire *wire.Server
	log  *slog.Logger
	done chan error

	// fresh tracks connections that have not sent a request yet: http.Server.Shutdown waits
	// up to 5 s for them (it cannot tell them from a request about to arrive), so Shutdown
	// closes them itself.
	mu    sync.Mutex
	fresh map[net.Conn]bool

	stopOnce sync.Once
	stopErr  error
}

// readHeaderTimeout bounds how long a new connection may take to send a request's head.
const readHeaderTimeout = 10 * time.Second

// Start binds addr (":0" picks a free port) and serves h in a goroutine. With a wire
// server, connections that open with the wire protocol's preface go to it instead.
func Start(addr string, h http.Handler, log *slog.Logger, ws *wire.Server) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	if ws != nil {
		ln = wire.NewListener(ln, ws, readHeaderTimeout)
	}
	s := &Server{
		wire: ws,
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: readHeaderTimeout,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		ln:    ln,
		log:   log,
		done:  make(chan error, 1),
		fresh: make(map[net.Conn]bool),
	}
	s.srv.ConnState = s.track
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	return s, nil
}

// Addr returns the bound address, e.g. 127.0.0.1:41234.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops accepting connections and waits for in-flight requests until ctx ends, then
// closes what is left. Calls after the first return the first one's result.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		stop := make(chan struct{})
		go func() {
			// Sweep until Shutdown returns: a connection accepted just before the listener
			// closed may turn up after the first sweep.
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for {
				s.closeFresh()
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		}()
		var wireErr error
		wireDone := make(chan struct{})
		go func() {
			defer close(wireDone)
			if s.wire != nil {
				wireErr = s.wire.Shutdown(ctx)
			}
		}()
		err := s.srv.Shutdown(ctx)
		close(stop)
		<-wireDone
		if err == nil {
			err = wireErr
		}
		if err != nil {
			_ = s.srv.Close()
		}
		if serr := <-s.done; serr != nil && err == nil {
			err = serr
		}
		s.stopErr = err
	})
	return s.stopErr
}

func (s *Server) track(c net.Conn, state http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if state == http.StateNew {
		s.fresh[c] = true
	} else {
		delete(s.fresh, c)
	}
}

// closeFresh closes the connections that have not sent a request.
func (s *Server) closeFresh() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.fresh {
		_ = c.Close()
		delete(s.fresh, c)
	}
}

// Metrics counts and times requests by route pattern, method and status.
type Metrics struct {
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	inflight     prometheus.Gauge
	wireRequests *prometheus.CounterVec
	wireLatency  *prometheus.HistogramVec
	reg          *prometheus.Registry
}

// NewMetrics creates request metrics named torua_<subsystem>_... in a fresh registry that also
// holds the Go and process collectors. Each server has its own registry so that several can
// live in one process (torua local).
func NewMetrics(subsystem string) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "torua", Subsystem: subsystem, Name: "http_requests_total",
			Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "torua", Subsystem: subsystem, Name: "http_request_duration_seconds",
			Help:    "HTTP request latency by route and method.",
			Buckets: latencyBuckets,
		}, []string{"route", "method"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "torua", Subsystem: subsystem, Name: "http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
	}
	m.wireRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "torua", Subsystem: subsystem, Name: "wire_requests_total",
		Help: "Wire protocol requests by op and status code.",
	}, []string{"op", "code"})
	m.wireLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "torua", Subsystem: subsystem, Name: "wire_request_duration_seconds",
		Help:    "Wire protocol request latency by op.",
		Buckets: latencyBuckets,
	}, []string{"op"})
	reg.MustRegister(m.requests, m.latency, m.inflight, m.wireRequests, m.wireLatency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// latencyBuckets are the request latency histograms' buckets, in seconds.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// ObserveWire counts and times one wire protocol request (wire.ServerOptions.Observe).
func (m *Metrics) ObserveWire(op wire.Op, status int, d time.Duration) {
	name := op.String()
	m.wireRequests.WithLabelValues(name, strconv.Itoa(status)).Inc()
	m.wireLatency.WithLabelValues(name).Observe(d.Seconds())
}

// Registry is where the server's other metrics register.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Wrap serves mux through the metrics, and turns the mux's own plain-text 404 and 405 answers
// into JSON error bodies (405 keeps its Allow header). A handler that panics is logged with
// its stack and answered 500 with a JSON body (when it had not answered yet), where
// net/http alone would drop the connection and log nothing through log.
func (m *Metrics) Wrap(mux *http.ServeMux, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		m.inflight.Inc()
		defer m.inflight.Dec()
		rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		serve(mux, rw, r, log)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		} else if i := strings.IndexByte(route, ' '); i >= 0 {
			route = route[i+1:]
		}
		m.requests.WithLabelValues(route, r.Method, strconv.Itoa(rw.status)).Inc()
		m.latency.WithLabelValues(route, r.Method).Observe(time.Since(start).Seconds())
	})
}

// serve runs mux for r, recovering a panic of its handler (but http.ErrAbortHandler, which
// net/http's own recovery handles quietly).
func serve(mux *http.ServeMux, rw *statusWriter, r *http.Request, log *slog.Logger) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		if p == http.ErrAbortHandler { //nolint:errorlint // net/http compares it so too
			panic(p)
		}
		log.Error("Request handler panicked", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		if !rw.wrote {
			WriteJSON(rw, http.StatusInternalServerError, ErrorBody{Error: "internal error"})
		}
		rw.status = http.StatusInternalServerError
	}()
	mux.ServeHTTP(rw, r)
}

// statusWriter records the status and rewrites the mux's plain-text 404/405 bodies as JSON.
type statusWriter struct {
	http.ResponseWriter
	status  int
	wrote   bool
	swallow bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote, w.status = true, code
	if (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) &&
		strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		msg := "no such route"
		if code == http.StatusMethodNotAllowed {
			msg = "method not allowed; allowed: " + w.Header().Get("Allow")
		}
		w.Header().Del("X-Content-Type-Options")
		WriteJSON(w.ResponseWriter, code, ErrorBody{Error: msg})
		w.swallow = true
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.swallow {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets streaming handlers flush through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
