package meet_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/apps/meet"
	"github.com/parleyhq/parley/internal/api"
	"github.com/parleyhq/parley/internal/project"
	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/store/sqlite"
	"github.com/parleyhq/parley/internal/token"
)

const (
	key    = "1234567"
	secret = "a-secret-of-some-length"
)

// server is Parley's REST API and Meet on one test server, Meet calling
// the API over HTTP as it does in a node.
func server(t *testing.T) (*httptest.Server, *sqlite.Store) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateProject(context.Background(), store.Project{APIKey: key, Secret: secret, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	rest := api.New(st, &project.Authenticator{Lookup: st.Project}, slog.New(slog.DiscardHandler), nil)
	rest.Sessions = session.NewRegistry(session.Options{})
	rest.Routes(mux)
	var base string
	meet.New(meet.Options{Store: st, APIKey: key, APISecret: secret, APIURL: func() string { return base }}).Routes(mux)
	srv := httptest.NewServer(mux)
	base = srv.URL
	t.Cleanup(srv.Close)
	return srv, st
}

type answer struct {
	status int
	body   map[string]any
	header http.Header
}

func call(t *testing.T, method, url, ticket, contentType, body string) answer {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if ticket != "" {
		req.Header.Set("Authorization", "Bearer "+ticket)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header}
	json.Unmarshal(b.Bytes(), &a.body)
	return a
}

func join(t *testing.T, srv *httptest.Server, room, body string) answer {
	t.Helper()
	return call(t, "POST", srv.URL+"/meet/api/rooms/"+room+"/join", "", "application/json", body)
}

func TestRoomNames(t *testing.T) {
	srv, _ := server(t)
	a := call(t, "GET", srv.URL+"/", "", "", "")
	loc := a.header.Get("Location")
	name, ok := strings.CutPrefix(loc, "/room/")
	if a.status != http.StatusFound || !ok || !meet.ValidRoomName(name) || strings.Count(name, "-") != 2 {
		t.Fatalf("GET / = %d to %q", a.status, loc)
	}
	if a := call(t, "GET", srv.URL+loc, "", "", ""); a.status != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") {
		t.Fatalf("room page: %d %v", a.status, a.header)
	}
	if a := call(t, "GET", srv.URL+"/room/Calm-River?key=k", "", "", ""); a.status != http.StatusMovedPermanently || a.header.Get("Location") != "/room/calm-river?key=k" {
		t.Fatalf("upper-case name: %d %q", a.status, a.header.Get("Location"))
	}
	for _, bad := range []string{"a_b", "-ab", "ab-", strings.Repeat("a", 65), "a%20b"} {
		if a := call(t, "GET", srv.URL+"/room/"+bad, "", "", ""); a.status != http.StatusNotFound {
			t.Errorf("room %q: %d, want 404", bad, a.status)
		}
		if a := join(t, srv, bad, `{"name":"ann"}`); a.status != http.StatusNotFound {
			t.Errorf("join %q: %d, want 404", bad, a.status)
		}
	}
	if a := call(t, "GET", srv.URL+"/meet/static/app.js", "", "", ""); a.status != 200 {
		t.Fatalf("app.js: %d", a.status)
	}
}

