package signaling

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/internal/session"
	"github.com/parleyhq/parley/internal/sfu"
	"github.com/parleyhq/parley/internal/store"
	"github.com/parleyhq/parley/internal/token"
)

// OpenTok client error codes used in error messages.
const (
	CodeAuthentication = 1004 // bad token
	CodeInvalidSession = 1005 // unknown session id
	CodeConnectFailed  = 1006 // server error, or a resume that came too late
	CodeConnectReject  = 1007 // session full
	CodeNotConnected   = 1010 // a request before connect
	CodeInvalidParam   = 1011 // malformed request
	CodeUnableToPub    = 1500
	CodeForceDisc      = 1520
	CodeForceUnpub     = 1530
	CodeSubscribe      = 1600 // unable to subscribe
	CodeInternal       = 2000
)

// outboxSize bounds the messages waiting for a slow (or suspended)
// client; a client that falls this far behind is disconnected rather than
// slowing the session. The outbox holds pointers, so that an idle client
// costs 8 KB of slots rather than a thousand messages' worth.
const outboxSize = 1024

// conn is one client's membership in a session. It outlives the
// WebSocket it arrived on: when the link drops without a goodbye, the
// connection is suspended for the resume window, and a new link may take
// over (see docs/protocol.md, "Resuming").
type conn struct {
	srv *Server
	log *slog.Logger
	// loopback: the client came over loopback, from this machine (or
	// through a proxy on it); its peer connections get loopback
	// candidates too.
	loopback bool

	out chan *Message

	// Set once, by connect.
	sess    *session.Session
	me      *session.Connection
	relayed bool // the session's media is peer to peer
	// ownID is me.ID for readers on the session's goroutines (me is set
	// after Join returns, without their lock).
	ownID atomic.Value

	// sink state, guarded by sinkMu (events arrive under the session's
	// lock, replies from the request loop).
	sinkMu   sync.Mutex
	ready    bool
	pending  []Message
	ending   bool // a sessionDisconnected was queued: close after it
	overflow bool // the outbox filled up

	mu          sync.Mutex
	link        *link // nil while suspended
	resumeToken string
	resumed     chan struct{} // closed when a suspension ends by resume
	gone        bool          // no resume possible any more
	finished    bool          // left the session
	clientLeft  bool
	unsent      *Message // taken by a writer whose link died before sending
	publishers  map[string]*sfu.Stream
	subscribers map[string]*sfu.Subscriber
}

// link is one WebSocket carrying a conn.
type link struct {
	ws     *websocket.Conn
	ctx    context.Context
	cancel context.CancelFunc
}

func newConn(s *Server, remote string) *conn {
	return &conn{
		srv: s, log: s.Log.With("remote", remote), loopback: isLoopback(remote),
		out:        make(chan *Message, outboxSize),
		publishers: map[string]*sfu.Stream{}, subscribers: map[string]*sfu.Subscriber{},
	}
}

