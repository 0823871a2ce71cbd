package session

// The force* calls act on behalf of connection byConnID, which must exist
// (CodeNotFound) and have a role that may force (CodeForbidden), or on
// behalf of the server when byConnID is "" (the REST API, already
// authenticated).

// authorizeForce checks that byConnID may moderate.
func (s *Session) authorizeForce(byConnID string) error {
	if byConnID == "" {
		return nil
	}
	m, ok := s.conns[byConnID]
	if !ok {
		return connectionNotFound(byConnID)
	}
	if !m.Role.CanForce() {
		return errorf(CodeForbidden, "role %v may not moderate", m.Role)
	}
	return nil
}

// ForceDisconnect removes connection targetConnID. The target first
// receives sessionDisconnected with ReasonForceDisconnected, so that its
// client can say why; then it leaves as by Leave with that reason. It fails
// with CodeNotFound for an unknown target.
func (s *Session) ForceDisconnect(byConnID, targetConnID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.authorizeForce(byConnID); err != nil {
		return err
	}
	m, ok := s.conns[targetConnID]
	if !ok {
		return connectionNotFound(targetConnID)
	}
	s.sendTo(m, Event{Kind: EventSessionDisconnected, Connection: m.clone(), Reason: ReasonForceDisconnected})
	s.remove(m, ReasonForceDisconnected)
	return nil
}

// ForceUnpublish ends stream streamID as Unpublish does, with
// ReasonForceUnpublished; the publisher receives streamDestroyed like
// everyone else. It fails with CodeNotFound for an unknown stream.
func (s *Session) ForceUnpublish(byConnID, streamID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.authorizeForce(byConnID); err != nil {
		return err
	}
	st, ok := s.streams[streamID]
	if !ok {
		return streamNotFound(streamID)
	}
	s.unpublish(st, ReasonForceUnpublished)
	return nil
}

// ForceMuteStream forces the audio of stream streamID off: it sets
// MutedByForce and HasAudio false, sends streamPropertyChanged (hasAudio
// true to false) to every connection if the audio was on, and muteForced
// (Active true) to the publisher, even if the stream was already muted. It
// fails with CodeNotFound for an unknown stream.
func (s *Session) ForceMuteStream(byConnID, streamID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.authorizeForce(byConnID); err != nil {
		return err
	}
	st, ok := s.streams[streamID]
	if !ok {
		return streamNotFound(streamID)
	}
	s.forceMute(st)
	return nil
}

// ForceMuteAll force-mutes every stream, as ForceMuteStream does, except
// those listed in excludedStreamIDs (ids of no stream are ignored: the
// stream may have just ended). It also turns on the session-wide force
// mute: streams published until DisableForceMute start muted, whatever the
// exclusions said.
func (s *Session) ForceMuteAll(byConnID string, excludedStreamIDs []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.authorizeForce(byConnID); err != nil {
		return err
	}
	excluded := make(map[string]bool, len(excludedStreamIDs))
	for _, id := range excludedStreamIDs {
		excluded[id] = true
	}
	s.muteOnEntry = true
	for _, st := range s.streamOrder {
		if !excluded[st.ID] {
			s.forceMute(st)
		}
	}
	return nil
}

// DisableForceMute turns off the session-wide force mute and lifts every
// force mute still in place: each stream with MutedByForce has it cleared
// and its publisher receives muteForced (Active false). Audio stays off
// until the publisher turns it on, as in OpenTok. With nothing to lift it
// succeeds and sends nothing.
func (s *Session) DisableForceMute(byConnID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.authorizeForce(byConnID); err != nil {
		return err
	}
	s.muteOnEntry = false
	for _, st := range s.streamOrder {
		if !st.MutedByForce {
			continue
		}
		st.MutedByForce = false
		m := s.conns[st.ConnectionID]
		s.sendTo(m, Event{Kind: EventMuteForced, Connection: m.clone(), Stream: st.clone(), Active: false})
	}
	return nil
}

// ForceMuteActive reports whether the session-wide force mute is on.
func (s *Session) ForceMuteActive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.muteOnEntry
}

// forceMute mutes st and tells everyone; muteForced goes once per stream
// (with Stream set) so that the client can tell which of its publishers
// was muted.
func (s *Session) forceMute(st *Stream) {
	m := s.conns[st.ConnectionID]
	owner := m.clone()
	st.MutedByForce = true
	if st.HasAudio {
		st.HasAudio = false
		s.broadcast(Event{
			Kind:       EventStreamPropertyChanged,
			Connection: owner,
			Stream:     st.clone(),
			Property:   PropertyHasAudio,
			OldValue:   true,
			NewValue:   false,
		})
	}
	s.sendTo(m, Event{Kind: EventMuteForced, Connection: owner, Stream: st.clone(), Active: true})
}
