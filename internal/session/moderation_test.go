package session_test

import (
	"testing"

	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/token"
)

func TestForceDisconnect(t *testing.T) {
	for _, by := range []string{"M", ""} {
		t.Run("by "+map[string]string{"M": "moderator", "": "server"}[by], func(t *testing.T) {
			f := newFixture(t, session.Options{})
			f.join("M", token.RoleModerator)
			f.join("T", token.RolePublisher)
			f.publish("T", "ST", defaultSpec)
			f.join("O", token.RoleSubscriber)
			gone := []string{"streamDestroyed ST forceDisconnected", "connectionDestroyed T forceDisconnected"}
			f.run([]step{
				{
					name: "unknown target",
					do:   func(f *fixture) error { return f.s.ForceDisconnect(f.id(by), "nope") },
					code: session.CodeNotFound,
				},
				{
					name: "force disconnect",
					do:   func(f *fixture) error { return f.s.ForceDisconnect(f.id(by), f.id("T")) },
					want: merge(
						map[string][]string{"T": {"sessionDisconnected forceDisconnected"}},
						each([]string{"M", "O"}, gone...),
					),
					observed: append([]string{"sessionDisconnected forceDisconnected to=T"}, gone...),
				},
				{
					name: "again",
					do:   func(f *fixture) error { return f.s.ForceDisconnect(f.id(by), f.id("T")) },
					code: session.CodeNotFound,
				},
			})
			if _, ok := f.s.Connection(f.id("T")); ok {
				t.Error("target still connected")
			}
			if len(f.s.Streams()) != 0 {
				t.Error("target's stream survived")
			}
		})
	}
}

func TestForceDisconnectRefused(t *testing.T) {
	f := newFixture(t, session.Options{})
	f.join("P", token.RolePublisher)
	f.join("T", token.RolePublisher)
	f.run([]step{
		{
			name: "publisher",
			do:   func(f *fixture) error { return f.s.ForceDisconnect(f.id("P"), f.id("T")) },
			code: session.CodeForbidden,
		},
		{
			name: "unknown moderator",
			do:   func(f *fixture) error { return f.s.ForceDisconnect("nope", f.id("T")) },
			code: session.CodeNotFound,
		},
	})
}

func TestForceUnpublish(t *testing.T) {
	f := newFixture(t, session.Options{})
	f.join("M", token.RoleModerator)
	f.join("P", token.RolePublisher)
	f.publish("P", "S1", defaultSpec)
	f.publish("P", "S2", defaultSpec)
	f.run([]step{
		{
			name: "by a moderator; the publisher is told too",
			do:   func(f *fixture) error { return f.s.ForceUnpublish(f.id("M"), f.id("S1")) },
			want: each([]string{"M", "P"}, "streamDestroyed S1 forceUnpublished"),
		},
		{
			name: "by the server",
			do:   func(f *fixture) error { return f.s.ForceUnpublish("", f.id("S2")) },
			want: each([]string{"M", "P"}, "streamDestroyed S2 forceUnpublished"),
		},
		{
			name: "unknown stream",
			do:   func(f *fixture) error { return f.s.ForceUnpublish(f.id("M"), f.id("S1")) },
			code: session.CodeNotFound,
		},
	})
	if _, ok := f.s.Connection(f.id("P")); !ok {
		t.Error("force unpublishing disconnected the publisher")
	}
}