// Send implements session.Sink: it turns a session event into a message
// for this client. It runs under the session's lock and never blocks.
func (c *conn) Send(ev session.Event) {
	// When this client's own stream ends in a relayed session, the peers
	// it was sending to must hear of it.
	if ev.Kind == session.EventStreamDestroyed && c.relayed && ev.Stream.ConnectionID == c.ownID.Load() {
		defer c.endRelays(ev.Stream.ID)
	}
	c.sinkMu.Lock()
	defer c.sinkMu.Unlock()
	var m Message
	switch ev.Kind {
	case session.EventConnectionCreated:
		cj := connectionJSON(ev.Connection)
		m = Message{Type: "connectionCreated", Connection: &cj}
	case session.EventConnectionDestroyed:
		cj := connectionJSON(ev.Connection)
		m = Message{Type: "connectionDestroyed", Connection: &cj, Reason: ev.Reason}
	// A stream event carries its owner's connection: no client keeps a
	// copy of every connection of the session (in a session of N
	// clients, N² of them).
	case session.EventStreamCreated:
		m = Message{Type: "streamCreated", Stream: streamJSON(ev.Stream, ownerJSON(ev.Connection))}
	case session.EventStreamDestroyed:
		m = Message{Type: "streamDestroyed", Stream: streamJSON(ev.Stream, ownerJSON(ev.Connection)), Reason: ev.Reason}
	case session.EventStreamPropertyChanged:
		m = Message{Type: "streamPropertyChanged", Stream: streamJSON(ev.Stream, ownerJSON(ev.Connection)),
			ChangedProperty: ev.Property, OldValue: propertyValue(ev.OldValue), NewValue: propertyValue(ev.NewValue)}
	case session.EventSignal:
		typ, data := ev.SignalType, ev.SignalData
		m = Message{Type: "signal", SignalType: &typ, Data: &data}
		if ev.Connection != nil {
			cj := connectionJSON(ev.Connection)
			m.From = &cj
		}
	case session.EventMuteForced:
		active := ev.Active
		m = Message{Type: "muteForced", Active: &active}
		if ev.Stream != nil {
			m.StreamID = ev.Stream.ID
		}
	case session.EventSessionDisconnected:
		m = Message{Type: "sessionDisconnected", Reason: ev.Reason}
	case session.EventArchiveStarted:
		m = Message{Type: "archiveStarted", ArchiveID: ev.ArchiveID, Name: ev.ArchiveName}
	case session.EventArchiveStopped:
		m = Message{Type: "archiveStopped", ArchiveID: ev.ArchiveID, Name: ev.ArchiveName}
	default:
		return
	}
	c.enqueueLocked(m)
}

// reply queues a message from the request loop.
func (c *conn) reply(m Message) {
	c.sinkMu.Lock()
	defer c.sinkMu.Unlock()
	c.enqueueLocked(m)
}

func (c *conn) enqueueLocked(m Message) {
	if !c.ready {
		c.pending = append(c.pending, m)
		return
	}
	if c.ending || c.overflow {
		return
	}
	if m.Type == "sessionDisconnected" {
		c.ending = true
	}
	select {
	case c.out <- &m:
	default:
		c.overflow = true
		c.log.Warn("client too far behind; disconnecting it")
		c.drop()
	}
}

// drop ends the current link, or a suspension, at once. It is called
// under sinkMu (possibly under the session's lock), so it only signals.
func (c *conn) drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.link != nil {
		c.link.cancel()
	}
	if c.resumed != nil {
		c.gone = true // the suspension's waiter sees it on its next check
	}
}

// markReady sends first (the "connected" message), then whatever the
// session queued during Join (the replay), then lets events flow.
func (c *conn) markReady(first Message) {
	c.sinkMu.Lock()
	defer c.sinkMu.Unlock()
	c.ready = true
	c.enqueueLocked(first)
	for _, m := range c.pending {
		c.enqueueLocked(m)
	}
	c.pending = nil
}

func (c *conn) errorMsg(id int64, code int, format string, args ...any) {
	c.reply(Message{Type: "error", ID: id, Code: code, Message: fmt.Sprintf(format, args...)})
}

// writeNow sends one message on a link outside the outbox: the refusal of
// a connect or resume, before the connection exists.
func writeNow(l *link, m Message) {
	b, err := json.Marshal(m)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(l.ctx, 2*time.Second)
	defer cancel()
	_ = l.ws.Write(ctx, websocket.MessageText, b)
}

// refuse answers a first message that did not admit the client, and
// closes the link.
func refuse(l *link, m Message) {
	writeNow(l, m)
	l.ws.Close(websocket.StatusPolicyViolation, "refused")
}

