package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/token"
	"github.com/parleyhq/parley/test/live"
)

func runCmd(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut, func(k string) string { return env[k] })
	return out.String(), err
}

func TestProjectCommands(t *testing.T) {
	data := filepath.Join(t.TempDir(), "d")
	out, err := runCmd(t, nil, "project", "create", "--name", "acme", "--data", data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var p struct{ APIKey, APISecret, Name string }
	if err := json.Unmarshal([]byte(out), &p); err != nil || p.Name != "acme" || len(p.APISecret) != 40 {
		t.Fatalf("%s: %v", out, err)
	}
	out, err = runCmd(t, map[string]string{"PARLEY_DATA": data}, "project", "list")
	if err != nil || !strings.HasPrefix(out, p.APIKey+"\t") {
		t.Fatalf("list: %q %v", out, err)
	}
	out, err = runCmd(t, nil, "project", "show", p.APIKey, "--data", data)
	if err != nil || !strings.Contains(out, p.APISecret) {
		t.Fatalf("show: %q %v", out, err)
	}
	if _, err := runCmd(t, nil, "project", "show", "4242", "--data", data); err == nil {
		t.Fatal("showed an unknown project")
	}
	if _, err := runCmd(t, nil, "nonsense"); err == nil {
		t.Fatal("unknown command accepted")
	}
	if out, err := runCmd(t, nil, "version"); err != nil || !strings.HasPrefix(out, "parley ") {
		t.Fatalf("version: %q %v", out, err)
	}
}

// TestSessionAndToken drives `parley session create` and `parley token`
// (and so pkg/opentok) against a live server, with credentials taken from
// its data folder as an operator on the same machine would.
func TestSessionAndToken(t *testing.T) {
	srv := live.Start(t)
	env := map[string]string{"PARLEY_URL": srv.URL, "PARLEY_DATA": srv.Data}
	out, err := runCmd(t, env, "session", "create", "--media-mode", "routed", "--archive-mode", "always", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var s struct{ SessionID, MediaMode, APIKey string }
	if err := json.Unmarshal([]byte(out), &s); err != nil || s.MediaMode != "routed" || s.APIKey != srv.APIKey {
		t.Fatalf("%s: %v", out, err)
	}
	if id, err := session.ParseID(s.SessionID); err != nil || id.APIKey != srv.APIKey {
		t.Fatalf("session id %q: %+v %v", s.SessionID, id, err)
	}
	// The API refuses what the server must refuse, and the CLI says so.
	if _, err := runCmd(t, env, "session", "create", "--media-mode", "relayed", "--archive-mode", "always"); err == nil ||
		!strings.Contains(err.Error(), "400") {
		t.Fatalf("always+relayed: %v", err)
	}

	secret := srv.Secret(t)
	lookup := func(k string) (string, error) { return secret, nil }
	for _, t1 := range []bool{false, true} {
		args := []string{"token", "--session-id", s.SessionID, "--role", "moderator", "--connection-data", "user=7", "--layout", "focus big", "--expire", "2h"}
		if t1 {
			args = append(args, "--t1")
		}
		out, err = runCmd(t, env, args...)
		if err != nil {
			t.Fatal(err)
		}
		tok := strings.TrimSpace(out)
		if strings.HasPrefix(tok, "T1==") != t1 {
			t.Fatalf("t1=%v got %q", t1, tok)
		}
		c, err := token.Verify(tok, s.SessionID, lookup, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if c.Role != token.RoleModerator || c.Data != "user=7" || strings.Join(c.InitialLayoutClassList, ",") != "focus,big" ||
			time.Until(c.ExpireTime) < 119*time.Minute || time.Until(c.ExpireTime) > 121*time.Minute {
			t.Fatalf("claims %+v", c)
		}
	}
	if _, err := runCmd(t, env, "token", "--session-id", s.SessionID, "--expire", "800h"); err == nil {
		t.Fatal("a token beyond 30 days was minted")
	}
	if _, err := runCmd(t, env, "token", "--session-id", s.SessionID, "--role", "admin"); err == nil {
		t.Fatal("a token with an unknown role was minted")
	}
	// Wrong credentials are an authentication error.
	bad := map[string]string{"PARLEY_URL": srv.URL, "PARLEY_API_KEY": srv.APIKey, "PARLEY_API_SECRET": "wrong-secret-wrong-secret"}
	if _, err := runCmd(t, bad, "session", "create"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("wrong secret: %v", err)
	}
}

func TestServeBanner(t *testing.T) {
	srv := live.Start(t)
	log := srv.Log()
	for _, want := range []string{"is serving on http://127.0.0.1:", "API key", "API secret                 in ", "/healthz", "/metrics"} {
		if !strings.Contains(log, want) {
			t.Errorf("banner lacks %q:\n%s", want, log)
		}
	}
	if fi, err := os.Stat(filepath.Join(srv.Data, "project-"+srv.APIKey+".secret")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v %v", fi, err)
	}
	// A second start on the same data folder keeps the project.
	key := srv.APIKey
	srv.Stop(t)
	again := live.StartIn(t, srv.Data)
	if again.APIKey != key {
		t.Fatalf("project changed across restarts: %s then %s", key, again.APIKey)
	}
	// --api-key/--api-secret make that project exist.
	fixed := live.Start(t, "--api-key", "4455667", "--api-secret", "fixed-secret-fixed-secret")
	if fixed.APIKey != "4455667" {
		t.Fatalf("configured key not used: %s", fixed.APIKey)
	}
}
