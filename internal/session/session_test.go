package session_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/token"
)

func TestJoinReplaysState(t *testing.T) {
	f := newFixture(t, session.Options{})
	f.run([]step{
		{
			name: "first joiner sees itself",
			do:   func(f *fixture) error { f.join("A", token.RolePublisher); return nil },
			want: map[string][]string{"A": {"connectionCreated A"}},
		},
		{
			name: "A publishes",
			do:   func(f *fixture) error { f.publish("A", "SA1", defaultSpec); return nil },
			want: map[string][]string{"A": {"streamCreated SA1"}},
		},
		{
			name: "B joins after one stream",
			do:   func(f *fixture) error { f.join("B", token.RoleModerator); return nil },
			want: map[string][]string{
				"A": {"connectionCreated B"},
				"B": {"connectionCreated A", "connectionCreated B", "streamCreated SA1"},
			},
		},
		{
			name: "B and A publish",
			do: func(f *fixture) error {
				f.publish("B", "SB1", defaultSpec)
				f.publish("A", "SA2", defaultSpec)
				return nil
			},
			want: each([]string{"A", "B"}, "streamCreated SB1", "streamCreated SA2"),
		},
		{
			name: "late joiner gets connections then streams, oldest first",
			do:   func(f *fixture) error { f.join("C", token.RoleSubscriber); return nil },
			want: map[string][]string{
				"A": {"connectionCreated C"},
				"B": {"connectionCreated C"},
				"C": {
					"connectionCreated A", "connectionCreated B", "connectionCreated C",
					"streamCreated SA1", "streamCreated SB1", "streamCreated SA2",
				},
			},
			observed: []string{
				"connectionCreated A to=C", "connectionCreated B to=C",
				"connectionCreated C",
				"streamCreated SA1 to=C", "streamCreated SB1 to=C", "streamCreated SA2 to=C",
			},
		},
	})
}

func TestJoinReplayPayloads(t *testing.T) {
	f := newFixture(t, session.Options{})
	a := f.join("A", token.RoleModerator, "focus")
	sa := f.publish("A", "SA", defaultSpec)
	rec := &recorder{}
	if _, err := f.s.Join(token.RoleSubscriber, "late", nil, rec); err != nil {
		t.Fatal(err)
	}
	ev := rec.take()
	if len(ev) != 3 {
		t.Fatalf("late joiner got %d events, want 3", len(ev))
	}
	if c := ev[0].Connection; c.ID != a.ID || c.Data != "data-A" || c.Role != token.RoleModerator ||
		!c.CreationTime.Equal(a.CreationTime) || !slices.Equal(c.LayoutClassList, []string{"focus"}) {
		t.Errorf("replayed connection = %+v, want %+v", *c, *a)
	}
	if st := ev[2].Stream; st.ID != sa.ID || st.ConnectionID != a.ID || st.Name != "cam" || !st.HasAudio ||
		st.VideoDimensions != (session.VideoDimensions{Width: 640, Height: 480}) {
		t.Errorf("replayed stream = %+v, want %+v", *st, *sa)
	}
	if c := ev[2].Connection; c == nil || c.ID != a.ID {
		t.Errorf("replayed stream's connection = %v, want A", c)
	}
}

