package session_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/parleyhq/parley/internal/session"
)

// checker is a Sink that rebuilds the session from the events it receives
// and reports every event that does not fit what it has seen so far.
type checker struct {
	observer bool // sees every event; Target says who it was for

	mu        sync.Mutex
	me        string // the connection's id, learnt from its replay
	phase     int    // 0 replaying connections, 1 replaying streams, 2 live
	left      bool   // Leave returned: nothing more may arrive
	kicked    bool   // got sessionDisconnected: nothing more may arrive
	conns     map[string]bool
	streams   map[string]session.Stream
	n         int
	problems  []string
	maxReport int
}

func newChecker(observer bool) *checker {
	return &checker{
		observer:  observer,
		conns:     make(map[string]bool),
		streams:   make(map[string]session.Stream),
		maxReport: 10,
	}
}

func (c *checker) fail(e session.Event, format string, args ...any) {
	if len(c.problems) < c.maxReport {
		c.problems = append(c.problems, fmt.Sprintf("event %d (%s, target %q): ", c.n, e.Kind, e.Target)+fmt.Sprintf(format, args...))
	}
}

func (c *checker) Send(e session.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if c.observer {
		c.observe(e)
		return
	}
	if c.left || c.kicked {
		c.fail(e, "received after leaving")
		return
	}
	if c.me == "" {
		// The first event is either the replay of an older connection,
		// addressed to us, or, in an empty session, our own creation.
		c.me = e.Target
		if c.me == "" && e.Kind == session.EventConnectionCreated {
			c.me = e.Connection.ID
		}
	}
	if e.Target != "" && e.Target != c.me {
		c.fail(e, "addressed to another connection")
	}
	replay := e.Target == c.me && (e.Kind == session.EventConnectionCreated || e.Kind == session.EventStreamCreated)
	switch c.phase {
	case 0:
		switch {
		case e.Kind == session.EventConnectionCreated && e.Target == "" && e.Connection.ID == c.me:
			c.phase = 1
		case e.Kind == session.EventConnectionCreated && replay:
		default:
			c.fail(e, "the replay must start with connections, ending with our own")
		}
	case 1:
		if !(e.Kind == session.EventStreamCreated && replay) {
			c.phase = 2
		}
	}
	if c.phase == 2 && replay {
		c.fail(e, "replayed after the replay ended")
	}
	c.apply(e)
}

// observe checks an event seen by an observer. Only events addressed to
// everyone change the state it tracks; the rest must be about connections
// and streams it knows.
func (c *checker) observe(e session.Event) {
	if e.Target == "" {
		c.apply(e)
		return
	}
	switch e.Kind {
	case session.EventConnectionCreated:
		if !c.conns[e.Connection.ID] {
			c.fail(e, "replayed connection %s unknown", e.Connection.ID)
		}
	case session.EventStreamCreated:
		if st, ok := c.streams[e.Stream.ID]; !ok || !sameStream(st, *e.Stream) {
			c.fail(e, "replayed stream %s unknown or different", e.Stream.ID)
		}
	default:
		if !c.conns[e.Target] {
			c.fail(e, "addressed to unknown connection %s", e.Target)
		}
		c.apply(e)
	}
}

func sameStream(a, b session.Stream) bool {
	return a.ID == b.ID && a.ConnectionID == b.ConnectionID && a.HasAudio == b.HasAudio &&
		a.HasVideo == b.HasVideo && a.VideoDimensions == b.VideoDimensions && a.VideoType == b.VideoType
}

