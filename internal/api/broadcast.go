package api

import (
	"io"
	"net/http"
	"strconv"

	"github.com/parleyhq/parley/internal/broadcast"
	"github.com/parleyhq/parley/internal/layout"
	"github.com/parleyhq/parley/internal/store"
)

// broadcastRoutes are the broadcast API (opentok-rest.md §5) and the HLS
// output of each broadcast.
func (a *API) broadcastRoutes(r *router) {
	const base = "/v2/project/{apiKey}/broadcast"
	r.handle("POST", base, a.authed(a.broadcasts(a.startBroadcast)))
	r.handle("GET", base, a.authed(a.broadcasts(a.listBroadcasts)))
	r.handle("GET", base+"/{broadcastId}", a.authed(a.broadcasts(a.getBroadcast)))
	r.handle("POST", base+"/{broadcastId}/stop", a.authed(a.broadcasts(a.stopBroadcast)))
	r.handle("PATCH", base+"/{broadcastId}/streams", a.authed(a.broadcasts(a.broadcastStreams)))
	r.handle("PUT", base+"/{broadcastId}/layout", a.authed(a.broadcasts(a.broadcastLayout)))
	// A broadcast's id is its HLS output's credential, as a CDN URL is.
	r.handle("GET", "/v2/broadcasts/{broadcastId}/hls/{file}", a.hlsFile)
}

// broadcasts answers 501 on a node without broadcasts.
func (a *API) broadcasts(h authedHandler) authedHandler {
	return a.enabled(func() bool { return a.Broadcasts != nil }, "broadcasts", h)
}

// BroadcastJSON is the broadcast object of opentok-rest.md §5.6.
type BroadcastJSON struct {
	ID                string                `json:"id"`
	SessionID         string                `json:"sessionId"`
	ProjectID         int64                 `json:"projectId"`
	PartnerID         int64                 `json:"partnerId"`
	CreatedAt         int64                 `json:"createdAt"`
	UpdatedAt         int64                 `json:"updatedAt"`
	Status            string                `json:"status"`
	MaxDuration       int                   `json:"maxDuration"`
	MaxBitrate        int                   `json:"maxBitrate,omitempty"`
	Resolution        string                `json:"resolution"`
	StreamMode        string                `json:"streamMode"`
	HasAudio          bool                  `json:"hasAudio"`
	HasVideo          bool                  `json:"hasVideo"`
	MultiBroadcastTag string                `json:"multiBroadcastTag,omitempty"`
	BroadcastURLs     *broadcast.URLs       `json:"broadcastUrls"`
	Settings          broadcast.Settings    `json:"settings"`
	Streams           []broadcast.StreamRef `json:"streams"`
	Event             string                `json:"event"`
}

// BroadcastObject is the broadcast as the REST API and broadcast status
// callbacks show it; base is the URL the HLS link is built on.
func BroadcastObject(b broadcast.Broadcast, base string) BroadcastJSON {
	key, _ := strconv.ParseInt(b.APIKey, 10, 64)
	j := BroadcastJSON{ID: b.ID, SessionID: b.SessionID, ProjectID: key, PartnerID: key, CreatedAt: b.CreatedAt,
		UpdatedAt: b.UpdatedAt, Status: b.Status, MaxDuration: b.MaxDuration, MaxBitrate: b.MaxBitrate,
		Resolution: b.Resolution, StreamMode: b.StreamMode, HasAudio: b.HasAudio, HasVideo: b.HasVideo,
		MultiBroadcastTag: b.MultiBroadcastTag, Settings: broadcast.Settings{HLS: b.HLS}, Streams: b.Streams,
		Event: "broadcast"}
	if j.Streams == nil {
		j.Streams = []broadcast.StreamRef{}
	}
	urls := &broadcast.URLs{RTMP: b.RTMP}
	if urls.RTMP == nil {
		urls.RTMP = []broadcast.RTMP{}
	}
	if b.HLS != nil {
		urls.HLS, urls.HLSStatus = base+broadcast.HLSPath(b.ID), b.HLSStatus
	}
	j.BroadcastURLs = urls
	return j
}

func (a *API) toBroadcastJSON(r *http.Request, b broadcast.Broadcast) BroadcastJSON {
	base := a.PublicURL
	if base == "" {
		base = requestBase(r)
	}
	return BroadcastObject(b, base)
}

// layoutBody is a layout as the SDKs send it.
type layoutBody struct {
	Type            *string `json:"type"`
	Stylesheet      *string `json:"stylesheet"`
	ScreenshareType *string `json:"screenshareType"`
}

func (l *layoutBody) spec() layout.Spec {
	return layout.Spec{Type: str(l.Type), Stylesheet: str(l.Stylesheet), ScreenshareType: str(l.ScreenshareType)}
}

// startBroadcastBody is what the SDKs send to start a broadcast.
type startBroadcastBody struct {
	SessionID *string `json:"sessionId"`
	Outputs   *struct {
		HLS *struct {
			DVR        *flexBool `json:"dvr"`
			LowLatency *flexBool `json:"lowLatency"`
		} `json:"hls"`
		RTMP []struct {
			ID         *string `json:"id"`
			ServerURL  *string `json:"serverUrl"`
			StreamName *string `json:"streamName"`
		} `json:"rtmp"`
	} `json:"outputs"`
	MaxDuration       *flexInt    `json:"maxDuration"`
	MaxBitrate        *flexInt    `json:"maxBitrate"`
	Resolution        *string     `json:"resolution"`
	Layout            *layoutBody `json:"layout"`
	StreamMode        *string     `json:"streamMode"`
	MultiBroadcastTag *string     `json:"multiBroadcastTag"`
	HasAudio          *flexBool   `json:"hasAudio"`
	HasVideo          *flexBool   `json:"hasVideo"`
}

