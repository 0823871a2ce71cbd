// Package sdk runs the official OpenTok server SDKs against a live
// `parley serve`.
package sdk

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/store/sqlite"
	"github.com/parleyhq/parley/internal/token"
	"github.com/parleyhq/parley/test/live"
)

type nodeError struct {
	Name        string `json:"name"`
	Message     string `json:"message"`
	IsAuthError bool   `json:"isAuthError"`
}

type nodeSession struct {
	Error         *nodeError `json:"error"`
	SessionID     string     `json:"sessionId"`
	JWT           string     `json:"jwt"`
	T1            string     `json:"t1"`
	SessionToken  string     `json:"sessionToken"`
	PublisherOnly string     `json:"publisherOnly"`
	ExpireTime    int64      `json:"expireTime"`
}

type nodeReport struct {
	Sessions      map[string]nodeSession `json:"sessions"`
	Errors        map[string]*nodeError  `json:"errors"`
	TrailingSlash struct {
		Error     *nodeError `json:"error"`
		SessionID string     `json:"sessionId"`
	} `json:"trailingSlash"`
}

// nodeDir is the folder where ./scripts/test installs the npm packages.
func nodeDir(t *testing.T) string {
	t.Helper()
	live.Require(t, "node")
	dir := filepath.Join(live.Root(), "test", "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "opentok", "package.json")); err != nil {
		live.Missing(t, "the opentok npm package is not installed in test/node; ./scripts/test installs it")
	}
	return dir
}

func TestNodeSDK(t *testing.T) {
	dir := nodeDir(t)
	srv := live.Start(t)
	secret := srv.Secret(t)

	cmd := exec.Command("node", "sdk-check.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PARLEY_URL="+srv.URL, "PARLEY_API_KEY="+srv.APIKey, "PARLEY_API_SECRET="+secret)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("node: %v\n%s", err, stderr)
	}
	var rep nodeReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("node printed %s: %v", out, err)
	}

	// The server keeps running: read its store beside it (SQLite WAL lets
	// a second reader in).
	st, err := sqlite.Open(context.Background(), filepath.Join(srv.Data, "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	lookup := func(k string) (string, error) {
		p, err := st.Project(context.Background(), k)
		return p.Secret, err
	}

	want := map[string]store.Session{
		"relayed":      {MediaMode: session.Relayed, ArchiveMode: session.ArchiveManual},
		"routed":       {MediaMode: session.Routed, ArchiveMode: session.ArchiveManual},
		"routedAlways": {MediaMode: session.Routed, ArchiveMode: session.ArchiveAlways, ArchiveName: "auto", ArchiveResolution: "1280x720"},
		"located":      {MediaMode: session.Routed, ArchiveMode: session.ArchiveManual, Location: "12.34.56.78"},
	}
	now := time.Now()
	for name, w := range want {
		t.Run(name, func(t *testing.T) {
			got, ok := rep.Sessions[name]
			if !ok || got.Error != nil {
				t.Fatalf("createSession failed: %+v", got.Error)
			}
			stored, err := st.Session(context.Background(), got.SessionID)
			if err != nil {
				t.Fatal(err)
			}
			if stored.MediaMode != w.MediaMode || stored.ArchiveMode != w.ArchiveMode || stored.Location != w.Location ||
				stored.ArchiveName != w.ArchiveName || stored.ArchiveResolution != w.ArchiveResolution || stored.APIKey != srv.APIKey {
				t.Fatalf("stored %+v, want %+v", stored, w)
			}

			c, err := token.Verify(got.JWT, got.SessionID, lookup, now)
			if err != nil {
				t.Fatalf("JWT: %v", err)
			}
			if c.Role != token.RoleModerator || c.Data != "name=Bob&x=1" || c.ExpireTime.Unix() != got.ExpireTime ||
				strings.Join(c.InitialLayoutClassList, " ") != "focus big" || c.SessionID != got.SessionID {
				t.Fatalf("JWT claims %+v", c)
			}
			c, err = token.Verify(got.T1, got.SessionID, lookup, now)
			if err != nil {
				t.Fatalf("T1: %v", err)
			}
			if c.Role != token.RoleSubscriber || c.Data != "name=Ann" || c.ExpireTime.Unix() != got.ExpireTime {
				t.Fatalf("T1 claims %+v", c)
			}
			c, err = token.Verify(got.SessionToken, got.SessionID, lookup, now)
			if err != nil {
				t.Fatalf("session.generateToken(): %v", err)
			}
			if c.Role != token.RolePublisher || d(c.ExpireTime.Sub(now)-24*time.Hour) > time.Minute {
				t.Fatalf("default token claims %+v (expires in %v)", c, c.ExpireTime.Sub(now))
			}
			if c, err := token.Verify(got.PublisherOnly, got.SessionID, lookup, now); err != nil || c.Role != token.RolePublisherOnly {
				t.Fatalf("publisheronly: %+v %v", c, err)
			}
			// A token is only good for its own session.
			other := rep.Sessions["relayed"].SessionID
			if name != "relayed" {
				if _, err := token.Verify(got.JWT, other, lookup, now); err == nil {
					t.Fatal("a token was accepted for another session")
				}
			}
		})
	}

	for name, e := range map[string]*nodeError{"wrongSecret": rep.Errors["wrongSecret"], "unknownKey": rep.Errors["unknownKey"]} {
		if e == nil || !strings.Contains(e.Message, "Invalid API key or secret") {
			t.Errorf("%s: got %+v, want the SDK's authentication error", name, e)
		}
	}
	if rep.TrailingSlash.Error != nil || rep.TrailingSlash.SessionID == "" {
		t.Errorf("apiUrl with a trailing slash: %+v", rep.TrailingSlash)
	}
	if e := rep.Errors["foreignSession"]; e == nil || !strings.Contains(e.Message, "session belongs to the API Key") {
		t.Errorf("generateToken for another project's session: %+v", e)
	}
	// Rejected requests stored nothing: four variants and the slash one.
	if n, err := st.CountSessions(context.Background(), ""); err != nil || n != 5 {
		t.Errorf("%d sessions stored, want 5 (%v)", n, err)
	}
}

func d(x time.Duration) time.Duration {
	if x < 0 {
		return -x
	}
	return x
}
