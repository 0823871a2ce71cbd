// Package web is Parley's HTTP edge: it routes the REST API, health and
// metrics, and wraps every request with the same middleware (clean paths
// without redirects, request ids, logs, metrics, panic recovery).
package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parleyhq/parley/internal/api"
)

// Checker reports whether a dependency (the store, say) is usable.
type Checker func(ctx context.Context) error

// Server is the HTTP edge of one node.
type Server struct {
	log     *slog.Logger
	handler http.Handler
	http    *http.Server
}

// Options configure a Server.
type Options struct {
	Log      *slog.Logger
	Registry *prometheus.Registry
	// Health is consulted by /healthz; nil means always healthy.
	Health Checker
	// Mount adds routes (the REST API, later signaling and apps).
	Mount []func(*http.ServeMux)
}

// New builds a Server.
func New(o Options) *Server {
	mux := http.NewServeMux()
	for _, m := range o.Mount {
		m(mux)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if o.Health != nil {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			if err := o.Health(ctx); err != nil {
				api.WriteError(w, http.StatusServiceUnavailable, "unhealthy: "+err.Error())
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}`))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		api.WriteError(w, http.StatusNotFound, "no such resource: "+r.URL.Path)
	})

	m := newMetrics(o.Registry)
	s := &Server{log: o.Log}
	s.handler = cleanPath(requestID(s.logAndMeasure(m, recoverPanics(o.Log, mux), mux)))
	s.http = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(o.Log.Handler(), slog.LevelWarn),
	}
	return s
}

// Handler returns the server's whole handler chain (for tests).
func (s *Server) Handler() http.Handler { return s.handler }

// Serve answers on ln until ctx ends, then stops taking requests and
// waits up to grace for the running ones.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := s.http.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// cleanPath serves "//session/create" (what an SDK configured with a
// trailing slash sends) as "/session/create" instead of letting ServeMux
// redirect: node-fetch turns a redirected POST into a GET without body.
func cleanPath(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if p == "" || p[0] != '/' {
			p = "/" + p
		}
		if c := path.Clean(p); c != r.URL.Path {
			if strings.HasSuffix(p, "/") && c != "/" {
				c += "/"
			}
			r.URL.Path = c
			r.URL.RawPath = ""
		}
		next.ServeHTTP(w, r)
	})
}

type ctxKey struct{}

// RequestID returns the id of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// requestID keeps a sane incoming X-Request-Id or makes one, and echoes it.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !saneID(id) {
			b := make([]byte, 8)
			rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, id)))
	})
}

func saneID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// recorder remembers the status a handler wrote. It passes Flush and
// Unwrap through so that streaming and WebSocket upgrades keep working.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_http_requests_total",
			Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "parley_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// logAndMeasure logs one line per request and counts it under its route
// pattern (never the raw path: ids would explode the label set).
func (s *Server) logAndMeasure(m *metrics, next http.Handler, mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		d := time.Since(start)
		_, route := mux.Handler(r)
		if route == "" || route == "/" {
			route = "other"
		}
		code := rec.status
		if code == 0 {
			code = http.StatusOK
		}
		m.requests.WithLabelValues(route, r.Method, strconv.Itoa(code)).Inc()
		m.duration.WithLabelValues(route).Observe(d.Seconds())
		level := slog.LevelInfo
		if route == "GET /healthz" || route == "GET /metrics" {
			level = slog.LevelDebug
		}
		s.log.Log(r.Context(), level, "http",
			"request_id", RequestID(r.Context()), "method", r.Method, "path", r.URL.Path,
			"status", code, "bytes", rec.bytes, "duration", d, "remote", r.RemoteAddr)
	})
}

// recoverPanics turns a handler's panic into a 500 and a log line instead
// of a dropped connection.
func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(r.Context(), "handler panic", "request_id", RequestID(r.Context()), "panic", fmt.Sprint(v))
				api.WriteError(w, http.StatusInternalServerError, "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}