// connect admits a client with a token; on failure it returns the error
// message to refuse it with.
func (c *conn) connect(ctx context.Context, req *Request) *Message {
	fail := func(code int, format string, args ...any) *Message {
		return &Message{Type: "error", ID: req.ID, Code: code, Message: fmt.Sprintf(format, args...)}
	}
	rec, err := c.srv.Store.Session(ctx, req.SessionID)
	if errors.Is(err, store.ErrNotFound) {
		return fail(CodeInvalidSession, "invalid session id %q", req.SessionID)
	}
	if err != nil {
		c.log.Error("session lookup", "err", err)
		return fail(CodeConnectFailed, "connect failed")
	}
	claims, err := token.Verify(req.Token, req.SessionID, func(key string) (string, error) {
		p, err := c.srv.Store.Project(ctx, key)
		return p.Secret, err
	}, time.Now())
	if err != nil {
		return fail(CodeAuthentication, "authentication error: %v", err)
	}
	if claims.APIKey != rec.APIKey {
		return fail(CodeAuthentication, "authentication error: the token belongs to another project")
	}
	// Set before joining: events read it from the session's goroutines.
	c.relayed = rec.MediaMode == session.Relayed
	sess, me, err := c.srv.Sessions.Join(rec.ID, rec.MediaMode, claims.Role, claims.Data, claims.InitialLayoutClassList, c)
	if err != nil {
		return fail(CodeConnectReject, "connect rejected: %v", err)
	}
	c.sess, c.me = sess, me
	c.ownID.Store(me.ID)
	c.log = c.log.With("session", rec.ID, "connection", me.ID)
	c.resumeToken = newID()
	c.srv.register(c)
	var ice []ICEServer
	if c.srv.ICEServers != nil {
		ice = c.srv.ICEServers(me.ID)
	}
	cj := connectionJSON(me)
	c.markReady(Message{
		Type: "connected", ID: req.ID, Protocol: ProtocolVersion,
		Session:      &SessionJSON{SessionID: rec.ID, MediaMode: string(rec.MediaMode)},
		Connection:   &cj,
		Capabilities: capabilities(me),
		ICEServers:   ice,
		ResumeToken:  c.resumeToken,
	})
	c.log.Debug("connected", "role", claims.Role)
	return nil
}

// resume lets link l take over a suspended (or not yet noticed dead)
// connection. It reports false for a wrong token or a connection that is
// gone.
func (c *conn) resume(l *link, req *Request) bool {
	c.mu.Lock()
	if c.gone || subtle.ConstantTimeCompare([]byte(req.ResumeToken), []byte(c.resumeToken)) != 1 {
		c.mu.Unlock()
		return false
	}
	if old := c.link; old != nil {
		// The old link is dead but its ping has not failed yet: its serve
		// sees that it is no longer the link and steps aside.
		old.cancel()
	}
	c.link = l
	if c.resumed != nil {
		close(c.resumed)
		c.resumed = nil
	}
	c.resumeToken = newID()
	token := c.resumeToken
	c.mu.Unlock()
	cj := connectionJSON(c.me)
	writeNow(l, Message{Type: "resumed", ID: req.ID, Connection: &cj, ResumeToken: token})
	c.log.Debug("resumed")
	return true
}

// serve runs link l for this connection until it ends, then either
// suspends the connection or ends it.
func (c *conn) serve(l *link) {
	c.mu.Lock()
	c.link = l
	c.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.writeLoop(l) }()
	go func() { defer wg.Done(); c.pingLoop(l) }()
	c.readLoop(l)
	l.cancel()
	wg.Wait()
	l.ws.CloseNow()

	// sinkMu is taken before mu everywhere (drop runs under sinkMu).
	c.sinkMu.Lock()
	final := c.ending || c.overflow
	c.sinkMu.Unlock()
	c.mu.Lock()
	if c.link != l {
		c.mu.Unlock()
		return // a resume took over
	}
	c.link = nil
	if c.clientLeft || final || c.gone || c.srv.ctx.Err() != nil {
		c.mu.Unlock()
		c.finish()
		return
	}
	// The link died: keep the connection for the resume window.
	resumed := make(chan struct{})
	c.resumed = resumed
	c.mu.Unlock()
	c.log.Debug("link lost; suspended")
	if c.waitResume(resumed) {
		return // the resuming link's serve owns the connection now
	}
	c.finish()
}

