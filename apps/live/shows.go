package live

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/parleyhq/parley/apps/pageapi"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/pkg/opentok"
)

// Show limits.
const (
	MaxTitleLen = 100
	// prepareLimit is how long a show may stay preparing (the presenter
	// connecting and publishing) before it is given up.
	prepareLimit = 10 * time.Minute
	tokenTTL     = 12 * time.Hour
	// reconnectGrace is how long a show on air may have nobody connected
	// (since it started, or was last seen with someone connected) before
	// it is taken for over: a presenter reconnecting is briefly gone.
	reconnectGrace = 15 * time.Second
)

// ShowJSON is a show as pages see it.
type ShowJSON struct {
	ID        string `json:"id"`
	Presenter string `json:"presenter"`
	Title     string `json:"title"`
	Status    string `json:"status"`
	// StartedAt and EndedAt are in ms since the epoch, 0 when not yet.
	StartedAt int64 `json:"startedAt"`
	EndedAt   int64 `json:"endedAt"`
	// Viewers is how many viewers are connected (shows on air only).
	Viewers int  `json:"viewers"`
	Mine    bool `json:"mine"`
}

func showJSON(s store.Show, u store.LiveUser) ShowJSON {
	return ShowJSON{ID: s.ID, Presenter: s.Presenter, Title: s.Title, Status: s.Status,
		StartedAt: ms(s.StartedAt), EndedAt: ms(s.EndedAt), Mine: s.UserID == u.ID}
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// Joined is what a page needs to connect to a show's session.
type Joined struct {
	Show      ShowJSON `json:"show"`
	APIKey    string   `json:"apiKey"`
	SessionID string   `json:"sessionId"`
	Token     string   `json:"token"`
}

// connectionData is what other clients of a show read from a
// connection's data: who it is and why it is there.
type connectionData struct {
	Name string `json:"name"`
	Role string `json:"role"` // "presenter" or "viewer"
}

func newShowID() string { return strings.ToLower(rand.Text()) }

func validShowID(id string) bool {
	if len(id) != 26 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// loadShow reads the show of the path, answering 404 for a malformed or
// unknown id.
func (a *App) loadShow(w http.ResponseWriter, r *http.Request) (store.Show, bool) {
	id := r.PathValue("id")
	if !validShowID(id) {
		pageapi.WriteError(w, http.StatusNotFound, "no such show")
		return store.Show{}, false
	}
	s, err := a.o.Store.Show(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		pageapi.WriteError(w, http.StatusNotFound, "no such show")
		return s, false
	}
	if err != nil {
		a.internal(w, "show "+id, err)
		return s, false
	}
	return s, true
}

func (a *App) token(sessionID string, role opentok.Role, d connectionData) (string, error) {
	b, _ := json.Marshal(d)
	return a.client().GenerateToken(sessionID, opentok.TokenOptions{Role: role, Data: string(b), ExpireTime: a.o.Now().Add(tokenTTL)})
}

// createShow makes a routed session for a new show of u and hands u a
// publisher token. A show u left on air (a closed tab) ends first: a
// presenter has one show at a time.
func (a *App) createShow(w http.ResponseWriter, r *http.Request, u store.LiveUser) {
	var body struct {
		Title string `json:"title"`
	}
	if !pageapi.ReadJSON(w, r, &body) {
		return
	}
	title, ok := cleanText(body.Title, MaxTitleLen)
	if !ok {
		pageapi.WriteError(w, http.StatusBadRequest, "a title is 1 to 100 characters, without control characters")
		return
	}
	ctx := r.Context()
	old, _, err := a.o.Store.Shows(ctx, store.ShowFilter{Statuses: []string{store.ShowPreparing, store.ShowLive}})
	if err != nil {
		a.internal(w, "shows", err)
		return
	}
	for _, s := range old {
		if s.UserID == u.ID {
			a.end(ctx, s)
		}
	}
	sess, err := a.client().CreateSession(ctx, opentok.SessionOptions{MediaMode: opentok.Routed})
	if err != nil {
		a.internal(w, "create session", err)
		return
	}
	s := store.Show{ID: newShowID(), UserID: u.ID, Presenter: u.Name, Title: title, SessionID: sess.ID,
		Location: a.locate(ctx, r), Status: store.ShowPreparing, CreatedAt: a.o.Now()}
	if err := a.o.Store.CreateShow(ctx, s); err != nil {
		a.internal(w, "create show", err)
		return
	}
	tok, err := a.token(s.SessionID, opentok.RolePublisher, connectionData{Name: u.Name, Role: "presenter"})
	if err != nil {
		a.internal(w, "token", err)
		return
	}
	pageapi.WriteJSON(w, http.StatusCreated, Joined{Show: showJSON(s, u), APIKey: a.o.APIKey, SessionID: s.SessionID, Token: tok})
}

// startShow puts a preparing show on air once its presenter is connected
// and publishing: the recording starts, and the show is listed.
func (a *App) startShow(w http.ResponseWriter, r *http.Request, u store.LiveUser) {
	s, ok := a.loadShow(w, r)
	if !ok {
		return
	}
	if s.UserID != u.ID {
		pageapi.WriteError(w, http.StatusForbidden, "only the presenter can start the show")
		return
	}
	if s.Status != store.ShowPreparing {
		pageapi.WriteError(w, http.StatusConflict, "the show is "+s.Status+", not preparing")
		return
	}
	ar, err := a.client().StartArchive(r.Context(), s.SessionID, opentok.ArchiveOptions{
		Name: s.Title, OutputMode: opentok.Composed, Resolution: "640x480"})
	if err != nil {
		a.apiError(w, "record show "+s.ID, err)
		return
	}
	s.Status, s.ArchiveID, s.Recording, s.StartedAt = store.ShowLive, ar.ID, ar.Status, ar.Created()
	if err := a.o.Store.UpdateShow(r.Context(), s); err != nil {
		a.internal(w, "start show", err)
		return
	}
	pageapi.WriteJSON(w, http.StatusOK, showJSON(s, u))
}

// stopShow ends a show: the recording stops, and everyone connected is
// told.
func (a *App) stopShow(w http.ResponseWriter, r *http.Request, u store.LiveUser) {
	s, ok := a.loadShow(w, r)
	if !ok {
		return
	}
	if s.UserID != u.ID {
		pageapi.WriteError(w, http.StatusForbidden, "only the presenter can stop the show")
		return
	}
	if s.Status != store.ShowEnded {
		var err error
		if s, err = a.end(r.Context(), s); err != nil {
			a.internal(w, "stop show", err)
			return
		}
	}
	pageapi.WriteJSON(w, http.StatusOK, showJSON(s, u))
}

// end stops a show's recording, marks it ended and tells its session.
// The recording's own length is the show's duration.
func (a *App) end(ctx context.Context, s store.Show) (store.Show, error) {
	ctx, cancel := background(ctx)
	defer cancel()
	if s.ArchiveID != "" {
		ar, err := a.client().StopArchive(ctx, s.ArchiveID)
		var e *opentok.Error
		if errors.As(err, &e) && e.Status == http.StatusConflict {
			// It stopped by itself (nobody published for a while).
			ar, err = a.client().GetArchive(ctx, s.ArchiveID)
		}
		if err != nil {
			a.o.Log.Warn("live: stop recording", "show", s.ID, "archive", s.ArchiveID, "err", err)
		} else {
			s.Recording, s.Duration = ar.Status, ar.Duration
		}
	}
	s.Status, s.EndedAt = store.ShowEnded, a.o.Now()
	if err := a.o.Store.UpdateShow(ctx, s); err != nil {
		return s, err
	}
	a.seenMu.Lock()
	delete(a.seen, s.ID)
	a.seenMu.Unlock()
	b, _ := json.Marshal(map[string]string{"id": s.ID, "status": s.Status})
	if err := a.client().Signal(ctx, s.SessionID, "", "show", string(b)); err != nil && !errors.Is(err, opentok.ErrNotFound) {
		a.o.Log.Warn("live: tell viewers", "show", s.ID, "err", err)
	}
	return s, nil
}

// viewers counts the viewers of a show on air: its connections but the
// presenter's. ok is false when nobody is connected at all.
func (a *App) viewers(ctx context.Context, s store.Show) (n int, ok bool, err error) {
	conns, err := a.client().ListConnections(ctx, s.SessionID)
	if errors.Is(err, opentok.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return max(len(conns)-1, 0), true, nil
}

// settle ends the shows whose presenter is gone without stopping them
// (a closed tab, a lost network): a live show whose session nobody is
// connected to, or whose recording stopped by itself, and a show that
// never went on air. It returns the shows still on air, with their
// viewer counts.
func (a *App) settle(ctx context.Context) ([]store.Show, map[string]int, error) {
	list, _, err := a.o.Store.Shows(ctx, store.ShowFilter{Statuses: []string{store.ShowPreparing, store.ShowLive}})
	if err != nil {
		return nil, nil, err
	}
	var live []store.Show
	counts := map[string]int{}
	for _, s := range list {
		if s.Status == store.ShowPreparing {
			if a.o.Now().Sub(s.CreatedAt) > prepareLimit {
				a.end(ctx, s)
			}
			continue
		}
		n, connected, err := a.viewers(ctx, s)
		if err != nil {
			return nil, nil, err
		}
		a.seenMu.Lock()
		if connected {
			a.seen[s.ID] = a.o.Now()
		}
		last := s.StartedAt
		if t, ok := a.seen[s.ID]; ok && t.After(last) {
			last = t
		}
		a.seenMu.Unlock()
		gone := !connected && a.o.Now().Sub(last) > reconnectGrace
		if connected {
			ar, err := a.client().GetArchive(ctx, s.ArchiveID)
			gone = err == nil && ar.Status != "started"
		}
		if gone {
			if _, err := a.end(ctx, s); err != nil {
				return nil, nil, err
			}
			continue
		}
		live = append(live, s)
		counts[s.ID] = n
	}
	return live, counts, nil
}

// onAir lists the shows on air now, newest first.
func (a *App) onAir(w http.ResponseWriter, r *http.Request, u store.LiveUser) {
	list, counts, err := a.settle(r.Context())
	if err != nil {
		a.internal(w, "shows on air", err)
		return
	}
	out := []ShowJSON{}
	for _, s := range list {
		j := showJSON(s, u)
		j.Viewers = counts[s.ID]
		out = append(out, j)
	}
	pageapi.WriteJSON(w, http.StatusOK, map[string]any{"shows": out})
}

func (a *App) getShow(w http.ResponseWriter, r *http.Request, u store.LiveUser) {
	s, ok := a.loadShow(w, r)
	if !ok {
		return
	}
	j := showJSON(s, u)
	if s.Status == store.ShowLive {
		n, _, err := a.viewers(r.Context(), s)
		if err != nil {
			a.internal(w, "viewers", err)
			return
		}
		j.Viewers = n
	}
	pageapi.WriteJSON(w, http.StatusOK, j)
}

// watchShow hands a viewer a subscribe-only token for a show that has
// not ended; the viewer's name is in its connection data, for the
// presenter's notices.
func (a *App) watchShow(w http.ResponseWriter, r *http.Request, u store.LiveUser) {
	s, ok := a.loadShow(w, r)
	if !ok {
		return
	}
	if s.Status == store.ShowEnded {
		pageapi.WriteError(w, http.StatusGone, "This show has ended.")
		return
	}
	tok, err := a.token(s.SessionID, opentok.RoleSubscriber, connectionData{Name: u.Name, Role: "viewer"})
	if err != nil {
		a.internal(w, "token", err)
		return
	}
	pageapi.WriteJSON(w, http.StatusOK, Joined{Show: showJSON(s, u), APIKey: a.o.APIKey, SessionID: s.SessionID, Token: tok})
}