func TestJoinConnection(t *testing.T) {
	f := newFixture(t, session.Options{})
	layout := []string{"focus", "big"}
	c, err := f.s.Join(token.RolePublisherOnly, "name=Bob", layout, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !uuidRE.MatchString(c.ID) {
		t.Errorf("connection id %q is not a lower-case UUID", c.ID)
	}
	if c.Role != token.RolePublisherOnly || c.Data != "name=Bob" || !slices.Equal(c.LayoutClassList, layout) {
		t.Errorf("connection = %+v", *c)
	}
	// The clock read t0+1.5ms; OpenTok clients see milliseconds.
	if want := t0.Add(time.Millisecond); !c.CreationTime.Equal(want) {
		t.Errorf("CreationTime = %v, want %v", c.CreationTime, want)
	}

	c2, err := f.s.Join(token.RolePublisher, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c2.LayoutClassList == nil || len(c2.LayoutClassList) != 0 {
		t.Errorf("LayoutClassList = %#v, want an empty, non-nil list", c2.LayoutClassList)
	}
	if got, ok := f.s.Connection(c.ID); !ok || got.Data != "name=Bob" {
		t.Errorf("Connection(%q) = %+v, %v", c.ID, got, ok)
	}
	if _, ok := f.s.Connection("nope"); ok {
		t.Error("Connection(unknown) found something")
	}
}

func TestJoinErrors(t *testing.T) {
	s := session.New("sid", session.Relayed, session.Options{MaxConnections: 2})
	if s.ID() != "sid" || s.MediaMode() != session.Relayed {
		t.Errorf("ID, MediaMode = %q, %q", s.ID(), s.MediaMode())
	}
	if _, err := s.Join(nil, "", nil, nil); codeOf(err) != session.CodeBadRequest {
		t.Errorf("Join without a role: %v, want code 400", err)
	}
	for i := range 2 {
		if _, err := s.Join(token.RolePublisher, "", nil, nil); err != nil {
			t.Fatalf("join %d: %v", i, err)
		}
	}
	if _, err := s.Join(token.RolePublisher, "", nil, nil); codeOf(err) != session.CodeConflict {
		t.Errorf("Join on a full session: %v, want code 409", err)
	}
	if n := len(s.Connections()); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

func TestUnlimitedConnections(t *testing.T) {
	for _, max := range []int{0, -1} {
		s := session.New("sid", session.Routed, session.Options{MaxConnections: max})
		for i := range 200 {
			if _, err := s.Join(token.RoleSubscriber, "", nil, nil); err != nil {
				t.Fatalf("MaxConnections %d: join %d: %v", max, i, err)
			}
		}
	}
}

func TestCapabilities(t *testing.T) {
	tests := []struct {
		role token.Role
		want session.Capabilities
	}{
		{token.RoleSubscriber, session.Capabilities{Subscribe: true}},
		{token.RolePublisher, session.Capabilities{Publish: true, Subscribe: true}},
		{token.RolePublisherOnly, session.Capabilities{Publish: true}},
		{token.RoleModerator, session.Capabilities{
			Publish: true, Subscribe: true, ForceDisconnect: true, ForceUnpublish: true, ForceMute: true,
		}},
	}
	for _, tt := range tests {
		c := session.Connection{Role: tt.role}
		if got := c.Capabilities(); got != tt.want {
			t.Errorf("%s: Capabilities() = %+v, want %+v", tt.role, got, tt.want)
		}
	}
	if got := (&session.Connection{}).Capabilities(); got != (session.Capabilities{}) {
		t.Errorf("no role: Capabilities() = %+v, want none", got)
	}
}

// TestRolePermissions runs each role-checked call as each role, in a
// session where P publishes stream S and V is another publisher.
func TestRolePermissions(t *testing.T) {
	ops := []struct {
		name string
		do   func(f *fixture, actor string) error
	}{
		{"publish", func(f *fixture, a string) error { _, err := f.s.Publish(f.id(a), defaultSpec); return err }},
		{"subscribe", func(f *fixture, a string) error { return f.s.CanSubscribe(f.id(a), f.id("S")) }},
		{"forceDisconnect", func(f *fixture, a string) error { return f.s.ForceDisconnect(f.id(a), f.id("V")) }},
		{"forceUnpublish", func(f *fixture, a string) error { return f.s.ForceUnpublish(f.id(a), f.id("S")) }},
		{"forceMuteStream", func(f *fixture, a string) error { return f.s.ForceMuteStream(f.id(a), f.id("S")) }},
		{"forceMuteAll", func(f *fixture, a string) error { return f.s.ForceMuteAll(f.id(a), nil) }},
		{"disableForceMute", func(f *fixture, a string) error { return f.s.DisableForceMute(f.id(a)) }},
	}
	const ok, no = 0, session.CodeForbidden
	tests := []struct {
		role token.Role // "" is the server
		want []int      // by op, in the order above
	}{
		{token.RoleSubscriber, []int{no, ok, no, no, no, no, no}},
		{token.RolePublisher, []int{ok, ok, no, no, no, no, no}},
		{token.RolePublisherOnly, []int{ok, no, no, no, no, no, no}},
		{token.RoleModerator, []int{ok, ok, ok, ok, ok, ok, ok}},
		{"", []int{session.CodeNotFound, session.CodeNotFound, ok, ok, ok, ok, ok}},
	}
	for _, tt := range tests {
		for i, op := range ops {
			name := string(tt.role)
			if name == "" {
				name = "server"
			}
			t.Run(name+"/"+op.name, func(t *testing.T) {
				f := newFixture(t, session.Options{})
				f.join("P", token.RolePublisher)
				f.publish("P", "S", defaultSpec)
				f.join("V", token.RolePublisher)
				actor := ""
				if tt.role != "" {
					f.join("X", tt.role)
					actor = "X"
				}
				if got := codeOf(op.do(f, actor)); got != tt.want[i] {
					t.Errorf("code %d, want %d", got, tt.want[i])
				}
			})
		}
	}
}

func TestLeave(t *testing.T) {
	for _, reason := range []string{
		session.ReasonClientDisconnected, session.ReasonNetworkDisconnected, session.ReasonForceDisconnected,
		session.ReasonServerRotation, session.ReasonMediaIdle,
	} {
		t.Run(reason, func(t *testing.T) {
			f := newFixture(t, session.Options{})
			f.join("A", token.RolePublisher)
			f.join("B", token.RoleSubscriber)
			f.publish("A", "SA1", defaultSpec)
			f.join("C", token.RolePublisher)
			f.publish("C", "SC", defaultSpec)
			f.publish("A", "SA2", defaultSpec)
			gone := []string{"streamDestroyed SA1 " + reason, "streamDestroyed SA2 " + reason, "connectionDestroyed A " + reason}
			f.run([]step{
				{
					name:     "A leaves",
					do:       func(f *fixture) error { return f.s.Leave(f.id("A"), reason) },
					want:     each([]string{"B", "C"}, gone...),
					observed: gone,
				},
				{
					name:     "A leaves again",
					do:       func(f *fixture) error { return f.s.Leave(f.id("A"), reason) },
					code:     session.CodeNotFound,
					observed: []string{},
				},
			})
			conns, streams := f.s.Connections(), f.s.Streams()
			if len(conns) != 2 || conns[0].ID != f.id("B") || conns[1].ID != f.id("C") {
				t.Errorf("connections after leaving: %v", conns)
			}
			if len(streams) != 1 || streams[0].ID != f.id("SC") {
				t.Errorf("streams after leaving: %v", streams)
			}
		})
	}
}

func TestLeaveBadReason(t *testing.T) {
	f := newFixture(t, session.Options{})
	f.join("A", token.RolePublisher)
	for _, reason := range []string{"", "bye", session.ReasonForceUnpublished, session.ReasonMediaStopped, session.ReasonReset} {
		if err := f.s.Leave(f.id("A"), reason); codeOf(err) != session.CodeBadRequest {
			t.Errorf("Leave with reason %q: %v, want code 400", reason, err)
		}
	}
	if f.s.Empty() {
		t.Error("a refused Leave removed the connection")
	}
}

func TestPublish(t *testing.T) {
	f := newFixture(t, session.Options{})
	f.join("P", token.RolePublisher, "focus")
	f.join("O", token.RoleSubscriber)
	f.drain()
	st := f.publish("P", "S", session.StreamSpec{Name: "Bob", HasVideo: true, FrameRate: 15})
	if got := f.all(); !equalEvents(got, each([]string{"P", "O"}, "streamCreated S")) {
		t.Errorf("publishing sent\n%s", formatEvents(got))
	}
	if !uuidRE.MatchString(st.ID) {
		t.Errorf("stream id %q is not a lower-case UUID", st.ID)
	}
	want := session.Stream{
		ID: st.ID, ConnectionID: f.id("P"), Name: "Bob", HasVideo: true, VideoType: session.VideoTypeCamera,
		FrameRate: 15, CreationTime: t0.Add(4 * time.Millisecond), LayoutClassList: []string{"focus"},
	}
	got, ok := f.s.Stream(st.ID)
	if !ok {
		t.Fatal("Stream: not found")
	}
	if !equalStates(state{streams: []session.Stream{got}}, state{streams: []session.Stream{want}}) {
		t.Errorf("stream = %+v\nwant %+v", got, want)
	}
	if _, ok := f.s.Stream("nope"); ok {
		t.Error("Stream(unknown) found something")
	}
}

func TestPublishValidation(t *testing.T) {
	dims := session.VideoDimensions{Width: 1280, Height: 720}
	tests := []struct {
		name string
		spec session.StreamSpec
		code int
		want string // video type stored
	}{
		{"zero spec", session.StreamSpec{}, 0, "camera"},
		{"camera", session.StreamSpec{VideoType: "camera", VideoDimensions: dims}, 0, "camera"},
		{"screen", session.StreamSpec{VideoType: "screen"}, 0, "screen"},
		{"custom", session.StreamSpec{VideoType: "custom"}, 0, "custom"},
		{"unknown video type", session.StreamSpec{VideoType: "Camera"}, 400, ""},
		{"name of 1024 characters", session.StreamSpec{Name: strings.Repeat("é", 1024)}, 0, "camera"},
		{"name of 1025 characters", session.StreamSpec{Name: strings.Repeat("x", 1025)}, 400, ""},
		{"name not UTF-8", session.StreamSpec{Name: "\xff"}, 400, ""},
		{"negative width", session.StreamSpec{VideoDimensions: session.VideoDimensions{Width: -1}}, 400, ""},
		{"negative height", session.StreamSpec{VideoDimensions: session.VideoDimensions{Height: -1}}, 400, ""},
		{"negative frame rate", session.StreamSpec{FrameRate: -1}, 400, ""},
		{"chosen id", session.StreamSpec{ID: "prepared-by-the-sfu_1"}, 0, "camera"},
		{"chosen id with a slash", session.StreamSpec{ID: "../x"}, 400, ""},
		{"chosen id too long", session.StreamSpec{ID: strings.Repeat("a", 65)}, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, session.Options{})
			f.join("P", token.RolePublisher)
			f.drain()
			st, err := f.s.Publish(f.id("P"), tt.spec)
			if codeOf(err) != tt.code {
				t.Fatalf("Publish: %v, want code %d", err, tt.code)
			}
			if tt.code != 0 {
				if st != nil || len(f.s.Streams()) != 0 || len(f.events("P")) != 0 {
					t.Error("a refused Publish left a trace")
				}
				return
			}
			if st.VideoType != tt.want {
				t.Errorf("VideoType = %q, want %q", st.VideoType, tt.want)
			}
			if tt.spec.ID != "" && st.ID != tt.spec.ID {
				t.Errorf("ID = %q, want the chosen %q", st.ID, tt.spec.ID)
			}
			if tt.spec.ID != "" {
				// A second stream cannot take the same id.
				if _, err := f.s.Publish(f.id("P"), tt.spec); codeOf(err) != 409 {
					t.Errorf("reused id: %v, want 409", err)
				}
			}
		})
	}
}

func TestStreamLimit(t *testing.T) {
	tests := []struct {
		max, allowed int // allowed -1: no limit seen within 20 streams
	}{
		{0, session.DefaultMaxStreamsPerConnection},
		{1, 1},
		{2, 2},
		{-1, -1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.max), func(t *testing.T) {
			f := newFixture(t, session.Options{MaxStreamsPerConnection: tt.max})
			f.join("P", token.RolePublisher)
			f.join("Q", token.RolePublisher)
			var last *session.Stream
			for i := range 20 {
				st, err := f.s.Publish(f.id("P"), defaultSpec)
				if tt.allowed >= 0 && i >= tt.allowed {
					if codeOf(err) != session.CodeConflict {
						t.Fatalf("stream %d: %v, want code 409", i+1, err)
					}
					break
				}
				if err != nil {
					t.Fatalf("stream %d: %v", i+1, err)
				}
				last = st
			}
			if tt.allowed < 0 {
				return
			}
			// The limit is per connection, and counts live streams only.
			if _, err := f.s.Publish(f.id("Q"), defaultSpec); err != nil {
				t.Errorf("another connection: %v", err)
			}
			if err := f.s.Unpublish(f.id("P"), last.ID, session.ReasonClientDisconnected); err != nil {
				t.Fatal(err)
			}
			if _, err := f.s.Publish(f.id("P"), defaultSpec); err != nil {
				t.Errorf("after unpublishing: %v", err)
			}
		})
	}
}

