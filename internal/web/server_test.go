package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func testServer(t *testing.T, health Checker) *Server {
	t.Helper()
	return New(Options{
		Log:      slog.New(slog.DiscardHandler),
		Registry: prometheus.NewRegistry(),
		Health:   health,
		Mount: []func(*http.ServeMux){func(mux *http.ServeMux) {
			mux.HandleFunc("POST /session/create", func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				w.Write([]byte("created:" + string(b)))
			})
			mux.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
		}},
	})
}

func do(t *testing.T, h http.Handler, method, target, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestDoubleSlashIsServedNotRedirected(t *testing.T) {
	h := testServer(t, nil).Handler()
	for _, p := range []string{"//session/create", "/session//create", "/./session/create"} {
		w := do(t, h, "POST", p, "a=b")
		if w.Code != 200 || w.Body.String() != "created:a=b" {
			t.Errorf("%s: %d %q", p, w.Code, w.Body)
		}
	}
}

func TestErrorsAreJSON(t *testing.T) {
	h := testServer(t, nil).Handler()
	for _, tc := range []struct {
		path   string
		status int
	}{{"/nope", 404}, {"/panic", 500}} {
		w := do(t, h, "GET", tc.path, "")
		if w.Code != tc.status || w.Header().Get("Content-Type") != "application/json" || !strings.Contains(w.Body.String(), `"message"`) {
			t.Errorf("%s: %d %q %s", tc.path, w.Code, w.Header().Get("Content-Type"), w.Body)
		}
	}
}

func TestRequestID(t *testing.T) {
	h := testServer(t, nil).Handler()
	w := do(t, h, "GET", "/healthz", "")
	if id := w.Header().Get("X-Request-Id"); len(id) != 16 {
		t.Fatalf("generated id %q", id)
	}
	r := httptest.NewRequest("GET", "/healthz", nil)
	r.Header.Set("X-Request-Id", "abc-123")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Header().Get("X-Request-Id") != "abc-123" {
		t.Fatalf("kept id %q", w.Header().Get("X-Request-Id"))
	}
	r.Header.Set("X-Request-Id", "evil\nheader")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Header().Get("X-Request-Id") == "evil\nheader" {
		t.Fatal("echoed an unsafe request id")
	}
}

func TestHealthAndMetrics(t *testing.T) {
	h := testServer(t, nil).Handler()
	if w := do(t, h, "GET", "/healthz", ""); w.Code != 200 {
		t.Fatalf("healthz %d", w.Code)
	}
	do(t, h, "POST", "/session/create", "")
	w := do(t, h, "GET", "/metrics", "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `parley_http_requests_total{code="200",method="POST",route="POST /session/create"} 1`) {
		t.Fatalf("metrics %d:\n%s", w.Code, w.Body)
	}
	sick := testServer(t, func(context.Context) error { return errors.New("store down") }).Handler()
	if w := do(t, sick, "GET", "/healthz", ""); w.Code != 503 {
		t.Fatalf("unhealthy healthz %d", w.Code)
	}
}

func TestGracefulShutdown(t *testing.T) {
	started := make(chan struct{})
	s := New(Options{
		Log: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry(),
		Mount: []func(*http.ServeMux){func(mux *http.ServeMux) {
			mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
				close(started)
				time.Sleep(200 * time.Millisecond)
				w.Write([]byte("done"))
			})
		}},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln, 5*time.Second) }()
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-started
	cancel()
	if b := <-got; b != "done" {
		t.Fatalf("in-flight request got %q", b)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/slow"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}
