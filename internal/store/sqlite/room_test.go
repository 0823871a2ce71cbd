package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/store"
)

func TestRooms(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	now := time.UnixMilli(time.Now().UnixMilli())
	if err := s.CreateProject(ctx, store.Project{APIKey: "42", Secret: "x", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Room(ctx, "calm-river-lamp"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown room: %v", err)
	}
	if _, err := s.ClaimRoom(ctx, store.Room{Name: "x", APIKey: "nope", SessionID: "s", CreatedAt: now, LastUsed: now}, now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("room of an unknown project: %v", err)
	}

	// Two joiners claim a new room at once: one binding wins and both
	// read it.
	var wg sync.WaitGroup
	got := make([]store.Room, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := store.Room{Name: "calm-river-lamp", APIKey: "42", SessionID: fmt.Sprint("session-", i), ModeratorKey: fmt.Sprint("key-", i), CreatedAt: now, LastUsed: now}
			var err error
			if got[i], err = s.ClaimRoom(ctx, r, now.Add(-time.Hour)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, r := range got[1:] {
		if r.SessionID != got[0].SessionID || r.ModeratorKey != got[0].ModeratorKey {
			t.Fatalf("claims disagree: %+v vs %+v", r, got[0])
		}
	}
	first := got[0]

	if err := s.SetRoomLocked(ctx, first.Name, true); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRoomLocked(ctx, "nope", true); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("lock unknown room: %v", err)
	}
	for i := range 5 {
		if _, err := s.AddChatMessage(ctx, store.ChatMessage{Room: first.Name, SessionID: first.SessionID, From: "ann", Text: fmt.Sprint("m", i), At: now}, 3); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AddChatMessage(ctx, store.ChatMessage{Room: "nope", SessionID: "s", Text: "x", At: now}, 3); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("message to an unknown room: %v", err)
	}
	msgs, err := s.ChatMessages(ctx, first.Name, first.SessionID, 0)
	if err != nil || len(msgs) != 3 || msgs[0].Text != "m2" || msgs[2].Text != "m4" {
		t.Fatalf("history = %+v, %v; want m2..m4", msgs, err)
	}
	if msgs, _ := s.ChatMessages(ctx, first.Name, first.SessionID, 2); len(msgs) != 2 || msgs[1].Text != "m4" {
		t.Fatalf("last 2 = %+v", msgs)
	}

	// A claim while the binding is fresh keeps it, moving the last use.
	later := now.Add(time.Minute)
	r, err := s.ClaimRoom(ctx, store.Room{Name: first.Name, APIKey: "42", SessionID: "other", ModeratorKey: "k", CreatedAt: later, LastUsed: later}, now.Add(-time.Hour))
	if err != nil || r.SessionID != first.SessionID || !r.Locked || !r.LastUsed.Equal(later) {
		t.Fatalf("fresh claim = %+v, %v", r, err)
	}
	// Once stale, the room is bound anew: unlocked, without history.
	much := now.Add(48 * time.Hour)
	r, err = s.ClaimRoom(ctx, store.Room{Name: first.Name, APIKey: "42", SessionID: "new", ModeratorKey: "k2", CreatedAt: much, LastUsed: much}, much.Add(-24*time.Hour))
	if err != nil || r.SessionID != "new" || r.ModeratorKey != "k2" || r.Locked {
		t.Fatalf("stale claim = %+v, %v", r, err)
	}
	if msgs, _ := s.ChatMessages(ctx, first.Name, first.SessionID, 0); len(msgs) != 0 {
		t.Fatalf("old history survived: %+v", msgs)
	}
	if err := s.TouchRoom(ctx, first.Name, much.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Room(ctx, first.Name); !r.LastUsed.Equal(much.Add(time.Second)) {
		t.Fatalf("touch: %+v", r)
	}

	// Idle rooms are forgotten with their chat; rooms in use stay.
	if _, err := s.AddChatMessage(ctx, store.ChatMessage{Room: first.Name, SessionID: "new", From: "x", Text: "y", At: much}, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimRoom(ctx, store.Room{Name: "old-room", APIKey: "42", SessionID: "o", ModeratorKey: "k", CreatedAt: now, LastUsed: now}, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteRooms(ctx, much); err != nil || n != 1 {
		t.Fatalf("DeleteRooms = %d, %v; want 1", n, err)
	}
	if _, err := s.Room(ctx, "old-room"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("idle room kept: %v", err)
	}
	if n, err := s.DeleteRooms(ctx, much.Add(2*time.Second)); err != nil || n != 1 {
		t.Fatalf("DeleteRooms = %d, %v; want 1", n, err)
	}
	var left int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM room_messages`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d messages left, %v", left, err)
	}
}
