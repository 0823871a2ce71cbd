package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/store"
)

// controlRoutes are the server-side controls of live sessions: signals,
// force disconnect, force mute, streams and their layout classes, and
// connections (opentok-rest.md §6).
func (a *API) controlRoutes(r *router) {
	const s = "/v2/project/{apiKey}/session/{sessionId}"
	r.handle("POST", s+"/signal", a.authed(a.live(a.signal)))
	r.handle("POST", s+"/connection/{connectionId}/signal", a.authed(a.live(a.signal)))
	r.handle("DELETE", s+"/connection/{connectionId}", a.authed(a.live(a.forceDisconnect)))
	r.handle("GET", s+"/connection", a.authed(a.live(a.listConnections)))
	r.handle("POST", s+"/stream/{streamId}/mute", a.authed(a.live(a.muteStream)))
	r.handle("POST", s+"/mute", a.authed(a.live(a.muteAll)))
	r.handle("GET", s+"/stream/{streamId}", a.authed(a.live(a.getStream)))
	r.handle("GET", s+"/stream", a.authed(a.live(a.listStreams)))
	r.handle("PUT", s+"/stream", a.authed(a.live(a.setStreamClassLists)))
}

// liveHandler acts on a live session of the caller's project.
type liveHandler func(w http.ResponseWriter, r *http.Request, p store.Project, s *session.Session)

// live checks that the session is the caller's and has connections on this node. A session of
// another project is 403; an unknown session, or one nobody is connected
// to, is 404.
func (a *API) live(h liveHandler) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, p store.Project) {
		sid := r.PathValue("sessionId")
		rec, err := a.Store.Session(r.Context(), sid)
		if errors.Is(err, store.ErrNotFound) {
			WriteError(w, http.StatusNotFound, "session not found")
			return
		}
		if err != nil {
			a.internalError(w, r, err)
			return
		}
		if rec.APIKey != p.APIKey {
			WriteError(w, http.StatusForbidden, "the session belongs to another project")
			return
		}
		s, ok := a.Sessions.Get(sid)
		if !ok || s.Empty() {
			WriteError(w, http.StatusNotFound, "session has no connected clients")
			return
		}
		h(w, r, p, s)
	}
}

// sessionError answers a refusal of the session state with its code.
func sessionError(w http.ResponseWriter, err error) {
	code := session.Code(err)
	if code == 0 || code == session.CodeGone {
		code = http.StatusNotFound
	}
	WriteError(w, code, strings.TrimPrefix(err.Error(), "session: "))
}

// decodeBody reads an optional JSON body into v: the SDKs send `{}`, no
// body at all, or the fields; unknown fields are ignored (SDKs forward
// whatever options they were given).
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		bodyError(w, err)
		return false
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return true
	}
	if err := json.Unmarshal(b, v); err != nil {
		WriteError(w, http.StatusBadRequest, "malformed JSON body: "+err.Error())
		return false
	}
	return true
}

func (a *API) signal(w http.ResponseWriter, r *http.Request, _ store.Project, s *session.Session) {
	var body struct {
		Type *string `json:"type"`
		Data *string `json:"data"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	var typ, data string
	if body.Type != nil {
		typ = *body.Type
	}
	if body.Data != nil {
		data = *body.Data
	}
	// The server sends with no "from": clients see from = null.
	if err := s.Signal("", r.PathValue("connectionId"), typ, data); err != nil {
		sessionError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) forceDisconnect(w http.ResponseWriter, r *http.Request, _ store.Project, s *session.Session) {
	if err := s.ForceDisconnect("", r.PathValue("connectionId")); err != nil {
		sessionError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) muteStream(w http.ResponseWriter, r *http.Request, p store.Project, s *session.Session) {
	var ignored map[string]any
	if !decodeBody(w, r, &ignored) {
		return
	}
	if err := s.ForceMuteStream("", r.PathValue("streamId")); err != nil {
		sessionError(w, err)
		return
	}
	writeProjectStatus(w, p)
}

// flexBool accepts true/false and the strings "true"/"false" (the Ruby
// SDK sends strings).
type flexBool struct {
	set, v bool
}

func (b *flexBool) UnmarshalJSON(data []byte) error {
	s := strings.Trim(string(data), `"`)
	v, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("want true or false, got %s", data)
	}
	b.set, b.v = true, v
	return nil
}

