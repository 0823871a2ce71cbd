package opentok_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/api"
	"github.com/parleyhq/parley/internal/archive"
	"github.com/parleyhq/parley/internal/project"
	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/store/sqlite"
	"github.com/parleyhq/parley/internal/token"
	"github.com/parleyhq/parley/pkg/opentok"
)

// noMedia is an SFU with no streams: archives start and stop, and record
// nothing (test/rtc records real media).
type noMedia struct{}

func (noMedia) Stream(string) (archive.MediaStream, bool) { return nil, false }

// TestArchiveCalls drives the archive API through the client: every call
// and the refusals a caller must be able to tell apart.
func TestArchiveCalls(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateProject(ctx, store.Project{APIKey: key, Secret: secret, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var archives *archive.Manager
	reg := session.NewRegistry(session.Options{OnCreate: func(s *session.Session) { archives.Observe(s) }})
	archives, err = archive.New(archive.Config{Store: st, Sessions: reg, Media: noMedia{}, Dir: filepath.Join(dir, "archives"),
		Secret: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	defer archives.Close()
	a := api.New(st, &project.Authenticator{Lookup: st.Project}, slog.New(slog.DiscardHandler), nil)
	a.Sessions, a.Archives = reg, archives
	mux := http.NewServeMux()
	a.Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c := opentok.New(key, secret, srv.URL)
	routed, err := c.CreateSession(ctx, opentok.SessionOptions{MediaMode: opentok.Routed})
	if err != nil {
		t.Fatal(err)
	}
	relayed, err := c.CreateSession(ctx, opentok.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	status := func(err error) int {
		var e *opentok.Error
		if errors.As(err, &e) {
			return e.Status
		}
		return 0
	}
	if _, err := c.StartArchive(ctx, routed.ID, opentok.ArchiveOptions{OutputMode: opentok.Individual}); status(err) != 404 {
		t.Errorf("nobody connected: %v, want 404", err)
	}
	for _, sid := range []string{routed.ID, relayed.ID} {
		mode := session.Routed
		if sid == relayed.ID {
			mode = session.Relayed
		}
		if _, _, err := reg.Join(sid, mode, token.RolePublisher, "", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.StartArchive(ctx, relayed.ID, opentok.ArchiveOptions{OutputMode: opentok.Individual}); status(err) != 409 {
		t.Errorf("relayed: %v, want 409", err)
	}
	if _, err := c.StartArchive(ctx, routed.ID, opentok.ArchiveOptions{Layout: &opentok.Layout{Type: "grid"}}); status(err) != 400 {
		t.Errorf("an unknown layout: %v, want 400", err)
	}
	ar, err := c.StartArchive(ctx, routed.ID, opentok.ArchiveOptions{Name: "n", OutputMode: opentok.Individual, StreamMode: opentok.StreamModeManual})
	if err != nil {
		t.Fatal(err)
	}
	if ar.Status != "started" || ar.Name != "n" || ar.SessionID != routed.ID || ar.ProjectID != 1234567 ||
		ar.OutputMode != opentok.Individual || ar.StreamMode != opentok.StreamModeManual || ar.URL != nil || ar.Streams == nil {
		t.Errorf("started: %+v", ar)
	}
	if err := c.AddArchiveStream(ctx, ar.ID, "no-such-stream", true, true); status(err) != 404 {
		t.Errorf("adding an unknown stream: %v, want 404", err)
	}
	got, err := c.GetArchive(ctx, ar.ID)
	if err != nil || got.ID != ar.ID || got.Status != "started" {
		t.Errorf("GetArchive: %+v, %v", got, err)
	}
	stopped, err := c.StopArchive(ctx, ar.ID)
	if err != nil || stopped.Status != "stopped" || stopped.Reason != "user initiated" {
		t.Errorf("StopArchive: %+v, %v", stopped, err)
	}
	if _, err := c.StopArchive(ctx, ar.ID); status(err) != 409 {
		t.Errorf("stopping twice: %v, want 409", err)
	}
	for _, id := range []string{"0f8e3c2a-1b4d-4c5e-9f60-7a8b9c0d1e2f", "not-an-id"} {
		if _, err := c.GetArchive(ctx, id); !errors.Is(err, opentok.ErrNotFound) {
			t.Errorf("GetArchive(%s): %v, want not found", id, err)
		}
	}
	// Nothing was published: the archive fails.
	for got.Status != "failed" && time.Since(got.Created()) < 10*time.Second {
		time.Sleep(10 * time.Millisecond)
		got, _ = c.GetArchive(ctx, ar.ID)
	}
	if got.Status != "failed" || got.Reason != "failure" {
		t.Errorf("an archive with nothing recorded: %+v", got)
	}
	list, total, err := c.ListArchives(ctx, opentok.ListArchivesOptions{SessionID: routed.ID})
	if err != nil || total != 1 || len(list) != 1 || list[0].ID != ar.ID {
		t.Errorf("ListArchives: %+v (%d), %v", list, total, err)
	}
	if list, total, err := c.ListArchives(ctx, opentok.ListArchivesOptions{SessionID: relayed.ID}); err != nil || total != 0 || len(list) != 0 {
		t.Errorf("ListArchives of another session: %+v (%d), %v", list, total, err)
	}
	if err := c.DeleteArchive(ctx, ar.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteArchive(ctx, ar.ID); !errors.Is(err, opentok.ErrNotFound) {
		t.Errorf("deleting twice: %v, want not found", err)
	}
}
