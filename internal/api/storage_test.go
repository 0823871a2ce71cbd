package api

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/archive/s3test"
	"github.com/parleyhq/parley/internal/project"
	"github.com/parleyhq/parley/internal/store"
)

func TestArchiveStorage(t *testing.T) {
	srv := s3test.Start(t)
	srv.MakeBucket("archives")
	f := newFixture(t)
	ctx := context.Background()
	path := "/v2/project/" + testKey + "/archive/storage"
	other, err := project.MintJWT("87654321", "other-secret-other-secret", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	body := func(config, fallback string) string {
		return `{"type":"s3","config":{` + config + `},"fallback":"` + fallback + `"}`
	}
	creds := `"accessKey":"` + srv.AccessKey + `","secretKey":"` + srv.SecretKey + `"`
	endpoint := `"endpoint":"http://` + srv.Endpoint + `"`
	good := body(creds+`,"bucket":"archives",`+endpoint, "none")

	// nothingStored fails when the project has a storage other than want
	// (none when want is nil).
	nothingStored := func(name string, want *store.ArchiveStorage) {
		t.Helper()
		s, err := f.st.ArchiveStorage(ctx, testKey)
		switch {
		case want == nil && !errors.Is(err, store.ErrNotFound):
			t.Errorf("%s: a storage was stored: %+v, %v", name, s, err)
		case want != nil && (err != nil || s != *want):
			t.Errorf("%s: the storage changed to %+v, %v", name, s, err)
		}
	}

	if w := f.call(t, "GET", path, f.auth, ""); w.Code != 404 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("no storage yet: %d %s", w.Code, w.Body)
	}

	bad := []struct {
		name, method, auth, body string
		status                   int
		want                     string // in the message
	}{
		{"no auth", "PUT", "", good, 403, ""},
		{"another project's path", "PUT", other, good, 403, "not the authenticated project"},
		{"another project's setting", "GET", other, "", 403, ""},
		{"another project's delete", "DELETE", other, "", 403, ""},
		{"not JSON", "PUT", f.auth, `type=s3`, 400, "malformed JSON"},
		{"empty body", "PUT", f.auth, ``, 400, "type is required"},
		{"config is a string", "PUT", f.auth, `{"type":"s3","config":"x"}`, 400, "malformed JSON"},
		{"azure", "PUT", f.auth, `{"type":"azure","config":{"accountName":"a","accountKey":"k","container":"c"}}`, 400, "not supported"},
		{"no bucket", "PUT", f.auth, body(creds+","+endpoint, "none"), 400, "bucket"},
		{"no secret", "PUT", f.auth, body(`"accessKey":"a","bucket":"archives",`+endpoint, "none"), 400, "secretKey is required"},
		{"endpoint with a path", "PUT", f.auth, body(creds+`,"bucket":"archives","endpoint":"http://`+srv.Endpoint+`/x"`, "none"), 400, "endpoint"},
		{"unknown fallback", "PUT", f.auth, body(creds+`,"bucket":"archives",`+endpoint, "local"), 400, "fallback"},
		{"wrong secret", "PUT", f.auth, body(`"accessKey":"`+srv.AccessKey+`","secretKey":"wrong-secret-key","bucket":"archives",`+endpoint, "none"), 400,
			"secret key does not match"},
		{"no such bucket", "PUT", f.auth, body(creds+`,"bucket":"elsewhere",`+endpoint, "none"), 400, `bucket "elsewhere" does not exist`},
		{"too large", "PUT", f.auth, body(creds+`,"bucket":"archives","prefix":"`+strings.Repeat("a", MaxBodyBytes)+`"`, "none"), 413, ""},
		{"wrong method", "POST", f.auth, good, 405, "use DELETE, GET, PUT"},
	}
	check := func(stored *store.ArchiveStorage) {
		t.Helper()
		for _, tt := range bad {
			w := f.call(t, tt.method, path, tt.auth, tt.body)
			var e errorBody
			if w.Code != tt.status || w.Header().Get("Content-Type") != "application/json" ||
				json.Unmarshal(w.Body.Bytes(), &e) != nil || !strings.Contains(e.Message, tt.want) {
				t.Errorf("%s: %d %s, want %d with %q", tt.name, w.Code, w.Body, tt.status, tt.want)
			}
			if strings.Contains(w.Body.String(), srv.SecretKey) {
				t.Errorf("%s: the answer shows the secret key: %s", tt.name, w.Body)
			}
			nothingStored(tt.name, stored)
		}
	}
	check(nil)

	w := f.call(t, "PUT", path, f.auth, good)
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("set: %d %s", w.Code, w.Body)
	}
	if strings.Contains(w.Body.String(), srv.SecretKey) || strings.Contains(w.Body.String(), "secretKey") {
		t.Errorf("set answers the secret key: %s", w.Body)
	}
	var set storageJSON
	if err := json.Unmarshal(w.Body.Bytes(), &set); err != nil {
		t.Fatal(err)
	}
	want := storageJSON{Type: "s3", Config: storageConfig{AccessKey: srv.AccessKey, Bucket: "archives",
		Endpoint: "http://" + srv.Endpoint}, Fallback: "none", UpdatedAt: set.UpdatedAt}
	if set != want || set.UpdatedAt == 0 {
		t.Fatalf("set: %+v\nwant %+v", set, want)
	}
	stored, err := f.st.ArchiveStorage(ctx, testKey)
	if err != nil || stored.SecretKey != srv.SecretKey || stored.Endpoint != srv.Endpoint || stored.Secure {
		t.Fatalf("stored %+v, %v", stored, err)
	}
	w = f.call(t, "GET", path, f.auth, "")
	var got storageJSON
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &got) != nil || got != set || strings.Contains(w.Body.String(), "secretKey") {
		t.Fatalf("get: %d %s", w.Code, w.Body)
	}

	// A bad request leaves the storage set before as it was.
	check(&stored)

	// Setting again replaces it.
	w = f.call(t, "PUT", path, f.auth, body(creds+`,"bucket":"archives",`+endpoint+`,"prefix":"/parley/","region":"us-east-1"`, "opentok"))
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &got) != nil || got.Fallback != "opentok" ||
		got.Config.Prefix != "parley" || got.Config.Region != "us-east-1" {
		t.Fatalf("replace: %d %s", w.Code, w.Body)
	}

	if w := f.call(t, "DELETE", path, f.auth, ""); w.Code != 204 || w.Body.Len() != 0 {
		t.Fatalf("delete: %d %s", w.Code, w.Body)
	}
	nothingStored("after delete", nil)
	if w := f.call(t, "DELETE", path, f.auth, ""); w.Code != 404 {
		t.Errorf("second delete: %d %s", w.Code, w.Body)
	}
	if w := f.call(t, "GET", path, f.auth, ""); w.Code != 404 {
		t.Errorf("get after delete: %d %s", w.Code, w.Body)
	}
}
