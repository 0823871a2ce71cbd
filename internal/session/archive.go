package session

import "slices"

// archiveNotice is an archive recording the session, as clients are told
// of it.
type archiveNotice struct{ id, name string }

// ArchiveStarted records that archive id, named name, records the session
// and sends archiveStarted to every connection and observer. Connections
// that join while it records get archiveStarted in their replay, as
// OpenTok.js clients expect: the recording indicator of a page that joins
// late must come on too. Starting an archive already recording sends
// nothing.
func (s *Session) ArchiveStarted(id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.ContainsFunc(s.archives, func(a archiveNotice) bool { return a.id == id }) {
		return
	}
	s.archives = append(s.archives, archiveNotice{id: id, name: name})
	s.broadcast(Event{Kind: EventArchiveStarted, ArchiveID: id, ArchiveName: name})
}

// ArchiveStopped records that archive id no longer records the session
// and sends archiveStopped to every connection and observer; for an
// archive that was not recording it sends nothing.
func (s *Session) ArchiveStopped(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.archives, func(a archiveNotice) bool { return a.id == id })
	if i < 0 {
		return
	}
	a := s.archives[i]
	s.archives = slices.Delete(s.archives, i, i+1)
	s.broadcast(Event{Kind: EventArchiveStopped, ArchiveID: a.id, ArchiveName: a.name})
}

// Recording returns the ids of the archives recording the session, oldest
// first.
func (s *Session) Recording() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.archives))
	for i, a := range s.archives {
		out[i] = a.id
	}
	return out
}
