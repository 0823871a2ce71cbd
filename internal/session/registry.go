package session

import "sync"

// Registry holds the live sessions of a node, keyed by session id. Every
// method is safe for concurrent use.
type Registry struct {
	opts Options

	mu       sync.Mutex
	sessions map[string]*Session
}

// NewRegistry returns an empty registry whose sessions are made with o.
func NewRegistry(o Options) *Registry {
	return &Registry{opts: o, sessions: make(map[string]*Session)}
}

// Get returns the live session id.
func (r *Registry) Get(id string) (*Session, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sessions[id]
	return s, ok
}

// GetOrCreate returns the live session id, creating it with mode if there
// is none; concurrent callers get the same *Session. The mode of a live
// session wins over mode.
func (r *Registry) GetOrCreate(id string, mode MediaMode) *Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.sessions[id]; ok {
		return s
	}
	s := New(id, mode, r.opts)
	r.sessions[id] = s
	return s
}

// Join joins the live session id, creating it with mode if there is none,
// as GetOrCreate and Session.Join do. Unlike calling those in turn, it
// cannot join a session that Remove drops in between: it then joins the
// session that replaces it.
func (r *Registry) Join(id string, mode MediaMode, role Role, data string, layout []string, sink Sink) (*Session, *Connection, error) {
	for {
		s := r.GetOrCreate(id, mode)
		c, err := s.Join(role, data, layout, sink)
		if err != ErrClosed {
			return s, c, err
		}
	}
}

// Remove drops session id if it has no connections, and closes it so that
// a Join racing with the removal fails with ErrClosed instead of joining a
// session nobody else can find.
func (r *Registry) Remove(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sessions[id]
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conns) > 0 {
		return
	}
	s.closed = true
	delete(r.sessions, id)
}

// Len returns the number of live sessions.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sessions)
}

// Sessions returns the live sessions, in no particular order.
func (r *Registry) Sessions() []*Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Session, 0, len(r.sessions))
	for _, s := range r.sessions {
		out = append(out, s)
	}
	return out
}
