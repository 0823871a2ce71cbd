package api

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/project"
	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/store/sqlite"
)

const (
	testKey    = "12345678"
	testSecret = "0123456789abcdef0123456789abcdef01234567"
)

type fixture struct {
	st   *sqlite.Store
	mux  *http.ServeMux
	auth string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateProject(ctx, store.Project{APIKey: testKey, Secret: testSecret, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateProject(ctx, store.Project{APIKey: "87654321", Secret: "other-secret-other-secret", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	a := New(st, &project.Authenticator{Lookup: st.Project}, slog.New(slog.DiscardHandler), nil)
	mux := http.NewServeMux()
	a.Routes(mux)
	tok, err := project.MintJWT(testKey, testSecret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{st: st, mux: mux, auth: tok}
}

func (f *fixture) post(t *testing.T, body string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("POST", "/session/create", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Accept", "application/json")
	r.Header.Set("X-OPENTOK-AUTH", f.auth)
	for k, v := range hdr {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	f.mux.ServeHTTP(w, r)
	return w
}

func TestCreateSession(t *testing.T) {
	tests := []struct {
		name, body string
		want       store.Session
	}{
		{"node default", "archiveMode=manual&p2p.preference=enabled",
			store.Session{MediaMode: session.Relayed, ArchiveMode: session.ArchiveManual}},
		{"routed always", "archiveMode=always&location=12.34.56.78&e2ee=true&archiveName=foo&archiveResolution=1280x720&p2p.preference=disabled&foo=bar",
			store.Session{MediaMode: session.Routed, ArchiveMode: session.ArchiveAlways, Location: "12.34.56.78", E2EE: true, ArchiveName: "foo", ArchiveResolution: "1280x720"}},
		{"dotnet quirks", "location=&e2ee=False&p2p.preference=disabled",
			store.Session{MediaMode: session.Routed, ArchiveMode: session.ArchiveManual}},
		{"empty body is routed", "",
			store.Session{MediaMode: session.Routed, ArchiveMode: session.ArchiveManual}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			w := f.post(t, tt.body, nil)
			if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("status %d, type %q, body %s", w.Code, w.Header().Get("Content-Type"), w.Body)
			}
			var out []map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || len(out) != 1 {
				t.Fatalf("body %s: %v", w.Body, err)
			}
			sid := out[0]["session_id"]
			if out[0]["project_id"] != testKey || out[0]["partner_id"] != testKey || out[0]["create_dt"] == "" {
				t.Fatalf("answer %v", out[0])
			}
			if _, ok := out[0]["media_server_url"]; !ok {
				t.Fatalf("answer lacks media_server_url: %v", out[0])
			}
			id, err := session.ParseID(sid)
			if err != nil || id.APIKey != testKey || id.Location != tt.want.Location {
				t.Fatalf("session id %q decodes to %+v, %v", sid, id, err)
			}
			got, err := f.st.Session(context.Background(), sid)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			want.ID, want.APIKey, want.CreatedAt = sid, testKey, got.CreatedAt
			if got != want {
				t.Fatalf("stored %+v\nwant   %+v", got, want)
			}
			if time.Since(got.CreatedAt) > time.Minute {
				t.Fatalf("created at %v", got.CreatedAt)
			}
		})
	}
}

func TestCreateSessionXML(t *testing.T) {
	f := newFixture(t)
	w := f.post(t, "p2p.preference=disabled", map[string]string{"Accept": "*/*"})
	if w.Code != 200 || w.Header().Get("Content-Type") != "text/xml" {
		t.Fatalf("status %d type %q", w.Code, w.Header().Get("Content-Type"))
	}
	var out struct {
		Session struct {
			SessionID string `xml:"session_id"`
			PartnerID int    `xml:"partner_id"`
			CreateDt  string `xml:"create_dt"`
		} `xml:"Session"`
	}
	if err := xml.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s: %v", w.Body, err)
	}
	if out.Session.PartnerID != 12345678 || out.Session.SessionID == "" {
		t.Fatalf("xml %s", w.Body)
	}
	if !strings.HasPrefix(w.Body.String(), `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sessions><Session>`) {
		t.Fatalf("xml shape %s", w.Body)
	}
}

func TestCreateSessionRejected(t *testing.T) {
	tests := []struct {
		name, body string
		hdr        map[string]string
		status     int
	}{
		{"always relayed", "archiveMode=always&p2p.preference=enabled", nil, 400},
		{"e2ee relayed", "e2ee=true&p2p.preference=enabled", nil, 400},
		{"bad preference", "p2p.preference=maybe", nil, 400},
		{"bad archive mode", "archiveMode=sometimes", nil, 400},
		{"ipv6 location", "location=::1", nil, 400},
		{"bad location", "location=nowhere", nil, 400},
		{"bad e2ee", "e2ee=yes", nil, 400},
		{"bad resolution", "archiveResolution=800x600", nil, 400},
		{"long archive name", "archiveName=" + strings.Repeat("a", 81), nil, 400},
		{"malformed form", "archiveMode=%zz", nil, 400},
		{"json body", `{"archiveMode":"manual"}`, map[string]string{"Content-Type": "application/json"}, 400},
		{"oversized body", "archiveName=x&pad=" + strings.Repeat("a", MaxBodyBytes), nil, 413},
		{"no auth", "", map[string]string{"X-OPENTOK-AUTH": ""}, 403},
		{"garbage auth", "", map[string]string{"X-OPENTOK-AUTH": "abc.def.ghi"}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			w := f.post(t, tt.body, tt.hdr)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if w.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("content type %q", w.Header().Get("Content-Type"))
			}
			var e errorBody
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Message == "" {
				t.Fatalf("error body %s", w.Body)
			}
			// Nothing stored: the sessions table stays empty.
			if n := countSessions(t, f.st); n != 0 {
				t.Fatalf("%d sessions stored after a rejected request", n)
			}
		})
	}
}

func countSessions(t *testing.T, st *sqlite.Store) int {
	t.Helper()
	n, err := st.CountSessions(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestWrongMethod(t *testing.T) {
	f := newFixture(t)
	r := httptest.NewRequest("GET", "/session/create", nil)
	w := httptest.NewRecorder()
	f.mux.ServeHTTP(w, r)
	body, _ := io.ReadAll(w.Body)
	if w.Code != 405 || w.Header().Get("Allow") != "POST" || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %v %s", w.Code, w.Header(), body)
	}
}

func FuzzParseSessionForm(f *testing.F) {
	f.Add("archiveMode=always&location=12.34.56.78&e2ee=true&archiveName=foo&archiveResolution=1280x720&p2p.preference=disabled")
	f.Add("location=&e2ee=False")
	f.Add("archiveMode=%zz")
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		req, err := parseSessionForm(form)
		if err != nil {
			return
		}
		if (req.archive == session.ArchiveAlways || req.e2ee) && req.media != session.Routed {
			t.Fatalf("%q accepted as %+v", body, req)
		}
		if req.location != "" && net.ParseIP(req.location).To4() == nil {
			t.Fatalf("location %q accepted", req.location)
		}
	})
}
