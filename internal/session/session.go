package session

import (
	"slices"
	"sync"
	"time"
)

// Options tune a Session. The zero value is ready to use.
type Options struct {
	// MaxStreamsPerConnection caps the streams one connection may have
	// published at once: 0 means DefaultMaxStreamsPerConnection, a
	// negative value means no limit.
	MaxStreamsPerConnection int
	// MaxConnections caps the connections of a session; 0 or a negative
	// value means no limit.
	MaxConnections int
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// OnCreate, if set, is called with each new session before anyone
	// else can reach it: by New, and by Registry.GetOrCreate with the
	// Registry's lock held. It is where observers that must see every
	// event of a session are attached. It must not call into the
	// Registry.
	OnCreate func(*Session)
}

// Session is the live state of one session on this node: its connections,
// their streams and the moderation state. Every method is safe for
// concurrent use. Changes are made and their events emitted under one lock,
// so that every sink sees the same order of events.
type Session struct {
	id         string
	mode       MediaMode
	maxStreams int
	maxConns   int
	now        func() time.Time

	mu          sync.Mutex
	conns       map[string]*member
	connOrder   []*member // creation order
	streams     map[string]*Stream
	streamOrder []*Stream // creation order
	observers   []*observer
	// muteOnEntry is set by ForceMuteAll and cleared by DisableForceMute:
	// while it is set, new streams start force-muted.
	muteOnEntry bool
	// archives are the archives recording the session, oldest first
	// (see ArchiveStarted).
	archives []archiveNotice
	// closed is set when a Registry drops the session; see ErrClosed.
	closed bool
}

// member is a connection with what the session keeps about it.
type member struct {
	Connection
	sink    Sink
	streams int // how many streams it has published now
}

type observer struct{ sink Sink }

// New returns an empty session. id is not checked: sessions are created
// for ids the REST API handed out, and ParseID is there for callers that
// want to check.
func New(id string, mode MediaMode, o Options) *Session {
	s := &Session{
		id:         id,
		mode:       mode,
		maxStreams: o.MaxStreamsPerConnection,
		maxConns:   o.MaxConnections,
		now:        o.Now,
		conns:      make(map[string]*member),
		streams:    make(map[string]*Stream),
	}
	if s.maxStreams == 0 {
		s.maxStreams = DefaultMaxStreamsPerConnection
	}
	if s.now == nil {
		s.now = time.Now
	}
	if o.OnCreate != nil {
		o.OnCreate(s)
	}
	return s
}

// ID returns the session id.
func (s *Session) ID() string { return s.id }

// MediaMode returns how media flows in the session.
func (s *Session) MediaMode() MediaMode { return s.mode }

