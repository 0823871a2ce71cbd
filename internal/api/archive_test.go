package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/archive"
	"github.com/parleyhq/parley/internal/project"
	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/store/sqlite"
	"github.com/parleyhq/parley/internal/token"
)

type noMedia struct{}

func (noMedia) Stream(string) (archive.MediaStream, bool) { return nil, false }

type archiveFixture struct {
	*fixture
	reg      *session.Registry
	archives *archive.Manager
	dir      string
}

func newArchiveFixture(t *testing.T) *archiveFixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateProject(ctx, store.Project{APIKey: testKey, Secret: testSecret, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	f := &archiveFixture{dir: filepath.Join(dir, "archives")}
	f.reg = session.NewRegistry(session.Options{OnCreate: func(s *session.Session) { f.archives.Observe(s) }})
	f.archives, err = archive.New(archive.Config{Store: st, Sessions: f.reg, Media: noMedia{}, Dir: f.dir,
		Secret: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.archives.Close() })
	a := New(st, &project.Authenticator{Lookup: st.Project}, slog.New(slog.DiscardHandler), nil)
	a.Sessions, a.Archives = f.reg, f.archives
	mux := http.NewServeMux()
	a.Routes(mux)
	tok, err := project.MintJWT(testKey, testSecret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.fixture = &fixture{st: st, mux: mux, auth: tok}
	return f
}

func (f *archiveFixture) session(t *testing.T, mode session.MediaMode, join bool) string {
	t.Helper()
	id := session.NewID(testKey, "", time.Now())
	if err := f.st.CreateSession(context.Background(), store.Session{ID: id, APIKey: testKey, MediaMode: mode,
		ArchiveMode: session.ArchiveManual, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if join {
		if _, _, err := f.reg.Join(id, mode, token.RolePublisher, "", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

func TestArchiveRequests(t *testing.T) {
	f := newArchiveFixture(t)
	routed := f.session(t, session.Routed, true)
	relayed := f.session(t, session.Relayed, true)
	base := "/v2/project/" + testKey + "/archive"

	// What each SDK sends to start: Python's explicit nulls, Ruby's
	// booleans as strings, keys Parley does not know.
	for _, tc := range []struct {
		name, body string
		status     int
		message    string
	}{
		{"python nulls", `{"sessionId":"` + routed + `","name":null,"resolution":null,"multiArchiveTag":null,"maxBitrate":null,"outputMode":"individual","hasAudio":true,"hasVideo":true}`, 200, ""},
		{"ruby strings, a second archive with a tag", `{"sessionId":"` + routed + `","outputMode":"individual","hasAudio":"true","hasVideo":"false","multiArchiveTag":"ruby","somethingNew":1}`, 200, ""},
		{"the same session without a tag", `{"sessionId":"` + routed + `","outputMode":"individual"}`, 409, "multiArchiveTag"},
		{"composed, the default, on the same session", `{"sessionId":"` + routed + `"}`, 409, "multiArchiveTag"},
		{"relayed", `{"sessionId":"` + relayed + `","outputMode":"individual"}`, 409, "relayed"},
		{"no session", `{"outputMode":"individual"}`, 400, "sessionId"},
		{"unknown session", `{"sessionId":"1_nope","outputMode":"individual"}`, 404, "not found"},
		{"resolution with individual", `{"sessionId":"` + routed + `","outputMode":"individual","resolution":"640x480"}`, 400, "composed archives only"},
		{"a bad boolean", `{"sessionId":"` + routed + `","hasAudio":"maybe"}`, 400, "malformed"},
		{"not JSON", `{"sessionId":`, 400, "malformed"},
	} {
		w := f.call(t, "POST", base, f.auth, tc.body)
		var body map[string]any
		json.Unmarshal(w.Body.Bytes(), &body)
		if w.Code != tc.status || w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %s, want %d", tc.name, w.Code, w.Body, tc.status)
			continue
		}
		if tc.status != 200 {
			if msg, _ := body["message"].(string); !strings.Contains(msg, tc.message) {
				t.Errorf("%s: message %q, want %q", tc.name, msg, tc.message)
			}
			continue
		}
		if body["status"] != "started" || body["partnerId"] != float64(12345678) || body["projectId"] != float64(12345678) ||
			body["url"] != nil || body["duration"] != float64(0) || body["event"] != "archive" {
			t.Errorf("%s: %s", tc.name, w.Body)
		}
		if _, ok := body["streams"].([]any); !ok {
			t.Errorf("%s: streams %v, want a list", tc.name, body["streams"])
		}
	}

	w := f.call(t, "GET", base+"?count=1", f.auth, "")
	var list struct {
		Count int              `json:"count"`
		Items []map[string]any `json:"items"`
	}
	if json.Unmarshal(w.Body.Bytes(), &list); w.Code != 200 || list.Count != 2 || len(list.Items) != 1 || list.Items[0]["multiArchiveTag"] != "ruby" {
		t.Fatalf("list: %d %s", w.Code, w.Body)
	}
	tagged := list.Items[0]["id"].(string)
	for _, q := range []string{"?count=x", "?offset=-1"} {
		if w := f.call(t, "GET", base+q, f.auth, ""); w.Code != 400 {
			t.Errorf("list%s: %d, want 400", q, w.Code)
		}
	}
	if w := f.call(t, "GET", base+"?session_id=1_other", f.auth, ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"count":0,"items":[]`) {
		t.Errorf("list of another session: %s", w.Body)
	}

	for _, tc := range []struct {
		name, method, path, body string
		status                   int
	}{
		{"streams of an auto archive", "PATCH", "/" + tagged + "/streams", `{"addStream":"x"}`, 405},
		{"streams without a stream", "PATCH", "/" + tagged + "/streams", `{}`, 400},
		{"layout of an individual archive", "PUT", "/" + tagged + "/layout", `{"type":"pip"}`, 400},
		{"a bad layout", "PUT", "/" + tagged + "/layout", `{"type":"grid"}`, 400},
		{"delete while recording", "DELETE", "/" + tagged, "", 409},
		{"stop, Ruby's way: no body", "POST", "/" + tagged + "/stop", "", 200},
		{"stop again", "POST", "/" + tagged + "/stop", "{}", 409},
		{"get unknown", "GET", "/0f8e3c2a-1b4d-4c5e-9f60-7a8b9c0d1e2f", "", 404},
		{"get a bad id", "GET", "/..%2f..%2fp.db", "", 404},
		{"stop unknown", "POST", "/0f8e3c2a-1b4d-4c5e-9f60-7a8b9c0d1e2f/stop", "{}", 404},
		{"delete unknown", "DELETE", "/0f8e3c2a-1b4d-4c5e-9f60-7a8b9c0d1e2f", "", 404},
	} {
		if w := f.call(t, tc.method, base+tc.path, f.auth, tc.body); w.Code != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, w.Code, w.Body, tc.status)
		}
	}
	other, _ := project.MintJWT("87654321", "other", time.Now())
	if w := f.call(t, "GET", "/v2/project/87654321/archive/"+tagged, other, ""); w.Code != 403 {
		t.Errorf("another project: %d, want 403", w.Code)
	}
}

// TestArchiveDownload serves a zip through its signed link: ranges work,
// and expired, tampered or foreign links are refused.
func TestArchiveDownload(t *testing.T) {
	f := newArchiveFixture(t)
	ctx := context.Background()
	id := "0f8e3c2a-1b4d-4c5e-9f60-7a8b9c0d1e2f"
	now := time.Now().Truncate(time.Millisecond)
	a := store.Archive{ID: id, APIKey: testKey, SessionID: "1_s", Status: archive.StatusAvailable, OutputMode: archive.OutputIndividual,
		StreamMode: archive.StreamModeAuto, HasAudio: true, HasVideo: true, Size: 1000, Duration: 3, CreatedAt: now, UpdatedAt: now}
	if err := f.st.CreateArchive(ctx, a); err != nil {
		t.Fatal(err)
	}
	content := strings.Repeat("0123456789", 100)
	os.WriteFile(filepath.Join(f.dir, id+".zip"), []byte(content), 0o640)

	r := httptest.NewRequest("GET", "/v2/project/"+testKey+"/archive/"+id, nil)
	r.Host = "parley.test:8080"
	r.Header.Set("X-OPENTOK-AUTH", f.auth)
	w := httptest.NewRecorder()
	f.mux.ServeHTTP(w, r)
	var body struct {
		URL    string `json:"url"`
		Status string `json:"status"`
		Size   int64  `json:"size"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Status != "available" || body.Size != 1000 {
		t.Fatalf("get: %s", w.Body)
	}
	u, err := url.Parse(body.URL)
	if err != nil || u.Scheme != "http" || u.Host != "parley.test:8080" || u.Path != "/v2/archives/"+id+".zip" {
		t.Fatalf("url %q", body.URL)
	}
	exp := time.Unix(mustInt(t, u.Query().Get("expires")), 0)
	if d := time.Until(exp); d > 10*time.Minute || d < 9*time.Minute {
		t.Errorf("the link expires at %v, want in 10 minutes", exp)
	}

	get := func(path, rng string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		if rng != "" {
			r.Header.Set("Range", rng)
		}
		w := httptest.NewRecorder()
		f.mux.ServeHTTP(w, r)
		return w
	}
	link := u.RequestURI()
	if w := get(link, ""); w.Code != 200 || w.Body.String() != content || w.Header().Get("Content-Type") != "application/zip" {
		t.Errorf("download: %d %q…", w.Code, w.Body.String()[:min(20, w.Body.Len())])
	}
	if w := get(link, "bytes=10-19"); w.Code != 206 || w.Body.String() != "0123456789" || w.Header().Get("Content-Range") != "bytes 10-19/1000" {
		t.Errorf("range: %d %q %s", w.Code, w.Body, w.Header().Get("Content-Range"))
	}
	q := u.Query()
	tampered := func(key, value string) string {
		q2, _ := url.ParseQuery(q.Encode())
		q2.Set(key, value)
		return u.Path + "?" + q2.Encode()
	}
	for _, tc := range []struct {
		name, path string
		status     int
	}{
		{"expired", tampered("expires", "1000000000"), 403},
		{"a later expiry", tampered("expires", "99999999999"), 403},
		{"tampered signature", tampered("sig", "x"+q.Get("sig")[1:]), 403},
		{"no signature", u.Path, 403},
		{"another archive", strings.Replace(link, id, "1f8e3c2a-1b4d-4c5e-9f60-7a8b9c0d1e2f", 1), 403},
		{"not an archive id", "/v2/archives/..%2fp.db.zip?" + q.Encode(), 404},
		{"not a zip", "/v2/archives/" + id + "?" + q.Encode(), 404},
	} {
		w := get(tc.path, "")
		if w.Code != tc.status || w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %s, want %d", tc.name, w.Code, w.Body, tc.status)
		}
		b, _ := io.ReadAll(w.Body)
		if strings.Contains(string(b), content[:20]) {
			t.Errorf("%s: served the file", tc.name)
		}
	}
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	if err := json.Unmarshal([]byte(s), &n); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return n
}