func TestUnpublish(t *testing.T) {
	f := newFixture(t, session.Options{})
	f.join("P", token.RolePublisher)
	f.join("M", token.RoleModerator)
	f.join("O", token.RoleSubscriber)
	f.publish("P", "S1", defaultSpec)
	f.publish("P", "S2", defaultSpec)
	everyone := []string{"P", "M", "O"}
	f.run([]step{
		{
			name: "another connection, even a moderator",
			do:   func(f *fixture) error { return f.s.Unpublish(f.id("M"), f.id("S1"), session.ReasonClientDisconnected) },
			code: session.CodeForbidden,
		},
		{
			name: "unknown stream",
			do:   func(f *fixture) error { return f.s.Unpublish(f.id("P"), "nope", session.ReasonClientDisconnected) },
			code: session.CodeNotFound,
		},
		{
			name: "unknown connection",
			do:   func(f *fixture) error { return f.s.Unpublish("nope", f.id("S1"), session.ReasonClientDisconnected) },
			code: session.CodeNotFound,
		},
		{
			name: "bad reason",
			do:   func(f *fixture) error { return f.s.Unpublish(f.id("P"), f.id("S1"), session.ReasonMediaIdle) },
			code: session.CodeBadRequest,
		},
		{
			name: "owner, publisher included",
			do:   func(f *fixture) error { return f.s.Unpublish(f.id("P"), f.id("S1"), session.ReasonClientDisconnected) },
			want: each(everyone, "streamDestroyed S1 clientDisconnected"),
		},
		{
			name: "media stopped",
			do:   func(f *fixture) error { return f.s.Unpublish(f.id("P"), f.id("S2"), session.ReasonMediaStopped) },
			want: each(everyone, "streamDestroyed S2 mediaStopped"),
		},
		{
			name: "twice",
			do:   func(f *fixture) error { return f.s.Unpublish(f.id("P"), f.id("S2"), session.ReasonReset) },
			code: session.CodeNotFound,
		},
	})
	if n := len(f.s.Streams()); n != 0 {
		t.Errorf("%d streams left", n)
	}
}

