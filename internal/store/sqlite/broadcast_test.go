package sqlite

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/store"
)

func TestBroadcasts(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	t0 := time.UnixMilli(time.Now().UnixMilli())
	if err := s.CreateProject(ctx, store.Project{APIKey: "42", Secret: "x", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	mk := func(id, sid string, created time.Time, status string) store.Broadcast {
		return store.Broadcast{ID: id, APIKey: "42", SessionID: sid, Status: status, Data: []byte(`{"id":"` + id + `"}`),
			CreatedAt: created, UpdatedAt: created}
	}
	all := []store.Broadcast{mk("b1", "s1", t0, "stopped"), mk("b2", "s2", t0.Add(time.Second), "started"),
		mk("b3", "s1", t0.Add(2*time.Second), "started")}
	for _, b := range all {
		if err := s.CreateBroadcast(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateBroadcast(ctx, all[0]); !errors.Is(err, store.ErrExists) {
		t.Errorf("a second b1: %v", err)
	}
	other := mk("x", "s", t0, "started")
	other.APIKey = "99"
	if err := s.CreateBroadcast(ctx, other); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a broadcast of no project: %v", err)
	}
	got, err := s.Broadcast(ctx, "b2")
	if err != nil || !reflect.DeepEqual(got, all[1]) {
		t.Errorf("b2: %+v %v", got, err)
	}
	if _, err := s.Broadcast(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown: %v", err)
	}
	for _, tc := range []struct {
		f     store.BroadcastFilter
		ids   []string
		total int
	}{
		{store.BroadcastFilter{APIKey: "42"}, []string{"b3", "b2", "b1"}, 3},
		{store.BroadcastFilter{APIKey: "42", SessionID: "s1"}, []string{"b3", "b1"}, 2},
		{store.BroadcastFilter{Statuses: []string{"started"}}, []string{"b3", "b2"}, 2},
		{store.BroadcastFilter{APIKey: "42", Offset: 1, Count: 1}, []string{"b2"}, 3},
	} {
		list, total, err := s.Broadcasts(ctx, tc.f)
		var ids []string
		for _, b := range list {
			ids = append(ids, b.ID)
		}
		if err != nil || total != tc.total || !reflect.DeepEqual(ids, tc.ids) {
			t.Errorf("%+v: %v (total %d) %v; want %v (%d)", tc.f, ids, total, err, tc.ids, tc.total)
		}
	}
	up := all[2]
	up.Status, up.Data, up.UpdatedAt = "stopped", []byte(`{"id":"b3","status":"stopped"}`), t0.Add(time.Minute)
	if err := s.UpdateBroadcast(ctx, up); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Broadcast(ctx, "b3"); !reflect.DeepEqual(got, up) {
		t.Errorf("after the update: %+v", got)
	}
	if err := s.UpdateBroadcast(ctx, mk("nope", "s", t0, "stopped")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("updating an unknown one: %v", err)
	}
}
