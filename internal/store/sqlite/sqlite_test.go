package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/store"
)

func open(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "parley.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestProjects(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	now := time.UnixMilli(time.Now().UnixMilli())
	p := store.Project{APIKey: "12345678", Secret: "s3cret-s3cret-s3cret", Name: "default", CreatedAt: now}
	if err := s.CreateProject(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateProject(ctx, p); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second create: got %v, want ErrExists", err)
	}
	got, err := s.Project(ctx, "12345678")
	if err != nil || got != p {
		t.Fatalf("Project = %+v, %v; want %+v", got, err, p)
	}
	if _, err := s.Project(ctx, "999"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown project: got %v, want ErrNotFound", err)
	}
	p.Secret = "another-secret-value"
	if err := s.PutProject(ctx, p); err != nil {
		t.Fatal(err)
	}
	list, err := s.Projects(ctx)
	if err != nil || len(list) != 1 || list[0].Secret != p.Secret {
		t.Fatalf("Projects = %+v, %v", list, err)
	}
}

func TestSessions(t *testing.T) {
	ctx := context.Background()
	s, path := open(t)
	now := time.UnixMilli(time.Now().UnixMilli())
	if err := s.CreateProject(ctx, store.Project{APIKey: "42", Secret: "x", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	want := store.Session{ID: "1_abc", APIKey: "42", MediaMode: session.Routed, ArchiveMode: session.ArchiveAlways,
		Location: "10.0.0.1", E2EE: true, ArchiveName: "n", ArchiveResolution: "1280x720", CreatedAt: now}
	if err := s.CreateSession(ctx, want); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, want); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate id: got %v", err)
	}
	bad := want
	bad.ID, bad.APIKey = "1_def", "404"
	if err := s.CreateSession(ctx, bad); err == nil {
		t.Fatal("session of an unknown project was stored")
	}
	got, err := s.Session(ctx, want.ID)
	if err != nil || got != want {
		t.Fatalf("Session = %+v, %v; want %+v", got, err, want)
	}
	if _, err := s.Session(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown session: %v", err)
	}

	// Reopening keeps the data and does not re-run migrations.
	s.Close()
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if v, err := s2.SchemaVersion(ctx); err != nil || v != len(migrations)-1 {
		t.Fatalf("schema version %d, %v", v, err)
	}
	if got, err := s2.Session(ctx, want.ID); err != nil || got != want {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
}

func TestConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	if err := s.CreateProject(ctx, store.Project{APIKey: "42", Secret: "x", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := session.NewID("42", "", time.Now())
			if err := s.CreateSession(ctx, store.Session{ID: id, APIKey: "42", MediaMode: session.Relayed, ArchiveMode: session.ArchiveManual, CreatedAt: time.Now()}); err != nil {
				errs <- err
				return
			}
			if _, err := s.Session(ctx, id); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	s, path := open(t)
	if _, err := s.w.ExecContext(ctx, `INSERT INTO schema_migrations(version, applied_at) VALUES (999, 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s2, err := Open(ctx, path); err == nil {
		s2.Close()
		t.Fatal("opened a database from a newer version")
	}
}