func (c *checker) apply(e session.Event) {
	switch e.Kind {
	case session.EventConnectionCreated:
		if c.conns[e.Connection.ID] {
			c.fail(e, "connection %s created twice", e.Connection.ID)
		}
		c.conns[e.Connection.ID] = true
	case session.EventConnectionDestroyed:
		if !c.observer && e.Connection.ID == c.me {
			c.fail(e, "told of its own end")
		}
		if !c.conns[e.Connection.ID] {
			c.fail(e, "unknown connection %s destroyed", e.Connection.ID)
		}
		for _, st := range c.streams {
			if st.ConnectionID == e.Connection.ID {
				c.fail(e, "connection %s destroyed before its stream %s", e.Connection.ID, st.ID)
			}
		}
		delete(c.conns, e.Connection.ID)
	case session.EventStreamCreated:
		if !c.conns[e.Stream.ConnectionID] {
			c.fail(e, "stream %s of unknown connection %s", e.Stream.ID, e.Stream.ConnectionID)
		}
		if e.Connection == nil || e.Connection.ID != e.Stream.ConnectionID {
			c.fail(e, "stream %s without its owner", e.Stream.ID)
		}
		if _, ok := c.streams[e.Stream.ID]; ok {
			c.fail(e, "stream %s created twice", e.Stream.ID)
		}
		c.streams[e.Stream.ID] = *e.Stream
	case session.EventStreamDestroyed:
		if _, ok := c.streams[e.Stream.ID]; !ok {
			c.fail(e, "unknown stream %s destroyed", e.Stream.ID)
		}
		delete(c.streams, e.Stream.ID)
	case session.EventStreamPropertyChanged:
		st, ok := c.streams[e.Stream.ID]
		if !ok {
			c.fail(e, "property of unknown stream %s", e.Stream.ID)
			return
		}
		var old any
		switch e.Property {
		case session.PropertyHasAudio:
			old, st.HasAudio = st.HasAudio, e.NewValue.(bool)
		case session.PropertyHasVideo:
			old, st.HasVideo = st.HasVideo, e.NewValue.(bool)
		case session.PropertyVideoDimensions:
			old, st.VideoDimensions = st.VideoDimensions, e.NewValue.(session.VideoDimensions)
		default:
			c.fail(e, "unexpected property %q", e.Property)
			return
		}
		if old != e.OldValue || old == e.NewValue {
			c.fail(e, "%s went %v→%v, but it was %v", e.Property, e.OldValue, e.NewValue, old)
		}
		if !sameStream(st, *e.Stream) {
			c.fail(e, "stream in the event differs from the stream rebuilt")
		}
		c.streams[st.ID] = st
	case session.EventSignal:
		if e.Connection != nil && !c.conns[e.Connection.ID] {
			c.fail(e, "signal from unknown connection %s", e.Connection.ID)
		}
	case session.EventMuteForced:
		st, ok := c.streams[e.Stream.ID]
		if !ok || st.ConnectionID != e.Target {
			c.fail(e, "muteForced for a stream that is not the addressee's")
		}
		if e.Active && st.HasAudio {
			c.fail(e, "muteForced while the stream's audio is on")
		}
	case session.EventSessionDisconnected:
		if !c.observer {
			c.kicked = true
		}
	}
}

func (c *checker) leave() {
	c.mu.Lock()
	c.left = true
	c.mu.Unlock()
}

// idPool shares the ids of connections and streams among workers, so that
// they act on each other's.
type idPool struct {
	mu  sync.Mutex
	ids []string
}

func (p *idPool) add(id string) {
	p.mu.Lock()
	p.ids = append(p.ids, id)
	if len(p.ids) > 64 {
		p.ids = p.ids[len(p.ids)-64:]
	}
	p.mu.Unlock()
}

func (p *idPool) pick(r *rand.Rand) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ids) == 0 {
		return "none"
	}
	return p.ids[r.IntN(len(p.ids))]
}

