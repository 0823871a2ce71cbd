package api

import (
	"encoding/xml"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/store"
)

// Resolutions are the archive resolutions OpenTok accepts.
var Resolutions = map[string]bool{
	"640x480": true, "480x640": true,
	"1280x720": true, "720x1280": true,
	"1920x1080": true, "1080x1920": true,
}

// MaxArchiveNameLen is the longest archive name OpenTok accepts.
const MaxArchiveNameLen = 80

// sessionRequest is the form of POST /session/create after checking.
type sessionRequest struct {
	media             session.MediaMode
	archive           session.ArchiveMode
	location          string
	e2ee              bool
	archiveName       string
	archiveResolution string
}

// parseSessionForm reads the form fields every SDK sends, tolerating
// their quirks: .NET's empty location= and True/False, absent fields, and
// unknown keys (the Node SDK forwards whatever options it was given).
func parseSessionForm(f url.Values) (sessionRequest, error) {
	req := sessionRequest{media: session.Routed, archive: session.ArchiveManual}
	switch p := f.Get("p2p.preference"); p {
	case "", "disabled":
	case "enabled":
		req.media = session.Relayed
	default:
		return req, fmt.Errorf("p2p.preference %q: want enabled or disabled", p)
	}
	if m := f.Get("archiveMode"); m != "" {
		am, err := session.ParseArchiveMode(m)
		if err != nil {
			return req, err
		}
		req.archive = am
	}
	if loc := f.Get("location"); loc != "" {
		ip := net.ParseIP(loc)
		if ip == nil || ip.To4() == nil {
			return req, fmt.Errorf("location %q is not an IPv4 address", loc)
		}
		req.location = ip.To4().String()
	}
	switch e := strings.ToLower(f.Get("e2ee")); e {
	case "", "false":
	case "true":
		req.e2ee = true
	default:
		return req, fmt.Errorf("e2ee %q: want true or false", f.Get("e2ee"))
	}
	req.archiveName = f.Get("archiveName")
	if len([]rune(req.archiveName)) > MaxArchiveNameLen {
		return req, fmt.Errorf("archiveName longer than %d characters", MaxArchiveNameLen)
	}
	if res := f.Get("archiveResolution"); res != "" {
		if !Resolutions[res] {
			return req, fmt.Errorf("archiveResolution %q is not one of 640x480, 480x640, 1280x720, 720x1280, 1920x1080, 1080x1920", res)
		}
		req.archiveResolution = res
	}
	if req.archive == session.ArchiveAlways && req.media != session.Routed {
		return req, errors.New("archiveMode always needs a routed session (p2p.preference=disabled)")
	}
	if req.e2ee && req.media != session.Routed {
		return req, errors.New("e2ee needs a routed session (p2p.preference=disabled)")
	}
	return req, nil
}

// sessionCreated is one element of the JSON answer to session creation.
type sessionCreated struct {
	SessionID      string `json:"session_id" xml:"session_id"`
	ProjectID      string `json:"project_id" xml:"-"`
	PartnerID      string `json:"partner_id" xml:"partner_id"`
	CreateDt       string `json:"create_dt" xml:"create_dt"`
	MediaServerURL string `json:"media_server_url" xml:"-"`
}

// javaDate is the date text OpenTok puts in create_dt.
const javaDate = "Mon Jan 02 15:04:05 MST 2006"

func (a *API) createSession(w http.ResponseWriter, r *http.Request, p store.Project) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/x-www-form-urlencoded" {
			WriteError(w, http.StatusBadRequest, "session creation takes a form body (application/x-www-form-urlencoded)")
			return
		}
	}
	if err := r.ParseForm(); err != nil {
		bodyError(w, err)
		return
	}
	req, err := parseSessionForm(r.PostForm)
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	now := a.now()
	s := store.Session{
		ID:                session.NewID(p.APIKey, req.location, now),
		APIKey:            p.APIKey,
		MediaMode:         req.media,
		ArchiveMode:       req.archive,
		Location:          req.location,
		E2EE:              req.e2ee,
		ArchiveName:       req.archiveName,
		ArchiveResolution: req.archiveResolution,
		CreatedAt:         now,
	}
	if err := a.Store.CreateSession(r.Context(), s); err != nil {
		a.internalError(w, r, err)
		return
	}
	a.sessionsCreated.Inc()
	out := sessionCreated{
		SessionID: s.ID,
		ProjectID: p.APIKey,
		PartnerID: p.APIKey,
		CreateDt:  now.UTC().Format(javaDate),
	}
	// Node, Python and Java ask for JSON; Ruby, .NET and PHP parse only
	// the XML answer.
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		writeJSON(w, http.StatusOK, []sessionCreated{out})
		return
	}
	writeSessionXML(w, out)
}

func writeSessionXML(w http.ResponseWriter, s sessionCreated) {
	type sessions struct {
		XMLName xml.Name       `xml:"sessions"`
		Session sessionCreated `xml:"Session"`
	}
	b, _ := xml.Marshal(sessions{Session: s})
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`))
	w.Write(b)
}
