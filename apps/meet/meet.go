// Package meet is Parley's meeting app: rooms by URL, a pre-join screen,
// tiles, screen sharing, chat with history, recording, and moderation.
// It is built only on the public browser SDK and on Parley's REST API
// (through pkg/opentok), as any customer application would be.
package meet

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/json"
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

// Limits on what joiners send.
const (
	MaxDisplayName = 64
	MaxChatText    = 1000
	// ChatHistory is how many messages a room keeps for late joiners.
	ChatHistory = 200
)

// Options configure an App.
type Options struct {
	// Store keeps rooms and their chat.
	Store store.Store
	// APIKey and APISecret are the project the app's sessions belong to.
	APIKey, APISecret string
	// APIURL returns the base URL of Parley's REST API (the node's own).
	APIURL func() string
	// Expiry is how long an idle room keeps its session; 0 means 24 h.
	Expiry time.Duration
	// NewRoomsPerMinute caps how many rooms are bound to new sessions per
	// minute (existing rooms can always be joined); 0 means 60.
	NewRoomsPerMinute int
	Log               *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// App serves Meet's pages and its JSON API.
type App struct {
	o         Options
	ticketKey []byte

	// precall is the routed session pre-call tests publish into, made on
	// first use; each test subscribes only to its own stream.
	precallMu sync.Mutex
	precall   string

	// newRooms are the times rooms were last bound, for the rate limit.
	newRoomsMu sync.Mutex
	newRooms   []time.Time
}

// New returns an App.
func New(o Options) *App {
	if o.Expiry <= 0 {
		o.Expiry = 24 * time.Hour
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NewRoomsPerMinute <= 0 {
		o.NewRoomsPerMinute = 60
	}
	m := hmac.New(sha256.New, []byte(o.APISecret))
	m.Write([]byte("parley meet ticket v1"))
	return &App{o: o, ticketKey: m.Sum(nil)}
}

func (a *App) client() *opentok.Client {
	return opentok.New(a.o.APIKey, a.o.APISecret, a.o.APIURL())
}

// Routes mounts the app on mux.
func (a *App) Routes(mux *http.ServeMux) {
	sub, _ := fs.Sub(static, "static")
	files := http.StripPrefix("/meet/static/", http.FileServerFS(sub))
	mux.Handle("GET /meet/static/", secure(files))
	// The pre-call network test module is served beside the SDK, for
	// any page that loads the SDK.
	mux.HandleFunc("GET /v2/js/network-test.js", func(w http.ResponseWriter, r *http.Request) {
		b, _ := static.ReadFile("static/network-test.js")
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(b)
	})
	mux.HandleFunc("POST /meet/api/precall", a.precallSession)
	mux.HandleFunc("GET /{$}", a.newRoom)
	mux.HandleFunc("GET /room/{name}", a.roomPage)
	const r = "/meet/api/rooms/{name}"
	mux.HandleFunc("POST "+r+"/join", a.join)
	mux.HandleFunc("POST "+r+"/chat", a.withTicket(false, a.chat))
	mux.HandleFunc("POST "+r+"/lock", a.withTicket(true, a.lock))
	mux.HandleFunc("GET "+r+"/recordings", a.withTicket(false, a.recordings))
	mux.HandleFunc("POST "+r+"/recordings", a.withTicket(true, a.startRecording))
	mux.HandleFunc("POST "+r+"/recordings/{id}/stop", a.withTicket(true, a.stopRecording))
	mux.HandleFunc("DELETE "+r+"/recordings/{id}", a.withTicket(true, a.deleteRecording))
}

// secure adds the headers every Meet answer carries. The moderator link
// holds a secret: no page sends it on as a referrer.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

// newRoom sends the visitor to a fresh room, drawing names until one is
// not in use.
func (a *App) newRoom(w http.ResponseWriter, r *http.Request) {
	name := NewRoomName()
	for range 5 {
		room, err := a.o.Store.Room(r.Context(), name)
		if errors.Is(err, store.ErrNotFound) || (err == nil && a.stale(room)) {
			break
		}
		name = NewRoomName()
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, "/room/"+name, http.StatusFound)
}

func (a *App) stale(r store.Room) bool {
	return r.LastUsed.Before(a.o.Now().Add(-a.o.Expiry))
}

func (a *App) roomPage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if low := strings.ToLower(name); low != name && ValidRoomName(low) {
		u := "/room/" + low
		if r.URL.RawQuery != "" {
			u += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, u, http.StatusMovedPermanently)
		return
	}
	if !ValidRoomName(name) {
		http.Error(w, "A room name is 1 to 64 lower-case letters, digits and dashes.", http.StatusNotFound)
		return
	}
	b, err := static.ReadFile("static/index.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

// Joined is the answer to a join: what the page needs to connect.
type Joined struct {
	Room      string `json:"room"`
	APIKey    string `json:"apiKey"`
	SessionID string `json:"sessionId"`
	Token     string `json:"token"`
	Role      string `json:"role"`
	Moderator bool   `json:"moderator"`
	// ModeratorKey is given to moderators only, for the moderator link.
	ModeratorKey string `json:"moderatorKey,omitempty"`
	Locked       bool   `json:"locked"`
	// Ticket authenticates the joiner's later calls to the app.
	Ticket  string        `json:"ticket"`
	History []ChatMessage `json:"history"`
}

// ChatMessage is a chat message as pages see it (and as the "chat"
// signal carries it).
type ChatMessage struct {
	ID   int64  `json:"id"`
	From string `json:"from"`
	Text string `json:"text"`
	At   int64  `json:"at"` // ms since the epoch
}

func (a *App) join(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !ValidRoomName(name) {
		pageapi.WriteError(w, http.StatusNotFound, "no such room name: use lower-case letters, digits and dashes")
		return
	}
	var body struct {
		Name string `json:"name"`
		Key  string `json:"key"`
	}
	if !pageapi.ReadJSON(w, r, &body) {
		return
	}
	display, err := cleanText(body.Name, MaxDisplayName, false)
	if err != nil || display == "" {
		pageapi.WriteError(w, http.StatusBadRequest, "a display name is 1 to 64 characters, without control characters")
		return
	}
	ctx := r.Context()
	now := a.o.Now()
	room, err := a.o.Store.Room(ctx, name)
	created := false
	switch {
	case err == nil && !a.stale(room):
		if room.Locked && !keyMatches(body.Key, room.ModeratorKey) {
			pageapi.WriteError(w, http.StatusForbidden, "This room is locked: the moderator is not letting anyone else in.")
			return
		}
		err = a.o.Store.TouchRoom(ctx, name, now)
	case err == nil || errors.Is(err, store.ErrNotFound):
		if !a.allowNewRoom(now) {
			pageapi.WriteError(w, http.StatusServiceUnavailable, "Too many new rooms were opened in the last minute; try again shortly.")
			return
		}
		room, created, err = a.claim(ctx, name, now)
	}
	if err != nil {
		a.internal(w, "join "+name, err)
		return
	}
	moderator := created || keyMatches(body.Key, room.ModeratorKey)
	if room.Locked && !moderator {
		pageapi.WriteError(w, http.StatusForbidden, "This room is locked: the moderator is not letting anyone else in.")
		return
	}
	role := opentok.RolePublisher
	if moderator {
		role = opentok.RoleModerator
	}
	data, _ := json.Marshal(map[string]string{"name": display})
	expires := now.Add(24 * time.Hour)
	tok, err := a.client().GenerateToken(room.SessionID, opentok.TokenOptions{Role: role, Data: string(data), ExpireTime: expires})
	if err != nil {
		a.internal(w, "token for "+name, err)
		return
	}
	history, err := a.o.Store.ChatMessages(ctx, name, room.SessionID, ChatHistory)
	if err != nil {
		a.internal(w, "history of "+name, err)
		return
	}
	out := Joined{
		Room: name, APIKey: a.o.APIKey, SessionID: room.SessionID, Token: tok, Role: string(role),
		Moderator: moderator, Locked: room.Locked, History: []ChatMessage{},
		Ticket: ticket{Room: name, SessionID: room.SessionID, Name: display, Moderator: moderator, Expires: expires.Unix()}.sign(a.ticketKey),
	}
	if moderator {
		out.ModeratorKey = room.ModeratorKey
	}
	for _, m := range history {
		out.History = append(out.History, chatJSON(m))
	}
	pageapi.WriteJSON(w, http.StatusOK, out)
}

// claim binds a new session to the room. Of two first joiners at once,
// both create a session but the store keeps one binding; the other's
// session is simply never used.
func (a *App) claim(ctx context.Context, name string, now time.Time) (store.Room, bool, error) {
	s, err := a.client().CreateSession(ctx, opentok.SessionOptions{MediaMode: opentok.Routed})
	if err != nil {
		return store.Room{}, false, err
	}
	room, err := a.o.Store.ClaimRoom(ctx, store.Room{
		Name: name, APIKey: a.o.APIKey, SessionID: s.ID, ModeratorKey: rand.Text(),
		CreatedAt: now, LastUsed: now,
	}, now.Add(-a.o.Expiry))
	if err != nil {
		return room, false, err
	}
	// Rooms idle past the expiry would be bound anew anyway: forget them
	// (and their chat) so that the table holds only rooms in use.
	if _, perr := a.o.Store.DeleteRooms(ctx, now.Add(-a.o.Expiry)); perr != nil {
		a.o.Log.Warn("meet: prune idle rooms", "err", perr)
	}
	return room, room.SessionID == s.ID, nil
}

// allowNewRoom counts a new room against the per-minute limit.
func (a *App) allowNewRoom(now time.Time) bool {
	a.newRoomsMu.Lock()
	defer a.newRoomsMu.Unlock()
	recent := a.newRooms[:0]
	for _, t := range a.newRooms {
		if now.Sub(t) < time.Minute {
			recent = append(recent, t)
		}
	}
	a.newRooms = recent
	if len(recent) >= a.o.NewRoomsPerMinute {
		return false
	}
	a.newRooms = append(a.newRooms, now)
	return true
}

func keyMatches(given, want string) bool {
	return given != "" && want != "" && subtle.ConstantTimeCompare([]byte(given), []byte(want)) == 1
}

// withTicket checks the caller's ticket (Authorization: Bearer …) against
// the room and its current session, and, when mod, that it is a
// moderator's.
func (a *App) withTicket(mod bool, h func(http.ResponseWriter, *http.Request, ticket, store.Room)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			pageapi.WriteError(w, http.StatusUnauthorized, "join the room first: the Authorization header holds the join ticket")
			return
		}
		t, err := parseTicket(a.ticketKey, auth, a.o.Now())
		if err != nil || t.Room != name {
			pageapi.WriteError(w, http.StatusUnauthorized, errTicket.Error())
			return
		}
		room, err := a.o.Store.Room(r.Context(), name)
		if errors.Is(err, store.ErrNotFound) || (err == nil && room.SessionID != t.SessionID) {
			pageapi.WriteError(w, http.StatusUnauthorized, errTicket.Error())
			return
		}
		if err != nil {
			a.internal(w, "room "+name, err)
			return
		}
		if mod && !t.Moderator {
			pageapi.WriteError(w, http.StatusForbidden, "only the room's moderators can do that")
			return
		}
		h(w, r, t, room)
	}
}

func (a *App) chat(w http.ResponseWriter, r *http.Request, t ticket, room store.Room) {
	var body struct {
		Text string `json:"text"`
	}
	if !pageapi.ReadJSON(w, r, &body) {
		return
	}
	text, err := cleanText(body.Text, MaxChatText, true)
	if err != nil || text == "" {
		pageapi.WriteError(w, http.StatusBadRequest, "a chat message is 1 to 1000 characters, without control characters")
		return
	}
	m, err := a.o.Store.AddChatMessage(r.Context(), store.ChatMessage{
		Room: room.Name, SessionID: room.SessionID, From: t.Name, Text: text, At: a.o.Now(),
	}, ChatHistory)
	if err != nil {
		a.internal(w, "chat in "+room.Name, err)
		return
	}
	out := chatJSON(m)
	a.signal(r.Context(), room, "chat", out)
	pageapi.WriteJSON(w, http.StatusCreated, out)
}

func (a *App) lock(w http.ResponseWriter, r *http.Request, _ ticket, room store.Room) {
	var body struct {
		Locked *bool `json:"locked"`
	}
	if !pageapi.ReadJSON(w, r, &body) {
		return
	}
	if body.Locked == nil {
		pageapi.WriteError(w, http.StatusBadRequest, `say {"locked": true} or {"locked": false}`)
		return
	}
	if err := a.o.Store.SetRoomLocked(r.Context(), room.Name, *body.Locked); err != nil {
		a.internal(w, "lock "+room.Name, err)
		return
	}
	out := map[string]bool{"locked": *body.Locked}
	a.signal(r.Context(), room, "room", out)
	pageapi.WriteJSON(w, http.StatusOK, out)
}

// Recording is an archive of a room as pages see it.
type Recording struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Status     string `json:"status"`
	OutputMode string `json:"outputMode"`
	CreatedAt  int64  `json:"createdAt"`
	Duration   int    `json:"duration"`
	Size       int64  `json:"size"`
	// URL plays or downloads an available recording, for a few minutes.
	URL string `json:"url,omitempty"`
}

