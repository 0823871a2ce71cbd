// Package live is Parley's live-streaming app: accounts, shows of one
// presenter to many viewers (join and leave notices, every show
// recorded), a library of the recordings with filters and playback, 1:1
// calls with invitations, and random pairing.
// Like Meet it is built only on the public browser SDK and on Parley's
// REST API (through pkg/opentok), as any customer application would be.
package live

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parleyhq/parley/apps/pageapi"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/pkg/opentok"
)

//go:embed static
var static embed.FS

// Options configure an App.
type Options struct {
	// Store keeps accounts, logins and shows.
	Store store.Store
	// APIKey and APISecret are the project the app's sessions belong to.
	APIKey, APISecret string
	// APIURL returns the base URL of Parley's REST API (the node's own).
	APIURL func() string
	// Locator turns a presenter's address into a location hint; nil
	// answers "unknown".
	Locator Locator
	// LoginTTL is how long a sign-in lasts; 0 means 30 days.
	LoginTTL time.Duration
	Log      *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// App serves Live's pages and its JSON API.
type App struct {
	o Options
	// hashing bounds the password hashes computed at once: each takes
	// tens of milliseconds and megabytes, and sign-in is open to anyone.
	hashing chan struct{}
	csrf    *http.CrossOriginProtection
	lobby   *lobby
	signIns *throttle

	// seen is when each show on air was last seen with someone
	// connected (see settle).
	seenMu sync.Mutex
	seen   map[string]time.Time
}

// New returns an App.
func New(o Options) *App {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Locator == nil {
		o.Locator = UnknownLocation{}
	}
	if o.LoginTTL <= 0 {
		o.LoginTTL = 30 * 24 * time.Hour
	}
	return &App{o: o, hashing: make(chan struct{}, 2), csrf: http.NewCrossOriginProtection(), lobby: newLobby(), signIns: newThrottle(), seen: map[string]time.Time{}}
}

func (a *App) client() *opentok.Client {
	return opentok.New(a.o.APIKey, a.o.APISecret, a.o.APIURL())
}

// Routes mounts the app on mux.
func (a *App) Routes(mux *http.ServeMux) {
	sub, _ := fs.Sub(static, "static")
	mux.Handle("GET /live/static/", secure(http.StripPrefix("/live/static/", http.FileServerFS(sub))))

	mux.HandleFunc("GET /live/signin", a.page("signin.html", false))
	mux.HandleFunc("GET /live", a.page("live.html", true))
	mux.HandleFunc("GET /live/{$}", a.page("live.html", true))
	mux.HandleFunc("GET /live/present", a.page("present.html", true))
	mux.HandleFunc("GET /live/watch/{id}", a.page("watch.html", true))
	mux.HandleFunc("GET /videos", a.page("videos.html", true))
	mux.HandleFunc("GET /videos/{id}/media", a.signedIn(a.media))

	// Every state-changing call is checked to come from the app's own
	// pages (Sec-Fetch-Site / Origin), besides needing a JSON body.
	post := func(path string, h http.HandlerFunc) {
		mux.Handle("POST "+path, a.csrf.Handler(h))
	}
	post("/live/api/signup", a.signUp)
	post("/live/api/signin", a.signIn)
	post("/live/api/signout", a.signOut)
	mux.HandleFunc("GET /live/api/me", a.signedIn(a.me))

	mux.HandleFunc("GET /live/api/shows", a.signedIn(a.onAir))
	post("/live/api/shows", a.signedIn(a.createShow))
	mux.HandleFunc("GET /live/api/shows/{id}", a.signedIn(a.getShow))
	post("/live/api/shows/{id}/start", a.signedIn(a.startShow))
	post("/live/api/shows/{id}/stop", a.signedIn(a.stopShow))
	post("/live/api/shows/{id}/watch", a.signedIn(a.watchShow))
	mux.HandleFunc("GET /live/api/videos", a.signedIn(a.videos))

	mux.HandleFunc("GET /live/call", a.page("call.html", true))
	post("/live/api/lobby", a.signedIn(a.joinLobby))
	post("/live/api/lobby/register", a.signedIn(a.registerLobby))
	post("/live/api/lobby/confirm", a.signedIn(a.confirmLobby))
	mux.HandleFunc("GET /live/api/online", a.signedIn(a.online))
	post("/live/api/calls", a.signedIn(a.startCall))
	post("/live/api/calls/{id}/{action}", a.signedIn(a.callAction))
	post("/live/api/pair", a.signedIn(a.pair))
	post("/live/api/pair/cancel", a.signedIn(a.unpair))
}

// secure adds the headers every Live answer carries.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Referrer-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}

// page serves a static page; with auth, a visitor who is not signed in
// is sent to the sign-in page first, and back afterwards.
func (a *App) page(file string, auth bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if auth {
			if _, ok := a.user(r); !ok {
				http.Redirect(w, r, "/live/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
		}
		b, err := static.ReadFile("static/" + file)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "same-origin")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(b)
	}
}

// cleanText trims s and checks it: valid UTF-8, 1 to max characters, no
// control characters.
func cleanText(s string, max int) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return "", false
	}
	for _, c := range s {
		if unicode.IsControl(c) {
			return "", false
		}
	}
	return s, true
}

func (a *App) internal(w http.ResponseWriter, what string, err error) {
	a.o.Log.Error("live: "+what, "err", err)
	pageapi.WriteError(w, http.StatusInternalServerError, "the server could not do that; try again")
}

// apiError passes on a refusal of the REST API in its own words.
func (a *App) apiError(w http.ResponseWriter, what string, err error) {
	var e *opentok.Error
	if errors.As(err, &e) && e.Status >= 400 && e.Status < 500 {
		pageapi.WriteError(w, http.StatusConflict, e.Message)
		return
	}
	a.internal(w, what, err)
}

// pageURL turns a link on the API's own address into one on the page's
// origin (the app calls the API on the node's address, which the
// visitor's browser may not reach by that name).
func (a *App) pageURL(link string) string {
	u, err := url.Parse(link)
	base, berr := url.Parse(a.o.APIURL())
	if err != nil || berr != nil || u.Host != base.Host {
		return link
	}
	return u.RequestURI()
}

// background is a context for work that must finish even when the
// request that started it is gone (stopping a recording).
func background(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
}
