package live

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/session"
)

// signUp makes a signed-in client of a new user.
func signUp(t *testing.T, base, name string) *client {
	t.Helper()
	c := newClient(t, base)
	if resp, out := c.post("/live/api/signup", `{"name":"`+name+`","password":"correct horse"}`); resp.StatusCode != http.StatusCreated {
		t.Fatalf("sign up %s: %d %v", name, resp.StatusCode, out)
	}
	return c
}

func TestCallsRefuseBadRequests(t *testing.T) {
	_, srv, _ := newTestApp(t)
	ann := signUp(t, srv.URL, "Ann")
	signUp(t, srv.URL, "Bob")
	for _, c := range []struct {
		path, body string
		status     int
	}{
		{"/live/api/lobby/register", `{"connectionId":""}`, http.StatusBadRequest},
		{"/live/api/lobby/register", `{"connectionId":"a/b"}`, http.StatusBadRequest},
		{"/live/api/lobby/register", `{"connectionId":"` + strings.Repeat("a", 65) + `"}`, http.StatusBadRequest},
		{"/live/api/lobby/confirm", `{"code":"guess"}`, http.StatusBadRequest},
		{"/live/api/calls", `{"to":"Nobody"}`, http.StatusNotFound},
		{"/live/api/calls", `{"to":"ann"}`, http.StatusNotFound},
		{"/live/api/calls", `{"to":"Bob"}`, http.StatusConflict}, // not online
		{"/live/api/calls", `{"to":`, http.StatusBadRequest},
		{"/live/api/calls/nope/accept", `{}`, http.StatusNotFound},
		{"/live/api/pair", `{}`, http.StatusConflict}, // not in the lobby
	} {
		if resp, out := ann.post(c.path, c.body); resp.StatusCode != c.status || out["message"] == "" {
			t.Errorf("%s %s: %d %v, want %d", c.path, c.body, resp.StatusCode, out, c.status)
		}
	}
}

func TestCallStates(t *testing.T) {
	a, srv, st := newTestApp(t)
	now := time.Now()
	a.o.Now = func() time.Time { return now }
	ann := signUp(t, srv.URL, "Ann")
	bob := signUp(t, srv.URL, "Bob")
	cat := signUp(t, srv.URL, "Cat")
	ids := map[string]int64{}
	for _, n := range []string{"Ann", "Bob", "Cat"} {
		u, err := st.LiveUserByName(t.Context(), n)
		if err != nil {
			t.Fatal(err)
		}
		ids[n] = u.ID
	}
	sid := session.NewID("1", "", now)
	ring := func(id string) {
		a.lobby.mu.Lock()
		a.lobby.calls[id] = &call{ID: id, SessionID: sid, Users: [2]int64{ids["Ann"], ids["Bob"]}, Names: [2]string{"Ann", "Bob"}, State: callRinging, At: now}
		a.lobby.mu.Unlock()
	}
	post := func(c *client, path string, want int) map[string]any {
		t.Helper()
		resp, out := c.post(path, `{}`)
		if resp.StatusCode != want {
			t.Fatalf("%s: %d %v, want %d", path, resp.StatusCode, out, want)
		}
		return out
	}

	ring("c1")
	post(cat, "/live/api/calls/c1/accept", http.StatusNotFound) // not hers
	post(ann, "/live/api/calls/c1/accept", http.StatusConflict) // the caller cannot answer
	post(bob, "/live/api/calls/c1/join", http.StatusConflict)   // not accepted yet
	out := post(bob, "/live/api/calls/c1/accept", http.StatusOK)
	if out["token"] == "" || out["sessionId"] != sid || out["call"].(map[string]any)["peer"] != "Ann" {
		t.Fatalf("accept: %v", out)
	}
	post(bob, "/live/api/calls/c1/accept", http.StatusConflict) // twice
	post(ann, "/live/api/calls/c1/cancel", http.StatusConflict) // answered already
	if out := post(ann, "/live/api/calls/c1/join", http.StatusOK); out["token"] == "" {
		t.Fatalf("join: %v", out)
	}
	post(ann, "/live/api/calls/c1/hangup", http.StatusOK)
	post(bob, "/live/api/calls/c1/hangup", http.StatusConflict)
	post(bob, "/live/api/calls/c1/join", http.StatusConflict)
	post(bob, "/live/api/calls/c1/dance", http.StatusNotFound)

	ring("c2")
	post(bob, "/live/api/calls/c2/reject", http.StatusOK)
	post(bob, "/live/api/calls/c2/accept", http.StatusConflict)

	ring("c3")
	now = now.Add(RingTimeout + time.Second)
	if _, out := bob.post("/live/api/calls/c3/accept", `{}`); out["message"] != "the call rang out" {
		t.Fatalf("late answer: %v", out)
	}
	ring("c4")
	post(bob, "/live/api/calls/c4/cancel", http.StatusConflict) // only the caller calls off
	post(ann, "/live/api/calls/c4/cancel", http.StatusOK)
	post(bob, "/live/api/calls/c4/accept", http.StatusConflict)
}