func TestForceMute(t *testing.T) {
	f := newFixture(t, session.Options{})
	f.join("M", token.RoleModerator)
	f.join("A", token.RolePublisher)
	f.join("B", token.RolePublisher)
	f.join("C", token.RolePublisherOnly)
	everyone := []string{"M", "A", "B", "C"}
	f.publish("A", "SA", defaultSpec)
	f.publish("B", "SB", defaultSpec)
	f.publish("C", "SC", session.StreamSpec{HasVideo: true, VideoType: "screen"}) // no audio

	f.run([]step{
		{
			name: "mute one stream",
			do:   func(f *fixture) error { return f.s.ForceMuteStream(f.id("M"), f.id("SA")) },
			want: merge(
				each(everyone, "streamPropertyChanged SA hasAudio true→false"),
				map[string][]string{"A": {"muteForced SA true"}},
			),
			observed: []string{"streamPropertyChanged SA hasAudio true→false", "muteForced SA true to=A"},
		},
		{
			name: "mute it again: no change to announce, the publisher is told again",
			do:   func(f *fixture) error { return f.s.ForceMuteStream("", f.id("SA")) },
			want: map[string][]string{"A": {"muteForced SA true"}},
		},
		{
			name: "the publisher unmutes itself",
			do:   func(f *fixture) error { return f.s.UpdateStream(f.id("A"), f.id("SA"), "hasAudio", true) },
			want: each(everyone, "streamPropertyChanged SA hasAudio false→true"),
		},
		{
			name: "unknown stream",
			do:   func(f *fixture) error { return f.s.ForceMuteStream(f.id("M"), "nope") },
			code: session.CodeNotFound,
		},
	})
	if st, _ := f.s.Stream(f.id("SA")); st.MutedByForce || !st.HasAudio {
		t.Errorf("after unmuting: MutedByForce %v, HasAudio %v", st.MutedByForce, st.HasAudio)
	}
	if f.s.ForceMuteActive() {
		t.Error("muting one stream turned on the session-wide mute")
	}

	f.run([]step{
		{
			name: "mute all but SB (an unknown id is ignored)",
			do:   func(f *fixture) error { return f.s.ForceMuteAll(f.id("M"), []string{f.id("SB"), "gone"}) },
			want: merge(
				each(everyone, "streamPropertyChanged SA hasAudio true→false"),
				map[string][]string{"A": {"muteForced SA true"}, "C": {"muteForced SC true"}},
			),
		},
		{
			name: "a stream published meanwhile starts muted",
			do: func(f *fixture) error {
				f.publish("B", "SB2", defaultSpec)
				return nil
			},
			want: merge(
				each(everyone, "streamCreated SB2"),
				map[string][]string{"B": {"muteForced SB2 true"}},
			),
			observed: []string{"streamCreated SB2", "muteForced SB2 true to=B"},
		},
	})
	want := map[string]struct{ audio, forced bool }{
		"SA": {false, true}, "SB": {true, false}, "SC": {false, true}, "SB2": {false, true},
	}
	for name, w := range want {
		if st, _ := f.s.Stream(f.id(name)); st.HasAudio != w.audio || st.MutedByForce != w.forced {
			t.Errorf("%s: HasAudio %v MutedByForce %v, want %v %v", name, st.HasAudio, st.MutedByForce, w.audio, w.forced)
		}
	}
	if !f.s.ForceMuteActive() {
		t.Error("ForceMuteAll did not turn on the session-wide mute")
	}

	f.run([]step{
		{
			name: "disable",
			do:   func(f *fixture) error { return f.s.DisableForceMute(f.id("M")) },
			want: map[string][]string{
				"A": {"muteForced SA false"},
				"C": {"muteForced SC false"},
				"B": {"muteForced SB2 false"},
			},
		},
		{
			name: "new streams keep their audio",
			do:   func(f *fixture) error { f.publish("B", "SB3", defaultSpec); return nil },
			want: each(everyone, "streamCreated SB3"),
		},
		{
			name: "disable again: nothing to lift",
			do:   func(f *fixture) error { return f.s.DisableForceMute("") },
		},
	})
	for _, name := range []string{"SA", "SB2"} {
		if st, _ := f.s.Stream(f.id(name)); st.HasAudio || st.MutedByForce {
			t.Errorf("%s: HasAudio %v MutedByForce %v; audio stays off until the publisher turns it on", name, st.HasAudio, st.MutedByForce)
		}
	}
	if st, _ := f.s.Stream(f.id("SB3")); !st.HasAudio || st.MutedByForce {
		t.Errorf("SB3 was muted after DisableForceMute")
	}
	if f.s.ForceMuteActive() {
		t.Error("DisableForceMute left the session-wide mute on")
	}
}

func TestForceMuteAllByServerOnEmptySession(t *testing.T) {
	f := newFixture(t, session.Options{})
	if err := f.s.ForceMuteAll("", nil); err != nil {
		t.Fatal(err)
	}
	f.join("P", token.RolePublisher)
	st := f.publish("P", "S", defaultSpec)
	if st.HasAudio || !st.MutedByForce {
		t.Errorf("stream published after muting an empty session: HasAudio %v MutedByForce %v", st.HasAudio, st.MutedByForce)
	}
}

