package sqlite

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/store"
)

func TestLiveUsersAndLogins(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	now := time.UnixMilli(time.Now().UnixMilli())
	ann, err := s.CreateLiveUser(ctx, store.LiveUser{Name: "Ann", PasswordHash: "h1", CreatedAt: now})
	if err != nil || ann.ID == 0 {
		t.Fatalf("create: %+v %v", ann, err)
	}
	if _, err := s.CreateLiveUser(ctx, store.LiveUser{Name: "ANN", PasswordHash: "h2", CreatedAt: now}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("a name differing only in case: %v", err)
	}
	got, err := s.LiveUserByName(ctx, "ann")
	if err != nil || got.ID != ann.ID || got.Name != "Ann" || got.PasswordHash != "h1" || !got.CreatedAt.Equal(now) {
		t.Fatalf("by name: %+v %v", got, err)
	}
	if _, err := s.LiveUserByName(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}

	if err := s.CreateLiveLogin(ctx, store.LiveLogin{TokenHash: "t1", UserID: 999, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("login of an unknown user: %v", err)
	}
	if err := s.CreateLiveLogin(ctx, store.LiveLogin{TokenHash: "t1", UserID: ann.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if u, err := s.LiveLoginUser(ctx, "t1", now); err != nil || u.ID != ann.ID {
		t.Fatalf("login: %+v %v", u, err)
	}
	if _, err := s.LiveLoginUser(ctx, "t1", now.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired login: %v", err)
	}
	if _, err := s.LiveLoginUser(ctx, "nope", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown login: %v", err)
	}
	// A new login forgets the expired ones.
	if err := s.CreateLiveLogin(ctx, store.LiveLogin{TokenHash: "t2", UserID: ann.ID, CreatedAt: now.Add(2 * time.Hour), ExpiresAt: now.Add(3 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM live_logins`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("logins kept: %d %v", n, err)
	}
	if err := s.DeleteLiveLogin(ctx, "t2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LiveLoginUser(ctx, "t2", now.Add(2*time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("signed-out login: %v", err)
	}
	if err := s.DeleteLiveLogin(ctx, "t2"); err != nil {
		t.Fatalf("forget twice: %v", err)
	}
}

func TestShows(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	t0 := time.UnixMilli(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC).UnixMilli())
	ann, err := s.CreateLiveUser(ctx, store.LiveUser{Name: "Ann", PasswordHash: "h", CreatedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := s.CreateLiveUser(ctx, store.LiveUser{Name: "Bob", PasswordHash: "h", CreatedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateShow(ctx, store.Show{ID: "x", UserID: 999, Title: "t", SessionID: "s", Status: store.ShowPreparing, CreatedAt: t0}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("show of an unknown user: %v", err)
	}
	// Ten shows: even ones Ann's, an hour apart, lasting 10·i seconds.
	for i := range 10 {
		u := ann.ID
		loc := "Lisbon, Portugal"
		if i%2 == 1 {
			u, loc = bob.ID, "unknown"
		}
		sh := store.Show{ID: fmt.Sprint("show", i), UserID: u, Title: fmt.Sprint("title ", i), SessionID: fmt.Sprint("session", i),
			Location: loc, Status: store.ShowPreparing, CreatedAt: t0.Add(time.Duration(i) * time.Hour)}
		if err := s.CreateShow(ctx, sh); err != nil {
			t.Fatal(err)
		}
		sh.Status, sh.ArchiveID, sh.Recording, sh.StartedAt = store.ShowLive, fmt.Sprint("archive", i), "started", sh.CreatedAt.Add(time.Second)
		if i < 8 {
			sh.Status, sh.Recording, sh.EndedAt, sh.Duration = store.ShowEnded, "available", sh.StartedAt.Add(time.Duration(10*i)*time.Second), 10*i
		}
		if err := s.UpdateShow(ctx, sh); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateShow(ctx, store.Show{ID: "show0", UserID: ann.ID, Title: "t", SessionID: "s", Status: store.ShowPreparing, CreatedAt: t0}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("taken id: %v", err)
	}
	if err := s.UpdateShow(ctx, store.Show{ID: "nope"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update unknown: %v", err)
	}
	got, err := s.Show(ctx, "show3")
	if err != nil || got.Presenter != "Bob" || got.Title != "title 3" || got.Duration != 30 || got.Status != store.ShowEnded ||
		!got.StartedAt.Equal(t0.Add(3*time.Hour+time.Second)) || !got.EndedAt.Equal(got.StartedAt.Add(30*time.Second)) || got.ArchiveID != "archive3" {
		t.Fatalf("show3: %+v %v", got, err)
	}
	if _, err := s.Show(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown show: %v", err)
	}

	ids := func(list []store.Show) string {
		out := ""
		for _, sh := range list {
			out += sh.ID[4:]
		}
		return out
	}
	for _, c := range []struct {
		name  string
		f     store.ShowFilter
		want  string
		total int
	}{
		{"all", store.ShowFilter{}, "9876543210", 10},
		{"on air", store.ShowFilter{Statuses: []string{store.ShowLive}}, "98", 2},
		{"library page 2", store.ShowFilter{Statuses: []string{store.ShowEnded}, Recorded: true, Offset: 3, Count: 3}, "432", 8},
		{"presenter, any case", store.ShowFilter{Statuses: []string{store.ShowEnded}, Presenter: "ann"}, "6420", 4},
		{"location", store.ShowFilter{Location: "portugal"}, "86420", 5},
		{"location with a wildcard", store.ShowFilter{Location: "%"}, "", 0},
		{"time range", store.ShowFilter{From: t0.Add(2 * time.Hour), To: t0.Add(5*time.Hour + time.Second)}, "432", 3},
		{"duration", store.ShowFilter{Statuses: []string{store.ShowEnded}, MinDuration: 20, MaxDuration: 50}, "5432", 4},
		{"nothing", store.ShowFilter{Presenter: "Cat"}, "", 0},
	} {
		list, total, err := s.Shows(ctx, c.f)
		if err != nil || ids(list) != c.want || total != c.total {
			t.Errorf("%s: %q total %d (%v), want %q total %d", c.name, ids(list), total, err, c.want, c.total)
		}
	}
}