// Join adds a connection with the given role, connection data and initial
// layout class list, whose events go to sink (nil discards them), and
// returns a copy of it.
//
// The joiner's sink first receives the state of the session, as OpenTok
// replays it after connecting: one connectionCreated per connection already
// there (oldest first) and one for itself, then one streamCreated per
// stream (oldest first), then one archiveStarted per archive recording the
// session. Every other connection receives connectionCreated
// for the joiner.
//
// Join fails with CodeBadRequest if role is nil, CodeConflict if the
// session is full, and ErrClosed if the session was removed from its
// Registry.
func (s *Session) Join(role Role, data string, layout []string, sink Sink) (*Connection, error) {
	if role == nil {
		return nil, errorf(CodeBadRequest, "connection without a role")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if s.maxConns > 0 && len(s.conns) >= s.maxConns {
		return nil, errorf(CodeConflict, "session is full: %d connections", s.maxConns)
	}

	m := &member{
		Connection: Connection{
			ID:              s.newConnectionID(),
			Role:            role,
			Data:            data,
			CreationTime:    s.timestamp(),
			LayoutClassList: cloneList(layout),
		},
		sink: sink,
	}
	s.conns[m.ID] = m
	s.connOrder = append(s.connOrder, m)

	for _, o := range s.connOrder[:len(s.connOrder)-1] {
		s.sendTo(m, Event{Kind: EventConnectionCreated, Connection: o.clone()})
	}
	// The joiner learns of itself from the same event as everyone else,
	// and it comes last among its connectionCreated events, as in OpenTok.
	self := m.clone()
	s.broadcast(Event{Kind: EventConnectionCreated, Connection: self})
	for _, st := range s.streamOrder {
		s.sendTo(m, Event{Kind: EventStreamCreated, Connection: s.conns[st.ConnectionID].clone(), Stream: st.clone()})
	}
	for _, a := range s.archives {
		s.sendTo(m, Event{Kind: EventArchiveStarted, ArchiveID: a.id, ArchiveName: a.name})
	}
	return self.clone(), nil
}

// Leave removes a connection for reason (ReasonClientDisconnected,
// ReasonForceDisconnected, ReasonNetworkDisconnected, ReasonServerRotation
// or ReasonMediaIdle). Every other connection receives streamDestroyed,
// with the same reason, for each of its streams, then connectionDestroyed;
// the leaver receives nothing.
//
// Leave fails with CodeNotFound for an unknown connection, so a second
// Leave of the same connection emits nothing, and with CodeBadRequest for
// another reason.
func (s *Session) Leave(connID, reason string) error {
	if !validLeaveReason(reason) {
		return errorf(CodeBadRequest, "%q is not a reason to end a connection", reason)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.conns[connID]
	if !ok {
		return connectionNotFound(connID)
	}
	s.remove(m, reason)
	return nil
}

// remove takes m and its streams out of the session and tells the others.
func (s *Session) remove(m *member, reason string) {
	delete(s.conns, m.ID)
	if i := slices.Index(s.connOrder, m); i >= 0 {
		s.connOrder = slices.Delete(s.connOrder, i, i+1)
	}
	var gone []*Stream
	if m.streams > 0 {
		s.streamOrder = slices.DeleteFunc(s.streamOrder, func(st *Stream) bool {
			if st.ConnectionID != m.ID {
				return false
			}
			delete(s.streams, st.ID)
			gone = append(gone, st)
			return true
		})
		m.streams = 0
	}
	owner := m.clone()
	for _, st := range gone {
		s.broadcast(Event{Kind: EventStreamDestroyed, Connection: owner, Stream: st.clone(), Reason: reason})
	}
	s.broadcast(Event{Kind: EventConnectionDestroyed, Connection: owner, Reason: reason})
}

// Publish adds a stream of connection connID and returns a copy of it.
//
// streamCreated goes to every connection, the publisher's included: OpenTok
// tells the publisher through its Publisher object, and the signaling layer
// routes the event there when Stream.ConnectionID is the addressee. While
// the session-wide force mute is on (see ForceMuteAll), the stream starts
// with HasAudio false and MutedByForce set, and its publisher then
// receives muteForced.
//
// Publish fails with CodeNotFound for an unknown connection, CodeForbidden
// when the role may not publish, CodeBadRequest for an invalid spec (video
// type, a name over MaxStreamNameLen characters or not UTF-8, negative
// dimensions or frame rate), and CodeConflict when the connection has
// already published the most streams it may.
func (s *Session) Publish(connID string, spec StreamSpec) (*Stream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.conns[connID]
	if !ok {
		return nil, connectionNotFound(connID)
	}
	if !m.Role.CanPublish() {
		return nil, errorf(CodeForbidden, "role %v may not publish", m.Role)
	}
	videoType, err := spec.validate()
	if err != nil {
		return nil, err
	}
	if s.maxStreams > 0 && m.streams >= s.maxStreams {
		return nil, errorf(CodeConflict, "connection %q already publishes %d streams, the limit", connID, m.streams)
	}
	id := spec.ID
	if id == "" {
		id = s.newStreamID()
	} else if !validStreamID(id) {
		return nil, errorf(CodeBadRequest, "stream id %q: want at most 64 URL-safe characters", id)
	} else if s.streams[id] != nil {
		return nil, errorf(CodeConflict, "stream id %q is taken", id)
	}

	st := &Stream{
		ID:              id,
		ConnectionID:    m.ID,
		Name:            spec.Name,
		HasAudio:        spec.HasAudio,
		HasVideo:        spec.HasVideo,
		HasCaptions:     spec.HasCaptions,
		VideoType:       videoType,
		VideoDimensions: spec.VideoDimensions,
		FrameRate:       spec.FrameRate,
		CreationTime:    s.timestamp(),
		LayoutClassList: cloneList(m.LayoutClassList),
	}
	if s.muteOnEntry {
		st.HasAudio = false
		st.MutedByForce = true
	}
	s.streams[st.ID] = st
	s.streamOrder = append(s.streamOrder, st)
	m.streams++

	owner := m.clone()
	s.broadcast(Event{Kind: EventStreamCreated, Connection: owner, Stream: st.clone()})
	if st.MutedByForce {
		s.sendTo(m, Event{Kind: EventMuteForced, Connection: owner, Stream: st.clone(), Active: true})
	}
	return st.clone(), nil
}

// Unpublish ends stream streamID of connection connID for reason (one of
// the Reason* constants a stream may end with: all but ReasonMediaIdle).
// streamDestroyed goes to every connection, the publisher's included.
//
// Unpublish fails with CodeNotFound for an unknown connection or stream,
// CodeForbidden when the stream is another connection's, and
// CodeBadRequest for another reason.
func (s *Session) Unpublish(connID, streamID, reason string) error {
	if !validUnpublishReason(reason) {
		return errorf(CodeBadRequest, "%q is not a reason to end a stream", reason)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.ownStream(connID, streamID)
	if err != nil {
		return err
	}
	s.unpublish(st, reason)
	return nil
}

// ownStream returns stream streamID if connection connID owns it.
func (s *Session) ownStream(connID, streamID string) (*Stream, error) {
	if _, ok := s.conns[connID]; !ok {
		return nil, connectionNotFound(connID)
	}
	st, ok := s.streams[streamID]
	if !ok {
		return nil, streamNotFound(streamID)
	}
	if st.ConnectionID != connID {
		return nil, errorf(CodeForbidden, "stream %q belongs to another connection", streamID)
	}
	return st, nil
}

func (s *Session) unpublish(st *Stream, reason string) {
	delete(s.streams, st.ID)
	if i := slices.Index(s.streamOrder, st); i >= 0 {
		s.streamOrder = slices.Delete(s.streamOrder, i, i+1)
	}
	m := s.conns[st.ConnectionID]
	m.streams--
	s.broadcast(Event{Kind: EventStreamDestroyed, Connection: m.clone(), Stream: st.clone(), Reason: reason})
}

// UpdateStream changes property prop (one of the Property* constants) of
// stream streamID, which connection connID must own, to value: a bool for
// the has* properties, a VideoDimensions for PropertyVideoDimensions, a
// string for PropertyVideoType. A change sends streamPropertyChanged, with
// the old and new values, to every connection; setting the current value
// sends nothing. Turning audio back on clears MutedByForce.
//
// UpdateStream fails with CodeNotFound for an unknown connection or stream,
// CodeForbidden when the stream is another connection's, and
// CodeBadRequest for an unknown property or a value of the wrong type or
// out of range. The stream's name cannot be changed: OpenTok has no event
// that would tell the others.
func (s *Session) UpdateStream(connID, streamID, prop string, value any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.ownStream(connID, streamID)
	if err != nil {
		return err
	}
	old, changed, err := st.setProperty(prop, value)
	if err != nil || !changed {
		return err
	}
	s.broadcast(Event{
		Kind:       EventStreamPropertyChanged,
		Connection: s.conns[connID].clone(),
		Stream:     st.clone(),
		Property:   prop,
		OldValue:   old,
		NewValue:   value,
	})
	return nil
}

// CanSubscribe reports, as an error, whether connection connID may
// subscribe to stream streamID: nil if it may (its own stream included),
// CodeNotFound for an unknown connection or stream, CodeForbidden when its
// role may not subscribe.
func (s *Session) CanSubscribe(connID, streamID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.conns[connID]
	if !ok {
		return connectionNotFound(connID)
	}
	if !m.Role.CanSubscribe() {
		return errorf(CodeForbidden, "role %v may not subscribe", m.Role)
	}
	if _, ok := s.streams[streamID]; !ok {
		return streamNotFound(streamID)
	}
	return nil
}

// SetStreamLayoutClassList replaces the layout class list of stream
// streamID, as the REST API does on behalf of the server. Observers
// receive layoutClassListChanged; connections receive nothing, since
// OpenTok clients never see layout classes. Setting the current list sends
// nothing.
//
// It fails with CodeNotFound for an unknown stream and CodeBadRequest for
// an empty class, a class holding white space, or a list longer than
// MaxLayoutClassListLen.
func (s *Session) SetStreamLayoutClassList(streamID string, classes []string) error {
	if err := validLayoutClassList(classes); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.streams[streamID]
	if !ok {
		return streamNotFound(streamID)
	}
	if slices.Equal(st.LayoutClassList, classes) {
		return nil
	}
	old := st.LayoutClassList
	st.LayoutClassList = cloneList(classes)
	ev := Event{
		Kind:       EventLayoutClassListChanged,
		Connection: s.conns[st.ConnectionID].clone(),
		Stream:     st.clone(),
		Property:   "layoutClassList",
		OldValue:   old, // no longer referenced by the session
		NewValue:   cloneList(classes),
	}
	for _, o := range s.observers {
		o.sink.Send(ev)
	}
	return nil
}

// Connections returns copies of the connections, in creation order.
func (s *Session) Connections() []Connection {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Connection, len(s.connOrder))
	for i, m := range s.connOrder {
		out[i] = *m.clone()
	}
	return out
}

// Streams returns copies of the streams, in creation order.
func (s *Session) Streams() []Stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Stream, len(s.streamOrder))
	for i, st := range s.streamOrder {
		out[i] = *st.clone()
	}
	return out
}

