package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/api"
	"github.com/parleyhq/parley/internal/archive/s3test"
	"github.com/parleyhq/parley/internal/project"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/store/sqlite"
)

func TestStorageCommands(t *testing.T) {
	s3 := s3test.Start(t)
	s3.MakeBucket("archives")
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	const key, secret = "1234567", "a-secret-of-some-length"
	if err := st.CreateProject(ctx, store.Project{APIKey: key, Secret: secret, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.New(st, &project.Authenticator{Lookup: st.Project}, slog.New(slog.DiscardHandler), nil).Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	env := map[string]string{"PARLEY_URL": srv.URL, "PARLEY_API_KEY": key, "PARLEY_API_SECRET": secret,
		"PARLEY_STORAGE_SECRET_KEY": s3.SecretKey}
	endpoint := "http://" + s3.Endpoint

	tests := []struct {
		name string
		args []string
		want string // in the error
	}{
		{"nothing", []string{"storage"}, "want set, show or remove"},
		{"unknown subcommand", []string{"storage", "list"}, "unknown command"},
		{"show without a storage", []string{"storage", "show"}, "has no archive storage"},
		{"remove without a storage", []string{"storage", "remove"}, "has no archive storage"},
		{"set without a bucket", []string{"storage", "set", "--access-key", s3.AccessKey}, "--bucket"},
		{"an argument", []string{"storage", "show", "extra"}, "takes no argument"},
		{"set a missing bucket", []string{"storage", "set", "--bucket", "nowhere", "--access-key", s3.AccessKey,
			"--endpoint", endpoint}, `400: the archive storage cannot be used: bucket "nowhere" does not exist`},
		{"set with a bad fallback", []string{"storage", "set", "--bucket", "archives", "--access-key", s3.AccessKey,
			"--endpoint", endpoint, "--fallback", "maybe"}, "fallback"},
	}
	for _, tt := range tests {
		if _, err := runCmd(t, env, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error with %q", tt.name, err, tt.want)
		}
	}

	out, err := runCmd(t, env, "storage", "set", "--bucket", "archives", "--access-key", s3.AccessKey,
		"--endpoint", endpoint, "--prefix", "rec", "--fallback", "opentok")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"bucket    archives", "endpoint  " + endpoint, "prefix    rec", "fallback  opentok"} {
		if !strings.Contains(out, want) {
			t.Errorf("set prints %q, without %q", out, want)
		}
	}
	if strings.Contains(out, s3.SecretKey) {
		t.Errorf("set prints the secret key: %q", out)
	}
	out, err = runCmd(t, env, "storage", "show", "--json")
	var shown struct {
		Type     string
		Config   map[string]string
		Fallback string
	}
	if err != nil || json.Unmarshal([]byte(out), &shown) != nil || shown.Type != "s3" || shown.Config["bucket"] != "archives" ||
		shown.Fallback != "opentok" {
		t.Fatalf("show: %q %v", out, err)
	}
	if _, ok := shown.Config["secretKey"]; ok {
		t.Errorf("show --json has the secret key: %s", out)
	}
	if s, err := st.ArchiveStorage(ctx, key); err != nil || s.SecretKey != s3.SecretKey || s.Prefix != "rec" {
		t.Fatalf("stored %+v, %v", s, err)
	}
	if out, err := runCmd(t, env, "storage", "remove"); err != nil || !strings.Contains(out, "removed") {
		t.Fatalf("remove: %q %v", out, err)
	}
	if _, err := runCmd(t, env, "storage", "show"); err == nil {
		t.Fatal("show after remove found a storage")
	}
}
