package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/webhook"
)

// callbackRoutes register, list and remove a project's webhooks, and show
// their delivery log (opentok-rest.md §6.13; docs/operations.md).
func (a *API) callbackRoutes(r *router) {
	const base = "/v2/project/{apiKey}/callback"
	r.handle("GET", base, a.authed(a.listCallbacks))
	r.handle("POST", base, a.authed(a.createCallback))
	r.handle("DELETE", base+"/{callbackId}", a.authed(a.deleteCallback))
	r.handle("GET", base+"/{callbackId}/deliveries", a.authed(a.callbackDeliveries))
}

// callbackJSON is a webhook as the API shows it: the callback object of
// OpenTok's registerCallback, plus the signing secret right after
// creation.
type callbackJSON struct {
	ID        string `json:"id"`
	Group     string `json:"group"`
	URL       string `json:"url"`
	CreatedAt int64  `json:"createdAt"`
	Secret    string `json:"secret,omitempty"`
}

func toCallbackJSON(h store.Webhook) callbackJSON {
	return callbackJSON{ID: h.ID, Group: h.Group, URL: h.URL, CreatedAt: h.CreatedAt.UnixMilli()}
}

// deliveryJSON is one attempt of the delivery log.
type deliveryJSON struct {
	ID         int64  `json:"id"`
	CallbackID string `json:"callbackId"`
	EventID    string `json:"eventId"`
	Event      string `json:"event"`
	SessionID  string `json:"sessionId"`
	Attempt    int    `json:"attempt"`
	// Status is the receiver's HTTP status, 0 when none came back.
	Status     int     `json:"status"`
	Error      string  `json:"error,omitempty"`
	CreatedAt  int64   `json:"createdAt"`
	DurationMs float64 `json:"durationMs"`
}

func (a *API) listCallbacks(w http.ResponseWriter, r *http.Request, p store.Project) {
	hooks, err := a.Store.Webhooks(r.Context(), p.APIKey)
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	out := make([]callbackJSON, 0, len(hooks))
	for _, h := range hooks {
		out = append(out, toCallbackJSON(h))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) createCallback(w http.ResponseWriter, r *http.Request, p store.Project) {
	var body struct {
		URL   string `json:"url"`
		Group string `json:"group"`
		// Event is what the legacy registerCallback sends with its
		// per-event groups; a session monitoring webhook takes every
		// event of the group, so only its absence is accepted.
		Event string `json:"event"`
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		bodyError(w, err)
		return
	}
	if err := json.Unmarshal(b, &body); err != nil {
		WriteError(w, http.StatusBadRequest, "malformed JSON body: "+err.Error())
		return
	}
	if body.URL == "" {
		WriteError(w, http.StatusBadRequest, "url is required")
		return
	}
	if body.Event != "" {
		WriteError(w, http.StatusBadRequest, "event: per-event callbacks are not supported; register the group "+webhook.GroupSessionMonitoring+", "+webhook.GroupArchiveStatus+" or "+webhook.GroupBroadcastStatus)
		return
	}
	h, err := webhook.Create(r.Context(), a.Store, p.APIKey, body.Group, body.URL, a.now())
	switch {
	case errors.Is(err, webhook.ErrInvalidURL), errors.Is(err, webhook.ErrUnknownGroup):
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	case errors.Is(err, store.ErrExists):
		group := body.Group
		if group == "" {
			group = webhook.GroupSessionMonitoring
		}
		WriteError(w, http.StatusConflict, "the project already has a "+group+" callback; delete it first")
		return
	case err != nil:
		a.internalError(w, r, err)
		return
	}
	out := toCallbackJSON(h)
	out.Secret = h.Secret
	writeJSON(w, http.StatusOK, out)
}

func (a *API) deleteCallback(w http.ResponseWriter, r *http.Request, p store.Project) {
	err := a.Store.DeleteWebhook(r.Context(), p.APIKey, r.PathValue("callbackId"))
	if errors.Is(err, store.ErrNotFound) {
		WriteError(w, http.StatusNotFound, "callback not found")
		return
	}
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// callbackDeliveries answers the delivery log of one webhook, newest
// first.
func (a *API) callbackDeliveries(w http.ResponseWriter, r *http.Request, p store.Project) {
	id := r.PathValue("callbackId")
	h, err := a.Store.Webhook(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && h.APIKey != p.APIKey) {
		// Another project's webhook is not found either: its id says
		// nothing to this caller.
		WriteError(w, http.StatusNotFound, "callback not found")
		return
	}
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	entries, err := a.Store.Deliveries(r.Context(), p.APIKey, id, 0)
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	out := make([]deliveryJSON, 0, len(entries))
	for _, d := range entries {
		out = append(out, deliveryJSON{
			ID: d.ID, CallbackID: d.WebhookID, EventID: d.EventID, Event: d.Event, SessionID: d.SessionID,
			Attempt: d.Attempt, Status: d.Status, Error: d.Error, CreatedAt: d.At.UnixMilli(),
			DurationMs: float64(d.Duration) / float64(time.Millisecond),
		})
	}
	writeJSON(w, http.StatusOK, out)
}
