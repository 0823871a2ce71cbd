package sqlite

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/store"
)

func TestArchiveStorage(t *testing.T) {
	ctx := context.Background()
	s, path := open(t)
	t0 := time.UnixMilli(time.Now().UnixMilli())
	for _, key := range []string{"42", "43"} {
		if err := s.CreateProject(ctx, store.Project{APIKey: key, Secret: "x", CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ArchiveStorage(ctx, "42"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no storage yet: %v, want ErrNotFound", err)
	}
	want := store.ArchiveStorage{APIKey: "42", Type: "s3", Endpoint: "s3.example.com:9000", Secure: true,
		Bucket: "recordings", AccessKey: "AKIA", SecretKey: "s3cr3t", Region: "eu-west-1", Prefix: "parley/",
		Fallback: "opentok", UpdatedAt: t0}
	if err := s.PutArchiveStorage(ctx, want); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ArchiveStorage(ctx, "42"); err != nil || got != want {
		t.Fatalf("ArchiveStorage = %+v, %v; want %+v", got, err, want)
	}
	if _, err := s.ArchiveStorage(ctx, "43"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another project's storage: %v, want ErrNotFound", err)
	}

	// A second put replaces every field.
	want = store.ArchiveStorage{APIKey: "42", Type: "s3", Endpoint: "127.0.0.1:7070", Bucket: "other",
		AccessKey: "k2", SecretKey: "s2", Fallback: "none", UpdatedAt: t0.Add(time.Minute)}
	if err := s.PutArchiveStorage(ctx, want); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ArchiveStorage(ctx, "42"); err != nil || got != want {
		t.Fatalf("after replace = %+v, %v; want %+v", got, err, want)
	}

	unknown := want
	unknown.APIKey = "999"
	if err := s.PutArchiveStorage(ctx, unknown); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("storage of an unknown project: %v, want ErrNotFound", err)
	}

	// Reopening keeps it.
	s.Close()
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got, err := s2.ArchiveStorage(ctx, "42"); err != nil || got != want {
		t.Fatalf("after reopen = %+v, %v", got, err)
	}
	if err := s2.DeleteArchiveStorage(ctx, "43"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete of none: %v, want ErrNotFound", err)
	}
	if err := s2.DeleteArchiveStorage(ctx, "42"); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.ArchiveStorage(ctx, "42"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after delete: %v, want ErrNotFound", err)
	}
	if err := s2.DeleteArchiveStorage(ctx, "42"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
}

// TestArchiveStorageMigration opens a database made before archive
// storage existed: the new table is added and the old records stay.
func TestArchiveStorageMigration(t *testing.T) {
	ctx := context.Background()
	s, path := open(t)
	if err := s.CreateProject(ctx, store.Project{APIKey: "42", Secret: "x", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	// Back to schema 3, as the previous release left it.
	for _, q := range []string{`DROP TABLE live_shows`, `DROP TABLE live_logins`, `DROP TABLE live_users`, `DROP TABLE room_messages`, `DROP TABLE rooms`, `DROP TABLE archive_storage`, `DROP TABLE broadcasts`, `DELETE FROM schema_migrations WHERE version >= 4`} {
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if v, err := s2.SchemaVersion(ctx); err != nil || v != len(migrations)-1 {
		t.Fatalf("schema version %d, %v; want %d", v, err, len(migrations)-1)
	}
	if _, err := s2.Project(ctx, "42"); err != nil {
		t.Fatalf("project lost in the migration: %v", err)
	}
	if err := s2.PutArchiveStorage(ctx, store.ArchiveStorage{APIKey: "42", Type: "s3", Endpoint: "h", Bucket: "b",
		AccessKey: "a", SecretKey: "s", Fallback: "none", UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
}