func (a *API) muteAll(w http.ResponseWriter, r *http.Request, p store.Project, s *session.Session) {
	var body struct {
		Active            flexBool `json:"active"`
		ExcludedStreamIDs []string `json:"excludedStreamIds"`
		ExcludedStreams   []string `json:"excludedStreams"` // Python and Ruby
	}
	if !decodeBody(w, r, &body) {
		return
	}
	var err error
	if body.Active.set && !body.Active.v {
		err = s.DisableForceMute("")
	} else {
		err = s.ForceMuteAll("", append(body.ExcludedStreamIDs, body.ExcludedStreams...))
	}
	if err != nil {
		sessionError(w, err)
		return
	}
	writeProjectStatus(w, p)
}

// writeProjectStatus is the body OpenTok answers the mute calls with: a
// summary of the project (the SDKs ignore it).
func writeProjectStatus(w http.ResponseWriter, p store.Project) {
	id, _ := strconv.Atoi(p.APIKey)
	writeJSON(w, http.StatusOK, map[string]any{
		"projectId": id, "status": "ACTIVE", "name": p.Name, "environment": "standard",
		"createdAt": p.CreatedAt.UnixMilli(),
	})
}

type streamJSON struct {
	ID              string   `json:"id"`
	VideoType       string   `json:"videoType"`
	Name            string   `json:"name"`
	LayoutClassList []string `json:"layoutClassList"`
}

func toStreamJSON(st session.Stream) streamJSON {
	classes := st.LayoutClassList
	if classes == nil {
		classes = []string{}
	}
	return streamJSON{ID: st.ID, VideoType: st.VideoType, Name: st.Name, LayoutClassList: classes}
}

func (a *API) getStream(w http.ResponseWriter, r *http.Request, _ store.Project, s *session.Session) {
	st, ok := s.Stream(r.PathValue("streamId"))
	if !ok {
		WriteError(w, http.StatusNotFound, "stream not found")
		return
	}
	// The Node SDK 2.23 parses this answer twice (JSON.parse of an object)
	// when it carries the JSON content type, and fails; every other SDK
	// wants the JSON type. Serve each what works for it.
	if strings.HasPrefix(r.Header.Get("User-Agent"), "OpenTok-Node-SDK/") {
		b, _ := json.Marshal(toStreamJSON(st))
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(b)
		return
	}
	writeJSON(w, http.StatusOK, toStreamJSON(st))
}

func (a *API) listStreams(w http.ResponseWriter, r *http.Request, _ store.Project, s *session.Session) {
	streams := s.Streams()
	items := make([]streamJSON, 0, len(streams))
	for _, st := range streams {
		items = append(items, toStreamJSON(st))
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(items), "items": items})
}

func (a *API) setStreamClassLists(w http.ResponseWriter, r *http.Request, _ store.Project, s *session.Session) {
	var body struct {
		Items []struct {
			ID              string   `json:"id"`
			LayoutClassList []string `json:"layoutClassList"`
		} `json:"items"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if len(body.Items) == 0 {
		WriteError(w, http.StatusBadRequest, "items: want a list of {id, layoutClassList}")
		return
	}
	// Check every item before changing any, so that a bad one changes
	// nothing.
	for _, it := range body.Items {
		if _, ok := s.Stream(it.ID); !ok {
			WriteError(w, http.StatusNotFound, fmt.Sprintf("stream %q not found", it.ID))
			return
		}
		if it.LayoutClassList == nil {
			WriteError(w, http.StatusBadRequest, fmt.Sprintf("stream %q: layoutClassList missing", it.ID))
			return
		}
		if err := session.ValidLayoutClassList(it.LayoutClassList); err != nil {
			sessionError(w, err)
			return
		}
	}
	for _, it := range body.Items {
		if err := s.SetStreamLayoutClassList(it.ID, it.LayoutClassList); err != nil {
			sessionError(w, err)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

func (a *API) listConnections(w http.ResponseWriter, r *http.Request, p store.Project, s *session.Session) {
	conns := s.Connections()
	type item struct {
		ConnectionID    string `json:"connectionId"`
		ConnectionState string `json:"connectionState"`
		CreatedAt       int64  `json:"createdAt"`
	}
	items := make([]item, 0, len(conns))
	for _, c := range conns {
		items = append(items, item{ConnectionID: c.ID, ConnectionState: "Connected", CreatedAt: c.CreationTime.UnixMilli()})
	}
	id, _ := strconv.Atoi(p.APIKey)
	writeJSON(w, http.StatusOK, map[string]any{
		"count": len(items), "projectId": id, "sessionId": s.ID(), "items": items,
	})
}
