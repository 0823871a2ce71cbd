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

func TestWebhooks(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	now := time.UnixMilli(time.Now().UnixMilli())
	for _, k := range []string{"42", "43"} {
		if err := s.CreateProject(ctx, store.Project{APIKey: k, Secret: "x", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	w := store.Webhook{ID: "w1", APIKey: "42", Group: "sessionMonitoring", URL: "https://example.com/hook", Secret: "s", CreatedAt: now}
	if err := s.CreateWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		w    store.Webhook
		want error
	}{
		{"same id", store.Webhook{ID: "w1", APIKey: "43", Group: "sessionMonitoring", URL: "https://a", CreatedAt: now}, store.ErrExists},
		{"second of a group", store.Webhook{ID: "w2", APIKey: "42", Group: "sessionMonitoring", URL: "https://a", CreatedAt: now}, store.ErrExists},
		{"unknown project", store.Webhook{ID: "w3", APIKey: "404", Group: "sessionMonitoring", URL: "https://a", CreatedAt: now}, store.ErrNotFound},
		{"other group", store.Webhook{ID: "w4", APIKey: "42", Group: "archive", URL: "https://b", CreatedAt: now.Add(time.Millisecond)}, nil},
		{"other project", store.Webhook{ID: "w5", APIKey: "43", Group: "sessionMonitoring", URL: "https://c", CreatedAt: now}, nil},
	}
	for _, tt := range tests {
		if err := s.CreateWebhook(ctx, tt.w); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
	}
	if got, err := s.Webhook(ctx, "w1"); err != nil || got != w {
		t.Fatalf("Webhook = %+v, %v; want %+v", got, err, w)
	}
	if _, err := s.Webhook(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown webhook: %v", err)
	}
	list, err := s.Webhooks(ctx, "42")
	if err != nil || len(list) != 2 || list[0].ID != "w1" || list[1].ID != "w4" {
		t.Fatalf("Webhooks(42) = %+v, %v", list, err)
	}

	d := store.Delivery{WebhookID: "w1", APIKey: "42", EventID: "e1", Event: "connectionCreated", SessionID: "1_x",
		Attempt: 1, Status: 500, At: now, Duration: 1500 * time.Microsecond}
	id, err := s.AddDelivery(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	d.ID = id
	if got, err := s.Deliveries(ctx, "42", "w1", 0); err != nil || len(got) != 1 || got[0] != d {
		t.Fatalf("Deliveries = %+v, %v; want [%+v]", got, err, d)
	}

	// A project may only delete its own webhooks; deleting takes the log.
	if err := s.DeleteWebhook(ctx, "43", "w1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete from another project: %v", err)
	}
	if err := s.DeleteWebhook(ctx, "42", "w1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteWebhook(ctx, "42", "w1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if got, err := s.Deliveries(ctx, "42", "", 0); err != nil || len(got) != 0 {
		t.Fatalf("log after delete: %+v, %v", got, err)
	}
	if _, err := s.AddDelivery(ctx, d); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delivery of a deleted webhook: %v", err)
	}
}

func TestDeliveryLogPruning(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	now := time.UnixMilli(time.Now().UnixMilli())
	for _, k := range []string{"42", "43"} {
		if err := s.CreateProject(ctx, store.Project{APIKey: k, Secret: "x", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		for _, g := range []string{"a", "b"} {
			if err := s.CreateWebhook(ctx, store.Webhook{ID: k + g, APIKey: k, Group: g, URL: "https://x", CreatedAt: now}); err != nil {
				t.Fatal(err)
			}
		}
	}
	add := func(apiKey, hook string, attempt int) {
		t.Helper()
		if _, err := s.AddDelivery(ctx, store.Delivery{WebhookID: hook, APIKey: apiKey, Event: "e", Attempt: attempt, At: now}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 10; i++ {
		add("42", "42a", i)
		add("42", "42b", i)
		add("43", "43a", i)
	}
	tests := []struct {
		name    string
		keep    int
		want    int // left in 42
		newest  int // attempt of the newest
		oldest  int // attempt of the oldest left
		other43 int
	}{
		{"more than there are", 100, 20, 10, 1, 10},
		{"exactly as many", 20, 20, 10, 1, 10},
		{"the last 5", 5, 5, 10, 8, 10},
		{"again", 5, 5, 10, 8, 10},
		{"none", 0, 0, 0, 0, 10},
	}
	for _, tt := range tests {
		if err := s.PruneDeliveries(ctx, "42", tt.keep); err != nil {
			t.Fatal(err)
		}
		got, err := s.Deliveries(ctx, "42", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != tt.want {
			t.Fatalf("%s: %d left, want %d", tt.name, len(got), tt.want)
		}
		if len(got) > 0 && (got[0].Attempt != tt.newest || got[len(got)-1].Attempt != tt.oldest) {
			t.Errorf("%s: newest attempt %d, oldest %d; want %d, %d", tt.name, got[0].Attempt, got[len(got)-1].Attempt, tt.newest, tt.oldest)
		}
		for i := 1; i < len(got); i++ {
			if got[i].ID >= got[i-1].ID {
				t.Fatalf("%s: not newest first: %d after %d", tt.name, got[i].ID, got[i-1].ID)
			}
		}
		if other, err := s.Deliveries(ctx, "43", "", 0); err != nil || len(other) != tt.other43 {
			t.Fatalf("%s: project 43 has %d, %v; want %d", tt.name, len(other), err, tt.other43)
		}
	}

	// Limit and the per-webhook filter.
	for i := 1; i <= 4; i++ {
		add("42", "42a", i)
		add("42", "42b", i)
	}
	if got, err := s.Deliveries(ctx, "42", "42b", 0); err != nil || len(got) != 4 || got[0].WebhookID != "42b" {
		t.Fatalf("per webhook: %+v, %v", got, err)
	}
	if got, err := s.Deliveries(ctx, "42", "", 3); err != nil || len(got) != 3 || got[0].Attempt != 4 {
		t.Fatalf("limit 3: %+v, %v", got, err)
	}
}