func TestUpdateStream(t *testing.T) {
	hd := session.VideoDimensions{Width: 1280, Height: 720}
	tests := []struct {
		prop  string
		value any
		code  int
		want  string // the event; "" for none
	}{
		{"hasAudio", false, 0, "streamPropertyChanged S hasAudio true→false"},
		{"hasAudio", true, 0, ""},
		{"hasVideo", false, 0, "streamPropertyChanged S hasVideo true→false"},
		{"hasVideo", true, 0, ""},
		{"hasCaptions", true, 0, "streamPropertyChanged S hasCaptions false→true"},
		{"hasCaptions", false, 0, ""},
		{"videoDimensions", hd, 0, "streamPropertyChanged S videoDimensions {640 480}→{1280 720}"},
		{"videoDimensions", session.VideoDimensions{Width: 640, Height: 480}, 0, ""},
		{"videoDimensions", session.VideoDimensions{}, 0, "streamPropertyChanged S videoDimensions {640 480}→{0 0}"},
		{"videoDimensions", session.VideoDimensions{Width: -2, Height: 5}, 400, ""},
		{"videoDimensions", &hd, 400, ""},
		{"videoDimensions", "1280x720", 400, ""},
		{"videoType", "screen", 0, "streamPropertyChanged S videoType camera→screen"},
		{"videoType", "camera", 0, ""},
		{"videoType", "", 400, ""},
		{"videoType", "hologram", 400, ""},
		{"hasAudio", "false", 400, ""},
		{"hasAudio", 0, 400, ""},
		{"hasVideo", nil, 400, ""},
		{"name", "Alice", 400, ""},
		{"frameRate", 15, 400, ""},
		{"HasAudio", false, 400, ""},
		{"", false, 400, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s=%v", tt.prop, tt.value), func(t *testing.T) {
			f := newFixture(t, session.Options{})
			f.join("P", token.RolePublisher)
			f.join("O", token.RoleSubscriber)
			f.publish("P", "S", defaultSpec)
			var want map[string][]string
			if tt.want != "" {
				want = each([]string{"P", "O"}, tt.want)
			}
			f.run([]step{{
				name: "update",
				do:   func(f *fixture) error { return f.s.UpdateStream(f.id("P"), f.id("S"), tt.prop, tt.value) },
				code: tt.code,
				want: want,
			}})
		})
	}
}