func (b *startBroadcastBody) options() broadcast.Options {
	o := broadcast.Options{Resolution: str(b.Resolution), StreamMode: str(b.StreamMode),
		MultiBroadcastTag: str(b.MultiBroadcastTag), HasAudio: true, HasVideo: true}
	if o.StreamMode == "" {
		o.StreamMode = "auto"
	}
	if b.Outputs != nil {
		if h := b.Outputs.HLS; h != nil {
			o.HLS = &broadcast.HLS{DVR: h.DVR != nil && h.DVR.v, LowLatency: h.LowLatency != nil && h.LowLatency.v}
		}
		for _, t := range b.Outputs.RTMP {
			o.RTMP = append(o.RTMP, broadcast.RTMP{ID: str(t.ID), ServerURL: str(t.ServerURL), StreamName: str(t.StreamName)})
		}
	}
	if b.MaxDuration != nil {
		o.MaxDuration = b.MaxDuration.v
	}
	if b.MaxBitrate != nil {
		o.MaxBitrate = b.MaxBitrate.v
	}
	if b.Layout != nil {
		spec := b.Layout.spec()
		o.Layout = &spec
	}
	if b.HasAudio != nil {
		o.HasAudio = b.HasAudio.v
	}
	if b.HasVideo != nil {
		o.HasVideo = b.HasVideo.v
	}
	return o
}

func (a *API) startBroadcast(w http.ResponseWriter, r *http.Request, p store.Project) {
	var body startBroadcastBody
	if !decodeBody(w, r, &body) {
		return
	}
	if str(body.SessionID) == "" {
		WriteError(w, http.StatusBadRequest, "sessionId missing")
		return
	}
	b, err := a.Broadcasts.Start(r.Context(), p.APIKey, *body.SessionID, body.options())
	if err != nil {
		a.refused(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.toBroadcastJSON(r, b))
}

func (a *API) stopBroadcast(w http.ResponseWriter, r *http.Request, p store.Project) {
	var ignored any
	if !decodeBody(w, r, &ignored) {
		return
	}
	b, err := a.Broadcasts.Stop(r.Context(), p.APIKey, r.PathValue("broadcastId"))
	if err != nil {
		a.refused(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.toBroadcastJSON(r, b))
}

func (a *API) getBroadcast(w http.ResponseWriter, r *http.Request, p store.Project) {
	b, err := a.Broadcasts.Get(r.Context(), p.APIKey, r.PathValue("broadcastId"))
	if err != nil {
		a.refused(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.toBroadcastJSON(r, b))
}

func (a *API) listBroadcasts(w http.ResponseWriter, r *http.Request, p store.Project) {
	offset, count, ok := paging(w, r)
	if !ok {
		return
	}
	items := []BroadcastJSON{}
	total := 0
	if count > 0 {
		list, n, err := a.Broadcasts.List(r.Context(), p.APIKey, r.URL.Query().Get("sessionId"), offset, count)
		if err != nil {
			a.internalError(w, r, err)
			return
		}
		for _, b := range list {
			items = append(items, a.toBroadcastJSON(r, b))
		}
		total = n
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": total, "items": items})
}

func (a *API) broadcastStreams(w http.ResponseWriter, r *http.Request, p store.Project) {
	c, ok := decodeStreamChange(w, r)
	if !ok {
		return
	}
	if err := a.Broadcasts.SetStream(r.Context(), p.APIKey, r.PathValue("broadcastId"), c.id, c.add, c.audio, c.video); err != nil {
		a.refused(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) broadcastLayout(w http.ResponseWriter, r *http.Request, p store.Project) {
	var body layoutBody
	if !decodeBody(w, r, &body) {
		return
	}
	if err := a.Broadcasts.SetLayout(r.Context(), p.APIKey, r.PathValue("broadcastId"), body.spec()); err != nil {
		a.refused(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// hlsFile serves a broadcast's playlist and segments to any player, from
// any origin.
func (a *API) hlsFile(w http.ResponseWriter, r *http.Request) {
	if a.Broadcasts == nil {
		WriteError(w, http.StatusNotFound, "not found")
		return
	}
	name := r.PathValue("file")
	f, err := a.Broadcasts.HLSFile(r.PathValue("broadcastId"), name)
	if err != nil {
		WriteError(w, http.StatusNotFound, "not found")
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	if name == broadcast.PlaylistName {
		h.Set("Content-Type", "application/vnd.apple.mpegurl")
		h.Set("Cache-Control", "no-cache")
		// The playlist is rewritten in place: serve it whole, not by range.
		w.Header().Set("Content-Length", strconv.FormatInt(st.Size(), 10))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			io.Copy(w, f)
		}
		return
	}
	h.Set("Content-Type", "video/mp2t")
	h.Set("Cache-Control", "public, max-age=3600")
	http.ServeContent(w, r, name, st.ModTime(), f)
}
