package signaling

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/sfu"
	"github.com/parleyhq/parley/internal/store"
)

// Path is where the signaling WebSocket is served.
const Path = "/signaling/v1"

// Defaults of the liveness check: a client that answers no ping for
// PingInterval+PingTimeout (5 s) is gone.
const (
	DefaultPingInterval   = 2 * time.Second
	DefaultPingTimeout    = 3 * time.Second
	DefaultConnectTimeout = 10 * time.Second
	DefaultResumeWindow   = 5 * time.Second
)

// Server serves the signaling WebSocket of one node.
type Server struct {
	Store    store.Store
	Sessions *session.Registry
	SFU      *sfu.SFU
	Log      *slog.Logger
	// ICEServers returns what a new connection is told to use; nil means
	// none (the SFU's own candidates suffice on open networks).
	ICEServers func(connectionID string) []ICEServer
	// PingInterval and PingTimeout tune dead-client detection (zero means
	// the defaults).
	PingInterval, PingTimeout time.Duration
	// ResumeWindow is how long a connection whose link died waits for the
	// client to resume it (zero means DefaultResumeWindow).
	ResumeWindow time.Duration

	mu     sync.Mutex
	live   map[string]*conn // by connection id
	relays relays
	conns  sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once
}

func (s *Server) init() {
	s.once.Do(func() {
		s.ctx, s.cancel = context.WithCancel(context.Background())
		if s.PingInterval == 0 {
			s.PingInterval = DefaultPingInterval
		}
		if s.PingTimeout == 0 {
			s.PingTimeout = DefaultPingTimeout
		}
		if s.ResumeWindow == 0 {
			s.ResumeWindow = DefaultResumeWindow
		}
		s.live = map[string]*conn{}
		if s.Log == nil {
			s.Log = slog.New(slog.DiscardHandler)
		}
	})
}

// Routes adds the WebSocket endpoint to mux.
func (s *Server) Routes(mux *http.ServeMux) {
	mux.Handle("GET "+Path, s)
}

// ServeHTTP upgrades to a WebSocket and runs one client until it leaves.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.init()
	// Pages of any origin may connect: the token, not the origin, is the
	// credential.
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept has answered the client
	}
	ws.SetReadLimit(MaxMessageBytes)
	s.conns.Add(1)
	defer s.conns.Done()
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	l := &link{ws: ws, ctx: ctx, cancel: cancel}
	c := s.admit(l, r.RemoteAddr)
	if c == nil {
		ws.CloseNow()
		return
	}
	c.serve(l)
}

// admit reads a new link's first messages until one admits the client
// (connect or resume) and returns its connection, or nil when the client
// was refused or gave up.
func (s *Server) admit(l *link, remote string) *conn {
	rctx, stop := context.WithTimeout(l.ctx, DefaultConnectTimeout)
	defer stop()
	for {
		typ, b, err := l.ws.Read(rctx)
		if err != nil {
			return nil
		}
		if typ != websocket.MessageText {
			writeNow(l, Message{Type: "error", Code: CodeInvalidParam, Message: "messages are JSON text"})
			continue
		}
		req, err := DecodeRequest(b)
		if err != nil {
			writeNow(l, Message{Type: "error", Code: CodeInvalidParam, Message: err.Error()})
			continue
		}
		switch req.Type {
		case "connect":
			c := newConn(s, remote)
			if m := c.connect(l.ctx, req); m != nil {
				refuse(l, *m)
				return nil
			}
			return c
		case "resume":
			s.mu.Lock()
			c := s.live[req.ConnectionID]
			s.mu.Unlock()
			if c == nil || c.sess.ID() != req.SessionID || !c.resume(l, req) {
				refuse(l, Message{Type: "error", ID: req.ID, Code: CodeConnectFailed,
					Message: "cannot resume: the connection is gone (it was disconnected, or the resume window passed)"})
				return nil
			}
			return c
		default:
			writeNow(l, Message{Type: "error", ID: req.ID, Code: CodeNotConnected, Message: "not connected: the first message must be connect or resume"})
		}
	}
}

func (s *Server) register(c *conn) {
	s.mu.Lock()
	s.live[c.me.ID] = c
	s.mu.Unlock()
}

// connByID returns the live connection with that id on this node.
func (s *Server) connByID(id string) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live[id]
}

func (s *Server) unregister(c *conn) {
	s.mu.Lock()
	if s.live[c.me.ID] == c {
		delete(s.live, c.me.ID)
	}
	s.mu.Unlock()
}

// Close disconnects every client (reason serverRotation would be wrong:
// the node is going away, so clients see networkDisconnected and may
// reconnect elsewhere) and waits for their handlers to finish.
func (s *Server) Close() {
	s.init()
	s.cancel()
	s.conns.Wait()
}

// ObserveSessions is a session.Options.OnCreate hook: it makes the SFU
// side of every stream end when the session destroys the stream, whatever
// destroyed it (unpublish, leave, force).
func ObserveSessions(media *sfu.SFU) func(*session.Session) {
	return func(s *session.Session) { s.Observe(sfuCloser{media}) }
}

type sfuCloser struct{ sfu *sfu.SFU }

func (o sfuCloser) Send(ev session.Event) {
	if ev.Kind != session.EventStreamDestroyed || ev.Stream == nil || o.sfu == nil {
		return
	}
	if st, ok := o.sfu.Stream(ev.Stream.ID); ok {
		st.Close()
	}
}

// newID returns a random URL-safe id for subscriptions and streams.
func newID() string {
	b := make([]byte, 18)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
