package session_test

import (
	"slices"
	"testing"

	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/token"
)

// archiveNotices describes the archive events among evs as
// "kind id name".
func archiveNotices(t *testing.T, evs []session.Event) []string {
	t.Helper()
	var out []string
	for _, e := range evs {
		if e.Kind != session.EventArchiveStarted && e.Kind != session.EventArchiveStopped {
			continue
		}
		out = append(out, string(e.Kind)+" "+e.ArchiveID+" "+e.ArchiveName)
	}
	return out
}

func TestArchiveNotices(t *testing.T) {
	f := newFixture(t, session.Options{})
	f.join("A", token.RolePublisher)
	f.publish("A", "SA", defaultSpec)
	f.drain()

	for _, tc := range []struct {
		name     string
		do       func()
		want     []string // what A receives
		observed []string
		joiner   []string // what a connection joining afterwards receives
	}{
		{
			name:     "start",
			do:       func() { f.s.ArchiveStarted("a1", "first") },
			want:     []string{"archiveStarted a1 first"},
			observed: []string{"archiveStarted a1 first"},
			joiner:   []string{"archiveStarted a1 first"},
		},
		{
			name:   "starting it again says nothing",
			do:     func() { f.s.ArchiveStarted("a1", "first") },
			joiner: []string{"archiveStarted a1 first"},
		},
		{
			name:     "a second archive",
			do:       func() { f.s.ArchiveStarted("a2", "") },
			want:     []string{"archiveStarted a2 "},
			observed: []string{"archiveStarted a2 "},
			joiner:   []string{"archiveStarted a1 first", "archiveStarted a2 "},
		},
		{
			name:     "stop the first, with its name",
			do:       func() { f.s.ArchiveStopped("a1") },
			want:     []string{"archiveStopped a1 first"},
			observed: []string{"archiveStopped a1 first"},
			joiner:   []string{"archiveStarted a2 "},
		},
		{
			name:   "stopping an archive that is not recording says nothing",
			do:     func() { f.s.ArchiveStopped("a1") },
			joiner: []string{"archiveStarted a2 "},
		},
	} {
		tc.do()
		if got := archiveNotices(t, f.recs["A"].take()); !slices.Equal(got, tc.want) {
			t.Errorf("%s: A got %q, want %q", tc.name, got, tc.want)
		}
		if got := archiveNotices(t, f.obs.take()); !slices.Equal(got, tc.observed) {
			t.Errorf("%s: observer got %q, want %q", tc.name, got, tc.observed)
		}
		rec := &recorder{}
		c, err := f.s.Join(token.RoleSubscriber, "late", nil, rec)
		if err != nil {
			t.Fatal(err)
		}
		evs := rec.take()
		if got := archiveNotices(t, evs); !slices.Equal(got, tc.joiner) {
			t.Errorf("%s: a joiner got %q, want %q", tc.name, got, tc.joiner)
		}
		// The archives come last in the replay, after the streams.
		if len(tc.joiner) > 0 && evs[len(evs)-1].Kind != session.EventArchiveStarted {
			t.Errorf("%s: the replay ends with %s, want the archives last", tc.name, evs[len(evs)-1].Kind)
		}
		if err := f.s.Leave(c.ID, session.ReasonClientDisconnected); err != nil {
			t.Fatal(err)
		}
		f.drain()
		var ids []string
		for _, n := range tc.joiner {
			ids = append(ids, n[len("archiveStarted "):len("archiveStarted a1")])
		}
		if got := f.s.Recording(); !slices.Equal(got, ids) {
			t.Errorf("%s: Recording() = %q, want %q", tc.name, got, ids)
		}
	}
}