func TestUpdateStreamValues(t *testing.T) {
	f := newFixture(t, session.Options{})
	f.join("P", token.RolePublisher)
	f.publish("P", "S", defaultSpec)
	f.join("O", token.RolePublisher)
	f.drain()
	hd := session.VideoDimensions{Width: 1280, Height: 720}
	if err := f.s.UpdateStream(f.id("P"), f.id("S"), session.PropertyVideoDimensions, hd); err != nil {
		t.Fatal(err)
	}
	ev := f.recs["O"].take()
	if len(ev) != 1 {
		t.Fatalf("%d events, want 1", len(ev))
	}
	e := ev[0]
	if e.OldValue != (session.VideoDimensions{Width: 640, Height: 480}) || e.NewValue != hd {
		t.Errorf("values %#v → %#v", e.OldValue, e.NewValue)
	}
	if e.Stream.VideoDimensions != hd || e.Connection.ID != f.id("P") {
		t.Errorf("event stream %+v, connection %+v: want the stream after the change and its owner", *e.Stream, *e.Connection)
	}
	if st, _ := f.s.Stream(f.id("S")); st.VideoDimensions != hd {
		t.Errorf("stored dimensions %v", st.VideoDimensions)
	}

	for _, tt := range []struct {
		name, conn, stream string
		code               int
	}{
		{"not the owner", "O", "S", session.CodeForbidden},
		{"unknown stream", "P", "nope", session.CodeNotFound},
		{"unknown connection", "nope", "S", session.CodeNotFound},
	} {
		err := f.s.UpdateStream(f.id(tt.conn), f.id(tt.stream), session.PropertyHasAudio, false)
		if codeOf(err) != tt.code {
			t.Errorf("%s: %v, want code %d", tt.name, err, tt.code)
		}
	}
	if st, _ := f.s.Stream(f.id("S")); !st.HasAudio {
		t.Error("a refused update changed the stream")
	}
}