func (a *App) recordingJSON(ar opentok.Archive) Recording {
	rec := Recording{ID: ar.ID, Name: ar.Name, Status: ar.Status, OutputMode: string(ar.OutputMode),
		CreatedAt: ar.CreatedAt, Duration: ar.Duration, Size: ar.Size}
	if ar.URL != nil {
		rec.URL = a.pageURL(*ar.URL)
	}
	return rec
}

// pageURL turns a download link on the API's own address into one on
// the page's origin (the app calls the API on the node's address, which
// the visitor's browser may not reach by that name).
func (a *App) pageURL(link string) string {
	u, err := url.Parse(link)
	base, berr := url.Parse(a.o.APIURL())
	if err != nil || berr != nil || u.Host != base.Host {
		return link
	}
	return u.RequestURI()
}

func (a *App) recordings(w http.ResponseWriter, r *http.Request, _ ticket, room store.Room) {
	list, _, err := a.client().ListArchives(r.Context(), opentok.ListArchivesOptions{SessionID: room.SessionID, Count: 100})
	if err != nil {
		a.internal(w, "recordings of "+room.Name, err)
		return
	}
	out := []Recording{}
	for _, ar := range list {
		out = append(out, a.recordingJSON(ar))
	}
	pageapi.WriteJSON(w, http.StatusOK, map[string]any{"items": out})
}

