// Package api serves the OpenTok REST API: the paths, bodies, status codes
// and content types the official server SDKs expect.
package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley/internal/archive"
	"github.com/parleyhq/parley/internal/broadcast"
	"github.com/parleyhq/parley/internal/project"
	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/store"
)

// MaxBodyBytes bounds every REST request body; the largest legitimate
// body (a custom layout stylesheet) is far smaller.
const MaxBodyBytes = 64 << 10

// API holds what the REST handlers need.
type API struct {
	Store store.Store
	// Sessions are the node's live sessions, acted on by the control
	// routes.
	Sessions *session.Registry
	// Archives records sessions; nil on a node without archives.
	Archives *archive.Manager
	// Broadcasts streams sessions live; nil on a node without them.
	Broadcasts *broadcast.Manager
	// PublicURL is the base of the URLs the API hands out (HLS
	// playlists); "" means the base each request came on.
	PublicURL string
	Auth      *project.Authenticator
	Log       *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	sessionsCreated prometheus.Counter
}

// New returns an API whose metrics are registered with reg.
func New(st store.Store, auth *project.Authenticator, log *slog.Logger, reg prometheus.Registerer) *API {
	a := &API{Store: st, Auth: auth, Log: log}
	a.sessionsCreated = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "parley_sessions_created_total",
		Help: "Sessions created through the REST API.",
	})
	if reg != nil {
		reg.MustRegister(a.sessionsCreated)
	}
	return a
}

func (a *API) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Routes adds the API's routes to mux. A path asked with a method it does
// not serve gets a JSON 405 naming the methods it does.
func (a *API) Routes(mux *http.ServeMux) {
	r := router{mux: mux, methods: map[string][]string{}}
	r.handle("POST", "/session/create", a.authed(a.createSession))
	a.controlRoutes(&r)
	a.callbackRoutes(&r)
	a.archiveRoutes(&r)
	a.storageRoutes(&r)
	a.broadcastRoutes(&r)
	r.finish()
}

// router registers "METHOD path" patterns and one method-less fallback
// per path, so that a wrong method is answered in JSON like every error.
type router struct {
	mux     *http.ServeMux
	methods map[string][]string
}

func (r *router) handle(method, path string, h http.HandlerFunc) {
	r.mux.HandleFunc(method+" "+path, h)
	r.methods[path] = append(r.methods[path], method)
}

func (r *router) finish() {
	for path, methods := range r.methods {
		sort.Strings(methods)
		allow := strings.Join(methods, ", ")
		r.mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Allow", allow)
			WriteError(w, http.StatusMethodNotAllowed, "method not allowed; use "+allow)
		})
	}
}

// authedHandler is a handler that knows the caller's project.
type authedHandler func(w http.ResponseWriter, r *http.Request, p store.Project)

// authed checks the request's credentials, that a project in the path is
// the caller's, and bounds the body.
func (a *API) authed(h authedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Auth.Authenticate(r)
		if err != nil {
			if errors.Is(err, project.ErrAuth) {
				// The real service answers auth failures with code -1; Ruby,
				// Python, Java and PHP look for exactly 403.
				writeJSON(w, http.StatusForbidden, errorBody{Code: -1, Message: err.Error()})
				return
			}
			a.internalError(w, r, err)
			return
		}
		// Routes under /v2/project/{apiKey} act for that project only.
		if k := r.PathValue("apiKey"); k != "" && k != p.APIKey {
			WriteError(w, http.StatusForbidden, "the API key in the path is not the authenticated project's")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		h(w, r, p)
	}
}

// errorBody is the OpenTok error format.
type errorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// WriteError answers with the OpenTok JSON error body.
func WriteError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Code: status, Message: msg})
}

func (a *API) internalError(w http.ResponseWriter, r *http.Request, err error) {
	a.Log.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "err", err)
	WriteError(w, http.StatusInternalServerError, "internal error")
}

// bodyError answers a request whose body could not be read or parsed:
// 413 when it was too large, 400 otherwise.
func bodyError(w http.ResponseWriter, err error) {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		WriteError(w, http.StatusRequestEntityTooLarge, "request body larger than 64 KiB")
		return
	}
	WriteError(w, http.StatusBadRequest, "malformed request body: "+err.Error())
}

// writeJSON sends v with exactly "application/json": the Node and Python
// SDKs parse a body only when the type is that string.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"code":500,"message":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}
