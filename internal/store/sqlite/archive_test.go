package sqlite

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/store"
)

func TestArchives(t *testing.T) {
	ctx := context.Background()
	s, path := open(t)
	t0 := time.UnixMilli(time.Now().UnixMilli())
	for _, key := range []string{"42", "43"} {
		if err := s.CreateProject(ctx, store.Project{APIKey: key, Secret: "x", CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(id, key, sid string, created time.Time, status string) store.Archive {
		return store.Archive{ID: id, APIKey: key, SessionID: sid, Name: "n-" + id, Status: status,
			OutputMode: "individual", StreamMode: "auto", HasAudio: true, HasVideo: true,
			CreatedAt: created, UpdatedAt: created}
	}
	// Two archives share a creation time: the later-created one is newer.
	all := []store.Archive{
		mk("a1", "42", "s1", t0, "available"),
		mk("a2", "42", "s2", t0.Add(time.Second), "started"),
		mk("a3", "42", "s1", t0.Add(2*time.Second), "failed"),
		mk("a4", "42", "s1", t0.Add(2*time.Second), "started"),
		mk("b1", "43", "s9", t0.Add(3*time.Second), "started"),
	}
	all[0].Streams = []store.ArchiveStream{{StreamID: "st", HasAudio: true}}
	all[0].Resolution, all[0].Layout, all[0].MultiArchiveTag = "1280x720", `{"type":"pip"}`, "tag"
	for _, a := range all {
		if err := s.CreateArchive(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateArchive(ctx, all[0]); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate id: %v, want ErrExists", err)
	}
	if err := s.CreateArchive(ctx, mk("c1", "999", "s", t0, "started")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown project: %v, want ErrNotFound", err)
	}
	got, err := s.Archive(ctx, "a1")
	if err != nil || !reflect.DeepEqual(got, all[0]) {
		t.Fatalf("Archive = %+v, %v; want %+v", got, err, all[0])
	}
	if got, _ := s.Archive(ctx, "a2"); got.Streams == nil || len(got.Streams) != 0 {
		t.Errorf("no streams read back as %#v, want an empty list", got.Streams)
	}
	if _, err := s.Archive(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown archive: %v", err)
	}

	for _, tc := range []struct {
		name  string
		f     store.ArchiveFilter
		ids   []string
		total int
	}{
		{"a project's, newest first", store.ArchiveFilter{APIKey: "42"}, []string{"a4", "a3", "a2", "a1"}, 4},
		{"offset and count", store.ArchiveFilter{APIKey: "42", Offset: 1, Count: 2}, []string{"a3", "a2"}, 4},
		{"offset past the end", store.ArchiveFilter{APIKey: "42", Offset: 9}, nil, 4},
		{"one session", store.ArchiveFilter{APIKey: "42", SessionID: "s1"}, []string{"a4", "a3", "a1"}, 3},
		{"by status, every project", store.ArchiveFilter{Statuses: []string{"started"}}, []string{"b1", "a4", "a2"}, 3},
		{"two statuses", store.ArchiveFilter{APIKey: "42", Statuses: []string{"failed", "available"}}, []string{"a3", "a1"}, 2},
		{"another project", store.ArchiveFilter{APIKey: "43"}, []string{"b1"}, 1},
		{"nothing", store.ArchiveFilter{APIKey: "44"}, nil, 0},
	} {
		list, total, err := s.Archives(ctx, tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var ids []string
		for _, a := range list {
			ids = append(ids, a.ID)
		}
		if !reflect.DeepEqual(ids, tc.ids) || total != tc.total {
			t.Errorf("%s: %v (total %d), want %v (total %d)", tc.name, ids, total, tc.ids, tc.total)
		}
	}

	up := all[1]
	up.Status, up.Reason, up.Size, up.Duration = "available", "user initiated", 12345, 61
	up.Streams = []store.ArchiveStream{{StreamID: "x", HasVideo: true}}
	up.UpdatedAt = t0.Add(time.Minute)
	up.Name = "names do not change"
	if err := s.UpdateArchive(ctx, up); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Archive(ctx, "a2")
	up.Name = all[1].Name
	if !reflect.DeepEqual(got, up) {
		t.Errorf("after update: %+v, want %+v", got, up)
	}
	if err := s.UpdateArchive(ctx, mk("nope", "42", "s", t0, "x")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update unknown: %v", err)
	}

	if err := s.DeleteArchive(ctx, "43", "a1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete another project's archive: %v, want ErrNotFound", err)
	}
	if err := s.DeleteArchive(ctx, "42", "a1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Archive(ctx, "a1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted archive still there: %v", err)
	}

	// Reopening keeps everything.
	s.Close()
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got, err := s2.Archive(ctx, "a2"); err != nil || got.Status != "available" {
		t.Errorf("after reopening: %+v, %v", got, err)
	}
}