func (a *App) startRecording(w http.ResponseWriter, r *http.Request, t ticket, room store.Room) {
	var body struct {
		OutputMode string `json:"outputMode"`
	}
	if !pageapi.ReadJSON(w, r, &body) {
		return
	}
	mode := opentok.OutputMode(body.OutputMode)
	if mode == "" {
		mode = opentok.Composed
	}
	if mode != opentok.Composed && mode != opentok.Individual {
		pageapi.WriteError(w, http.StatusBadRequest, "outputMode is composed or individual")
		return
	}
	o := opentok.ArchiveOptions{Name: t.Name + " " + a.o.Now().UTC().Format("2006-01-02 15:04"), OutputMode: mode}
	if mode == opentok.Composed {
		o.Resolution = "1280x720"
	}
	ar, err := a.client().StartArchive(r.Context(), room.SessionID, o)
	if err != nil {
		a.apiError(w, "start recording "+room.Name, err)
		return
	}
	a.signal(r.Context(), room, "recordings", map[string]string{"id": ar.ID})
	pageapi.WriteJSON(w, http.StatusCreated, a.recordingJSON(*ar))
}

// roomArchive finds archive id among the room's session's; other ids are
// unknown here.
func (a *App) roomArchive(w http.ResponseWriter, r *http.Request, room store.Room) (string, bool) {
	id := r.PathValue("id")
	ar, err := a.client().GetArchive(r.Context(), id)
	if errors.Is(err, opentok.ErrNotFound) || (err == nil && ar.SessionID != room.SessionID) {
		pageapi.WriteError(w, http.StatusNotFound, "this room has no such recording")
		return "", false
	}
	if err != nil {
		a.apiError(w, "recording "+id, err)
		return "", false
	}
	return ar.ID, true
}

