package session_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/token"
)

func TestRegistryGetOrCreate(t *testing.T) {
	var created atomic.Int32
	r := session.NewRegistry(session.Options{OnCreate: func(*session.Session) { created.Add(1) }})
	if _, ok := r.Get("a"); ok {
		t.Fatal("Get on an empty registry found a session")
	}
	const n = 32
	got := make([]*session.Session, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i] = r.GetOrCreate("a", session.Routed) })
	}
	wg.Wait()
	for i, s := range got {
		if s != got[0] {
			t.Fatalf("caller %d got another session", i)
		}
	}
	if created.Load() != 1 || r.Len() != 1 {
		t.Errorf("created %d sessions, Len %d; want 1 and 1", created.Load(), r.Len())
	}
	if s := r.GetOrCreate("a", session.Relayed); s.MediaMode() != session.Routed {
		t.Error("GetOrCreate changed the media mode of a live session")
	}
	if s, ok := r.Get("a"); !ok || s != got[0] {
		t.Error("Get did not return the live session")
	}
	r.GetOrCreate("b", session.Relayed)
	if r.Len() != 2 || len(r.Sessions()) != 2 {
		t.Errorf("Len %d, Sessions %d; want 2", r.Len(), len(r.Sessions()))
	}
}

func TestRegistryRemove(t *testing.T) {
	r := session.NewRegistry(session.Options{})
	s := r.GetOrCreate("a", session.Routed)
	c, err := s.Join(token.RolePublisher, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Remove("a")
	if _, ok := r.Get("a"); !ok {
		t.Fatal("Remove dropped a session with a connection")
	}
	if err := s.Leave(c.ID, session.ReasonClientDisconnected); err != nil {
		t.Fatal(err)
	}
	r.Remove("a")
	r.Remove("a")
	r.Remove("never")
	if _, ok := r.Get("a"); ok || r.Len() != 0 {
		t.Fatal("Remove kept an empty session")
	}
	if _, err := s.Join(token.RolePublisher, "", nil, nil); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Join on a removed session: %v, want ErrClosed", err)
	}

	s2, c2, err := r.Join("a", session.Routed, token.RolePublisher, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s2 == s {
		t.Error("Registry.Join joined the removed session")
	}
	if got, ok := r.Get("a"); !ok || got != s2 {
		t.Error("Registry.Join's session is not the live one")
	}
	if _, ok := s2.Connection(c2.ID); !ok {
		t.Error("Registry.Join's connection is not in its session")
	}
}

// TestRegistryJoinRemoveRace checks that a connection is always in the
// session the registry holds for its id, however joins and removals
// interleave.
func TestRegistryJoinRemoveRace(t *testing.T) {
	r := session.NewRegistry(session.Options{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 300 {
				s, c, err := r.Join("room", session.Routed, token.RolePublisher, "", nil, nil)
				if err != nil {
					t.Error(err)
					return
				}
				// While c is connected, nobody can remove s.
				if live, ok := r.Get("room"); !ok || live != s {
					t.Error("joined a session the registry does not hold")
					return
				}
				if err := s.Leave(c.ID, session.ReasonClientDisconnected); err != nil {
					t.Error(err)
					return
				}
				r.Remove("room")
			}
		})
	}
	wg.Wait()
	if r.Len() != 0 {
		t.Errorf("%d sessions left", r.Len())
	}
}