// waitResume waits out a suspension: true when a new link resumed the
// connection, false when the window passed, the server is stopping, or
// the connection was dropped meanwhile.
func (c *conn) waitResume(resumed chan struct{}) bool {
	t := time.NewTimer(c.srv.ResumeWindow)
	defer t.Stop()
	poll := time.NewTicker(250 * time.Millisecond)
	defer poll.Stop()
	for {
		select {
		case <-resumed:
			return true
		case <-c.srv.ctx.Done():
		case <-t.C:
		case <-poll.C:
			c.mu.Lock()
			gone := c.gone
			c.mu.Unlock()
			if !gone {
				continue
			}
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		select {
		case <-resumed:
			return true // resumed at the last moment
		default:
		}
		c.resumed = nil
		c.gone = true
		return false
	}
}

// finish removes the client from its session with the right reason and
// ends its media. It runs once.
func (c *conn) finish() {
	c.mu.Lock()
	if c.finished {
		c.mu.Unlock()
		return
	}
	c.finished, c.gone = true, true
	reason := "networkDisconnected"
	if c.clientLeft {
		reason = "clientDisconnected"
	}
	pubs, subs := c.publishers, c.subscribers
	c.publishers, c.subscribers = map[string]*sfu.Stream{}, map[string]*sfu.Subscriber{}
	sess := c.sess
	c.mu.Unlock()
	c.srv.unregister(c)
	c.endRelays("")
	// A force-disconnected client was already removed; Leave then reports
	// not-found and emits nothing.
	_ = sess.Leave(c.me.ID, reason)
	for _, sub := range subs {
		sub.Close()
	}
	for _, st := range pubs {
		st.Close()
	}
	c.srv.Sessions.Remove(sess.ID()) // if it was the last one
	c.log.Debug("left", "reason", reason)
}

func (c *conn) readLoop(l *link) {
	for {
		typ, b, err := l.ws.Read(l.ctx)
		if err != nil {
			return
		}
		if typ != websocket.MessageText {
			c.errorMsg(0, CodeInvalidParam, "messages are JSON text")
			continue
		}
		req, err := DecodeRequest(b)
		if err != nil {
			c.errorMsg(0, CodeInvalidParam, "%v", err)
			continue
		}
		switch req.Type {
		case "disconnect":
			c.mu.Lock()
			c.clientLeft = true
			c.mu.Unlock()
			return
		case "connect", "resume":
			c.errorMsg(req.ID, CodeInvalidParam, "already connected")
			continue
		}
		c.handle(l.ctx, req)
	}
}

func (c *conn) writeLoop(l *link) {
	send := func(m Message) bool {
		b, err := json.Marshal(m)
		if err != nil {
			c.log.Error("encode", "type", m.Type, "err", err)
			return true
		}
		wctx, cancel := context.WithTimeout(l.ctx, 10*time.Second)
		err = l.ws.Write(wctx, websocket.MessageText, b)
		cancel()
		if err != nil {
			c.mu.Lock()
			c.unsent = &m // the next link sends it first
			c.mu.Unlock()
			l.cancel()
			return false
		}
		if m.Type == "sessionDisconnected" {
			l.ws.Close(websocket.StatusNormalClosure, m.Reason)
			l.cancel()
			return false
		}
		return true
	}
	c.mu.Lock()
	first := c.unsent
	c.unsent = nil
	c.mu.Unlock()
	if first != nil && !send(*first) {
		return
	}
	for {
		select {
		case <-l.ctx.Done():
			return
		case m := <-c.out:
			if !send(*m) {
				return
			}
		}
	}
}

// pingLoop notices dead links: a client whose network vanished without
// closing the TCP connection answers no ping.
func (c *conn) pingLoop(l *link) {
	t := time.NewTicker(c.srv.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(l.ctx, c.srv.PingTimeout)
			err := l.ws.Ping(pctx)
			cancel()
			if err != nil && l.ctx.Err() == nil {
				c.log.Debug("ping failed", "err", err)
				l.cancel()
				return
			}
		}
	}
}

// iceCandidate converts a trickled candidate.
func iceCandidate(c *Candidate) webrtc.ICECandidateInit {
	return webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex}
}

// isLoopback reports whether a remote address (host:port) is on loopback.
func isLoopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