func TestJoinRolesAndLock(t *testing.T) {
	srv, st := server(t)
	// Bad input changes nothing.
	for _, c := range []struct{ ct, body string }{
		{"text/plain", `{"name":"ann"}`},
		{"application/json", `{"name":`},
		{"application/json", `{"name":"   "}`},
		{"application/json", `{"name":"a\u0007b"}`},
		{"application/json", `{"name":"` + strings.Repeat("x", 65) + `"}`},
	} {
		if a := call(t, "POST", srv.URL+"/meet/api/rooms/quiet-lake/join", "", c.ct, c.body); a.status < 400 || a.body["message"] == "" {
			t.Errorf("%s %s: %d %v", c.ct, c.body, a.status, a.body)
		}
	}
	if _, err := st.Room(context.Background(), "quiet-lake"); err == nil {
		t.Fatal("a refused join made the room")
	}

	// Several first joiners at once: one session, one moderator.
	var wg sync.WaitGroup
	got := make([]answer, 4)
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i] = join(t, srv, "quiet-lake", `{"name":"p"}`) }()
	}
	wg.Wait()
	moderators := 0
	var mod answer
	for _, a := range got {
		if a.status != 200 || a.body["sessionId"] != got[0].body["sessionId"] {
			t.Fatalf("joins disagree: %v vs %v", a.body, got[0].body)
		}
		if a.body["moderator"] == true {
			moderators++
			mod = a
		} else if a.body["role"] != "publisher" || a.body["moderatorKey"] != nil {
			t.Fatalf("publisher join: %v", a.body)
		}
	}
	if moderators != 1 || mod.body["role"] != "moderator" || mod.body["moderatorKey"] == "" {
		t.Fatalf("%d moderators: %v", moderators, mod.body)
	}
	sid := mod.body["sessionId"].(string)
	claims, err := token.Verify(mod.body["token"].(string), sid, func(string) (string, error) { return secret, nil }, time.Now())
	if err != nil || claims.Role != token.RoleModerator || claims.Data != `{"name":"p"}` {
		t.Fatalf("moderator token: %+v %v", claims, err)
	}
	pub := got[0]
	if pub.body["moderator"] == true {
		pub = got[1]
	}
	modKey := mod.body["moderatorKey"].(string)

	// The moderator link makes a moderator; a wrong key does not.
	if a := join(t, srv, "quiet-lake", `{"name":"bo","key":"`+modKey+`"}`); a.body["moderator"] != true {
		t.Fatalf("moderator link: %v", a.body)
	}
	if a := join(t, srv, "quiet-lake", `{"name":"bo","key":"nope"}`); a.body["moderator"] != false {
		t.Fatalf("wrong key: %v", a.body)
	}

	lockURL := srv.URL + "/meet/api/rooms/quiet-lake/lock"
	if a := call(t, "POST", lockURL, "", "application/json", `{"locked":true}`); a.status != 401 {
		t.Fatalf("lock without ticket: %d", a.status)
	}
	if a := call(t, "POST", lockURL, pub.body["ticket"].(string), "application/json", `{"locked":true}`); a.status != 403 {
		t.Fatalf("lock by a publisher: %d", a.status)
	}
	forged := mod.body["ticket"].(string) + "x"
	if a := call(t, "POST", lockURL, forged, "application/json", `{"locked":true}`); a.status != 401 {
		t.Fatalf("forged ticket: %d", a.status)
	}
	if a := call(t, "POST", lockURL, mod.body["ticket"].(string), "application/json", `{}`); a.status != 400 {
		t.Fatalf("lock without state: %d", a.status)
	}
	if a := call(t, "POST", lockURL, mod.body["ticket"].(string), "application/json", `{"locked":true}`); a.status != 200 {
		t.Fatalf("lock: %d %v", a.status, a.body)
	}
	if a := join(t, srv, "quiet-lake", `{"name":"late"}`); a.status != 403 || !strings.Contains(a.body["message"].(string), "locked") {
		t.Fatalf("newcomer in a locked room: %d %v", a.status, a.body)
	}
	if a := join(t, srv, "quiet-lake", `{"name":"mod","key":"`+modKey+`"}`); a.status != 200 {
		t.Fatalf("moderator into a locked room: %d %v", a.status, a.body)
	}
	// A ticket of one room is worth nothing in another.
	join(t, srv, "other-room", `{"name":"x"}`)
	if a := call(t, "POST", srv.URL+"/meet/api/rooms/other-room/lock", mod.body["ticket"].(string), "application/json", `{"locked":true}`); a.status != 401 {
		t.Fatalf("ticket of another room: %d", a.status)
	}
}