func (a *App) stopRecording(w http.ResponseWriter, r *http.Request, _ ticket, room store.Room) {
	id, ok := a.roomArchive(w, r, room)
	if !ok {
		return
	}
	ar, err := a.client().StopArchive(r.Context(), id)
	if err != nil {
		a.apiError(w, "stop recording "+id, err)
		return
	}
	a.signal(r.Context(), room, "recordings", map[string]string{"id": ar.ID})
	pageapi.WriteJSON(w, http.StatusOK, a.recordingJSON(*ar))
}

func (a *App) deleteRecording(w http.ResponseWriter, r *http.Request, _ ticket, room store.Room) {
	id, ok := a.roomArchive(w, r, room)
	if !ok {
		return
	}
	if err := a.client().DeleteArchive(r.Context(), id); err != nil {
		a.apiError(w, "delete recording "+id, err)
		return
	}
	a.signal(r.Context(), room, "recordings", map[string]string{"id": id})
	w.WriteHeader(http.StatusNoContent)
}

// signal tells everyone in the room's session; a session nobody is
// connected to has no one to tell.
func (a *App) signal(ctx context.Context, room store.Room, typ string, v any) {
	b, _ := json.Marshal(v)
	err := a.client().Signal(ctx, room.SessionID, "", typ, string(b))
	if err != nil && !errors.Is(err, opentok.ErrNotFound) {
		a.o.Log.Warn("meet: signal", "room", room.Name, "type", typ, "err", err)
	}
}

