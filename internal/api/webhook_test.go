package api

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/project"
	"github.com/parleyhq/parley/internal/store"
)

// call sends an authenticated request (auth "" sends none).
func (f *fixture) call(t *testing.T, method, path, auth, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if auth != "" {
		r.Header.Set("X-OPENTOK-AUTH", auth)
	}
	w := httptest.NewRecorder()
	f.mux.ServeHTTP(w, r)
	return w
}

func TestCallbacks(t *testing.T) {
	f := newFixture(t)
	base := "/v2/project/" + testKey + "/callback"
	other, err := project.MintJWT("87654321", "other-secret-other-secret", time.Now())
	if err != nil {
		t.Fatal(err)
	}

	// Nothing yet: an empty array, not null.
	if w := f.call(t, "GET", base, f.auth, ""); w.Code != 200 || strings.TrimSpace(w.Body.String()) != "[]" {
		t.Fatalf("empty list: %d %s", w.Code, w.Body)
	}

	tests := []struct {
		name, method, path, auth, body string
		status                         int
	}{
		{"no auth", "POST", base, "", `{"url":"https://example.com/h"}`, 403},
		{"another project's path", "POST", base, other, `{"url":"https://example.com/h"}`, 403},
		{"another project's list", "GET", base, other, "", 403},
		{"no url", "POST", base, f.auth, `{"group":"sessionMonitoring"}`, 400},
		{"not JSON", "POST", base, f.auth, `url=https://example.com`, 400},
		{"empty body", "POST", base, f.auth, ``, 400},
		{"ftp", "POST", base, f.auth, `{"url":"ftp://example.com/h"}`, 400},
		{"too long", "POST", base, f.auth, `{"url":"https://example.com/` + strings.Repeat("a", 2048) + `"}`, 400},
		{"unknown group", "POST", base, f.auth, `{"url":"https://example.com/h","group":"archive"}`, 400},
		{"legacy per-event", "POST", base, f.auth, `{"url":"https://example.com/h","group":"connection","event":"created"}`, 400},
		{"wrong method", "PUT", base, f.auth, `{}`, 405},
		{"unknown id", "DELETE", base + "/nope", f.auth, "", 404},
		{"log of an unknown id", "GET", base + "/nope/deliveries", f.auth, "", 404},
	}
	for _, tt := range tests {
		w := f.call(t, tt.method, tt.path, tt.auth, tt.body)
		if w.Code != tt.status || w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %q %s, want %d", tt.name, w.Code, w.Header().Get("Content-Type"), w.Body, tt.status)
		}
	}

	w := f.call(t, "POST", base, f.auth, `{"url":"https://example.com/hooks?x=1","group":"sessionMonitoring"}`)
	var created struct {
		ID, Group, URL, Secret string
		CreatedAt              int64
	}
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &created) != nil || created.ID == "" ||
		created.Group != "sessionMonitoring" || created.URL != "https://example.com/hooks?x=1" ||
		len(created.Secret) != 64 || created.CreatedAt == 0 {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	if w := f.call(t, "POST", base, f.auth, `{"url":"https://example.com/2"}`); w.Code != 409 {
		t.Errorf("second callback: %d %s", w.Code, w.Body)
	}

	// Listing shows the callback but never its secret again.
	w = f.call(t, "GET", base, f.auth, "")
	var list []map[string]any
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &list) != nil || len(list) != 1 || list[0]["id"] != created.ID {
		t.Fatalf("list: %d %s", w.Code, w.Body)
	}
	if _, ok := list[0]["secret"]; ok {
		t.Errorf("list shows the secret: %s", w.Body)
	}

	// The delivery log.
	ctx := context.Background()
	at := time.UnixMilli(time.Now().UnixMilli())
	for i, status := range []int{500, 200} {
		if _, err := f.st.AddDelivery(ctx, store.Delivery{WebhookID: created.ID, APIKey: testKey, EventID: "e", Event: "streamCreated",
			SessionID: "1_s", Attempt: i + 1, Status: status, At: at, Duration: 1500 * time.Microsecond}); err != nil {
			t.Fatal(err)
		}
	}
	w = f.call(t, "GET", base+"/"+created.ID+"/deliveries", f.auth, "")
	var log []deliveryJSON
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &log) != nil || len(log) != 2 {
		t.Fatalf("deliveries: %d %s", w.Code, w.Body)
	}
	want := deliveryJSON{ID: log[0].ID, CallbackID: created.ID, EventID: "e", Event: "streamCreated", SessionID: "1_s",
		Attempt: 2, Status: 200, CreatedAt: at.UnixMilli(), DurationMs: 1.5}
	if log[0] != want || log[1].Attempt != 1 || log[1].Status != 500 {
		t.Errorf("deliveries, newest first: %+v", log)
	}
	// Another project sees neither the log nor the callback.
	otherBase := "/v2/project/87654321/callback/" + created.ID
	if w := f.call(t, "GET", otherBase+"/deliveries", other, ""); w.Code != 404 {
		t.Errorf("another project's log: %d", w.Code)
	}
	if w := f.call(t, "DELETE", otherBase, other, ""); w.Code != 404 {
		t.Errorf("another project's delete: %d", w.Code)
	}

	if w := f.call(t, "DELETE", base+"/"+created.ID, f.auth, ""); w.Code != 204 || w.Body.Len() != 0 {
		t.Fatalf("delete: %d %s", w.Code, w.Body)
	}
	if w := f.call(t, "DELETE", base+"/"+created.ID, f.auth, ""); w.Code != 404 {
		t.Errorf("second delete: %d", w.Code)
	}
	if w := f.call(t, "GET", base, f.auth, ""); strings.TrimSpace(w.Body.String()) != "[]" {
		t.Errorf("list after delete: %s", w.Body)
	}
	// Once removed, a new one may be registered.
	if w := f.call(t, "POST", base, f.auth, `{"url":"http://127.0.0.1:9/h"}`); w.Code != 200 {
		t.Errorf("register again: %d %s", w.Code, w.Body)
	}
}