// Connection returns a copy of connection id.
func (s *Session) Connection(id string) (Connection, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.conns[id]
	if !ok {
		return Connection{}, false
	}
	return *m.clone(), true
}

// Stream returns a copy of stream id.
func (s *Session) Stream(id string) (Stream, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.streams[id]
	if !ok {
		return Stream{}, false
	}
	return *st.clone(), true
}

// Empty reports whether the session has no connections. The force-mute
// state does not count: it dies with the session when a Registry removes
// it.
func (s *Session) Empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns) == 0
}

// Observe adds an observer: sink receives every event of the session from
// now on, each once, with Target set (see Event). Observers are how the SFU,
// recorders and webhooks follow a session; to see its whole life, observe
// from Options.OnCreate. cancel removes the observer; it may be called more
// than once, but not from inside a Sink.
func (s *Session) Observe(sink Sink) (cancel func()) {
	if sink == nil {
		return func() {}
	}
	o := &observer{sink: sink}
	s.mu.Lock()
	s.observers = append(s.observers, o)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.observers = slices.DeleteFunc(s.observers, func(x *observer) bool { return x == o })
	}
}

// broadcast sends ev to the observers and to every connection.
func (s *Session) broadcast(ev Event) {
	ev.Target = ""
	for _, o := range s.observers {
		o.sink.Send(ev)
	}
	for _, m := range s.connOrder {
		if m.sink != nil {
			m.sink.Send(ev)
		}
	}
}

// sendTo sends ev to the observers and to m.
func (s *Session) sendTo(m *member, ev Event) {
	ev.Target = m.ID
	for _, o := range s.observers {
		o.sink.Send(ev)
	}
	if m.sink != nil {
		m.sink.Send(ev)
	}
}

// timestamp returns the current time at the millisecond precision OpenTok
// clients see, without a monotonic reading.
func (s *Session) timestamp() time.Time {
	return s.now().Truncate(time.Millisecond)
}

func (s *Session) newConnectionID() string {
	for {
		// A repeat is next to impossible, but cheap to rule out.
		if id := newUUID(); s.conns[id] == nil {
			return id
		}
	}
}

func (s *Session) newStreamID() string {
	for {
		if id := newUUID(); s.streams[id] == nil {
			return id
		}
	}
}

// validStreamID accepts ids that are safe in URLs, logs and file names.
func validStreamID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