func TestCanSubscribe(t *testing.T) {
	f := newFixture(t, session.Options{})
	f.join("P", token.RolePublisher)
	f.publish("P", "S", defaultSpec)
	f.join("Sub", token.RoleSubscriber)
	f.join("PO", token.RolePublisherOnly)
	f.join("M", token.RoleModerator)
	tests := []struct {
		conn, stream string
		code         int
	}{
		{"Sub", "S", 0},
		{"M", "S", 0},
		{"P", "S", 0}, // its own stream
		{"PO", "S", session.CodeForbidden},
		{"Sub", "nope", session.CodeNotFound},
		{"nope", "S", session.CodeNotFound},
		{"PO", "nope", session.CodeForbidden},
	}
	for _, tt := range tests {
		if err := f.s.CanSubscribe(f.id(tt.conn), f.id(tt.stream)); codeOf(err) != tt.code {
			t.Errorf("%s → %s: %v, want code %d", tt.conn, tt.stream, err, tt.code)
		}
	}
}

func TestLayoutClassList(t *testing.T) {
	f := newFixture(t, session.Options{})
	f.join("P", token.RolePublisher, "focus")
	st := f.publish("P", "S", defaultSpec)
	if !slices.Equal(st.LayoutClassList, []string{"focus"}) {
		t.Errorf("stream starts with %v, want the connection's [focus]", st.LayoutClassList)
	}
	f.run([]step{
		{
			name:     "change",
			do:       func(f *fixture) error { return f.s.SetStreamLayoutClassList(f.id("S"), []string{"full", "big"}) },
			observed: []string{"layoutClassListChanged S layoutClassList [focus]→[full big]"},
		},
		{
			name:     "same list",
			do:       func(f *fixture) error { return f.s.SetStreamLayoutClassList(f.id("S"), []string{"full", "big"}) },
			observed: []string{},
		},
		{
			name:     "clear",
			do:       func(f *fixture) error { return f.s.SetStreamLayoutClassList(f.id("S"), nil) },
			observed: []string{"layoutClassListChanged S layoutClassList [full big]→[]"},
		},
		{
			name:     "unknown stream",
			do:       func(f *fixture) error { return f.s.SetStreamLayoutClassList("nope", []string{"x"}) },
			code:     session.CodeNotFound,
			observed: []string{},
		},
	})
	if got, _ := f.s.Stream(f.id("S")); got.LayoutClassList == nil || len(got.LayoutClassList) != 0 {
		t.Errorf("cleared list = %#v, want empty and non-nil", got.LayoutClassList)
	}

	for _, bad := range [][]string{{""}, {"a b"}, {"ok", "a\tb"}, {"\xff"}, {strings.Repeat("x", 1025)}, {strings.Repeat("x", 512), strings.Repeat("y", 512)}} {
		if err := f.s.SetStreamLayoutClassList(f.id("S"), bad); codeOf(err) != session.CodeBadRequest {
			t.Errorf("list %q: %v, want code 400", bad, err)
		}
	}
	if err := f.s.SetStreamLayoutClassList(f.id("S"), []string{strings.Repeat("x", 1024)}); err != nil {
		t.Errorf("a 1024-byte class: %v", err)
	}
}

