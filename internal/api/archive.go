package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/parleyhq/parley/internal/archive"
	"github.com/parleyhq/parley/internal/refusal"
	"github.com/parleyhq/parley/internal/store"
)

// archiveRoutes are the archive API (opentok-rest.md §4) and the download
// of an archive's zip through its signed link.
func (a *API) archiveRoutes(r *router) {
	const base = "/v2/project/{apiKey}/archive"
	r.handle("POST", base, a.authed(a.archives(a.startArchive)))
	r.handle("GET", base, a.authed(a.archives(a.listArchives)))
	r.handle("GET", base+"/{archiveId}", a.authed(a.archives(a.getArchive)))
	r.handle("DELETE", base+"/{archiveId}", a.authed(a.archives(a.deleteArchive)))
	r.handle("POST", base+"/{archiveId}/stop", a.authed(a.archives(a.stopArchive)))
	r.handle("PATCH", base+"/{archiveId}/streams", a.authed(a.archives(a.archiveStreams)))
	r.handle("PUT", base+"/{archiveId}/layout", a.authed(a.archives(a.archiveLayout)))
	// The link's signature is the credential: whoever holds it may
	// download, until it expires.
	r.handle("GET", "/v2/archives/{file}", a.downloadArchive)
}

// archives answers 501 on a node without archives.
func (a *API) archives(h authedHandler) authedHandler {
	return a.enabled(func() bool { return a.Archives != nil }, "archives", h)
}

// enabled answers 501 while on says a part of the node (what) is off.
func (a *API) enabled(on func() bool, what string, h authedHandler) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, p store.Project) {
		if !on() {
			WriteError(w, http.StatusNotImplemented, what+" are not enabled on this server")
			return
		}
		h(w, r, p)
	}
}

// ArchiveJSON is the archive object of opentok-rest.md §4.9.
type ArchiveJSON struct {
	ID              string                `json:"id"`
	Status          string                `json:"status"`
	Name            string                `json:"name"`
	Reason          string                `json:"reason"`
	SessionID       string                `json:"sessionId"`
	PartnerID       int64                 `json:"partnerId"`
	ProjectID       int64                 `json:"projectId"`
	CreatedAt       int64                 `json:"createdAt"`
	UpdatedAt       int64                 `json:"updatedAt"`
	Size            int64                 `json:"size"`
	Duration        int                   `json:"duration"`
	OutputMode      string                `json:"outputMode"`
	StreamMode      string                `json:"streamMode"`
	HasAudio        bool                  `json:"hasAudio"`
	HasVideo        bool                  `json:"hasVideo"`
	Resolution      string                `json:"resolution,omitempty"`
	URL             *string               `json:"url"`
	Streams         []store.ArchiveStream `json:"streams"`
	MultiArchiveTag string                `json:"multiArchiveTag,omitempty"`
	Sha256sum       string                `json:"sha256sum"`
	Password        string                `json:"password"`
	Event           string                `json:"event"`
}

func (a *API) toArchiveJSON(r *http.Request, ar store.Archive) ArchiveJSON {
	return ArchiveObject(ar, a.Archives.URL(ar, requestBase(r)))
}

// ArchiveObject is the archive as the REST API and archive status
// callbacks show it (opentok-rest.md §4.9), with download link url ("" =
// none yet).
func ArchiveObject(ar store.Archive, url string) ArchiveJSON {
	key, _ := strconv.ParseInt(ar.APIKey, 10, 64)
	j := ArchiveJSON{
		ID: ar.ID, Status: ar.Status, Name: ar.Name, Reason: ar.Reason, SessionID: ar.SessionID,
		PartnerID: key, ProjectID: key, CreatedAt: ar.CreatedAt.UnixMilli(), UpdatedAt: ar.UpdatedAt.UnixMilli(),
		Size: ar.Size, Duration: ar.Duration, OutputMode: ar.OutputMode, StreamMode: ar.StreamMode,
		HasAudio: ar.HasAudio, HasVideo: ar.HasVideo, Resolution: ar.Resolution, Streams: ar.Streams,
		MultiArchiveTag: ar.MultiArchiveTag, Event: "archive",
	}
	if j.Streams == nil {
		j.Streams = []store.ArchiveStream{}
	}
	if url != "" {
		j.URL = &url
	}
	return j
}

