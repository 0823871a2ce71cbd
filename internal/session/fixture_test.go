package session_test

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/token"
)

// The tests live outside the package so that they can use token.Role,
// which package session cannot import (token imports session).

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

var allRoles = []token.Role{token.RoleSubscriber, token.RolePublisher, token.RolePublisherOnly, token.RoleModerator}

// recorder is a Sink that keeps what it receives.
type recorder struct {
	mu     sync.Mutex
	events []session.Event
}

func (r *recorder) Send(e session.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// take returns the events received since the last take.
func (r *recorder) take() []session.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := r.events
	r.events = nil
	return ev
}

// fixture is a session whose connections and streams have names, each
// connection with a recorder, plus an observer. Its clock advances 1.5 ms
// per reading, so that creation times show the truncation to milliseconds.
type fixture struct {
	t     *testing.T
	s     *session.Session
	clock time.Time
	ids   map[string]string // name → id
	names map[string]string // id → name
	recs  map[string]*recorder
	order []string // connection names, in joining order
	obs   *recorder
}

// defaultSpec is a camera stream with audio and video.
var defaultSpec = session.StreamSpec{
	Name: "cam", HasAudio: true, HasVideo: true,
	VideoDimensions: session.VideoDimensions{Width: 640, Height: 480}, FrameRate: 30,
}

func newFixture(t *testing.T, o session.Options) *fixture {
	t.Helper()
	f := &fixture{
		t:     t,
		clock: t0,
		ids:   make(map[string]string),
		names: make(map[string]string),
		recs:  make(map[string]*recorder),
		obs:   &recorder{},
	}
	o.Now = func() time.Time {
		f.clock = f.clock.Add(1500 * time.Microsecond)
		return f.clock
	}
	f.s = session.New("sid", session.Routed, o)
	f.s.Observe(f.obs)
	return f
}

func (f *fixture) name(id, name string) {
	f.ids[name] = id
	f.names[id] = name
}

// join adds connection name with role; its data is "data-"+name.
func (f *fixture) join(name string, role token.Role, layout ...string) *session.Connection {
	f.t.Helper()
	rec := &recorder{}
	c, err := f.s.Join(role, "data-"+name, layout, rec)
	if err != nil {
		f.t.Fatalf("join %s: %v", name, err)
	}
	f.name(c.ID, name)
	f.recs[name] = rec
	f.order = append(f.order, name)
	return c
}

// publish publishes stream name from connection conn.
func (f *fixture) publish(conn, name string, spec session.StreamSpec) *session.Stream {
	f.t.Helper()
	st, err := f.s.Publish(f.id(conn), spec)
	if err != nil {
		f.t.Fatalf("publish %s by %s: %v", name, conn, err)
	}
	f.name(st.ID, name)
	return st
}

// id maps a name to its id; "" stays "" and unknown names stand for
// themselves, so that tests can pass ids the session never issued.
func (f *fixture) id(name string) string {
	if id, ok := f.ids[name]; ok {
		return id
	}
	return name
}

func (f *fixture) label(id string) string {
	if n, ok := f.names[id]; ok {
		return n
	}
	return id
}

// drain forgets every event received so far.
func (f *fixture) drain() {
	for _, r := range f.recs {
		r.take()
	}
	f.obs.take()
}

// events takes and describes what connection name received.
func (f *fixture) events(name string) []string {
	return f.describeAll(f.recs[name].take(), false)
}

// observed takes and describes what the observer received, with targets.
func (f *fixture) observed() []string {
	return f.describeAll(f.obs.take(), true)
}

// all takes the events of every connection, keyed by name; connections
// that received nothing are left out.
func (f *fixture) all() map[string][]string {
	out := make(map[string][]string)
	for _, n := range f.order {
		if ev := f.events(n); len(ev) > 0 {
			out[n] = ev
		}
	}
	return out
}

func (f *fixture) describeAll(evs []session.Event, withTarget bool) []string {
	var out []string
	for _, e := range evs {
		out = append(out, f.describe(e, withTarget))
	}
	return out
}