func chatJSON(m store.ChatMessage) ChatMessage {
	return ChatMessage{ID: m.ID, From: m.From, Text: m.Text, At: m.At.UnixMilli()}
}

// cleanText trims s and checks it: valid UTF-8, at most max characters,
// no control characters (but newlines and tabs when multiline).
func cleanText(s string, max int, multiline bool) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return "", errors.New("bad text")
	}
	for _, c := range s {
		if unicode.IsControl(c) && !(multiline && (c == '\n' || c == '\t')) {
			return "", errors.New("bad text")
		}
	}
	return s, nil
}

func (a *App) internal(w http.ResponseWriter, what string, err error) {
	a.o.Log.Error("meet: "+what, "err", err)
	pageapi.WriteError(w, http.StatusInternalServerError, "the server could not do that; try again")
}

// apiError passes on a refusal of the REST API (recording already
// running, nothing to record…) in its own words.
func (a *App) apiError(w http.ResponseWriter, what string, err error) {
	var e *opentok.Error
	if errors.As(err, &e) && e.Status >= 400 && e.Status < 500 {
		pageapi.WriteError(w, http.StatusConflict, e.Message)
		return
	}
	a.internal(w, what, err)
}

// precallSession hands out a publisher token for the shared pre-call
// test session.
func (a *App) precallSession(w http.ResponseWriter, r *http.Request) {
	a.precallMu.Lock()
	if a.precall == "" {
		s, err := a.client().CreateSession(r.Context(), opentok.SessionOptions{MediaMode: opentok.Routed})
		if err != nil {
			a.precallMu.Unlock()
			a.internal(w, "pre-call session", err)
			return
		}
		a.precall = s.ID
	}
	sid := a.precall
	a.precallMu.Unlock()
	tok, err := a.client().GenerateToken(sid, opentok.TokenOptions{Role: opentok.RolePublisher, ExpireTime: a.o.Now().Add(time.Hour), Data: `{"precall":true}`})
	if err != nil {
		a.internal(w, "pre-call token", err)
		return
	}
	pageapi.WriteJSON(w, http.StatusOK, map[string]string{"apiKey": a.o.APIKey, "sessionId": sid, "token": tok})
}