// TestRefusedCallsChangeNothing makes every kind of refused call in one
// busy session and checks that neither the state nor any sink moved.
func TestRefusedCallsChangeNothing(t *testing.T) {
	const (
		bad       = session.CodeBadRequest
		forbidden = session.CodeForbidden
		notFound  = session.CodeNotFound
		conflict  = session.CodeConflict
		tooLarge  = session.CodeTooLarge
	)
	long := func(n int) string { return string(make([]byte, n)) }
	tests := []struct {
		name string
		do   func(f *fixture) error
		code int
	}{
		{"join without a role", func(f *fixture) error { _, err := f.s.Join(nil, "", nil, nil); return err }, bad},
		{"join a full session", func(f *fixture) error {
			_, err := f.s.Join(token.RolePublisher, "", nil, &recorder{})
			return err
		}, conflict},
		{"leave unknown", func(f *fixture) error { return f.s.Leave("nope", session.ReasonClientDisconnected) }, notFound},
		{"leave bad reason", func(f *fixture) error { return f.s.Leave(f.id("A"), "bye") }, bad},
		{"publish as subscriber", func(f *fixture) error { _, err := f.s.Publish(f.id("B"), defaultSpec); return err }, forbidden},
		{"publish unknown", func(f *fixture) error { _, err := f.s.Publish("nope", defaultSpec); return err }, notFound},
		{"publish bad spec", func(f *fixture) error {
			_, err := f.s.Publish(f.id("PO"), session.StreamSpec{VideoType: "x"})
			return err
		}, bad},
		{"publish over the limit", func(f *fixture) error { _, err := f.s.Publish(f.id("A"), defaultSpec); return err }, conflict},
		{"unpublish another's", func(f *fixture) error {
			return f.s.Unpublish(f.id("M"), f.id("SA"), session.ReasonClientDisconnected)
		}, forbidden},
		{"unpublish unknown", func(f *fixture) error {
			return f.s.Unpublish(f.id("A"), "nope", session.ReasonClientDisconnected)
		}, notFound},
		{"unpublish bad reason", func(f *fixture) error { return f.s.Unpublish(f.id("A"), f.id("SA"), "") }, bad},
		{"update another's", func(f *fixture) error {
			return f.s.UpdateStream(f.id("M"), f.id("SA"), session.PropertyHasAudio, false)
		}, forbidden},
		{"update bad property", func(f *fixture) error { return f.s.UpdateStream(f.id("A"), f.id("SA"), "name", "x") }, bad},
		{"update bad value", func(f *fixture) error {
			return f.s.UpdateStream(f.id("A"), f.id("SA"), session.PropertyHasVideo, "no")
		}, bad},
		{"update unknown", func(f *fixture) error {
			return f.s.UpdateStream(f.id("A"), "nope", session.PropertyHasVideo, false)
		}, notFound},
		{"subscribe as publisheronly", func(f *fixture) error { return f.s.CanSubscribe(f.id("PO"), f.id("SA")) }, forbidden},
		{"signal bad type", func(f *fixture) error { return f.s.Signal(f.id("A"), "", "a b", "") }, bad},
		{"signal too large", func(f *fixture) error { return f.s.Signal(f.id("A"), "", "t", long(8193)) }, tooLarge},
		{"signal unknown recipient", func(f *fixture) error { return f.s.Signal(f.id("A"), "nope", "t", "") }, notFound},
		{"signal unknown sender", func(f *fixture) error { return f.s.Signal("nope", "", "t", "") }, notFound},
		{"force disconnect as subscriber", func(f *fixture) error { return f.s.ForceDisconnect(f.id("B"), f.id("A")) }, forbidden},
		{"force disconnect unknown", func(f *fixture) error { return f.s.ForceDisconnect(f.id("M"), "nope") }, notFound},
		{"force disconnect by unknown", func(f *fixture) error { return f.s.ForceDisconnect("nope", f.id("A")) }, notFound},
		{"force unpublish as publisher", func(f *fixture) error { return f.s.ForceUnpublish(f.id("A"), f.id("SA")) }, forbidden},
		{"force unpublish unknown", func(f *fixture) error { return f.s.ForceUnpublish(f.id("M"), "nope") }, notFound},
		{"force mute as publisheronly", func(f *fixture) error { return f.s.ForceMuteStream(f.id("PO"), f.id("SA")) }, forbidden},
		{"force mute unknown", func(f *fixture) error { return f.s.ForceMuteStream(f.id("M"), "nope") }, notFound},
		{"mute all as subscriber", func(f *fixture) error { return f.s.ForceMuteAll(f.id("B"), nil) }, forbidden},
		{"mute all by unknown", func(f *fixture) error { return f.s.ForceMuteAll("nope", nil) }, notFound},
		{"disable mute as publisher", func(f *fixture) error { return f.s.DisableForceMute(f.id("A")) }, forbidden},
		{"layout bad class", func(f *fixture) error { return f.s.SetStreamLayoutClassList(f.id("SA"), []string{"a b"}) }, bad},
		{"layout unknown stream", func(f *fixture) error { return f.s.SetStreamLayoutClassList("nope", nil) }, notFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, session.Options{MaxConnections: 4, MaxStreamsPerConnection: 1})
			f.join("A", token.RolePublisher, "focus")
			f.join("B", token.RoleSubscriber)
			f.join("M", token.RoleModerator)
			f.join("PO", token.RolePublisherOnly)
			f.publish("A", "SA", defaultSpec)
			f.drain()
			before := f.state()

			err := tt.do(f)
			if codeOf(err) != tt.code {
				t.Fatalf("error %v, want code %d", err, tt.code)
			}
			if after := f.state(); !equalStates(before, after) {
				t.Errorf("state changed:\n%+v\nto\n%+v", before, after)
			}
			if got := f.all(); len(got) != 0 {
				t.Errorf("events sent:\n%s", formatEvents(got))
			}
			if got := f.observed(); len(got) != 0 {
				t.Errorf("observer received %v", got)
			}
		})
	}
}
