package live

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/apps/pageapi"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/pkg/opentok"
)

// Calls and pairing. Signed-in users on the call page connect to one
// shared "lobby" session (subscribe-only), which is how the app reaches
// them: the server signals a user's lobby connection to ring it, to say
// a call was accepted, rejected, timed out or hung up, or that a partner
// was found. Which connection is whose is proven by a code the server
// signals to the connection and the signed-in page sends back. The calls
// themselves are two-person routed sessions. All of it lives in memory:
// a restart drops calls in progress, as it drops their media.

// RingTimeout is how long an invitation rings before it is called off.
const RingTimeout = 30 * time.Second

// Call states.
const (
	callRinging = "ringing"
	callActive  = "active"
	callEnded   = "ended"
)

type lobbyConn struct {
	ConnectionID string
	Name         string
}

type proof struct {
	UserID       int64
	Name         string
	ConnectionID string
	Code         string
	At           time.Time
}

type call struct {
	ID        string
	SessionID string
	// Users are the caller (or the first paired) and the callee.
	Users  [2]int64
	Names  [2]string
	State  string
	Paired bool
	At     time.Time
}

func (c *call) side(userID int64) int {
	switch userID {
	case c.Users[0]:
		return 0
	case c.Users[1]:
		return 1
	}
	return -1
}

// lobby is the app's in-memory registry of who is reachable, the calls,
// and the users waiting to be paired.
type lobby struct {
	mu        sync.Mutex
	sessionID string
	conns     map[int64]lobbyConn
	proofs    map[int64]proof
	calls     map[string]*call
	waiting   []int64
}

func newLobby() *lobby {
	return &lobby{conns: map[int64]lobbyConn{}, proofs: map[int64]proof{}, calls: map[string]*call{}}
}

// CallJSON is a call as pages see it.
type CallJSON struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Caller string `json:"caller"`
	Callee string `json:"callee"`
	// Peer is the other person, seen from the asking user.
	Peer   string `json:"peer"`
	Paired bool   `json:"paired"`
}

func (c *call) json(userID int64) CallJSON {
	j := CallJSON{ID: c.ID, State: c.State, Caller: c.Names[0], Callee: c.Names[1], Paired: c.Paired}
	if c.side(userID) == 0 {
		j.Peer = c.Names[1]
	} else {
		j.Peer = c.Names[0]
	}
	return j
}

// callEvent is the data of a "call" signal to a lobby connection.
type callEvent struct {
	CallJSON
	// Event is what happened: ringing, accepted, rejected, timeout,
	// cancelled, hungup, paired.
	Event string `json:"event"`
}

// lobbySession returns the lobby's session, creating it on first use.
func (a *App) lobbySession(ctx context.Context) (string, error) {
	l := a.lobby
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sessionID != "" {
		return l.sessionID, nil
	}
	s, err := a.client().CreateSession(ctx, opentok.SessionOptions{MediaMode: opentok.Routed})
	if err != nil {
		return "", err
	}
	l.sessionID = s.ID
	return s.ID, nil
}

// joinLobby hands the page a subscribe-only token for the lobby.
func (a *App) joinLobby(w http.ResponseWriter, r *http.Request, u store.LiveUser) {
	sid, err := a.lobbySession(r.Context())
	if err != nil {
		a.internal(w, "lobby", err)
		return
	}
	tok, err := a.token(sid, opentok.RoleSubscriber, connectionData{Name: u.Name, Role: "lobby"})
	if err != nil {
		a.internal(w, "token", err)
		return
	}
	pageapi.WriteJSON(w, http.StatusOK, map[string]string{"apiKey": a.o.APIKey, "sessionId": sid, "token": tok, "name": u.Name})
}