// requestBase is the URL the request came on, without a path: what a
// download link is built on when no public URL is configured.
func requestBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// refused answers a refusal of the archive or broadcast manager with its
// status (403, 404, 405, 409, else 400) and message; any other error is
// an internal one.
func (a *API) refused(w http.ResponseWriter, r *http.Request, err error) {
	var e *refusal.Error
	if !errors.As(err, &e) {
		a.internalError(w, r, err)
		return
	}
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, refusal.Forbidden):
		status = http.StatusForbidden
	case errors.Is(err, refusal.NotFound):
		status = http.StatusNotFound
	case errors.Is(err, refusal.StreamMode):
		status = http.StatusMethodNotAllowed
	case errors.Is(err, refusal.Conflict):
		status = http.StatusConflict
	}
	WriteError(w, status, e.Msg)
}

// flexInt accepts a number or a string holding one.
type flexInt struct{ v int }

func (n *flexInt) UnmarshalJSON(data []byte) error {
	v, err := strconv.Atoi(strings.Trim(string(data), `"`))
	if err != nil {
		return fmt.Errorf("want an integer, got %s", data)
	}
	n.v = v
	return nil
}

// startBody is what the SDKs send to start an archive: the options they
// were given, with explicit nulls (Python) and booleans as strings (Ruby)
// tolerated, and unknown keys ignored.
type startBody struct {
	SessionID             *string     `json:"sessionId"`
	Name                  *string     `json:"name"`
	HasAudio              *flexBool   `json:"hasAudio"`
	HasVideo              *flexBool   `json:"hasVideo"`
	OutputMode            *string     `json:"outputMode"`
	StreamMode            *string     `json:"streamMode"`
	Resolution            *string     `json:"resolution"`
	Layout                *layoutBody `json:"layout"`
	MultiArchiveTag       *string     `json:"multiArchiveTag"`
	MaxBitrate            *flexInt    `json:"maxBitrate"`
	QuantizationParameter *flexInt    `json:"quantizationParameter"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (b *startBody) options() archive.Options {
	o := archive.DefaultOptions()
	o.Name, o.Resolution, o.MultiArchiveTag = str(b.Name), str(b.Resolution), str(b.MultiArchiveTag)
	if b.HasAudio != nil {
		o.HasAudio = b.HasAudio.v
	}
	if b.HasVideo != nil {
		o.HasVideo = b.HasVideo.v
	}
	if b.OutputMode != nil {
		o.OutputMode = *b.OutputMode
	}
	if b.StreamMode != nil {
		o.StreamMode = *b.StreamMode
	}
	if b.Layout != nil {
		spec := b.Layout.spec()
		o.Layout = &spec
	}
	if b.MaxBitrate != nil {
		o.MaxBitrate = b.MaxBitrate.v
	}
	if b.QuantizationParameter != nil {
		o.QuantizationParameter = b.QuantizationParameter.v
	}
	return o
}

func (a *API) startArchive(w http.ResponseWriter, r *http.Request, p store.Project) {
	var body startBody
	if !decodeBody(w, r, &body) {
		return
	}
	if str(body.SessionID) == "" {
		WriteError(w, http.StatusBadRequest, "sessionId missing")
		return
	}
	ar, err := a.Archives.Start(r.Context(), p.APIKey, *body.SessionID, body.options())
	if err != nil {
		a.refused(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.toArchiveJSON(r, ar))
}

func (a *API) stopArchive(w http.ResponseWriter, r *http.Request, p store.Project) {
	var ignored any // Node sends {}, Ruby and Java nothing
	if !decodeBody(w, r, &ignored) {
		return
	}
	ar, err := a.Archives.Stop(r.Context(), p.APIKey, r.PathValue("archiveId"))
	if err != nil {
		a.refused(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.toArchiveJSON(r, ar))
}

func (a *API) getArchive(w http.ResponseWriter, r *http.Request, p store.Project) {
	ar, err := a.Archives.Get(r.Context(), p.APIKey, r.PathValue("archiveId"))
	if err != nil {
		a.refused(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.toArchiveJSON(r, ar))
}

// Paging of the archive list.
const (
	defaultListCount = 50
	maxListCount     = 1000
)

func (a *API) listArchives(w http.ResponseWriter, r *http.Request, p store.Project) {
	offset, count, ok := paging(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	sid := q.Get("sessionId")
	if sid == "" {
		sid = q.Get("session_id") // the name in one version of the OpenAPI text
	}
	items := []ArchiveJSON{}
	total := 0
	if count > 0 {
		list, n, err := a.Archives.List(r.Context(), p.APIKey, sid, offset, count)
		if err != nil {
			a.internalError(w, r, err)
			return
		}
		for _, ar := range list {
			items = append(items, a.toArchiveJSON(r, ar))
		}
		total = n
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": total, "items": items})
}

// paging reads a list's offset and count (OpenTok's defaults: from the
// newest, 50, at most 1000), answering 400 for bad values.
func paging(w http.ResponseWriter, r *http.Request) (offset, count int, ok bool) {
	q := r.URL.Query()
	offset, count = 0, defaultListCount
	for _, f := range []struct {
		name string
		v    *int
	}{{"offset", &offset}, {"count", &count}} {
		s := q.Get(f.name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			WriteError(w, http.StatusBadRequest, f.name+": want a whole number of at least 0")
			return 0, 0, false
		}
		*f.v = n
	}
	return offset, min(count, maxListCount), true
}

func (a *API) deleteArchive(w http.ResponseWriter, r *http.Request, p store.Project) {
	if err := a.Archives.Delete(r.Context(), p.APIKey, r.PathValue("archiveId")); err != nil {
		a.refused(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) archiveStreams(w http.ResponseWriter, r *http.Request, p store.Project) {
	c, ok := decodeStreamChange(w, r)
	if !ok {
		return
	}
	if err := a.Archives.SetStream(r.Context(), p.APIKey, r.PathValue("archiveId"), c.id, c.add, c.audio, c.video); err != nil {
		a.refused(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// streamChange is a PATCH …/streams body: a stream to add (with the
// tracks to include, both by default) or to remove.
type streamChange struct {
	id           string
	add          bool
	audio, video bool
}

func decodeStreamChange(w http.ResponseWriter, r *http.Request) (streamChange, bool) {
	var body struct {
		AddStream    *string   `json:"addStream"`
		RemoveStream *string   `json:"removeStream"`
		HasAudio     *flexBool `json:"hasAudio"`
		HasVideo     *flexBool `json:"hasVideo"`
	}
	if !decodeBody(w, r, &body) {
		return streamChange{}, false
	}
	add, remove := str(body.AddStream), str(body.RemoveStream)
	if (add == "") == (remove == "") {
		WriteError(w, http.StatusBadRequest, "want one of addStream and removeStream")
		return streamChange{}, false
	}
	if remove != "" {
		return streamChange{id: remove}, true
	}
	return streamChange{id: add, add: true, audio: body.HasAudio == nil || body.HasAudio.v,
		video: body.HasVideo == nil || body.HasVideo.v}, true
}

// archiveLayout changes a composed archive's layout: 200 with no body, as
// OpenTok answers.
func (a *API) archiveLayout(w http.ResponseWriter, r *http.Request, p store.Project) {
	var body layoutBody
	if !decodeBody(w, r, &body) {
		return
	}
	if err := a.Archives.SetLayout(r.Context(), p.APIKey, r.PathValue("archiveId"), body.spec()); err != nil {
		a.refused(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// downloadArchive serves an archive's file (zip or MP4) to the holder of a valid
// signed link, with range requests (http.ServeContent).
func (a *API) downloadArchive(w http.ResponseWriter, r *http.Request) {
	if a.Archives == nil {
		WriteError(w, http.StatusNotFound, "not found")
		return
	}
	file := r.PathValue("file")
	q := r.URL.Query()
	f, err := a.Archives.Download(file, q.Get("expires"), q.Get("sig"))
	if err != nil {
		a.refused(w, r, err)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		a.internalError(w, r, err)
		return
	}
	if strings.HasSuffix(file, ".mp4") {
		w.Header().Set("Content-Type", "video/mp4")
	} else {
		w.Header().Set("Content-Type", "application/zip")
	}
	w.Header().Set("Content-Disposition", `attachment; filename="`+file+`"`)
	w.Header().Set("Cache-Control", "private")
	http.ServeContent(w, r, file, st.ModTime(), f)
}