// TestNoAliasing changes every slice handed out and checks the session's
// state did not move.
func TestNoAliasing(t *testing.T) {
	f := newFixture(t, session.Options{})
	layout := []string{"focus"}
	rec := &recorder{}
	c, err := f.s.Join(token.RolePublisher, "", layout, rec)
	if err != nil {
		t.Fatal(err)
	}
	layout[0] = "caller"
	c.LayoutClassList[0] = "returned"
	st, err := f.s.Publish(c.ID, defaultSpec)
	if err != nil {
		t.Fatal(err)
	}
	st.LayoutClassList[0] = "returned"
	for _, e := range rec.take() {
		e.Connection.LayoutClassList[0] = "event"
		if e.Stream != nil {
			e.Stream.LayoutClassList[0] = "event"
		}
	}
	f.s.Connections()[0].LayoutClassList[0] = "copy"
	f.s.Streams()[0].LayoutClassList[0] = "copy"
	classes := []string{"a"}
	if err := f.s.SetStreamLayoutClassList(st.ID, classes); err != nil {
		t.Fatal(err)
	}
	classes[0] = "caller"

	if got, _ := f.s.Connection(c.ID); got.LayoutClassList[0] != "focus" {
		t.Errorf("connection's list became %v", got.LayoutClassList)
	}
	if got, _ := f.s.Stream(st.ID); got.LayoutClassList[0] != "a" {
		t.Errorf("stream's list became %v", got.LayoutClassList)
	}
}

func TestObserve(t *testing.T) {
	s := session.New("sid", session.Routed, session.Options{})
	a, b := &recorder{}, &recorder{}
	cancelA := s.Observe(a)
	s.Observe(b)
	s.Observe(nil)() // a nil observer is ignored
	c, _ := s.Join(token.RolePublisher, "", nil, nil)
	cancelA()
	cancelA()
	if err := s.Signal(c.ID, "", "t", "d"); err != nil {
		t.Fatal(err)
	}
	if got := len(a.take()); got != 1 {
		t.Errorf("cancelled observer got %d events, want 1 (before cancelling)", got)
	}
	if got := len(b.take()); got != 2 {
		t.Errorf("observer got %d events, want 2", got)
	}
}

func TestOnCreate(t *testing.T) {
	var created []*session.Session
	rec := &recorder{}
	o := session.Options{OnCreate: func(s *session.Session) {
		created = append(created, s)
		s.Observe(rec)
	}}
	s := session.New("sid", session.Routed, o)
	if len(created) != 1 || created[0] != s {
		t.Fatalf("OnCreate saw %v, want the new session", created)
	}
	if _, err := s.Join(token.RolePublisher, "", nil, nil); err != nil {
		t.Fatal(err)
	}
	if len(rec.take()) != 1 {
		t.Error("an observer attached in OnCreate missed the first join")
	}
}

func TestIDsUnique(t *testing.T) {
	s := session.New("sid", session.Routed, session.Options{MaxStreamsPerConnection: -1})
	seen := make(map[string]bool)
	for range 300 {
		c, err := s.Join(token.RolePublisher, "", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		st, err := s.Publish(c.ID, defaultSpec)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{c.ID, st.ID} {
			if seen[id] || !uuidRE.MatchString(id) {
				t.Fatalf("id %q: repeated or not a lower-case UUID", id)
			}
			seen[id] = true
		}
	}
}

func TestCode(t *testing.T) {
	e := &session.Error{Code: 404, Message: "connection \"x\" not found"}
	tests := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("other"), 0},
		{e, 404},
		{fmt.Errorf("signaling: %w", e), 404},
		{session.ErrClosed, session.CodeGone},
	}
	for _, tt := range tests {
		if got := session.Code(tt.err); got != tt.want {
			t.Errorf("Code(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
	if e.Error() != `session: connection "x" not found` {
		t.Errorf("Error() = %q", e.Error())
	}
}

func TestSinkFunc(t *testing.T) {
	var got []session.EventKind
	s := session.New("sid", session.Routed, session.Options{})
	if _, err := s.Join(token.RolePublisher, "", nil, session.SinkFunc(func(e session.Event) { got = append(got, e.Kind) })); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []session.EventKind{session.EventConnectionCreated}) {
		t.Errorf("SinkFunc got %v", got)
	}
}