// describe renders an event as a short line, with names for ids.
func (f *fixture) describe(e session.Event, withTarget bool) string {
	var b strings.Builder
	b.WriteString(string(e.Kind))
	switch e.Kind {
	case session.EventConnectionCreated:
		fmt.Fprintf(&b, " %s", f.label(e.Connection.ID))
	case session.EventConnectionDestroyed:
		fmt.Fprintf(&b, " %s %s", f.label(e.Connection.ID), e.Reason)
	case session.EventStreamCreated:
		fmt.Fprintf(&b, " %s", f.label(e.Stream.ID))
	case session.EventStreamDestroyed:
		fmt.Fprintf(&b, " %s %s", f.label(e.Stream.ID), e.Reason)
	case session.EventStreamPropertyChanged, session.EventLayoutClassListChanged:
		fmt.Fprintf(&b, " %s %s %v→%v", f.label(e.Stream.ID), e.Property, e.OldValue, e.NewValue)
	case session.EventSignal:
		from := "server"
		if e.Connection != nil {
			from = f.label(e.Connection.ID)
		}
		fmt.Fprintf(&b, " %q %q from %s", e.SignalType, e.SignalData, from)
	case session.EventMuteForced:
		fmt.Fprintf(&b, " %s %v", f.label(e.Stream.ID), e.Active)
	case session.EventSessionDisconnected:
		fmt.Fprintf(&b, " %s", e.Reason)
	}
	if withTarget && e.Target != "" {
		fmt.Fprintf(&b, " to=%s", f.label(e.Target))
	}
	return b.String()
}

// state is what a refused call must leave untouched.
type state struct {
	conns   []session.Connection
	streams []session.Stream
	muted   bool
}

func (f *fixture) state() state {
	return state{f.s.Connections(), f.s.Streams(), f.s.ForceMuteActive()}
}

func equalStates(a, b state) bool {
	if a.muted != b.muted || len(a.conns) != len(b.conns) || len(a.streams) != len(b.streams) {
		return false
	}
	for i := range a.conns {
		x, y := a.conns[i], b.conns[i]
		if x.ID != y.ID || x.Role != y.Role || x.Data != y.Data || !x.CreationTime.Equal(y.CreationTime) ||
			!slices.Equal(x.LayoutClassList, y.LayoutClassList) {
			return false
		}
	}
	for i := range a.streams {
		x, y := a.streams[i], b.streams[i]
		if !slices.Equal(x.LayoutClassList, y.LayoutClassList) || !x.CreationTime.Equal(y.CreationTime) {
			return false
		}
		x.LayoutClassList, y.LayoutClassList = nil, nil
		x.CreationTime, y.CreationTime = time.Time{}, time.Time{}
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}

// codeOf is session.Code with a name that reads well in failures.
func codeOf(err error) int { return session.Code(err) }

// step is one call in a scenario and what every sink must receive from it.
type step struct {
	name string
	do   func(f *fixture) error
	code int
	// want holds the events of each connection; a connection not listed
	// must receive nothing.
	want map[string][]string
	// observed, if not nil, is what the observer must receive.
	observed []string
}

// run performs the steps in order on f.
func (f *fixture) run(steps []step) {
	f.t.Helper()
	f.drain()
	for _, st := range steps {
		err := st.do(f)
		if got := codeOf(err); got != st.code || (st.code == 0 && err != nil) {
			f.t.Fatalf("%s: error %v (code %d), want code %d", st.name, err, got, st.code)
		}
		got := f.all()
		want := st.want
		if want == nil {
			want = map[string][]string{}
		}
		if !equalEvents(got, want) {
			f.t.Errorf("%s: connections received\n%s\nwant\n%s", st.name, formatEvents(got), formatEvents(want))
		}
		obs := f.observed()
		if st.observed != nil && !slices.Equal(obs, st.observed) {
			f.t.Errorf("%s: observer received\n  %s\nwant\n  %s", st.name, strings.Join(obs, "\n  "), strings.Join(st.observed, "\n  "))
		}
	}
}

func equalEvents(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

func formatEvents(m map[string][]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "  %s:\n", k)
		for _, e := range m[k] {
			fmt.Fprintf(&b, "    %s\n", e)
		}
	}
	if len(keys) == 0 {
		b.WriteString("  (nothing)\n")
	}
	return b.String()
}

// each returns the same events for every listed connection.
func each(names []string, events ...string) map[string][]string {
	m := make(map[string][]string, len(names))
	for _, n := range names {
		m[n] = events
	}
	return m
}

// merge combines event maps; later maps append to earlier ones.
func merge(ms ...map[string][]string) map[string][]string {
	out := make(map[string][]string)
	for _, m := range ms {
		for k, v := range m {
			out[k] = append(out[k], v...)
		}
	}
	return out
}