// TestConcurrentConsistency has workers join, publish, change streams,
// signal, moderate and leave at once, and checks that every sink saw a
// sequence of events that fits together, and that what the observer
// rebuilt is the session's final state.
func TestConcurrentConsistency(t *testing.T) {
	const workers, rounds = 8, 150
	s := session.New("sid", session.Routed, session.Options{MaxStreamsPerConnection: 2})
	obs := newChecker(true)
	s.Observe(obs)

	var conns, streams idPool
	var mu sync.Mutex
	var checkers []*checker
	var stay []*checker // connections left in the session at the end
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			ok := func(what string, err error) {
				switch session.Code(err) {
				case 0, session.CodeNotFound, session.CodeForbidden, session.CodeConflict:
					// Races with other workers, and roles, make these normal.
				default:
					t.Errorf("%s: %v", what, err)
				}
			}
			for round := range rounds {
				ch := newChecker(false)
				mu.Lock()
				checkers = append(checkers, ch)
				mu.Unlock()
				c, err := s.Join(allRoles[r.IntN(len(allRoles))], "", nil, ch)
				if err != nil {
					t.Error(err)
					return
				}
				conns.add(c.ID)
				var mine []string
				for range 1 + r.IntN(12) {
					switch r.IntN(10) {
					case 0, 1:
						st, err := s.Publish(c.ID, defaultSpec)
						ok("publish", err)
						if err == nil {
							mine = append(mine, st.ID)
							streams.add(st.ID)
						}
					case 2:
						if len(mine) > 0 {
							id := mine[r.IntN(len(mine))]
							props := []struct {
								name  string
								value any
							}{
								{session.PropertyHasAudio, r.IntN(2) == 0},
								{session.PropertyHasVideo, r.IntN(2) == 0},
								{session.PropertyVideoDimensions, session.VideoDimensions{Width: 320 * (1 + r.IntN(3)), Height: 240}},
							}
							p := props[r.IntN(len(props))]
							ok("update", s.UpdateStream(c.ID, id, p.name, p.value))
						}
					case 3:
						if len(mine) > 0 {
							ok("unpublish", s.Unpublish(c.ID, mine[0], session.ReasonClientDisconnected))
							mine = mine[1:]
						}
					case 4:
						ok("signal all", s.Signal(c.ID, "", "chat", "hi"))
					case 5:
						ok("signal one", s.Signal(c.ID, conns.pick(r), "chat", "hi"))
					case 6:
						ok("subscribe", s.CanSubscribe(c.ID, streams.pick(r)))
					case 7:
						switch r.IntN(4) {
						case 0:
							ok("force mute", s.ForceMuteStream(c.ID, streams.pick(r)))
						case 1:
							ok("mute all", s.ForceMuteAll(c.ID, []string{streams.pick(r)}))
						case 2:
							ok("disable mute", s.DisableForceMute(c.ID))
						case 3:
							ok("force unpublish", s.ForceUnpublish(c.ID, streams.pick(r)))
						}
					case 8:
						if r.IntN(4) == 0 {
							ok("force disconnect", s.ForceDisconnect(c.ID, conns.pick(r)))
						}
					case 9:
						ok("server signal", s.Signal("", conns.pick(r), "srv", ""))
					}
				}
				if round == rounds-1 && w%2 == 0 {
					mu.Lock()
					stay = append(stay, ch)
					mu.Unlock()
					continue
				}
				ok("leave", s.Leave(c.ID, session.ReasonNetworkDisconnected))
				ch.leave()
			}
		})
	}
	wg.Wait()

	for i, ch := range append(checkers, obs) {
		ch.mu.Lock()
		for _, p := range ch.problems {
			t.Errorf("sink %d: %s", i, p)
		}
		ch.mu.Unlock()
	}

	// What the observer and the connections still there rebuilt must be
	// the session's state.
	wantConns := make(map[string]bool)
	for _, c := range s.Connections() {
		wantConns[c.ID] = true
	}
	wantStreams := s.Streams()
	views := []*checker{obs}
	for _, ch := range stay {
		if !ch.kicked {
			views = append(views, ch)
		}
	}
	for i, ch := range views {
		ch.mu.Lock()
		if len(ch.conns) != len(wantConns) {
			t.Errorf("view %d: %d connections, the session has %d", i, len(ch.conns), len(wantConns))
		}
		for id := range ch.conns {
			if !wantConns[id] {
				t.Errorf("view %d: connection %s is not in the session", i, id)
			}
		}
		if len(ch.streams) != len(wantStreams) {
			t.Errorf("view %d: %d streams, the session has %d", i, len(ch.streams), len(wantStreams))
		}
		for _, st := range wantStreams {
			if got, ok := ch.streams[st.ID]; !ok || !sameStream(got, st) {
				t.Errorf("view %d: stream %s is %+v, the session has %+v", i, st.ID, got, st)
			}
		}
		ch.mu.Unlock()
	}
	if obs.n < workers*rounds {
		t.Errorf("the observer saw only %d events", obs.n)
	}
	t.Logf("observer saw %d events; %d connections and %d streams remain", obs.n, len(wantConns), len(wantStreams))
}