func validConnectionID(id string) bool {
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

// registerLobby starts proving that a lobby connection is the user's:
// the server signals a code to it, which the page sends back to
// confirmLobby.
func (a *App) registerLobby(w http.ResponseWriter, r *http.Request, u store.LiveUser) {
	var body struct {
		ConnectionID string `json:"connectionId"`
	}
	if !pageapi.ReadJSON(w, r, &body) {
		return
	}
	if !validConnectionID(body.ConnectionID) {
		pageapi.WriteError(w, http.StatusBadRequest, "connectionId is the page's lobby connection id")
		return
	}
	sid, err := a.lobbySession(r.Context())
	if err != nil {
		a.internal(w, "lobby", err)
		return
	}
	code := rand.Text()
	a.lobby.mu.Lock()
	a.lobby.proofs[u.ID] = proof{UserID: u.ID, Name: u.Name, ConnectionID: body.ConnectionID, Code: code, At: a.o.Now()}
	a.lobby.mu.Unlock()
	err = a.client().Signal(r.Context(), sid, body.ConnectionID, "lobby-check", code)
	if errors.Is(err, opentok.ErrNotFound) {
		pageapi.WriteError(w, http.StatusNotFound, "that connection is not in the lobby")
		return
	}
	if err != nil {
		a.internal(w, "lobby check", err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (a *App) confirmLobby(w http.ResponseWriter, r *http.Request, u store.LiveUser) {
	var body struct {
		Code string `json:"code"`
	}
	if !pageapi.ReadJSON(w, r, &body) {
		return
	}
	l := a.lobby
	l.mu.Lock()
	p, ok := l.proofs[u.ID]
	good := ok && body.Code != "" && subtle.ConstantTimeCompare([]byte(body.Code), []byte(p.Code)) == 1 && a.o.Now().Sub(p.At) < time.Minute
	if good {
		delete(l.proofs, u.ID)
		l.conns[u.ID] = lobbyConn{ConnectionID: p.ConnectionID, Name: u.Name}
	}
	l.mu.Unlock()
	if !good {
		pageapi.WriteError(w, http.StatusBadRequest, "wrong or stale code; register the connection again")
		return
	}
	pageapi.WriteJSON(w, http.StatusOK, map[string]bool{"online": true})
}

// prune forgets the lobby connections that are gone (closed tabs), and
// calls long over or unanswered; it asks the lobby session who is
// connected.
func (a *App) prune(ctx context.Context) error {
	l := a.lobby
	l.mu.Lock()
	sid := l.sessionID
	l.mu.Unlock()
	connected := map[string]bool{}
	if sid != "" {
		conns, err := a.client().ListConnections(ctx, sid)
		if err != nil && !errors.Is(err, opentok.ErrNotFound) {
			return err
		}
		for _, c := range conns {
			connected[c.ConnectionID] = true
		}
	}
	now := a.o.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, c := range l.conns {
		if !connected[c.ConnectionID] {
			delete(l.conns, id)
		}
	}
	for id, p := range l.proofs {
		if now.Sub(p.At) > time.Minute {
			delete(l.proofs, id)
		}
	}
	l.waiting = slices.DeleteFunc(l.waiting, func(id int64) bool { _, ok := l.conns[id]; return !ok })
	for id, c := range l.calls {
		if (c.State == callRinging && now.Sub(c.At) > 2*RingTimeout) || (c.State == callEnded && now.Sub(c.At) > time.Minute) ||
			now.Sub(c.At) > 24*time.Hour {
			delete(l.calls, id)
		}
	}
	return nil
}

// online lists the names of the other users reachable in the lobby.
func (a *App) online(w http.ResponseWriter, r *http.Request, u store.LiveUser) {
	if err := a.prune(r.Context()); err != nil {
		a.internal(w, "online users", err)
		return
	}
	l := a.lobby
	l.mu.Lock()
	names := []string{}
	_, me := l.conns[u.ID]
	for id, c := range l.conns {
		if id != u.ID {
			names = append(names, c.Name)
		}
	}
	l.mu.Unlock()
	slices.SortFunc(names, func(x, y string) int { return strings.Compare(strings.ToLower(x), strings.ToLower(y)) })
	pageapi.WriteJSON(w, http.StatusOK, map[string]any{"users": names, "online": me})
}

// tell signals a call event to a user's lobby connection, if it has one.
func (a *App) tell(ctx context.Context, userID int64, c call, event string) {
	l := a.lobby
	l.mu.Lock()
	conn, ok := l.conns[userID]
	sid := l.sessionID
	l.mu.Unlock()
	if !ok {
		return
	}
	b, _ := json.Marshal(callEvent{CallJSON: c.json(userID), Event: event})
	if err := a.client().Signal(ctx, sid, conn.ConnectionID, "call", string(b)); err != nil && !errors.Is(err, opentok.ErrNotFound) {
		a.o.Log.Warn("live: call signal", "call", c.ID, "event", event, "err", err)
	}
}

// newCall makes the routed session of a call between users a and b.
func (a *App) newCall(ctx context.Context, users [2]int64, names [2]string, state string, paired bool) (*call, error) {
	s, err := a.client().CreateSession(ctx, opentok.SessionOptions{MediaMode: opentok.Routed})
	if err != nil {
		return nil, err
	}
	return &call{ID: newShowID(), SessionID: s.ID, Users: users, Names: names, State: state, Paired: paired, At: a.o.Now()}, nil
}

// startCall rings a user by name.
func (a *App) startCall(w http.ResponseWriter, r *http.Request, u store.LiveUser) {
	var body struct {
		To string `json:"to"`
	}
	if !pageapi.ReadJSON(w, r, &body) {
		return
	}
	ctx := r.Context()
	if err := a.prune(ctx); err != nil {
		a.internal(w, "online users", err)
		return
	}
	callee, err := a.o.Store.LiveUserByName(ctx, strings.TrimSpace(body.To))
	if errors.Is(err, store.ErrNotFound) || (err == nil && callee.ID == u.ID) {
		pageapi.WriteError(w, http.StatusNotFound, "no other user of that name")
		return
	}
	if err != nil {
		a.internal(w, "callee", err)
		return
	}
	a.lobby.mu.Lock()
	_, reachable := a.lobby.conns[callee.ID]
	a.lobby.mu.Unlock()
	if !reachable {
		pageapi.WriteError(w, http.StatusConflict, callee.Name+" is not online")
		return
	}
	c, err := a.newCall(ctx, [2]int64{u.ID, callee.ID}, [2]string{u.Name, callee.Name}, callRinging, false)
	if err != nil {
		a.internal(w, "call session", err)
		return
	}
	a.lobby.mu.Lock()
	a.lobby.calls[c.ID] = c
	snap := *c
	a.lobby.mu.Unlock()
	a.tell(ctx, callee.ID, snap, "ringing")
	pageapi.WriteJSON(w, http.StatusCreated, snap.json(u.ID))
}

// callAction is one of accept, reject, cancel, hangup, join.
func (a *App) callAction(w http.ResponseWriter, r *http.Request, u store.LiveUser) {
	id, action := r.PathValue("id"), r.PathValue("action")
	l := a.lobby
	l.mu.Lock()
	c, ok := l.calls[id]
	if !ok || c.side(u.ID) < 0 {
		l.mu.Unlock()
		pageapi.WriteError(w, http.StatusNotFound, "no such call")
		return
	}
	side := c.side(u.ID)
	other := c.Users[1-side]
	now := a.o.Now()
	event := ""
	var bad string
	switch action {
	case "accept", "reject":
		switch {
		case side != 1:
			bad = "only the person called can answer"
		case c.State != callRinging:
			bad = "the call is " + c.State
		case now.Sub(c.At) > RingTimeout:
			c.State, c.At, event = callEnded, now, "timeout"
			bad = "the call rang out"
		case action == "accept":
			c.State, c.At, event = callActive, now, "accepted"
		default:
			c.State, c.At, event = callEnded, now, "rejected"
		}
	case "cancel":
		var body struct {
			Reason string `json:"reason"`
		}
		l.mu.Unlock()
		if !pageapi.ReadJSON(w, r, &body) {
			return
		}
		l.mu.Lock()
		switch {
		case side != 0:
			bad = "only the caller can call off"
		case c.State != callRinging:
			bad = "the call is " + c.State
		default:
			event = "cancelled"
			if body.Reason == "timeout" {
				event = "timeout"
			}
			c.State, c.At = callEnded, now
		}
	case "hangup":
		if c.State == callEnded {
			bad = "the call is over"
		} else {
			c.State, c.At, event = callEnded, now, "hungup"
		}
	case "join":
		if c.State != callActive {
			bad = "the call is " + c.State
		}
	default:
		l.mu.Unlock()
		pageapi.WriteError(w, http.StatusNotFound, "no such action")
		return
	}
	snap := *c
	l.mu.Unlock()
	if event != "" {
		a.tell(r.Context(), other, snap, event)
	}
	if bad != "" {
		pageapi.WriteError(w, http.StatusConflict, bad)
		return
	}
	if action == "accept" || action == "join" {
		a.joinCall(w, u, snap)
		return
	}
	pageapi.WriteJSON(w, http.StatusOK, snap.json(u.ID))
}

// joinCall answers with what the page needs to join the call's session.
func (a *App) joinCall(w http.ResponseWriter, u store.LiveUser, c call) {
	tok, err := a.token(c.SessionID, opentok.RolePublisher, connectionData{Name: u.Name, Role: "caller"})
	if err != nil {
		a.internal(w, "token", err)
		return
	}
	pageapi.WriteJSON(w, http.StatusOK, map[string]any{"call": c.json(u.ID), "apiKey": a.o.APIKey, "sessionId": c.SessionID, "token": tok})
}

// pair puts the user with the first other user waiting, in a new call,
// or in the queue when nobody waits. Pressing it again ("next") after a
// call pairs again.
func (a *App) pair(w http.ResponseWriter, r *http.Request, u store.LiveUser) {
	ctx := r.Context()
	if err := a.prune(ctx); err != nil {
		a.internal(w, "online users", err)
		return
	}
	l := a.lobby
	l.mu.Lock()
	if _, ok := l.conns[u.ID]; !ok {
		l.mu.Unlock()
		pageapi.WriteError(w, http.StatusConflict, "join the lobby first")
		return
	}
	l.waiting = slices.DeleteFunc(l.waiting, func(id int64) bool { return id == u.ID })
	if len(l.waiting) == 0 {
		l.waiting = append(l.waiting, u.ID)
		l.mu.Unlock()
		pageapi.WriteJSON(w, http.StatusAccepted, map[string]bool{"waiting": true})
		return
	}
	peer := l.waiting[0]
	l.waiting = l.waiting[1:]
	peerName := l.conns[peer].Name
	l.mu.Unlock()
	c, err := a.newCall(ctx, [2]int64{peer, u.ID}, [2]string{peerName, u.Name}, callActive, true)
	if err != nil {
		l.mu.Lock()
		l.waiting = append([]int64{peer}, l.waiting...)
		l.mu.Unlock()
		a.internal(w, "call session", err)
		return
	}
	l.mu.Lock()
	l.calls[c.ID] = c
	snap := *c
	l.mu.Unlock()
	a.tell(ctx, peer, snap, "paired")
	a.joinCall(w, u, snap)
}

// unpair takes the user out of the queue.
func (a *App) unpair(w http.ResponseWriter, _ *http.Request, u store.LiveUser) {
	l := a.lobby
	l.mu.Lock()
	l.waiting = slices.DeleteFunc(l.waiting, func(id int64) bool { return id == u.ID })
	l.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}