func TestChatHistory(t *testing.T) {
	srv, _ := server(t)
	ann := join(t, srv, "busy-bee", `{"name":"Ann"}`)
	chat := srv.URL + "/meet/api/rooms/busy-bee/chat"
	tk := ann.body["ticket"].(string)
	for _, bad := range []string{`{"text":""}`, `{"text":"a\u0000"}`, `{"text":"` + strings.Repeat("é", 1001) + `"}`, `[1]`} {
		if a := call(t, "POST", chat, tk, "application/json", bad); a.status != 400 {
			t.Errorf("chat %.40s: %d", bad, a.status)
		}
	}
	for _, text := range []string{"hello", "line one\nline two"} {
		if a := call(t, "POST", chat, tk, "application/json", `{"text":`+jsonString(text)+`}`); a.status != 201 || a.body["from"] != "Ann" {
			t.Fatalf("chat: %d %v", a.status, a.body)
		}
	}
	bob := join(t, srv, "busy-bee", `{"name":"Bob"}`)
	h, _ := bob.body["history"].([]any)
	if len(h) != 2 || h[0].(map[string]any)["text"] != "hello" || h[1].(map[string]any)["from"] != "Ann" {
		t.Fatalf("history = %v", bob.body["history"])
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestNewRoomLimitAndRecordingRights(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateProject(context.Background(), store.Project{APIKey: key, Secret: secret, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	rest := api.New(st, &project.Authenticator{Lookup: st.Project}, slog.New(slog.DiscardHandler), nil)
	rest.Sessions = session.NewRegistry(session.Options{})
	rest.Routes(mux)
	var base string
	meet.New(meet.Options{Store: st, APIKey: key, APISecret: secret, APIURL: func() string { return base }, NewRoomsPerMinute: 2}).Routes(mux)
	srv := httptest.NewServer(mux)
	base = srv.URL
	t.Cleanup(srv.Close)

	a := join(t, srv, "room-one", `{"name":"a"}`)
	join(t, srv, "room-two", `{"name":"a"}`)
	if got := join(t, srv, "room-three", `{"name":"a"}`); got.status != http.StatusServiceUnavailable {
		t.Fatalf("third new room in a minute: %d %v", got.status, got.body)
	}
	// Rooms in use can still be joined.
	b := join(t, srv, "room-one", `{"name":"b"}`)
	if b.status != 200 || b.body["moderator"] != false {
		t.Fatalf("join a room in use: %d %v", b.status, b.body)
	}
	rec := srv.URL + "/meet/api/rooms/room-one/recordings"
	if got := call(t, "POST", rec, b.body["ticket"].(string), "application/json", `{}`); got.status != 403 {
		t.Fatalf("a publisher starts a recording: %d", got.status)
	}
	if got := call(t, "DELETE", rec+"/0b4a7f4e-0000-4000-8000-000000000000", b.body["ticket"].(string), "", ""); got.status != 403 {
		t.Fatalf("a publisher deletes a recording: %d", got.status)
	}
	if got := call(t, "POST", rec, a.body["ticket"].(string), "application/json", `{"outputMode":"sideways"}`); got.status != 400 {
		t.Fatalf("bad output mode: %d", got.status)
	}
	if got := call(t, "GET", rec, "", "", ""); got.status != 401 {
		t.Fatalf("list without a ticket: %d", got.status)
	}
	// The pre-call test session is one routed session for everyone.
	p1 := call(t, "POST", srv.URL+"/meet/api/precall", "", "", "")
	p2 := call(t, "POST", srv.URL+"/meet/api/precall", "", "", "")
	if p1.status != 200 || p1.body["sessionId"] == "" || p1.body["sessionId"] != p2.body["sessionId"] || p1.body["token"] == p2.body["token"] {
		t.Fatalf("precall: %v / %v", p1.body, p2.body)
	}
	if s, err := st.Session(context.Background(), p1.body["sessionId"].(string)); err != nil || s.MediaMode != session.Routed {
		t.Fatalf("precall session: %+v %v", s, err)
	}
}
